// PromptsLoader: `prompts:` (see loader_prompts.h, docs/PROMPTS.md).
#include "config/loader_prompts.h"

#include "prompts/template.h"

namespace torii::config_detail {

// Ids (valid_entity_id) name a template or a context in requests (torii.template), routes
// and the admin API.

void PromptsLoader::prompt_text(const YAML::Node& v, const std::string& path, std::string& out) {
  if (v.IsMap()) {  // `text: {{vars.x}} ...` unquoted is a YAML flow mapping
    error(v, path, "must be a string (quote a text that starts with {{)");
    return;
  }
  auto s = nonempty(v, path);
  if (!s) return;
  if (auto t = prompts::Template::parse(*s); !t) return error(v, path, t.error().message);
  out = *s;
}

void PromptsLoader::prompt_messages(const YAML::Node& v, const std::string& path,
                                    std::vector<PromptMessageConfig>& out) {
  if (!v.IsSequence()) return error(v, path, "must be a list of {role, content}");
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string ip = index_path(path, i);
    PromptMessageConfig m;
    std::set<std::string> got;
    each_key(v[i], ip, {"role", "content"},
             [&](const std::string& k, const YAML::Node& x, const std::string& p) {
               got.insert(k);
               if (k == "role") {
                 auto s = nonempty(x, p);
                 if (s == "user") m.role = PromptRole::user;
                 else if (s == "assistant") m.role = PromptRole::assistant;
                 else if (s) error(x, p, "must be user or assistant (system text goes in system)");
               }
               if (k == "content") prompt_text(x, p, m.content);
             });
    if (v[i].IsMap()) require(v[i], ip, got, {"role", "content"});
    out.push_back(std::move(m));
  }
}

void PromptsLoader::prompt_template(const YAML::Node& v, const std::string& path,
                                    PromptTemplateConfig& out) {
  out.line = line_of(v);
  std::set<std::string> got;
  each_key(v, path, {"id", "role", "text"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "id") entity_id(x, p, out.id);
             if (k == "role") {
               auto s = nonempty(x, p);
               if (s == "user") out.role = PromptRole::user;
               else if (s == "system") out.role = PromptRole::system;
               else if (s) error(x, p, "must be user or system");
             }
             if (k == "text") prompt_text(x, p, out.text);
           });
  if (v.IsMap()) require(v, path, got, {"id", "text"});
}

void PromptsLoader::prompt_context(const YAML::Node& v, const std::string& path,
                                   PromptContextConfig& out) {
  out.line = line_of(v);
  std::set<std::string> got;
  each_key(v, path, {"id", "system", "pre", "post"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             got.insert(k);
             if (k == "id") entity_id(x, p, out.id);
             if (k == "system") prompt_text(x, p, out.system);
             if (k == "pre") prompt_messages(x, p, out.pre);
             if (k == "post") prompt_messages(x, p, out.post);
           });
  if (!v.IsMap()) return;
  require(v, path, got, {"id"});
  if (!got.count("system") && !got.count("pre") && !got.count("post"))
    error(v, path, "a context needs system, pre or post");
}

void PromptsLoader::prompts(const YAML::Node& v, const std::string& path, Config& cfg) {
  each_key(v, path, {"templates", "contexts"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (!x.IsSequence()) return error(x, p, "must be a list");
             std::set<std::string> ids;
             for (std::size_t i = 0; i < x.size(); ++i) {
               const std::string ip = index_path(p, i);
               std::string id;
               if (k == "templates") {
                 prompt_template(x[i], ip, cfg.prompts.templates.emplace_back());
                 id = cfg.prompts.templates.back().id;
               } else {
                 prompt_context(x[i], ip, cfg.prompts.contexts.emplace_back());
                 id = cfg.prompts.contexts.back().id;
               }
               if (!id.empty() && !ids.insert(id).second)
                 error(x[i], ip + ".id", "duplicate id '" + id + "'");
             }
           });
}

void PromptsLoader::check_prompts(const Config& cfg) {
  std::set<std::string> templates, contexts;
  for (const auto& t : cfg.prompts.templates) templates.insert(t.id);
  for (const auto& c : cfg.prompts.contexts) contexts.insert(c.id);
  for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
    const RoutePromptsConfig& p = cfg.routes[i].prompts;
    const std::string rp = index_path("routes", i) + ".prompts";
    const int line = cfg.routes[i].line;
    if (!p.context.empty() && !contexts.count(p.context))
      error_at(line, rp + ".context", "names no prompt context '" + p.context + "'");
    for (std::size_t k = 0; k < p.contexts.size(); ++k)
      if (!contexts.count(p.contexts[k]))
        error_at(line, index_path(rp + ".contexts", k),
                 "names no prompt context '" + p.contexts[k] + "'");
    for (std::size_t k = 0; k < p.templates.size(); ++k)
      if (!templates.count(p.templates[k]))
        error_at(line, index_path(rp + ".templates", k),
                 "names no prompt template '" + p.templates[k] + "'");
  }
}

}  // namespace torii::config_detail
