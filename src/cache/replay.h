#pragma once
// What a cached answer looks like when it is served again (docs/CACHING.md): the bytes the
// client got the first time, with the usage zeroed (a hit costs no tokens). Done once, when
// the entry is stored, so a hit copies bytes and parses nothing.
#include <optional>
#include <string>
#include <string_view>

namespace torii::cache {

// A whole JSON answer with every number inside each "usage" object set to 0 (OpenAI's
// usage and its *_details, Anthropic's usage, Responses' response.usage). nullopt when the
// body is not a JSON object (then it is not cached).
std::optional<std::string> zero_usage_json(std::string_view body);

// A Server-Sent Events stream, event by event, with the usage of the events that carry one
// zeroed the same way. nullopt when an event's data that mentions usage is not JSON.
std::optional<std::string> zero_usage_sse(std::string_view stream);

}  // namespace torii::cache
