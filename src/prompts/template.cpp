// Prompt templates: the parser, the renderer and the library (see template.h).
#include "prompts/template.h"

#include <charconv>
#include <cmath>
#include <tuple>

#include "config/snapshot.h"

namespace torii::prompts {

namespace json = boost::json;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// At most `max` bytes of `s` for a message, not cut inside a UTF-8 character.
std::string excerpt(std::string_view s, std::size_t max = 60) {
  if (s.size() <= max) return std::string(s);
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

ApiError load_error(std::string what) { return ApiError::invalid_request(std::move(what)); }

Result<Template::Placeholder> placeholder(std::string_view inner) {
  using Root = Template::Root;
  Template::Placeholder ph;
  ph.name = std::string(inner);
  const std::string quoted = "'{{" + excerpt(inner) + "}}'";
  if (inner.empty()) return load_error("empty placeholder '{{}}'");
  for (char c : inner)
    if (is_space(c) || c == '{' || c == '}')
      return load_error(quoted + ": a placeholder is a dotted name without spaces or braces");
  std::vector<std::string_view> segs;
  for (std::size_t at = 0;;) {
    const auto dot = inner.find('.', at);
    segs.push_back(inner.substr(at, dot == std::string_view::npos ? dot : dot - at));
    if (segs.back().empty()) return load_error(quoted + ": empty name between dots");
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  const std::string_view root = segs[0];
  auto rest = [&](std::size_t from) {
    for (std::size_t i = from; i < segs.size(); ++i) ph.path.emplace_back(segs[i]);
  };
  if (root == "body" || root == "vars") {
    if (segs.size() < 2)
      return load_error(quoted + ": name a field, as in {{" + std::string(root) + ".text}}");
    ph.root = root == "body" ? Root::body : Root::vars;
    rest(1);
  } else if (root == "consumer") {
    if (segs.size() == 2 && segs[1] == "id") {
      ph.root = Root::consumer_id;
    } else if (segs.size() >= 3 && segs[1] == "metadata") {
      ph.root = Root::consumer_metadata;
      ph.path.emplace_back(inner.substr(std::string_view("consumer.metadata.").size()));
    } else {
      return load_error(quoted + ": consumer placeholders are {{consumer.id}} and "
                                 "{{consumer.metadata.<key>}}");
    }
  } else if (root == "model" || root == "route") {
    if (segs.size() != 1)
      return load_error(quoted + ": {{" + std::string(root) + "}} has no fields");
    ph.root = root == "model" ? Root::model : Root::route;
  } else {
    return load_error(quoted + ": unknown placeholder '" + excerpt(root) +
                      "' (body, vars, consumer, model, route)");
  }
  return ph;
}

// A body value as text: strings as they are, numbers in their shortest form.
bool append_value(const json::value& v, std::string& out) {
  if (v.is_string()) {
    out.append(v.get_string());
  } else if (v.is_int64()) {
    out += std::to_string(v.get_int64());
  } else if (v.is_uint64()) {
    out += std::to_string(v.get_uint64());
  } else if (v.is_double() && std::isfinite(v.get_double())) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
    out.append(buf, r.ptr);
  } else {
    return false;
  }
  return true;
}

const json::value* walk(const json::object& root, const std::vector<std::string>& path) {
  const json::value* at = nullptr;
  const json::object* obj = &root;
  for (const auto& seg : path) {
    if (obj) {
      at = obj->if_contains(seg);
    } else if (at && at->is_array()) {
      std::size_t i = 0;
      auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), i);
      const auto& arr = at->get_array();
      at = ec == std::errc() && end == seg.data() + seg.size() && i < arr.size() ? &arr[i]
                                                                                 : nullptr;
    } else {
      at = nullptr;
    }
    if (!at) return nullptr;
    obj = at->is_object() ? &at->get_object() : nullptr;
  }
  return at;
}

std::string joined(const std::vector<std::string>& path, std::string prefix = {}) {
  for (const auto& s : path) prefix += prefix.empty() ? s : "." + s;
  return prefix;
}

}  // namespace

Result<Template> Template::parse(std::string_view text) {
  Template t;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.pieces_.push_back({std::string(text.substr(pos)), -1});
      break;
    }
    if (open > pos) t.pieces_.push_back({std::string(text.substr(pos, open - pos)), -1});
    const auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return load_error("unterminated placeholder '" + excerpt(text.substr(open)) +
                        "' (no closing }})");
    auto ph = placeholder(trim(text.substr(open + 2, close - open - 2)));
    if (!ph) return ph.error();
    t.pieces_.push_back({{}, static_cast<int>(t.placeholders_.size())});
    t.placeholders_.push_back(std::move(*ph));
    pos = close + 2;
  }
  return t;
}

Result<std::string> Template::render(const RenderInput& in) const {
  std::string out;
  for (const Piece& p : pieces_) {
    if (p.placeholder < 0) {
      out += p.literal;
      continue;
    }
    const Placeholder& ph = placeholders_[static_cast<std::size_t>(p.placeholder)];
    bool ok = false;
    std::string param;
    switch (ph.root) {
      case Root::body: {
        const json::value* v = in.body ? walk(*in.body, ph.path) : nullptr;
        ok = v && append_value(*v, out);
        param = joined(ph.path);
        break;
      }
      case Root::vars: {
        const json::value* v = in.variables ? walk(*in.variables, ph.path) : nullptr;
        ok = v && append_value(*v, out);
        param = joined(ph.path, "torii.variables");
        break;
      }
      case Root::consumer_id:
        ok = !in.consumer_id.empty();
        out += in.consumer_id;
        param = ph.name;
        break;
      case Root::consumer_metadata:
        if (in.metadata) {
          auto it = in.metadata->find(ph.path[0]);
          ok = it != in.metadata->end();
          if (ok) out += it->second;
        }
        param = ph.name;
        break;
      case Root::model:
      case Root::route: {
        const std::string_view v = ph.root == Root::model ? in.model : in.route;
        ok = !v.empty();
        out += v;
        param = ph.name;
        break;
      }
    }
    if (!ok) {
      const bool from_body = ph.root == Root::body || ph.root == Root::vars;
      std::string msg = "{{" + ph.name + "}} has no value: " +
                        (from_body ? "'" + param + "' is missing or not a string or a number"
                                   : std::string("the request has none"));
      return ApiError::invalid_request(std::move(msg), std::move(param), "prompt_variable_missing");
    }
  }
  return out;
}

Result<std::shared_ptr<const Library>> Library::build(const PromptsConfig& cfg) {
  auto lib = std::make_shared<Library>();
  auto parse = [](const std::string& text, const std::string& at) -> Result<Template> {
    auto t = Template::parse(text);
    if (!t) return ApiError::invalid_request(at + ": " + t.error().message);
    return t;
  };
  for (const auto& tc : cfg.templates) {
    auto t = parse(tc.text, "prompts.templates[" + tc.id + "].text");
    if (!t) return t.error();
    lib->templates_.push_back({tc.id, tc.role, std::move(*t)});
  }
  for (const auto& cc : cfg.contexts) {
    const std::string at = "prompts.contexts[" + cc.id + "]";
    LibraryContext c;
    c.id = cc.id;
    auto sys = parse(cc.system, at + ".system");
    if (!sys) return sys.error();
    c.system = std::move(*sys);
    for (auto [list, out, name] : {std::tuple{&cc.pre, &c.pre, "pre"},
                                   std::tuple{&cc.post, &c.post, "post"}}) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        auto m = parse((*list)[i].content,
                       at + "." + name + "[" + std::to_string(i) + "].content");
        if (!m) return m.error();
        out->push_back({(*list)[i].role, std::move(*m)});
      }
    }
    lib->contexts_.push_back(std::move(c));
  }
  return std::shared_ptr<const Library>(std::move(lib));
}

const LibraryTemplate* Library::find_template(std::string_view id) const {
  for (const auto& t : templates_)
    if (t.id == id) return &t;
  return nullptr;
}

const LibraryContext* Library::find_context(std::string_view id) const {
  for (const auto& c : contexts_)
    if (c.id == id) return &c;
  return nullptr;
}

Result<std::string> render_library_template(const Snapshot& snap, std::string_view id,
                                            const RenderInput& in) {
  const LibraryTemplate* t = snap.prompts ? snap.prompts->find_template(id) : nullptr;
  if (!t) return ApiError::not_found("no prompt template '" + std::string(id) + "'");
  return t->text.render(in);
}

}  // namespace torii::prompts
