#pragma once
// multipart/form-data (RFC 7578): the incremental parser for uploads, and the writer for the
// upstream requests that carry them (transcriptions, image edits).
//
// The parser is fed the body as it arrives: feed() is called with everything received so far
// (the same buffer, grown) and scans only what is new, so a malformed upload is refused at its
// first bad byte, not after the whole file was read. It keeps offsets, never pointers (the
// buffer may move as it grows); finish() checks the closing delimiter and returns the parts as
// views into the final buffer.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "providers/modality.h"

namespace torii {

// The boundary of a "multipart/form-data; boundary=..." content type (quoted or not), or
// nullopt when the type is another or the boundary is missing or invalid (RFC 2046: 1 to 70
// characters).
std::optional<std::string> multipart_boundary(std::string_view content_type);

class MultipartParser {
 public:
  struct Limits {
    std::size_t max_parts = 64;
    std::size_t max_header_bytes = 8 * 1024;  // one part's headers
    std::size_t max_field_bytes = 64 * 1024;  // a text field (files are bounded by the body)
  };
  explicit MultipartParser(std::string boundary) : MultipartParser(std::move(boundary), Limits{}) {}
  MultipartParser(std::string boundary, Limits limits);

  // Scans what `all` (the body received so far, a prefix of the final body) added since the
  // last call. An error (400, naming what is wrong) is final.
  Result<void> feed(std::string_view all);
  // The body is complete: checks that it ended with the closing delimiter and returns the
  // parts, views into `all`.
  Result<Form> finish(std::string_view all);
  // The error feed() returned, if any (a refused upload).
  const std::optional<ApiError>& error() const { return error_; }

 private:
  struct Span {
    std::string name, filename, content_type;
    std::size_t begin = 0, end = 0;
  };
  enum class State { preamble, after_delimiter, headers, data, done };
  Result<void> parse_headers(std::string_view block);
  Result<void> fail(std::string why);

  std::string delimiter_;  // "\r\n--" + boundary (the first one may come without the CRLF)
  Limits limits_;
  State state_ = State::preamble;
  std::size_t at_ = 0;  // where the scan resumes
  std::vector<Span> parts_;
  std::optional<ApiError> error_;
};

// Writes a multipart/form-data body part by part (fields and files), then close().
class MultipartWriter {
 public:
  MultipartWriter();  // a random boundary
  // "multipart/form-data; boundary=..."
  std::string content_type() const;
  void field(std::string_view name, std::string_view value);
  void file(std::string_view name, std::string_view filename, std::string_view content_type,
            std::string_view data);
  // The body, closed. Call once.
  std::string close();

 private:
  std::string boundary_;
  std::string body_;
};

}  // namespace torii
