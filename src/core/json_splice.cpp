#include "core/json_splice.h"

#include <string.h>

#include <unordered_map>

namespace torii {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::size_t skip_ws(std::string_view t, std::size_t i) {
  while (i < t.size() && is_ws(t[i])) ++i;
  return i;
}

// The index just past the value starting at t[i], or npos. Containers are skipped by depth;
// the strings inside them (where the bytes are: text, base64 images) with memchr.
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return npos;
  const char c = t[i];
  if (c == '"') return skip_json_string(t, i);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (i < t.size()) {
      switch (t[i]) {
        case '"':
          i = skip_json_string(t, i);
          if (i == npos) return npos;
          continue;
        case '{':
        case '[': ++depth; break;
        case '}':
        case ']':
          if (--depth == 0) return i + 1;
          break;
        default: break;
      }
      ++i;
    }
    return npos;
  }
  // A number, true, false or null: up to the next delimiter.
  const std::size_t start = i;
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && !is_ws(t[i])) ++i;
  return i == start ? npos : i;
}

// Removes earlier duplicates of a key, keeping the last occurrence where it stands.
void drop_shadowed(std::vector<JsonMember>& m) {
  const std::size_t n = m.size();
  std::vector<bool> shadowed(n, false);
  bool any = false;
  if (n <= 32) {  // the usual request: a handful of keys, no hashing
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n && !shadowed[i]; ++j)
        if (m[i].key == m[j].key) shadowed[i] = any = true;
  } else {  // many keys (hostile or odd bodies): stay linear
    std::unordered_map<std::string_view, std::size_t> last;
    last.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto [it, fresh] = last.try_emplace(m[i].key, i);
      if (!fresh) {
        shadowed[it->second] = any = true;
        it->second = i;
      }
    }
  }
  if (!any) return;
  std::size_t out = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (!shadowed[i]) m[out++] = m[i];
  m.resize(out);
}

}  // namespace

std::size_t skip_json_string(std::string_view t, std::size_t open) {
  std::size_t i = open + 1;
  while (i < t.size()) {
    const void* q = memchr(t.data() + i, '"', t.size() - i);
    if (!q) return npos;
    const std::size_t at = static_cast<const char*>(q) - t.data();
    // The quote is escaped when an odd number of backslashes precede it. Each run of
    // backslashes precedes one quote at most, so counting back keeps the scan linear.
    std::size_t back = 0;
    while (at - back > open + 1 && t[at - back - 1] == '\\') ++back;
    if (back % 2 == 0) return at + 1;
    i = at + 1;
  }
  return npos;
}

std::optional<JsonObjectText> JsonObjectText::scan(std::string_view t) {
  JsonObjectText out;
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '{') return std::nullopt;
  i = skip_ws(t, i + 1);
  if (i < t.size() && t[i] == '}') {
    if (skip_ws(t, i + 1) != t.size()) return std::nullopt;
    return out;
  }
  out.members_.reserve(16);
  while (true) {
    if (i >= t.size() || t[i] != '"') return std::nullopt;
    const std::size_t key_end = skip_json_string(t, i);
    if (key_end == npos) return std::nullopt;
    std::string_view key = t.substr(i + 1, key_end - i - 2);
    if (key.find('\\') != npos) return std::nullopt;  // escaped: not comparable as bytes
    i = skip_ws(t, key_end);
    if (i >= t.size() || t[i] != ':') return std::nullopt;
    i = skip_ws(t, i + 1);
    const std::size_t value_end = skip_value(t, i);
    if (value_end == npos) return std::nullopt;
    out.members_.push_back({key, t.substr(i, value_end - i)});
    i = skip_ws(t, value_end);
    if (i >= t.size()) return std::nullopt;
    if (t[i] == '}') break;
    if (t[i] != ',') return std::nullopt;
    i = skip_ws(t, i + 1);
  }
  if (skip_ws(t, i + 1) != t.size()) return std::nullopt;
  drop_shadowed(out.members_);
  return out;
}

const JsonMember* JsonObjectText::find(std::string_view key) const {
  for (const auto& m : members_)
    if (m.key == key) return &m;
  return nullptr;
}

JsonObjectWriter::JsonObjectWriter(std::size_t reserve) {
  out_.reserve(reserve);
  out_.push_back('{');
}

std::string& JsonObjectWriter::key(std::string_view key) {
  if (!first_) out_.push_back(',');
  first_ = false;
  out_.push_back('"');
  out_.append(key);
  out_.append("\":", 2);
  return out_;
}

void JsonObjectWriter::raw(std::string_view k, std::string_view value_text) {
  key(k).append(value_text);
}

std::string JsonObjectWriter::finish() {
  out_.push_back('}');
  return std::move(out_);
}

}  // namespace torii
