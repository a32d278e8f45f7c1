#include "providers/openai_passthrough.h"


#include <boost/json/parse.hpp>

#include "core/json_access.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::int_at;
using jsonx::obj_at;

// The message of a Responses error event ({"type":"error","message"} or {"error":{"message"}})
// or a response.failed event ({"response":{"error":{"message"}}}).
std::string event_error(const json::object& o) {
  const json::object* e = obj_at(o, "error");
  if (const json::object* r = obj_at(o, "response")) e = obj_at(*r, "error");
  const json::object& src = e ? *e : o;
  auto m = src.if_contains("message");
  return m && m->is_string() ? upstream_excerpt(m->get_string()) : std::string("no message");
}

class ResponsesPassthroughDecoder final : public SseStreamDecoder {
 public:
  explicit ResponsesPassthroughDecoder(std::string provider) : provider_(std::move(provider)) {}

  Result<void> on_event(const SseEvent& ev, StreamSink& sink, Usage& usage, bool& done) override {
    std::string_view name = ev.event;
    const bool final = name == "response.completed" || name == "response.incomplete";
    const bool failed = name == "error" || name == "response.failed";
    if (final || failed) {
      boost::system::error_code ec;
      json::value v = json::parse(ev.data, ec);
      if (ec || !v.is_object())
        return ApiError::bad_gateway("provider '" + provider_ + "' sent an undecodable event");
      const auto& o = v.get_object();
      if (failed)
        return ApiError::bad_gateway("provider '" + provider_ + "' stream failed: " +
                                     event_error(o));
      if (const json::object* r = obj_at(o, "response"))
        if (const json::object* u = obj_at(*r, "usage")) usage = parse_responses_usage(*u);
    }
    sink.raw(name, ev.data, false);
    if (final) done = true;
    return {};
  }

 private:
  std::string provider_;
};

}  // namespace

Usage parse_responses_usage(const json::object& u) {
  Usage usage;
  usage.prompt_tokens = int_at(u, "input_tokens");
  usage.completion_tokens = int_at(u, "output_tokens");
  usage.total_tokens = int_at(u, "total_tokens");
  if (const json::object* d = obj_at(u, "input_tokens_details"))
    usage.cached_tokens = int_at(*d, "cached_tokens");
  if (const json::object* d = obj_at(u, "output_tokens_details"))
    usage.reasoning_tokens = int_at(*d, "reasoning_tokens");
  usage.complete();
  return usage;
}

Result<Usage> responses_body_usage(std::string_view body, std::string_view provider) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object())
    return ApiError::bad_gateway("provider '" + std::string(provider) +
                                 "' returned a body that is not JSON");
  if (const json::object* u = obj_at(v.get_object(), "usage")) return parse_responses_usage(*u);
  return Usage{};
}

std::unique_ptr<StreamDecoder> make_responses_passthrough_decoder(std::string provider) {
  return std::make_unique<ResponsesPassthroughDecoder>(std::move(provider));
}

}  // namespace torii
