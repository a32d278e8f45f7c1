// The guardrail kinds' registry and the helpers every kind shares (see guardrail.h).
#include "guardrails/guardrail.h"

#include <algorithm>
#include <cctype>

namespace torii::guardrails {

std::string_view phase_name(Phase p) { return p == Phase::before ? "before" : "after"; }

bool is_local_kind(std::string_view k) {
  return k == "regex" || k == "contains" || k == "pii" || k == "secrets" || k == "size" ||
         k == "response_schema";
}

bool is_remote_kind(std::string_view k) {
  return k == "webhook" || k == "llm_judge" || k == "moderation";
}

Result<std::unique_ptr<Guardrail>> make_guardrail(const GuardrailConfig& config,
                                                  const Snapshot& snapshot) {
  if (is_local_kind(config.kind)) return make_local_guardrail(config);
  if (is_remote_kind(config.kind)) return make_remote_guardrail(config, snapshot);
  return ApiError::invalid_request("guardrail '" + config.id + "': unknown kind '" +
                                   config.kind + "'");
}

const std::string& Masks::placeholder(std::string_view label_in, std::string_view value) {
  std::string label(label_in);
  for (char& c : label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const Pair& p : pairs_)
    if (p.value == value && p.placeholder.size() > label.size() + 2 &&
        p.placeholder.compare(1, label.size(), label) == 0 && p.placeholder[label.size() + 1] == '_')
      return p.placeholder;
  int* n = nullptr;
  for (auto& [l, c] : counters_)
    if (l == label) n = &c;
  if (!n) n = &counters_.emplace_back(std::string(label), 0).second;
  Pair& p = pairs_.emplace_back();
  p.placeholder.reserve(label.size() + 8);
  p.placeholder += '[';
  p.placeholder += label;
  p.placeholder += '_';
  p.placeholder += std::to_string(++*n);
  p.placeholder += ']';
  p.value = std::string(value);
  longest_ = std::max(longest_, p.placeholder.size());
  return p.placeholder;
}

const std::string* Masks::original(std::string_view placeholder) const {
  for (const Pair& p : pairs_)
    if (p.placeholder == placeholder) return &p.value;
  return nullptr;
}

std::string apply_edits(std::string_view text, const Edit* begin, const Edit* end) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (const Edit* e = begin; e != end; ++e) {
    if (e->begin < at || e->end < e->begin || e->end > text.size()) continue;  // defensive
    out.append(text.substr(at, e->begin - at));
    out += e->replacement;
    at = e->end;
  }
  out.append(text.substr(at));
  return out;
}

}  // namespace torii::guardrails
