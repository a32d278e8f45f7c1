#include "upstream/json_post.h"

#include <boost/url/parse.hpp>

namespace torii {

namespace {

bool header_safe(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos; }

}  // namespace

Result<JsonPost> JsonPost::make(const std::string& url,
                                const std::map<std::string, std::string>& headers,
                                std::chrono::milliseconds timeout, std::string_view user_agent) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return ApiError::invalid_request("not an absolute http(s) URL");
  JsonPost p;
  p.shown_ = std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host()) +
             (parsed->has_port() ? ":" + std::string(parsed->port()) : "") +
             std::string(parsed->encoded_path());
  if (parsed->has_userinfo()) return ApiError::invalid_request("the URL must not carry credentials");
  UpstreamTimeouts timeouts;
  timeouts.connect = timeout;
  timeouts.first_byte = timeout;
  timeouts.idle = timeout;
  auto ep = make_endpoint(url, "", timeouts);
  if (!ep) return ApiError::invalid_request("bad URL " + p.shown_ + " (http or https, with a host)");
  p.endpoint_ = std::move(*ep);
  p.path_ = std::string(parsed->encoded_path());
  if (p.path_.empty()) p.path_ = "/";
  if (parsed->has_query()) p.path_ += "?" + std::string(parsed->encoded_query());
  p.header_block_ = "Content-Type: application/json\r\nUser-Agent: ";
  p.header_block_.append(user_agent).append("\r\n");
  for (const auto& [name, value] : headers) {
    if (name.empty() || !header_safe(name) || name.find(':') != std::string::npos)
      return ApiError::invalid_request("bad header name '" + name + "'");
    if (!header_safe(value))
      return ApiError::invalid_request("the value of header " + name + " holds a line break");
    p.header_block_.append(name).append(": ").append(value).append("\r\n");
  }
  p.timeout_ = timeout;
  return p;
}

Result<HttpFetchResult> JsonPost::send(std::string body, std::size_t limit) const {
  UpstreamRequest req;
  req.method = "POST";
  req.path = path_;
  req.header_block = header_block_;
  req.body = std::move(body);
  req.deadline = std::chrono::steady_clock::now() + timeout_;
  return http_fetch(endpoint_, std::move(req), limit);
}

}  // namespace torii
