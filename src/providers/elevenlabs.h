#pragma once
// ElevenLabs (kind "elevenlabs"): speech and transcription, no chat. Key in `xi-api-key`.
//  - speech: POST {base}/v1/text-to-speech/{voice}/stream?output_format=<fmt>
//    {"text","model_id","voice_settings":{"speed"}?}. OpenAI's `voice` is the voice id (a
//    string, or {"id"}); response_format mp3 -> mp3_44100_128, opus -> opus_48000_128,
//    pcm -> pcm_24000, wav -> wav_24000; aac and flac -> 400 (no such output). speed must be
//    within ElevenLabs' 0.7..1.2 (else 400); instructions are dropped (ignored); stream_format
//    sse -> 400. The audio is streamed to the client by the gateway, not decoded here.
//  - transcription: POST {base}/v1/speech-to-text, multipart: model_id, file (the client's part
//    as it came), language_code (from language), temperature. The answer {"text",
//    "language_code","words":[{"start","end"}...]} is written in the client's response_format;
//    its duration is the last word's end. prompt and timestamp_granularities are dropped
//    (ignored); stream=true -> 400. No translation.
// Errors: {"detail":{"status","message"}} (or FastAPI's {"detail":[{"msg"}]}) -> the usual map.
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace torii {

inline constexpr std::string_view kElevenLabsDefaultBaseUrl = "https://api.elevenlabs.io";

// Builds an ElevenLabs provider. `endpoint` comes from base_url.
Result<std::unique_ptr<Provider>> make_elevenlabs(const ProviderConfig& config, Endpoint endpoint);

// ElevenLabs' output_format for OpenAI's speech response_format ("" when it has none).
std::string_view elevenlabs_output_format(std::string_view response_format);

}  // namespace torii
