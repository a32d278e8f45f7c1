#include "fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <boost/json/parse.hpp>
// The provider headers reach Asio's error categories and endpoint.cpp builds an Asio SSL
// context; separate compilation puts both in src/server/asio_impl.cpp, which also compiles all
// of Asio and Beast. The fuzz targets need neither sockets nor Beast: compile only these.
#include <boost/asio/detail/impl/throw_error.ipp>
#include <boost/asio/impl/error.ipp>
#include <boost/asio/ssl/detail/impl/openssl_init.ipp>
#include <boost/asio/ssl/impl/context.ipp>
#include <boost/asio/ssl/impl/error.ipp>

#include "config/config.h"
#include "providers/anthropic.h"
#include "providers/bedrock/bedrock.h"
#include "providers/cohere.h"
#include "providers/gemini.h"
#include "providers/ollama.h"
#include "providers/openai_compatible.h"
#include "providers/vendors.h"
#include "upstream/endpoint.h"
#include "upstream/sse_parser.h"

namespace torii::fuzz {

namespace {

constexpr std::string_view kKinds[kProviderCount] = {"anthropic", "gemini", "bedrock",
                                                     "cohere",    "ollama", "openai-compatible"};

std::unique_ptr<Provider> build(int i) {
  ProviderConfig c;
  c.kind = std::string(kKinds[i]);
  c.name = "fz-" + c.kind;
  c.api_key.value = "fuzz-secret-key";
  c.models = {"m-1"};
  auto ep = make_endpoint("http://127.0.0.1:9", "", {});
  if (!ep) fail("fuzz_support", "make_endpoint", ep.error().message);
  Result<std::unique_ptr<Provider>> p = ApiError::internal("unset");
  switch (i) {
    case 0: p = make_anthropic(c, std::move(*ep)); break;
    case 1: p = make_gemini(c, std::move(*ep)); break;
    case 2:
      c.region = "us-east-1";
      c.aws_access_key_id.value = "AKIDEXAMPLE";
      c.aws_secret_access_key.value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
      p = make_bedrock(c, std::move(*ep));
      break;
    case 3: p = make_cohere(c, std::move(*ep)); break;
    case 4: p = make_ollama(c, std::move(*ep)); break;
    default: {
      const VendorSpec* v = find_vendor(c.kind);
      if (!v) fail("fuzz_support", "no vendor", c.kind);
      return make_openai_compatible(c, *v, std::move(*ep));
    }
  }
  if (!p) fail("fuzz_support", "factory failed", p.error().message);
  return std::move(*p);
}

}  // namespace

std::string_view provider_kind(int i) { return kKinds[i]; }

const Provider& provider(int i) {
  static std::unique_ptr<Provider> all[kProviderCount];
  if (!all[i]) all[i] = build(i);
  return *all[i];
}

bool is_json_object(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return !ec && v.is_object();
}

bool is_sse_of_json(std::string_view sse, std::string& bad) {
  SseParser parser(1u << 30);
  bool ok = true;
  bool parsed = parser.feed(sse, [&](SseEvent& e) {
    if (e.data == "[DONE]") return true;
    boost::system::error_code ec;
    boost::json::parse(e.data, ec);
    if (ec) {
      bad = e.data;
      ok = false;
    }
    return ok;
  });
  if (!parsed && ok) bad = "<SSE parser refused the output>";
  // The encoders end every event with a blank line: nothing may be left half-written.
  if (ok && parsed && !sse.empty() && !sse.ends_with("\n\n")) {
    bad = "<output does not end with a blank line>";
    return false;
  }
  return ok && parsed;
}

bool is_utf8(std::string_view s) {
  std::size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    unsigned min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > n) return false;
    unsigned cp = c & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

void check_upstream_error(const char* target, ApiError& e, std::string_view where,
                          std::string_view input) {
  std::string at(where);
  if (e.status < 400 || e.status > 599)
    fail(target, "error status out of range", at + ": " + std::to_string(e.status) + " " + e.message);
  if (e.message.empty()) fail(target, "error without a message", at);
  for (std::string_view key : {"fuzz-secret-key", "wJalrXUtnFEMI"}) {
    if (e.message.find(key) != std::string::npos && input.find(key) == std::string_view::npos)
      fail(target, "a provider key leaked into an error", at + ": " + e.message);
  }
  if (e.message.size() >= 1000)
    fail(target, "error message not capped", at + ": " + std::to_string(e.message.size()));
  if (!is_utf8(e.message)) {
    static const bool lenient = std::getenv("TORII_FUZZ_LENIENT_UTF8") != nullptr;
    if (!lenient) fail(target, "error message is not UTF-8", at + ": " + e.message);
    for (char& ch : e.message)
      if (static_cast<unsigned char>(ch) >= 0x80) ch = '?';
  }
  if (!is_json_object(to_openai_json(e))) fail(target, "error JSON does not parse", e.message);
}

void fail(const char* target, const char* what, std::string_view detail) {
  std::fprintf(stderr, "%s: %s: %.*s\n", target, what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

}  // namespace torii::fuzz
