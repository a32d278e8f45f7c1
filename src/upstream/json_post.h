#pragma once
// JsonPost: a JSON POST to a fixed URL for control-plane work off the request path (the audit
// webhook sink, the OTLP trace exporter): the endpoint, the path (with its query) and the header
// lines are built once; each send() is one blocking http_fetch. Header values may be secrets:
// they go into the request only, never into a message.
#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "core/result.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"

namespace torii {

class JsonPost {
 public:
  // `url`: http(s) with a host, no credentials. `headers`: names and values without CR/LF or a
  // ':' in the name. `timeout` bounds each call (connect, first byte, idle, whole call). Errors
  // name the URL without its query string (it may hold a token) and never a header value.
  static Result<JsonPost> make(const std::string& url,
                               const std::map<std::string, std::string>& headers,
                               std::chrono::milliseconds timeout, std::string_view user_agent);
  // POSTs `body` (content-type application/json); any status is a success (see http_fetch).
  // Blocks the calling thread.
  Result<HttpFetchResult> send(std::string body, std::size_t limit) const;
  // scheme://host[:port]/path: safe to log.
  const std::string& shown_url() const { return shown_; }

 private:
  Endpoint endpoint_;
  std::string path_;
  std::string header_block_;
  std::string shown_;
  std::chrono::milliseconds timeout_{};
};

}  // namespace torii
