// Content rules: conditions over a request's headers, caller, body fields and size.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <functional>

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
        if (c.glob ? glob_match(v, text) : v == text) return true;
      return false;
    case RuleCondition::Op::exists: return true;
    case RuleCondition::Op::between: return false;
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

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative, with one backtrack point (the last '*'): linear for the patterns rules use.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

// A JSON value compared as a condition's operand: numbers by value, strings as text, arrays
// when one element matches (a JWT's groups, a list claim).
bool compare_value(const RuleCondition& c, const boost::json::value& v, int depth = 0) {
  using O = RuleCondition::Op;
  if (c.op == O::exists) return true;
  if (v.is_array()) {
    if (depth > 0) return false;
    for (const auto& e : v.get_array())
      if (compare_value(c, e, depth + 1)) return true;
    return false;
  }
  if (c.op == O::above || c.op == O::below) {
    double n = 0;
    if (!number_of(v, n)) return false;
    return c.op == O::above ? n > c.number : n < c.number;
  }
  if (v.is_number()) {
    // Numbers compare by value: 0.5 equals "0.5" and "5e-1", 1 equals "1.0".
    double n = 0;
    number_of(v, n);
    for (const auto& want : c.values) {
      double w = 0;
      auto [end, ec] = std::from_chars(want.data(), want.data() + want.size(), w);
      if (ec == std::errc() && end == want.data() + want.size() && w == n) return true;
    }
    return false;
  }
  std::string text;
  return value_text(v, text) && compare(c, text);
}

// A request parameter by its portable name, whatever the client's API calls it.
bool param(const RuleCondition& c, const boost::json::object& body) {
  const std::string& k = c.key;
  if (k == "max_tokens") {
    for (const char* name : {"max_tokens", "max_completion_tokens", "max_output_tokens"})
      if (const auto* v = body.if_contains(name); v && !v->is_null()) return compare_value(c, *v);
    return false;
  }
  if (k == "tools") {
    const auto* v = body.if_contains("tools");
    const std::size_t n = v && v->is_array() ? v->get_array().size() : 0;
    if (c.op == RuleCondition::Op::exists) return n > 0;
    return compare_value(c, boost::json::value(static_cast<int64_t>(n)));
  }
  const auto* v = body.if_contains(k);
  if (!v || v->is_null()) return false;
  return compare_value(c, *v);
}

bool match_subject(const RuleCondition& c, const RuleInput& in);

}  // namespace

bool matches(const RuleCondition& c, const RuleInput& in) {
  return match_subject(c, in) != c.negate;
}

namespace {

bool match_subject(const RuleCondition& c, const RuleInput& in) {
  using S = RuleCondition::Subject;
  switch (c.subject) {
    case S::consumer: return !in.consumer.empty() && compare(c, in.consumer);
    case S::key: return !in.key.empty() && compare(c, in.key);
    case S::claim: {
      if (!in.claims) return false;
      const auto* v = in.claims->if_contains(c.key);
      return v && !v->is_null() && compare_value(c, *v);
    }
    case S::param: return in.body && param(c, *in.body);
    case S::model: {
      if (!in.model.empty() && compare(c, in.model)) return true;
      if (in.target_provider.empty()) return false;
      if (in.target_model != in.model && compare(c, in.target_model)) return true;
      // "<provider>/<model>" of the target, built only for this comparison.
      std::string full;
      full.reserve(in.target_provider.size() + 1 + in.target_model.size());
      full.append(in.target_provider).append(1, '/').append(in.target_model);
      return full != in.model && compare(c, full);
    }
    case S::provider: return !in.target_provider.empty() && compare(c, in.target_provider);
    case S::time: {
      const int minute = static_cast<int>((in.now % 86400 + 86400) % 86400 / 60);
      return c.from_minute < c.to_minute ? minute >= c.from_minute && minute < c.to_minute
                                         : minute >= c.from_minute || minute < c.to_minute;
    }
    case S::weekday: {
      static constexpr const char* kDays[] = {"thu", "fri", "sat", "sun", "mon", "tue", "wed"};
      const int64_t days = in.now >= 0 ? in.now / 86400 : (in.now - 86399) / 86400;
      return compare(c, kDays[((days % 7) + 7) % 7]);  // 1970-01-01 was a Thursday
    }
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
      return v && compare_value(c, *v, 1);  // a body array is not searched
    }
    case S::modality: return compare(c, in.modality);
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

void each_text(const boost::json::value& v, const std::function<void(std::string_view)>& fn,
               int depth) {
  if (depth > 64) return;
  if (v.is_string()) {
    fn(std::string_view(v.get_string().data(), v.get_string().size()));
  } else if (v.is_array()) {
    for (const auto& x : v.get_array()) each_text(x, fn, depth + 1);
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      const std::string_view k = kv.key();
      // Inline files and images are not text the model reads as tokens this way.
      if (k == "image_url" || k == "data" || k == "file_data" || k == "source" ||
          k == "input_audio" || k == "url" || k == "signature")
        continue;
      each_text(kv.value(), fn, depth + 1);
    }
  }
}

}  // namespace

void for_each_prompt_text(const boost::json::object& body,
                          const std::function<void(std::string_view)>& fn) {
  // One pass over the body's members (in its order: the counts add up the same).
  for (const auto& kv : body) {
    const std::string_view k = kv.key();
    if (k == "messages" || k == "system" || k == "instructions" || k == "input" ||
        k == "prompt" || k == "tools")
      each_text(kv.value(), fn, 0);
  }
}

int64_t estimate_prompt_tokens(const boost::json::object& body) {
  int64_t bytes = 0;
  for_each_prompt_text(body, [&](std::string_view t) { bytes += static_cast<int64_t>(t.size()); });
  return (bytes + 3) / 4;
}

}  // namespace torii::routing
