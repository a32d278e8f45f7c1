#pragma once
// The boundary between the HTTP server (Beast, compiled in server.cpp only) and the handlers
// that serve requests (the gateway, the mock). Nothing here includes Beast.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/task.h"

namespace torii {

using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

// Case-insensitive lookup; returns "" when absent.
std::string_view find_header(const Headers& headers, std::string_view name);

// The request head, as read off the wire before the body.
struct RequestHead {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form, e.g. "/v1/chat/completions?x=1"
  Headers headers;
  std::string_view path() const;  // target without the query
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

// Why reading the body failed (rejected: the caller's on_data refused it).
enum class BodyError { none, too_large, timeout, closed, malformed, rejected };

// One request/response exchange on a connection. The server creates it after reading the head
// and hands it to Handler::handle. The handler reads the body at most once and answers exactly
// once: either respond(), or start_stream() + write()* + finish_stream().
// Every write returns false when the client has gone away or stalled past the write timeout;
// the handler then stops writing and cleans up (the connection is closed by the server).
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const RequestHead& head() const = 0;

  // Reads the whole body (bounded by server.max_body_bytes). Returns BodyError::none on success.
  // Calling it twice returns the same result without reading again.
  virtual Task<BodyError> read_body() = 0;
  // The same, bounded by `limit` bytes (at most the larger of server.max_body_bytes and
  // server.max_upload_bytes), calling `on_data` with the body received so far each time it
  // grows (uploads are parsed as they arrive). When on_data returns false, reading stops:
  // BodyError::rejected (the connection is closed after the answer).
  virtual Task<BodyError> read_body(std::size_t limit,
                                    std::function<bool(std::string_view)> on_data) = 0;
  virtual std::string& body() = 0;

  // A complete response with Content-Length.
  virtual Task<bool> respond(int status, Headers headers, std::string body) = 0;

  // A streamed response (chunked). start_stream sends the head; each write sends one chunk
  // at once (no buffering); finish_stream sends the last chunk, with `trailer` (header lines,
  // each ending in CRLF, announced by a `trailer` head field) on HTTP/1.1.
  virtual Task<bool> start_stream(int status, Headers headers) = 0;
  virtual Task<bool> write(std::string_view data) = 0;
  virtual Task<bool> finish_stream(std::string_view trailer = {}) = 0;

  // Closes the connection at once, mid-response (the mock's fault injection uses it).
  virtual void abort() = 0;

  // True once any response byte has been written.
  virtual bool response_started() const = 0;
  // True when the server is draining (SIGTERM): long streams may wind down early.
  virtual bool draining() const = 0;
  // The client's IP address as text ("" if unknown), computed once per connection.
  virtual std::string_view peer() const { return {}; }
};

// What serves requests. One Handler is shared by every worker thread, so it must be
// thread-safe; per-request state lives on the coroutine frame.
class Handler {
 public:
  virtual ~Handler() = default;
  // Called once per request, on the connection's worker thread.
  virtual Task<void> handle(Exchange& ex) = 0;
};

}  // namespace torii
