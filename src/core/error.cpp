#include "core/error.h"

#include <boost/json.hpp>

namespace torii {
namespace json = boost::json;

ApiError ApiError::invalid_request(std::string message, std::string param, std::string code) {
  return {400, "invalid_request_error", std::move(code), std::move(message), std::move(param)};
}
ApiError ApiError::authentication(std::string message) {
  return {401, "authentication_error", "invalid_api_key", std::move(message)};
}
ApiError ApiError::permission(std::string message) {
  return {403, "permission_error", "forbidden", std::move(message)};
}
ApiError ApiError::not_found(std::string message, std::string code) {
  return {404, "invalid_request_error", std::move(code), std::move(message)};
}
ApiError ApiError::too_large(std::string message) {
  return {413, "invalid_request_error", "request_too_large", std::move(message)};
}
ApiError ApiError::rate_limited(std::string message, std::string retry_after) {
  ApiError e{429, "rate_limit_error", "rate_limit_exceeded", std::move(message)};
  e.retry_after = std::move(retry_after);
  return e;
}
ApiError ApiError::bad_gateway(std::string message, std::string code) {
  return {502, "upstream_error", std::move(code), std::move(message)};
}
ApiError ApiError::gateway_timeout(std::string message) {
  return {504, "timeout_error", "upstream_timeout", std::move(message)};
}
ApiError ApiError::unavailable(std::string message) {
  return {503, "server_error", "unavailable", std::move(message)};
}
ApiError ApiError::internal(std::string message) {
  return {500, "server_error", "internal_error", std::move(message)};
}

static json::value or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

std::string to_openai_json(const ApiError& e) {
  json::object err;
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = or_null(e.param);
  err["code"] = or_null(e.code);
  json::object root;
  root["error"] = std::move(err);
  return json::serialize(root);
}

static std::string_view anthropic_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: return "api_error";
  }
}

std::string to_anthropic_json(const ApiError& e) {
  json::object err;
  err["type"] = anthropic_type(e.status);
  err["message"] = e.message;
  json::object root;
  root["type"] = "error";
  root["error"] = std::move(err);
  return json::serialize(root);
}

std::string upstream_excerpt(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    // The length of the sequence starting here, 0 when `c` cannot start one.
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool valid = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; valid && k < n; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (valid && n == 2 && c < 0xc2) valid = false;  // overlong
    if (valid && n == 3) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) valid = false;  // overlong, surrogate
    }
    if (valid && n == 4) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90)) valid = false;
    }
    if (!valid) n = 1;
    if (out.size() + n > max) break;
    if (valid) out.append(text.substr(i, n));
    else out.push_back('?');
    i += n;
  }
  return out;
}

}  // namespace torii
