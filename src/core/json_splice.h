#pragma once
// Editing a JSON object's top-level members in its text, without parsing it into a tree and
// serialising it again (DESIGN.md: the passthrough fast path, "nothing is serialised twice").
// The members' values are copied byte for byte; only the edited members are written anew.
//
// The text must already have been validated by a full, strict JSON parse (the inbound codecs
// do that): the scanner checks only what it needs to find the member boundaries. It stays
// memory-safe on any input and refuses (std::nullopt) what it cannot split, so callers keep a
// tree-based fallback.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torii {

// One top-level member of an object's text.
struct JsonMember {
  std::string_view key;    // the key's bytes between its quotes (never contains a backslash)
  std::string_view value;  // the value's text, without surrounding whitespace
};

// The top-level members of a JSON object's text.
class JsonObjectText {
 public:
  // Scans `text` (an object, leading and trailing whitespace allowed). Returns std::nullopt
  // when the text is not an object, is malformed where the scanner looks, or has a key with a
  // backslash escape ("mo\u0064el": the caller cannot compare it as bytes; fall back).
  // Duplicate keys keep only their last occurrence, as JSON parsers do (boost::json keeps the
  // last value): earlier duplicates are not in members().
  static std::optional<JsonObjectText> scan(std::string_view text);

  // The members in text order (duplicates removed as above).
  const std::vector<JsonMember>& members() const { return members_; }
  // The member named `key`, or null.
  const JsonMember* find(std::string_view key) const;

 private:
  std::vector<JsonMember> members_;
};

// Writes a JSON object member by member (compact: no whitespace between members).
class JsonObjectWriter {
 public:
  // `reserve`: the expected output size (the source text's size is a good guess).
  explicit JsonObjectWriter(std::size_t reserve);
  // Copies a scanned member as it is.
  void copy(const JsonMember& m) { raw(m.key, m.value); }
  // A member from a key's bytes (as they go between quotes: already escaped) and a value's
  // JSON text.
  void raw(std::string_view key, std::string_view value_text);
  // Starts a member and returns the output, to which the caller appends the value's JSON text.
  std::string& key(std::string_view key);
  // Closes the object and returns the text. The writer is then spent.
  std::string finish();

 private:
  std::string out_;
  bool first_ = true;
};

// Finds the end of the JSON string whose opening quote is at text[open]: the index just past
// its closing quote, or npos when unterminated. Skips the string's body with memchr.
std::size_t skip_json_string(std::string_view text, std::size_t open);

}  // namespace torii
