#include "providers/image_jobs.h"
#include "core/path_segment.h"

#include <charconv>

namespace torii {

namespace {

// Chat never reaches these providers (caps.chat is false); if a stream ever did, it fails.
class NoChatStream final : public StreamDecoder {
 public:
  explicit NoChatStream(std::string message) : message_(std::move(message)) {}
  Result<void> feed(std::string_view, StreamSink&, Usage&, bool&) override {
    return ApiError::bad_gateway(message_);
  }

 private:
  std::string message_;
};

}  // namespace

Result<std::chrono::milliseconds> image_job_poll_interval(const ProviderConfig& config,
                                                          std::string_view kind) {
  std::chrono::milliseconds poll = kDefaultPollInterval;
  for (const auto& [k, v] : config.options) {
    const std::string where = "provider '" + config.name + "' (" + std::string(kind) + "): ";
    if (k != "poll_ms")
      return ApiError::invalid_request(where + "options." + k + " is unknown (only poll_ms)",
                                       "options." + k);
    int ms = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || ms < 1 || ms > 60000)
      return ApiError::invalid_request(where + "options.poll_ms must be 1 to 60000",
                                       "options.poll_ms");
    poll = std::chrono::milliseconds(ms);
  }
  return poll;
}

ImageJobProvider::ImageJobProvider(const ProviderConfig& c, Endpoint ep, std::string_view kind,
                                   std::chrono::milliseconds poll)
    : name_(c.name), kind_(kind), endpoint_(std::move(ep)), models_(c.models), poll_(poll) {
  caps_.image_generation = true;
  std::string block = "User-Agent: torii\r\nAccept: application/json\r\n";
  block += "Authorization: Bearer " + c.api_key.value + "\r\n";
  for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
  headers_get_ = block;
  headers_post_ = block + "Content-Type: application/json\r\n";
}

Result<UpstreamRequest> ImageJobProvider::encode_chat(const ChatCall&) const {
  return ApiError::invalid_request("provider '" + name_ + "' (" + std::string(kind_) +
                                   ") has no chat: it serves image generation only");
}

Result<ChatResponse> ImageJobProvider::decode_chat(std::string&&, bool) const {
  return ApiError::bad_gateway("provider '" + name_ + "' (" + std::string(kind_) +
                               ") has no chat");
}

std::unique_ptr<StreamDecoder> ImageJobProvider::stream_decoder(bool) const {
  return std::make_unique<NoChatStream>("provider '" + name_ + "' (" + std::string(kind_) +
                                        ") has no chat");
}

ApiError ImageJobProvider::bad_answer(std::string_view why) const {
  return ApiError::bad_gateway("provider '" + name_ + "' (" + std::string(kind_) + ") sent " +
                               std::string(why));
}

UpstreamRequest ImageJobProvider::post(std::string path, std::string body) const {
  UpstreamRequest r;
  r.path = std::move(path);
  r.header_block = headers_post_;
  r.body = std::move(body);
  return r;
}

Result<ModalityReply> ImageJobProvider::poll(std::string path, int step) const {
  if (poll_ * step >= kMaxPollTime)
    return ApiError::gateway_timeout("provider '" + name_ + "' (" + std::string(kind_) +
                                     "): the image job was not done after " +
                                     std::to_string(step) + " polls");
  ModalityReply reply;
  UpstreamRequest& r = reply.next.emplace();
  r.method = "GET";
  r.path = std::move(path);
  r.header_block = headers_get_;
  reply.poll_after = poll_;
  return reply;
}

}  // namespace torii
