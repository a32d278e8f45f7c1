#pragma once
// The chat side of a provider that serves only other modalities (ElevenLabs, Hive): its
// capabilities say chat = false, so the gateway skips it for chat with a 400 before encoding;
// these answers are for anything that calls it anyway (count_tokens, tests).
#include <memory>
#include <string>

#include "providers/provider.h"

namespace torii {

class NoChatProvider : public Provider {
 public:
  Result<UpstreamRequest> encode_chat(const ChatCall&) const override {
    return ApiError::invalid_request("provider '" + name() + "' (" + std::string(kind()) +
                                     ") does not serve chat");
  }
  Result<ChatResponse> decode_chat(std::string&&, bool) const override {
    return ApiError::bad_gateway("provider '" + name() + "' does not serve chat");
  }
  std::unique_ptr<StreamDecoder> stream_decoder(bool) const override {
    return std::make_unique<Refuse>(name());
  }

 private:
  // A stream decoder that fails on the first bytes.
  class Refuse final : public StreamDecoder {
   public:
    explicit Refuse(std::string name) : name_(std::move(name)) {}
    Result<void> feed(std::string_view, StreamSink&, Usage&, bool&) override {
      return ApiError::bad_gateway("provider '" + name_ + "' does not serve chat");
    }

   private:
    std::string name_;
  };
};

}  // namespace torii
