#include "providers/provider.h"

namespace torii {

Result<void> SseStreamDecoder::feed(std::string_view bytes, StreamSink& sink, Usage& usage,
                                    bool& done) {
  std::optional<ApiError> failure;
  bool ok = parser_.feed(bytes, [&](SseEvent& ev) {
    if (done) return false;  // nothing after the end counts
    auto r = on_event(ev, sink, usage, done);
    if (!r) failure = r.error();
    return !failure && !done;
  });
  if (failure) return *failure;
  if (!ok && !done) return ApiError::bad_gateway("upstream stream event exceeds the size limit");
  return {};
}

ApiError no_counterpart(std::string_view name, std::string_view kind, std::string_view field,
                        std::string_view why) {
  return ApiError::invalid_request("provider '" + std::string(name) + "' (" + std::string(kind) +
                                       ") has no counterpart for '" + std::string(field) +
                                       "': " + std::string(why),
                                   std::string(field));
}

ApiError map_upstream_status(std::string_view name, int status, const std::string& message,
                             std::string_view retry_after) {
  const std::string prefix = "provider '" + std::string(name) + "' ";
  ApiError e;
  switch (status) {
    case 400: case 404: case 409: case 422:
      e = ApiError::invalid_request(prefix + "rejected the request: " + message);
      if (status == 404) {
        e.status = 404;
        e.code = "model_not_found";
      }
      break;
    case 401: case 403:
      e = ApiError::bad_gateway(prefix + "refused the gateway's credentials (HTTP " +
                                    std::to_string(status) + ")", "upstream_auth");
      break;
    case 413:
      e = ApiError::too_large(prefix + "says the request is too large: " + message);
      break;
    case 429:
      e = ApiError::rate_limited(prefix + "is rate limiting: " + message, std::string(retry_after));
      e.retryable = true;
      break;
    case 408: case 504:
      e = ApiError::gateway_timeout(prefix + "timed out (HTTP " + std::to_string(status) + ")");
      e.retryable = true;
      break;
    default:
      e = ApiError::bad_gateway(prefix + "failed (HTTP " + std::to_string(status) + "): " +
                                message);
      e.retryable = status >= 500;
  }
  return e;
}

void add_ignored(std::vector<std::string>& ignored, std::string_view field) {
  for (const auto& i : ignored)
    if (i == field) return;
  ignored.emplace_back(field);
}

std::optional<ApiError> missing_capability(const ChatRequest& r, const Provider& provider) {
  const Capabilities& c = provider.capabilities();
  auto missing = [&](std::string_view field, std::string_view what) {
    return ApiError::invalid_request("provider '" + provider.name() + "' (" +
                                         std::string(provider.kind()) + ") does not support " +
                                         std::string(what) + " ('" + std::string(field) + "')",
                                     std::string(field));
  };
  if (r.stream && !c.chat_stream) return missing("stream", "streaming");
  if (!r.tools.empty() && !c.tools) return missing("tools", "tools");
  if (!r.tools.empty() && r.stream && !c.stream_tools) return missing("tools", "tools in streams");
  using RF = ResponseFormat::Kind;
  if (r.response_format.kind == RF::json_object && !c.json_mode)
    return missing("response_format", "JSON mode without a schema (send a json_schema)");
  if (r.response_format.kind == RF::json_schema && !c.json_schema)
    return missing("response_format", "JSON schema output");
  auto check = [&](const Part& p) -> std::optional<ApiError> {
    if (p.kind == Part::Kind::image && !c.images) return missing("messages", "image input");
    if (p.kind == Part::Kind::document && !c.documents)
      return missing("messages", "document input");
    return std::nullopt;
  };
  for (const Message& m : r.messages) {
    for (const Part& p : m.parts) {
      if (auto e = check(p)) return e;
      for (const Part& q : p.content)  // a tool result's parts
        if (auto e = check(q)) return e;
    }
  }
  return std::nullopt;
}

void Provider::rate_limit_headers(const UpstreamResponse& response, Headers& out) const {
  static constexpr std::string_view kNames[] = {
      "x-ratelimit-limit-requests",     "x-ratelimit-limit-tokens",
      "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-requests",     "x-ratelimit-reset-tokens"};
  for (std::string_view name : kNames)
    if (auto v = response.header(name); !v.empty()) out.emplace_back(name, v);
}

}  // namespace torii
