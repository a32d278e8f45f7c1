#pragma once
// The managed config as a document (docs/ADMIN_API.md): the same tree as the YAML file, held as
// JSON. The admin API edits the document; every edit is turned back into a typed Config by the
// one loader (config/loader.cpp), so the API and the file can never disagree on what is valid.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"

namespace torii::admin {

namespace json = boost::json;

// The placeholder a secret value is shown as. Sent back unchanged in an update, it keeps the
// stored value.
inline constexpr std::string_view kRedacted = "<redacted>";

// YAML text -> document. Quoted scalars are strings; plain ones are null, booleans, integers and
// decimals when they read as such, else strings. `admin:` is kept (the caller removes it).
Result<json::object> yaml_to_doc(const std::string& yaml, const std::string& source);
// JSON text (an import) -> document; the root must be an object.
Result<json::object> json_to_doc(std::string_view text);
// The text the loader reads for `doc` (JSON, which is YAML; decimals written without exponent).
std::string doc_to_text(const json::object& doc);
// Any value as JSON text, decimals written without exponent (the admin API's answers).
std::string to_text(const json::value& v);
// Document -> validated Config through the loader. Error messages carry the key path
// ("providers[1].base_url: ...") without the line of the generated text.
Result<Config> doc_to_config(const json::object& doc);
// Document -> YAML (an export).
std::string doc_to_yaml(const json::object& doc);

// A copy of `v` (the document or a part of it, found at `path` in the document, e.g.
// "auth.api_keys") with every secret that is not a ${...} reference replaced by kRedacted.
json::value redact(const json::value& v, std::string_view path = "");
// Checks the secrets of an incoming `v` (at `path`): a kRedacted value takes the value at the
// same place in `old` (an error when there is none); a literal where a reference is required
// is an error naming the field.
Result<void> restore_secrets(json::value& v, const json::value* old, std::string_view path);

// A strong ETag for a value ("\"<16 hex>\"", a hash of its canonical text).
std::string etag_of(const json::value& v);

// The entity collections the API serves: each is a list in the document whose items are
// objects named by `id_field`.
struct Collection {
  std::string_view name;        // URL segment: "providers", "routes", "rate-limits", ...
  std::string_view doc_path;    // dotted path in the document: "quotas.limits"
  std::string_view id_field;    // "name", "id", "issuer"
  std::string_view kind;        // singular, for messages: "provider"
};
const std::vector<Collection>& collections();
const Collection* find_collection(std::string_view name);
// The list at c.doc_path (created, with its parents, when `create`); nullptr when absent.
json::array* collection_items(json::object& doc, const Collection& c, bool create);
const json::array* collection_items(const json::object& doc, const Collection& c);
// The item whose id field equals `id` (nullptr when none).
json::object* find_item(json::array* items, const Collection& c, std::string_view id);

}  // namespace torii::admin
