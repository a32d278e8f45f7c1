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

void Provider::rate_limit_headers(const UpstreamResponse& response, Headers& out) const {
  static constexpr std::string_view kNames[] = {
      "x-ratelimit-limit-requests",     "x-ratelimit-limit-tokens",
      "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-requests",     "x-ratelimit-reset-tokens"};
  for (std::string_view name : kNames)
    if (auto v = response.header(name); !v.empty()) out.emplace_back(name, v);
}

}  // namespace torii
