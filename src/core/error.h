#pragma once
// ApiError: every failure a client can see, with its HTTP status and its wire shape.
#include <string>
#include <string_view>

namespace torii {

struct ApiError {
  int status = 500;
  std::string type = "server_error";  // OpenAI error type
  std::string code;                   // machine-readable code, may be empty
  std::string message;                // human-readable; never contains a secret
  std::string param;                  // the offending request field, may be empty
  std::string retry_after;            // seconds, forwarded as Retry-After on 429/503
  std::string retry_after_ms;         // milliseconds, sent as retry-after-ms (OpenAI's SDKs read it)
  bool retryable = false;             // another candidate may succeed (set on upstream errors)

  static ApiError invalid_request(std::string message, std::string param = {},
                                  std::string code = {});
  static ApiError authentication(std::string message);
  static ApiError permission(std::string message);
  static ApiError not_found(std::string message, std::string code = "not_found");
  static ApiError too_large(std::string message);
  static ApiError rate_limited(std::string message, std::string retry_after = {});
  static ApiError bad_gateway(std::string message, std::string code = "upstream_error");
  static ApiError gateway_timeout(std::string message);
  static ApiError unavailable(std::string message);
  static ApiError internal(std::string message);
};

// {"error":{"message","type","param","code"}}: OpenAI's error object.
std::string to_openai_json(const ApiError& e);

// Anthropic's shape: {"type":"error","error":{"type","message"}}.
std::string to_anthropic_json(const ApiError& e);

// Text from an upstream (an error message, a raw body) made fit for an error message: at most
// `max` bytes, never cut inside a UTF-8 character, invalid bytes replaced by '?' (a client's
// JSON parser would reject them).
std::string upstream_excerpt(std::string_view text, std::size_t max = 500);

}  // namespace torii
