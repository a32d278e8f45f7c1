#pragma once
// The AWS event stream binary framing (content type application/vnd.amazon.eventstream), as
// answered by Bedrock's ConverseStream / InvokeModelWithResponseStream. Pure code: no I/O.
//
// A message ("frame"):
//   u32 BE total length | u32 BE headers length | u32 BE prelude CRC (CRC-32 of the first 8 bytes)
//   | headers | payload | u32 BE message CRC (CRC-32 of every byte before it)
// A header: u8 name length | name | u8 value type | value, with the types
//   0 true, 1 false (no value), 2 byte (1), 3 short (2), 4 int (4), 5 long (8),
//   6 bytes (u16 BE length + bytes), 7 string (u16 BE length + UTF-8), 8 timestamp (8, ms since
//   the epoch), 9 uuid (16). Numbers are big-endian. CRC-32 is the zlib / IEEE 802.3 one.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace torii::aws {

enum class EventHeaderType : std::uint8_t {
  bool_true = 0,
  bool_false = 1,
  byte = 2,
  int16 = 3,
  int32 = 4,
  int64 = 5,
  bytes = 6,
  string = 7,
  timestamp = 8,
  uuid = 9,
};

// One header. `value` holds the raw value bytes: the text of a string, the bytes of a byte
// array, or the big-endian bytes of a fixed-width type (empty for booleans).
struct EventHeader {
  std::string_view name;
  EventHeaderType type = EventHeaderType::string;
  std::string_view value;

  static EventHeader string(std::string_view name, std::string_view value) {
    return {name, EventHeaderType::string, value};
  }
};

// A decoded message. Every view points into the decoder's buffer or the fed bytes and is valid
// only during the callback. A header that is absent (or not a string) reads as empty.
struct EventMessage {
  std::string_view message_type;    // ":message-type": "event", "exception" or "error"
  std::string_view event_type;      // ":event-type", e.g. "contentBlockDelta", "messageStop"
  std::string_view exception_type;  // ":exception-type", e.g. "throttlingException"
  std::string_view content_type;    // ":content-type", e.g. "application/json"
  std::string_view error_code;      // ":error-code" (message type "error")
  std::string_view error_message;   // ":error-message" (message type "error")
  std::string_view payload;
  std::string_view raw_headers;     // the encoded header block (see for_each_event_header)

  bool is_event() const { return message_type == "event"; }
  bool is_exception() const { return message_type == "exception"; }
  bool is_error() const { return message_type == "error"; }
};

// What went wrong; the decoder stays failed after the first error (framing is lost).
enum class EventStreamError {
  none,
  bad_length,        // total length < 16, > max_message_bytes, or headers longer than allowed
  bad_prelude_crc,
  bad_message_crc,
  header_overrun,    // a header runs past the header block
  bad_header_type,   // a value type above 9
};

// A short, stable description ("bad prelude CRC", ...).
std::string_view to_string(EventStreamError e);

// CRC-32 (zlib), continuing from `crc` (0 to start).
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

// Walks an encoded header block. Returns none, header_overrun or bad_header_type; on_header is
// called for every header before the first bad one.
EventStreamError for_each_event_header(std::string_view raw_headers,
                                       const std::function<void(const EventHeader&)>& on_header);

// Incremental decoder: feed bytes in pieces of any size, split anywhere.
class EventStreamDecoder {
 public:
  static constexpr std::size_t kDefaultMaxMessageBytes = 16u << 20;  // 16 MiB

  explicit EventStreamDecoder(std::size_t max_message_bytes = kDefaultMaxMessageBytes)
      : max_message_bytes_(max_message_bytes) {}

  // Decodes every complete message in (buffered bytes + `bytes`) and calls on_message for each,
  // in order; keeps an incomplete tail for the next call. Returns an error (502 bad_gateway,
  // code "upstream_bad_frame") on a bad CRC, an absurd length or a bad header; after that every
  // call fails the same way and nothing more is delivered.
  Result<void> feed(std::string_view bytes,
                    const std::function<void(const EventMessage&)>& on_message);

  // The first error met, or none.
  EventStreamError error() const { return error_; }
  // Bytes held for a message not yet complete (0 between messages: a clean end of stream).
  std::size_t pending() const { return buf_.size(); }

 private:
  // Checks the prelude at the start of `p` (>= 12 bytes); returns the total length or 0.
  std::size_t check_prelude(std::string_view p);
  // Decodes one whole frame and calls on_message; false on error (error_ set).
  bool decode_frame(std::string_view frame,
                    const std::function<void(const EventMessage&)>& on_message);
  Result<void> fail(EventStreamError e);

  std::size_t max_message_bytes_;
  std::string buf_;  // an incomplete frame
  EventStreamError error_ = EventStreamError::none;
};

// Appends one encoded message. Returns false (and appends nothing) when a header name is
// empty or longer than 255 bytes, a string/bytes value is longer than 65535 bytes, or a
// fixed-width value has the wrong size.
bool append_event_frame(std::string& out, std::span<const EventHeader> headers,
                        std::string_view payload);

// Bedrock's event shape: :event-type, :content-type application/json, :message-type event.
void append_event(std::string& out, std::string_view event_type, std::string_view json_payload);

// Bedrock's modelled exception shape: :exception-type, :content-type application/json,
// :message-type exception.
void append_exception(std::string& out, std::string_view exception_type,
                      std::string_view json_payload);

}  // namespace torii::aws
