#include "providers/embeddings_native.h"

#include <cmath>

#include <boost/json/object.hpp>

namespace torii {

namespace json = boost::json;

namespace {

// The OpenAI fields the reader itself consumes.
constexpr std::string_view kRead[] = {"model", "input", "dimensions", "encoding_format"};

bool is_token_ids(const json::value& input) {
  if (!input.is_array() || input.get_array().empty()) return false;
  const json::value& first = input.get_array().front();
  return first.is_number() || (first.is_array() && !first.get_array().empty() &&
                               first.get_array().front().is_number());
}

}  // namespace

Result<EmbeddingsAsk> read_embeddings_ask(const ModalityCall& call, std::string_view name,
                                          std::string_view kind,
                                          std::span<const std::string_view> own) {
  EmbeddingsAsk ask;
  const json::value* input = call.body ? call.body->if_contains("input") : nullptr;
  if (input && is_token_ids(*input))
    return no_counterpart(name, kind, "input",
                          "it embeds text only; send strings, not token ids");
  auto texts = input_texts(call);
  if (!texts) return texts.error();
  if (texts->empty())
    return ApiError::invalid_request("'input' must hold at least one text", "input");
  ask.texts = std::move(*texts);

  if (const json::value* d = call.body->if_contains("dimensions"); d && !d->is_null()) {
    int64_t n = -1;
    if (d->is_int64()) n = d->get_int64();
    else if (d->is_uint64()) n = d->get_uint64() > 65536 ? -1 : static_cast<int64_t>(d->get_uint64());
    else if (d->is_double() && std::floor(d->get_double()) == d->get_double())
      n = static_cast<int64_t>(d->get_double());
    if (n < 1 || n > 65536)
      return ApiError::invalid_request("'dimensions' must be a positive integer", "dimensions");
    ask.dimensions = static_cast<int>(n);
  }

  const std::string format = field_text(call, "encoding_format");
  if (format == "base64") ask.encoding = VectorEncoding::base64;
  else if (!format.empty() && format != "float")
    return ApiError::invalid_request("'encoding_format' must be float or base64",
                                     "encoding_format");

  for (const auto& kv : *call.body) {
    const std::string_view key = kv.key();
    bool known = false;
    for (std::string_view k : kRead) known = known || k == key;
    for (std::string_view k : own) known = known || k == key;
    if (!known && call.ignored) add_ignored(*call.ignored, key);
  }
  return ask;
}

EmbeddingsAsk embeddings_ask(const EmbeddingsCall& call) {
  EmbeddingsAsk ask;
  ask.texts.assign(call.inputs.begin(), call.inputs.end());
  ask.dimensions = call.dimensions > 0 ? call.dimensions : 0;
  return ask;
}

std::size_t embeddings_input_count(const ModalityCall& call) {
  const json::value* input = call.body ? call.body->if_contains("input") : nullptr;
  if (!input) return 0;
  if (input->is_string()) return 1;
  return input->is_array() ? input->get_array().size() : 0;
}

std::optional<std::string> read_vectors(const json::value* list, std::size_t expected,
                                        std::vector<std::vector<float>>& out) {
  if (!list || !list->is_array()) return "no array of vectors";
  const json::array& items = list->get_array();
  if (expected > 0 && items.size() != expected)
    return std::to_string(items.size()) + " vectors for " + std::to_string(expected) + " inputs";
  if (items.empty()) return "no vectors";
  out.clear();
  out.reserve(items.size());
  for (const json::value& item : items) {
    if (!item.is_array()) return "a vector that is not an array";
    auto& vec = out.emplace_back();
    vec.reserve(item.get_array().size());
    for (const json::value& x : item.get_array()) {
      if (!x.is_number()) return "a value that is not a number";
      vec.push_back(static_cast<float>(x.to_number<double>()));
    }
    if (vec.empty()) return "an empty vector";
    if (vec.size() != out.front().size()) return "vectors of different dimensions";
  }
  return std::nullopt;
}

ApiError unusable_embeddings(std::string_view name, std::string_view why) {
  return ApiError::bad_gateway("provider '" + std::string(name) +
                               "' returned unusable embeddings: " + std::string(why));
}

ModalityReply embeddings_reply(const EmbeddingsResult& result, std::string_view model,
                               VectorEncoding encoding) {
  ModalityReply reply;
  reply.usage = result.usage;
  if (reply.usage.prompt_tokens >= 0 && reply.usage.total_tokens < 0)
    reply.usage.total_tokens = reply.usage.prompt_tokens;
  reply.body = openai_embeddings_json(result.vectors, model, reply.usage, encoding);
  return reply;
}

}  // namespace torii
