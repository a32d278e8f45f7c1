#pragma once
// An incremental Server-Sent Events parser (WHATWG "event stream" rules): bytes in, events out.
// It never buffers more than one pending event, so a stream is forwarded event by event.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace torii {

struct SseEvent {
  std::string event;  // "event:" field; empty means "message"
  std::string data;   // "data:" lines joined with '\n'
  std::string id;
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 8u << 20) : max_event_bytes_(max_event_bytes) {}
  // Feeds bytes; calls on_event for each complete event. Returns false (and stops) when one
  // event grows past max_event_bytes or on_event returns false.
  bool feed(std::string_view bytes, const std::function<bool(SseEvent&)>& on_event);
  // Bytes held for an event not yet complete.
  std::size_t pending() const { return line_.size() + ev_.data.size(); }

 private:
  bool process_line(std::string_view line, const std::function<bool(SseEvent&)>& on_event);
  std::size_t max_event_bytes_;
  std::string line_;       // incomplete line
  SseEvent ev_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
};

}  // namespace torii
