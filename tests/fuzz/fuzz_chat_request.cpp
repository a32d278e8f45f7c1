// libFuzzer target for the OpenAI chat request path: decode_openai_chat must never crash or
// throw, and every request it accepts must encode, for each vendor shape, to valid JSON that
// keeps the client's fields (only model, stream_options and max tokens may differ); the splice
// path (the client's text edited in place, as the gateway does) must give the same JSON.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>
// The providers' headers reach Asio's error categories (core/task.h), which separate
// compilation puts in src/server/asio_impl.cpp; this target links no sockets, so it compiles
// just those few functions here instead of all of Asio.
#include <boost/asio/impl/error.ipp>

#include "api/openai_chat.h"
#include "providers/openai_compatible.h"
#include "providers/vendors.h"

namespace json = boost::json;

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_chat_request: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Deep equality, except that doubles may differ in the last bits: Boost.JSON 1.81's default
// number parser is fast, not exact, so re-parsing the encoder's (exact) output can round.
bool same(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) {
    if (!a.is_number() || !b.is_number()) return false;
    double x = a.to_number<double>(), y = b.to_number<double>();
    if (x == y) return true;
    double scale = std::max(std::fabs(x), std::fabs(y));
    return std::fabs(x - y) <= scale * 1e-14;
  }
  if (a.kind() != b.kind()) return a == b;  // int64 vs uint64 of the same value compare equal
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      auto other = y.if_contains(kv.key());
      if (!other || !same(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

void check_encoding(std::string_view text, const json::object& request,
                    const torii::ChatRequestInfo& info, std::string_view kind, bool stream) {
  const torii::VendorSpec* vendor = torii::find_vendor(kind);
  if (!vendor) fail("vendor missing", kind);
  const std::string model = "upstream-model";
  std::string body = torii::encode_openai_body(request, model, stream, *vendor);
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) fail("encoded body is not a JSON object", body);
  const json::object& out = v.get_object();
  auto m = out.if_contains("model");
  if (!m || !m->is_string() || m->get_string() != model) fail("model not replaced", body);
  for (const auto& kv : request) {
    std::string_view k(kv.key().data(), kv.key().size());
    if (k == "model" || k == "stream_options") continue;
    if (k == "max_completion_tokens" && vendor->max_completion_tokens_as_max_tokens) continue;
    auto got = out.if_contains(k);
    if (!got || !same(*got, kv.value())) fail("a client field was changed or lost", k);
  }
  if (vendor->strip_stream_options && out.contains("stream_options"))
    fail("stream_options not stripped", body);
  if (!stream && out.contains("stream_options")) fail("stream_options on a non-stream", body);
  if (out.size() > request.size() + 1) fail("unexpected fields added", body);
  std::string spliced = torii::encode_openai_body(request, model, stream, *vendor, text);
  json::value s = json::parse(spliced, ec);
  if (ec || !same(s, v)) fail("the splice path differs from the tree path", spliced);
  (void)info;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  json::object request;
  auto r = torii::decode_openai_chat(body, request);
  if (!r.ok()) {
    if (r.error().status != 400) fail("decode error is not a 400", r.error().message);
    // The error must serialise to the OpenAI shape.
    boost::system::error_code ec;
    json::value e = json::parse(torii::to_openai_json(r.error()), ec);
    if (ec || !e.is_object() || !e.get_object().contains("error")) fail("bad error JSON", body);
    return 0;
  }
  if (r->model.empty()) fail("accepted an empty model", body);
  for (std::string_view kind : {"openai", "mistral"}) {
    check_encoding(body, request, *r, kind, r->stream);
    check_encoding(body, request, *r, kind, !r->stream);
  }
  return 0;
}
