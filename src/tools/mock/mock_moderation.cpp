// POST /v1/moderations: OpenAI's moderation endpoint, scored by words (see mock_wire.h).
#include <array>
#include <cctype>
#include <vector>

#include <boost/json.hpp>

#include "tools/mock/mock_wire.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 5> kCategories = {"hate", "harassment", "self-harm",
                                                         "sexual", "violence"};
// A hit scores 0.9 and a miss 0.01 (after the closing quote of the name); 0.9 >= 0.5 flags.
constexpr std::string_view kHit = "\":0.9", kMiss = "\":0.01";

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// `name` (lower case) occurs in `text` as a word, in any case: not inside a longer word.
bool has_word(std::string_view text, std::string_view name) {
  if (name.size() > text.size()) return false;
  for (std::size_t at = 0; at + name.size() <= text.size(); ++at) {
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(text[at + i])) == name[i];
    if (!same) continue;
    const bool left = at == 0 || !word_char(text[at - 1]);
    const bool right = at + name.size() == text.size() || !word_char(text[at + name.size()]);
    if (left && right) return true;
  }
  return false;
}

// Mistral's categories for the same words (Mistral's answer has no "flagged"), in its order:
// the word each is scored by ("" for the categories no word triggers).
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kMistralCategories = {{
    {"sexual", "sexual"},
    {"hate_and_discrimination", "hate"},
    {"violence_and_threats", "violence"},
    {"dangerous_and_criminal_content", ""},
    {"selfharm", "self-harm"},
    {"health", ""},
    {"financial", ""},
    {"law", ""},
    {"pii", ""},
}};

// One result, written by hand: the scores print as "0.9" and "0.01" (Boost.JSON would
// write 9E-1). `mistral`: Mistral's categories, without "flagged".
void append_result(std::string& out, std::string_view input, bool mistral) {
  std::vector<std::pair<std::string_view, bool>> hits;
  bool flagged = false;
  if (mistral) {
    for (const auto& [name, word] : kMistralCategories)
      hits.emplace_back(name, !word.empty() && has_word(input, word));
  } else {
    for (std::string_view c : kCategories) hits.emplace_back(c, has_word(input, c));
  }
  for (const auto& h : hits) flagged = flagged || h.second;
  out += mistral ? R"({"categories":{)"
         : flagged ? R"({"flagged":true,"categories":{)" : R"({"flagged":false,"categories":{)";
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += hits[i].first;
    out += hits[i].second ? "\":true" : "\":false";
  }
  out += R"(},"category_scores":{)";
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += hits[i].first;
    out += hits[i].second ? kHit : kMiss;
  }
  out += "}}";
}

}  // namespace

Result<std::string> mock_moderation(std::string_view body, std::int64_t n) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object())
    return ApiError::invalid_request("the body must be a JSON object");
  const json::object& o = doc.get_object();
  std::string model = "omni-moderation-latest";
  if (const auto* m = o.if_contains("model"); m && !m->is_null()) {
    if (!m->is_string() || m->get_string().empty())
      return ApiError::invalid_request("'model' must be a non-empty string", "model");
    model = m->get_string();
  }
  const json::value* input = o.if_contains("input");
  const bool list = input && input->is_array();
  if (!input || !(input->is_string() || list))
    return ApiError::invalid_request("'input' must be a string or an array of strings", "input");
  if (list)
    for (const auto& x : input->get_array())
      if (!x.is_string())
        return ApiError::invalid_request("'input' must be a string or an array of strings",
                                         "input");
  std::string out = R"({"id":"modr-mock-)";
  out += std::to_string(n);
  out += R"(","model":")";
  append_json_escaped(out, model);
  out += R"(","results":[)";
  const bool mistral = model.starts_with("mistral-moderation");
  if (!list) append_result(out, input->get_string(), mistral);
  else
    for (std::size_t i = 0; i < input->get_array().size(); ++i) {
      if (i) out += ',';
      append_result(out, input->get_array()[i].get_string(), mistral);
    }
  out += "]}";
  return out;
}

}  // namespace torii
