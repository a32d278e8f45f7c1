#pragma once
// What the providers whose images come from asynchronous jobs (Leonardo, Luma) share: a first
// POST creates a job, then GET polls it until it is done (modality.h: the decoder returns the
// next request with `poll_after`). They have no chat: the chat virtuals answer clear errors and
// caps.chat stays false, so the gateway never routes chat to them.
//
// The poll interval is 1000 ms, or the provider config's `options: {poll_ms: N}` (1..60000;
// tests point these kinds at the mock with a short one). Polling gives up with a 504 after
// 10 minutes' worth of polls, should the route set no deadline.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::chrono::milliseconds kDefaultPollInterval{1000};
inline constexpr std::chrono::milliseconds kMaxPollTime{10 * 60 * 1000};

// The poll interval from config.options (poll_ms); any other option is a 400 naming it.
Result<std::chrono::milliseconds> image_job_poll_interval(const ProviderConfig& config,
                                                          std::string_view kind);

class ImageJobProvider : public Provider {
 public:
  ImageJobProvider(const ProviderConfig& config, Endpoint endpoint, std::string_view kind,
                   std::chrono::milliseconds poll);

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return kind_; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  // No chat: a 400 naming the provider (the gateway checks caps.chat first).
  Result<UpstreamRequest> encode_chat(const ChatCall& call) const override;
  Result<ChatResponse> decode_chat(std::string&& body, bool passthrough) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(bool passthrough) const override;

 protected:
  // A 502 naming the provider and its kind: "provider 'x' (luma) sent <why>".
  ApiError bad_answer(std::string_view why) const;
  // The POST of a job.
  UpstreamRequest post(std::string path, std::string body) const;
  // The reply asking for poll number `step` + 1 of the job at `path` (GET), after the poll
  // interval; a 504 once polling has lasted kMaxPollTime.
  Result<ModalityReply> poll(std::string path, int step) const;

  std::string name_;
  std::string_view kind_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::chrono::milliseconds poll_;
  std::string headers_post_, headers_get_;  // prebuilt header lines (they hold the key)
};

}  // namespace torii
