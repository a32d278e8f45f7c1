#include "cache/key.h"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "core/json_access.h"

namespace torii::cache {

namespace json = boost::json;

namespace {

// Fields that never change the answer: who is asking (the scope says that), storage and
// tracing hints. "torii" is the gateway's own (already removed before the lookup).
bool ignored_field(std::string_view k) {
  return k == "user" || k == "metadata" || k == "store" || k == "safety_identifier" ||
         k == "prompt_cache_key" || k == "torii";
}

std::string hex(const unsigned char* d, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[d[i] >> 4];
    s[2 * i + 1] = digits[d[i] & 15];
  }
  return s;
}

// Streams a JSON value into a hash, canonically: objects with sorted keys, numbers by value,
// each item tagged and length-prefixed (no two different values feed the same bytes).
class Hasher {
 public:
  explicit Hasher(std::size_t out_bytes) : out_(out_bytes) {
    crypto_generichash_init(&st_, nullptr, 0, out_);
  }
  void bytes(std::string_view s) {
    crypto_generichash_update(&st_, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  void tagged(char tag, std::string_view s) {
    char head[1 + 20];
    head[0] = tag;
    auto [end, ec] = std::to_chars(head + 1, head + sizeof head, s.size());
    *end++ = ':';
    bytes({head, static_cast<std::size_t>(end - head)});
    bytes(s);
  }
  void number(double d) {
    char buf[32];
    char* end;
    if (std::nearbyint(d) == d && std::fabs(d) < 9.0e15)
      end = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d)).ptr;
    else
      end = std::to_chars(buf, buf + sizeof buf, d).ptr;  // shortest round-trip form
    tagged('n', {buf, static_cast<std::size_t>(end - buf)});
  }
  // `skip`: a value to leave out (the last user turn's content), fed as a marker instead.
  void value(const json::value& v, const json::value* skip = nullptr) {
    if (&v == skip) return tagged('x', "");
    switch (v.kind()) {
      case json::kind::null: return tagged('z', "");
      case json::kind::bool_: return tagged('b', v.get_bool() ? "1" : "0");
      case json::kind::int64: return number(static_cast<double>(v.get_int64()));
      case json::kind::uint64: return number(static_cast<double>(v.get_uint64()));
      case json::kind::double_: return number(v.get_double());
      case json::kind::string: return tagged('s', jsonx::sv(v.get_string()));
      case json::kind::array:
        tagged('a', std::to_string(v.get_array().size()));
        for (const auto& x : v.get_array()) value(x, skip);
        return;
      case json::kind::object: object(v.get_object(), skip, false); return;
    }
  }
  void object(const json::object& o, const json::value* skip, bool top) {
    std::vector<const json::key_value_pair*> members;
    members.reserve(o.size());
    for (const auto& kv : o)
      if (!top || !ignored_field(kv.key())) members.push_back(&kv);
    std::sort(members.begin(), members.end(),
              [](auto* a, auto* b) { return a->key() < b->key(); });
    tagged('o', std::to_string(members.size()));
    for (const auto* kv : members) {
      tagged('k', kv->key());
      value(kv->value(), skip);
    }
  }
  std::string hex_digest() {
    unsigned char d[32];
    crypto_generichash_final(&st_, d, out_);
    return hex(d, out_);
  }

 private:
  crypto_generichash_state st_;
  std::size_t out_;
};

// The text of a message content: a string, or text parts only ("" when any part is not text).
std::string text_of(const json::value& content) {
  if (content.is_string()) return std::string(jsonx::sv(content.get_string()));
  if (!content.is_array()) return {};
  std::string out;
  for (const auto& part : content.get_array()) {
    const auto* o = part.if_object();
    if (!o) return {};
    const auto type = jsonx::str_at(*o, "type");
    if (type != "text" && type != "input_text") return {};
    const auto* t = o->if_contains("text");
    if (!t || !t->is_string()) return {};
    if (!out.empty()) out += '\n';
    out += jsonx::sv(t->get_string());
  }
  return out;
}

// The last user turn's content in the request, or null when the conversation does not end
// with one (an assistant prefill, a tool result).
const json::value* last_user_content(const json::object& req, InboundApi api) {
  if (api == InboundApi::openai_completions) {
    const auto* p = req.if_contains("prompt");
    return p && p->is_string() ? p : nullptr;
  }
  const json::value* list = nullptr;
  if (api == InboundApi::openai_responses) {
    list = req.if_contains("input");
    if (list && list->is_string()) return list;
  } else {
    list = req.if_contains("messages");
  }
  if (!list || !list->is_array() || list->get_array().empty()) return nullptr;
  const auto* last = list->get_array().back().if_object();
  if (!last || jsonx::str_at(*last, "role") != "user") return nullptr;
  const auto* type = last->if_contains("type");  // Responses: items of other types
  if (type && (!type->is_string() || type->get_string() != "message")) return nullptr;
  return last->if_contains("content");
}

}  // namespace

std::string scope_digest(std::string_view tenant) {
  unsigned char d[8];
  crypto_generichash(d, sizeof d, reinterpret_cast<const unsigned char*>(tenant.data()),
                     tenant.size(), nullptr, 0);
  return hex(d, sizeof d);
}

std::string tenant_of(const Principal& p, std::string_view scope) {
  if (scope == "shared") return "shared";
  if (scope == "group") {
    std::vector<std::string_view> groups;
    if (p.groups)
      for (const auto& g : *p.groups) groups.push_back(g);
    std::sort(groups.begin(), groups.end());
    std::string t = "group:";
    for (std::size_t i = 0; i < groups.size(); ++i) (t += i ? "," : "") += groups[i];
    if (groups.empty()) t += "consumer:" + p.id;  // no group: the consumer alone
    return t;
  }
  return "consumer:" + p.id;
}

Keys make_keys(const KeyInput& in) {
  Keys k;
  k.scope = std::string(in.scope);
  const json::value* last = last_user_content(*in.request, in.api);
  if (last) k.last_user_text = text_of(*last);
  Hasher context(16);
  context.tagged('v', "torii-cache-1");
  context.tagged('i', std::to_string(static_cast<int>(in.api)));
  context.tagged('t', in.stream ? "1" : "0");
  context.tagged('r', in.route_targets);
  context.tagged('g', in.answers_digest);
  context.object(*in.request, last, true);
  k.partition = k.scope + ":" + context.hex_digest();
  Hasher exact(32);
  exact.tagged('p', k.partition);
  if (last) exact.value(*last);
  k.exact = k.scope + ":" + exact.hex_digest();
  return k;
}

std::string_view uncacheable(const json::object& request, double max_temperature) {
  double t = 1.0;  // the providers' default when the client sends none
  if (const auto* v = request.if_contains("temperature"); v && v->is_number())
    t = v->to_number<double>();
  if (t > max_temperature) return "temperature";
  if (const auto* p = request.if_contains("previous_response_id"); p && !p->is_null())
    return "stateful";
  if (const auto* b = request.if_contains("background"); b && b->is_bool() && b->get_bool())
    return "stateful";
  return {};
}

}  // namespace torii::cache
