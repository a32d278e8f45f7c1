// Content rules: conditions over a request's headers, caller, body fields and size.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "routing/route.h"

namespace torii::routing {

namespace {

// A body value as text: strings as they are, numbers and booleans as JSON writes them.
bool value_text(const boost::json::value& v, std::string& out) {
  if (v.is_string()) {
    out.assign(v.get_string().data(), v.get_string().size());
    return true;
  }
  if (v.is_null() || v.is_object() || v.is_array()) return false;
  out = boost::json::serialize(v);
  return true;
}

bool number_of(const boost::json::value& v, double& out) {
  if (v.is_int64()) out = static_cast<double>(v.get_int64());
  else if (v.is_uint64()) out = static_cast<double>(v.get_uint64());
  else if (v.is_double()) out = v.get_double();
  else if (v.is_string()) {
    const auto& s = v.get_string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
  } else return false;
  return true;
}

bool compare(const RuleCondition& c, std::string_view text) {
  switch (c.op) {
    case RuleCondition::Op::equals:
    case RuleCondition::Op::in:
      for (const auto& v : c.values)
        if (v == text) return true;
      return false;
    case RuleCondition::Op::exists: return true;
    case RuleCondition::Op::above:
    case RuleCondition::Op::below: {
      double n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size()) return false;
      return c.op == RuleCondition::Op::above ? n > c.number
                                              : n < c.number;
    }
  }
  return false;
}

}  // namespace

const boost::json::value* pointer(const boost::json::object& root, std::string_view ptr) {
  // RFC 6901: "/a/b/0", with ~1 for '/' and ~0 for '~'. "" would be the whole body: refused.
  if (ptr.empty() || ptr.front() != '/') return nullptr;
  const boost::json::object* obj = &root;
  const boost::json::array* arr = nullptr;
  const boost::json::value* cur = nullptr;
  std::string token;
  while (!ptr.empty()) {
    ptr.remove_prefix(1);
    const std::size_t end = std::min(ptr.find('/'), ptr.size());
    token.clear();
    for (std::size_t i = 0; i < end; ++i) {
      if (ptr[i] == '~' && i + 1 < end && (ptr[i + 1] == '0' || ptr[i + 1] == '1')) {
        token += ptr[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += ptr[i];
      }
    }
    ptr.remove_prefix(end);
    if (obj) {
      cur = obj->if_contains(token);
    } else if (arr) {
      std::size_t idx = 0;
      auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), idx);
      if (token.empty() || ec != std::errc() || p != token.data() + token.size()) return nullptr;
      cur = idx < arr->size() ? &(*arr)[idx] : nullptr;
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
    obj = cur->if_object();
    arr = cur->if_array();
  }
  return cur;
}

bool matches(const RuleCondition& c, const RuleInput& in) {
  using S = RuleCondition::Subject;
  switch (c.subject) {
    case S::header: {
      std::string_view v = in.header ? in.header(c.key) : std::string_view();
      if (v.empty()) return false;
      return compare(c, v);
    }
    case S::metadata: {
      if (!in.metadata) return false;
      auto it = in.metadata->find(c.key);
      return it != in.metadata->end() && compare(c, it->second);
    }
    case S::group: {
      if (!in.groups) return false;
      for (const auto& g : *in.groups)
        if (c.op == RuleCondition::Op::exists || compare(c, g)) return true;
      return false;
    }
    case S::field: {
      if (!in.body) return false;
      const boost::json::value* v = pointer(*in.body, c.key);
      if (!v) return false;
      if (c.op == RuleCondition::Op::exists) return true;
      if (c.op == RuleCondition::Op::above || c.op == RuleCondition::Op::below) {
        double n = 0;
        if (!number_of(*v, n)) return false;
        return c.op == RuleCondition::Op::above ? n > c.number
                                                : n < c.number;
      }
      if (v->is_number()) {
        // Numbers compare by value: 0.5 equals "0.5" and "5e-1", 1 equals "1.0".
        double n = 0;
        number_of(*v, n);
        for (const auto& want : c.values) {
          double w = 0;
          auto [end, ec] = std::from_chars(want.data(), want.data() + want.size(), w);
          if (ec == std::errc() && end == want.data() + want.size() && w == n) return true;
        }
        return false;
      }
      std::string text;
      return value_text(*v, text) && compare(c, text);
    }
    case S::prompt_tokens: {
      if (!in.prompt_tokens) return false;
      const auto n = static_cast<double>(in.prompt_tokens());
      return c.op == RuleCondition::Op::above ? n > c.number
             : c.op == RuleCondition::Op::below ? n < c.number
                                               : false;
    }
  }
  return false;
}

namespace {

void text_bytes(const boost::json::value& v, int64_t& n, int depth) {
  if (depth > 64) return;
  if (v.is_string()) {
    n += static_cast<int64_t>(v.get_string().size());
  } else if (v.is_array()) {
    for (const auto& x : v.get_array()) text_bytes(x, n, depth + 1);
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      const std::string_view k = kv.key();
      // Inline files and images are not text the model reads as tokens this way.
      if (k == "image_url" || k == "data" || k == "file_data" || k == "source" ||
          k == "input_audio" || k == "url" || k == "signature")
        continue;
      text_bytes(kv.value(), n, depth + 1);
    }
  }
}

}  // namespace

int64_t estimate_prompt_tokens(const boost::json::object& body) {
  int64_t bytes = 0;
  for (const char* k : {"messages", "system", "instructions", "input", "prompt", "tools"})
    if (const auto* v = body.if_contains(k)) text_bytes(*v, bytes, 0);
  return (bytes + 3) / 4;
}

}  // namespace torii::routing
