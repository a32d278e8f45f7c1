// PromptPolicy (see prompt_policy.h).
#include "prompts/prompt_policy.h"

#include <unordered_map>

#include "config/snapshot.h"
#include "pipeline/runner.h"
#include "prompts/inject.h"
#include "prompts/template.h"

namespace torii {

namespace json = boost::json;

namespace {

// What one route offers, resolved to the library's entries.
struct RoutePrompts {
  const prompts::LibraryContext* context = nullptr;  // the default
  std::vector<const prompts::LibraryContext*> contexts;
  std::vector<const prompts::LibraryTemplate*> templates;
};

ApiError not_allowed(std::string message, std::string param) {
  return ApiError::invalid_request(std::move(message), std::move(param), "prompt_not_allowed");
}

ApiError bad_field(std::string message, std::string param) {
  return ApiError::invalid_request(std::move(message), std::move(param), "invalid_torii_field");
}

// The client's `torii` object, checked.
struct Selection {
  std::string_view context, template_id;
  const json::object* variables = nullptr;
};

Result<Selection> read_selection(const json::value& v) {
  Selection s;
  if (!v.is_object())
    return bad_field("'torii' must be an object: {\"context\", \"template\", \"variables\"}",
                     "torii");
  for (const auto& kv : v.get_object()) {
    const std::string param = "torii." + std::string(kv.key());
    const json::value& x = kv.value();
    if (kv.key() == "context" || kv.key() == "template") {
      if (!x.is_string() || x.get_string().empty())
        return bad_field("'" + param + "' must be a non-empty string (an id)", param);
      (kv.key() == "context" ? s.context : s.template_id) = x.get_string();
    } else if (kv.key() == "variables") {
      if (!x.is_object()) return bad_field("'" + param + "' must be an object", param);
      s.variables = &x.get_object();
    } else {
      return bad_field("'" + param + "' is unknown (torii takes context, template, variables)",
                       param);
    }
  }
  return s;
}

// `what` ("prompt context 'x'") prefixed to a render error.
Result<std::string> render(const prompts::Template& t, const prompts::RenderInput& in,
                           const std::string& what) {
  auto r = t.render(in);
  if (!r) r.error().message = what + ": " + r.error().message;
  return r;
}

Result<void> render_messages(const std::vector<prompts::LibraryMessage>& from,
                             const prompts::RenderInput& in, const std::string& what,
                             std::vector<prompts::RenderedMessage>& out) {
  for (const auto& m : from) {
    auto text = render(m.content, in, what);
    if (!text) return text.error();
    out.push_back({m.role, std::move(*text)});
  }
  return {};
}

class PromptPolicy final : public Policy {
 public:
  PromptPolicy(std::shared_ptr<const prompts::Library> library,
               std::unordered_map<const Route*, RoutePrompts> routes)
      : library_(std::move(library)), routes_(std::move(routes)) {}

  std::string_view name() const override { return "prompts"; }

  bool on_request_now(RequestContext& ctx, Verdict& out) override {
    auto r = apply(ctx);
    out = r ? Verdict::next() : Verdict::reject(r.error());
    return true;
  }

  Task<Verdict> on_request(RequestContext& ctx) override {
    Verdict v;
    on_request_now(ctx, v);
    co_return v;
  }

 private:
  Result<void> apply(RequestContext& ctx) const {
    const json::value* field = ctx.request.if_contains("torii");
    if (ctx.modality != Modality::chat) {  // contexts and templates are conversations
      if (!field) return {};
      return not_allowed("the " + std::string(modality_name(ctx.modality)) +
                         " endpoint takes no prompt options: remove the 'torii' field", "torii");
    }
    auto it = ctx.route ? routes_.find(ctx.route) : routes_.end();
    if (it == routes_.end()) {
      if (!field) return {};
      return not_allowed("route '" + route_name(ctx) + "' takes no prompt options: remove the "
                         "'torii' field", "torii");
    }
    const RoutePrompts& rp = it->second;
    Selection sel;
    if (field) {
      auto s = read_selection(*field);
      if (!s) return s.error();
      sel = *s;
    }
    const prompts::LibraryContext* context = rp.context;
    if (!sel.context.empty()) {
      context = pick(rp.contexts, rp.context, sel.context);
      if (!context)
        return not_allowed("prompt context '" + std::string(sel.context) +
                               "' is not available on route '" + route_name(ctx) + "'",
                           "torii.context");
    }
    const prompts::LibraryTemplate* tmpl = nullptr;
    if (!sel.template_id.empty()) {
      tmpl = pick<prompts::LibraryTemplate>(rp.templates, nullptr, sel.template_id);
      if (!tmpl)
        return not_allowed("prompt template '" + std::string(sel.template_id) +
                               "' is not available on route '" + route_name(ctx) + "'",
                           "torii.template");
    }
    prompts::Rendered out;
    if (context || tmpl) {  // rendered before `torii` goes: {{vars.*}} reads it
      prompts::RenderInput in;
      in.body = &ctx.request;
      in.variables = sel.variables;
      in.consumer_id = ctx.principal.id;
      in.metadata = ctx.principal.metadata;
      in.model = ctx.model;
      in.route = ctx.route->name;
      if (auto r = render_context(context, in, out); !r) return r;
      if (tmpl) {
        auto text = render(tmpl->text, in, "prompt template '" + tmpl->id + "'");
        if (!text) return text.error();
        out.last = prompts::RenderedMessage{tmpl->role, std::move(*text)};
      }
    }
    if (field) ctx.request.stable_erase("torii");  // the other members keep their order
    if (!out.empty())
      if (auto r = prompts::inject(ctx.api, ctx.request, out); !r) return r;
    if (field || !out.empty()) mark_request_edited(ctx);
    return {};
  }

  static Result<void> render_context(const prompts::LibraryContext* c,
                                     const prompts::RenderInput& in, prompts::Rendered& out) {
    if (!c) return {};
    const std::string what = "prompt context '" + c->id + "'";
    auto sys = render(c->system, in, what);
    if (!sys) return sys.error();
    out.system = std::move(*sys);
    if (auto r = render_messages(c->pre, in, what, out.pre); !r) return r;
    return render_messages(c->post, in, what, out.post);
  }

  // The entry of `list` (or `also`) whose id is `id`.
  template <class T>
  static const T* pick(const std::vector<const T*>& list, const T* also, std::string_view id) {
    if (also && also->id == id) return also;
    for (const T* x : list)
      if (x->id == id) return x;
    return nullptr;
  }

  static std::string route_name(const RequestContext& ctx) {
    return ctx.route ? ctx.route->name : ctx.model;
  }

  std::shared_ptr<const prompts::Library> library_;  // what routes_ points into
  std::unordered_map<const Route*, RoutePrompts> routes_;
};

}  // namespace

bool prompts_configured(const Config& cfg) {
  if (!cfg.prompts.templates.empty() || !cfg.prompts.contexts.empty()) return true;
  for (const auto& r : cfg.routes)
    if (r.prompts.enabled) return true;
  return false;
}

Result<std::unique_ptr<Policy>> make_prompt_policy(const Snapshot& snap) {
  static const prompts::Library kEmpty{};
  const prompts::Library& lib = snap.prompts ? *snap.prompts : kEmpty;
  std::unordered_map<const Route*, RoutePrompts> routes;
  for (const RouteConfig& rc : snap.config.routes) {
    if (!rc.prompts.enabled) continue;
    auto variants = snap.routes.find(rc.name);
    if (variants == snap.routes.end()) continue;
    const Route* route = nullptr;
    for (const Route& r : variants->second)
      if (r.group == rc.group) route = &r;
    if (!route) continue;
    const std::string at = "route '" + rc.name + "': prompts: ";
    RoutePrompts rp;
    if (!rc.prompts.context.empty()) {
      rp.context = lib.find_context(rc.prompts.context);
      if (!rp.context)
        return ApiError::invalid_request(at + "no prompt context '" + rc.prompts.context + "'");
    }
    for (const auto& id : rc.prompts.contexts) {
      rp.contexts.push_back(lib.find_context(id));
      if (!rp.contexts.back())
        return ApiError::invalid_request(at + "no prompt context '" + id + "'");
    }
    for (const auto& id : rc.prompts.templates) {
      rp.templates.push_back(lib.find_template(id));
      if (!rp.templates.back())
        return ApiError::invalid_request(at + "no prompt template '" + id + "'");
    }
    routes.emplace(route, std::move(rp));
  }
  return std::unique_ptr<Policy>(std::make_unique<PromptPolicy>(snap.prompts, std::move(routes)));
}

}  // namespace torii
