#pragma once
// Shared pieces of the provider and inbound fuzz targets: the providers under test (built once
// with their make_* factories, as a config would), output validators and the failure report.
#include <string>
#include <string_view>

#include "providers/provider.h"

namespace torii::fuzz {

// The provider kinds the targets exercise, in the order the first input byte picks them.
inline constexpr int kProviderCount = 6;
// "anthropic", "gemini", "bedrock", "cohere", "ollama", "openai-compatible".
std::string_view provider_kind(int i);
// The provider of kind `i` (0 <= i < kProviderCount), built on first use and kept.
const Provider& provider(int i);

// True when `text` parses (boost::json, error_code overload) as a JSON object.
bool is_json_object(std::string_view text);

// True when `sse` is a sequence of complete SSE events whose data is JSON (or "[DONE]"). On
// false, `bad` gets the offending event's data.
bool is_sse_of_json(std::string_view sse, std::string& bad);

// True when `s` is well-formed UTF-8 (what a JSON text must be).
bool is_utf8(std::string_view s);

// Checks an ApiError built from upstream bytes: status 4xx/5xx, a message that is not empty,
// is UTF-8, is capped (< 1000 bytes) and holds no provider key (unless `input`, the upstream's
// bytes, did); its OpenAI JSON parses.
// Known finding (see the report): messages cut or copied from upstream bytes may not be UTF-8.
// With TORII_FUZZ_LENIENT_UTF8=1 in the environment such a message is repaired (bad bytes ->
// '?') instead of failing, so that a run can look past it.
void check_upstream_error(const char* target, ApiError& e, std::string_view where,
                          std::string_view input);

// Prints "<target>: <what>: <detail>" and aborts (libFuzzer then saves the input).
[[noreturn]] void fail(const char* target, const char* what, std::string_view detail);

}  // namespace torii::fuzz
