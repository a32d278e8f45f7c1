#include "api/openai_completions.h"

#include <ctime>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.h"
#include "core/request_id.h"

namespace torii {
namespace json = boost::json;

std::string completions_id(std::string_view upstream_id) {
  if (upstream_id.starts_with("cmpl-")) return std::string(upstream_id);
  if (upstream_id.starts_with("chatcmpl-")) upstream_id.remove_prefix(9);
  if (upstream_id.empty()) return "cmpl-" + request_id_for({});
  std::string id = "cmpl-";
  id.append(upstream_id);
  return id;
}

namespace {

// Keys the translation reads; any other key is a hint without counterpart.
constexpr std::string_view kKnownKeys[] = {
    "model", "prompt", "max_tokens", "temperature", "top_p", "stop", "n", "stream",
    "stream_options", "presence_penalty", "frequency_penalty", "seed", "user", "suffix", "echo",
    "logprobs", "best_of"};

bool known_key(std::string_view k) {
  for (auto known : kKnownKeys)
    if (k == known) return true;
  return false;
}

bool present(const json::value* v) { return v && !v->is_null(); }
bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }

// The integer in `v`, or `dflt` when it is absent or not an integer that fits (never throws).
int64_t int_or(const json::value* v, int64_t dflt) {
  if (!v) return dflt;
  boost::system::error_code ec;
  auto n = v->to_number<int64_t>(ec);
  return ec ? dflt : n;
}

ApiError field_error(std::string field, std::string what) {
  std::string msg = "'" + field + "' " + what;
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

// A field whose loss would change the answer's meaning, when translated to a chat provider.
ApiError no_counterpart(std::string field, std::string_view why) {
  std::string msg = "'" + field + "' is not supported when the provider does not speak the "
                    "completions API: ";
  msg.append(why);
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

json::value finish_json(FinishReason f) {
  std::string_view r = openai_finish_reason(f);
  if (f == FinishReason::tool_calls) r = "stop";  // no tools in this API
  if (r.empty()) return nullptr;
  return json::string(r);
}

json::object usage_json(const Usage& u) {
  auto nz = [](int64_t v) { return v < 0 ? int64_t{0} : v; };
  json::object o;
  o["prompt_tokens"] = nz(u.prompt_tokens);
  o["completion_tokens"] = nz(u.completion_tokens);
  o["total_tokens"] =
      u.total_tokens >= 0 ? u.total_tokens : nz(u.prompt_tokens) + nz(u.completion_tokens);
  if (u.cached_tokens >= 0 || u.cache_write_tokens >= 0) {
    json::object d;
    d["cached_tokens"] = nz(u.cached_tokens);
    if (u.cache_write_tokens >= 0) d["cache_write_tokens"] = u.cache_write_tokens;
    o["prompt_tokens_details"] = std::move(d);
  }
  if (u.reasoning_tokens >= 0)
    o["completion_tokens_details"] = json::object{{"reasoning_tokens", u.reasoning_tokens}};
  return o;
}

class Encoder final : public StreamEncoder {
 public:
  explicit Encoder(const InboundInfo& info)
      : model_(info.model), include_usage_(info.include_usage), created_(std::time(nullptr)) {}

  void event(const StreamEvent& e) override {
    if (done_) return;
    switch (e.kind) {
      case StreamEvent::Kind::start:
        if (!e.id.empty()) id_ = completions_id(e.id);
        if (!e.name.empty()) model_ = std::string(e.name);  // start: name = model
        break;
      case StreamEvent::Kind::text:
        chunk(e.text, nullptr);
        break;
      case StreamEvent::Kind::finish:
        chunk({}, finish_json(e.finish));
        break;
      case StreamEvent::Kind::usage:
        if (!include_usage_) break;
        prefix();
        out += "\"choices\":[],\"usage\":";
        out += json::serialize(usage_json(e.usage));
        out += "}\n\n";
        break;
      default:
        break;  // thinking and tool calls have no place in a text completion
    }
  }

  void raw(std::string_view name, std::string_view data, bool usage_only) override {
    if (done_ || (usage_only && !include_usage_) || data == "[DONE]") return;
    out.append("data: ").append(data).append("\n\n");
  }

  void finish() override {
    if (done_) return;
    out += "data: [DONE]\n\n";
    done_ = true;
  }

  void fail(const ApiError& e) override {
    if (done_) return;
    out.append("data: ").append(to_openai_json(e)).append("\n\n");
    done_ = true;
  }

 private:
  // `data: {"id":…,"object":"text_completion","created":…,"model":…,` (the caller ends it)
  void prefix() {
    if (id_.empty()) id_ = completions_id({});
    out += "data: {\"id\":";
    append_json_string(out, id_);
    out += ",\"object\":\"text_completion\",\"created\":" + std::to_string(created_) +
           ",\"model\":";
    append_json_string(out, model_);
    out += ',';
  }

  void chunk(std::string_view text, const json::value& finish) {
    prefix();
    out += "\"choices\":[{\"text\":";
    append_json_string(out, text);
    out += ",\"index\":0,\"logprobs\":null,\"finish_reason\":";
    out += json::serialize(finish);
    out += "}]}\n\n";
  }

  std::string id_, model_;
  bool include_usage_ = false;
  bool done_ = false;
  int64_t created_ = 0;
};

class CompletionsCodec final : public InboundCodec {
 public:
  WireFormat format() const override { return WireFormat::openai_completions; }

  Result<InboundInfo> parse(std::string_view body, json::object& raw) const override {
    if (body.empty())
      return ApiError::invalid_request("request body is empty; expected a JSON object");
    json::parse_options opt;
    opt.max_depth = 64;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, raw.storage(), opt);
    if (ec) return ApiError::invalid_request("request body is not valid JSON: " + ec.message());
    if (!v.is_object()) return ApiError::invalid_request("request body must be a JSON object");
    raw = std::move(v.get_object());

    InboundInfo info;
    auto model = raw.if_contains("model");
    if (!model) return field_error("model", "is required");
    if (!model->is_string() || model->get_string().empty())
      return field_error("model", "must be a non-empty string");
    info.model = std::string(model->get_string());
    // A prompt template (docs/PROMPTS.md) may be the whole prompt.
    auto prompt = raw.if_contains("prompt");
    if (!present(prompt) && !names_prompt_template(raw))
      return field_error("prompt", "is required");
    if (present(prompt) && !prompt->is_string() && !prompt->is_array())
      return field_error("prompt", "must be a string or an array");
    if (auto s = raw.if_contains("stream"); present(s)) {
      if (!s->is_bool()) return field_error("stream", "must be a boolean");
      info.stream = s->get_bool();
    }
    if (auto so = raw.if_contains("stream_options"); present(so)) {
      if (!so->is_object()) return field_error("stream_options", "must be an object");
      if (auto iu = so->get_object().if_contains("include_usage"); present(iu)) {
        if (!iu->is_bool()) return field_error("stream_options.include_usage", "must be a boolean");
        info.include_usage = iu->get_bool();
      }
    }
    for (const char* f : {"temperature", "top_p", "presence_penalty", "frequency_penalty"})
      if (auto x = raw.if_contains(f); present(x) && !x->is_number())
        return field_error(f, "must be a number");
    for (const char* f : {"max_tokens", "n", "best_of", "seed", "logprobs"})
      if (auto x = raw.if_contains(f); present(x) && !is_integer(*x))
        return field_error(f, "must be an integer");
    if (auto st = raw.if_contains("stop"); present(st) && !st->is_string() && !st->is_array())
      return field_error("stop", "must be a string or an array of strings");
    return info;
  }

  Result<void> to_canonical(const json::object& raw, ChatRequest& out) const override {
    auto model = raw.if_contains("model");
    if (model && model->is_string()) out.model = std::string(model->get_string());
    if (auto s = raw.if_contains("stream"); s && s->is_bool()) out.stream = s->get_bool();
    if (auto so = raw.if_contains("stream_options"); so && so->is_object())
      if (auto iu = so->get_object().if_contains("include_usage"); iu && iu->is_bool())
        out.include_usage = iu->get_bool();

    std::string_view prompt;
    auto p = raw.if_contains("prompt");
    if (p && p->is_string()) {
      prompt = p->get_string();
    } else if (p && p->is_array()) {
      const auto& arr = p->get_array();
      if (arr.empty()) return field_error("prompt", "must not be empty");
      if (!arr[0].is_string())
        return no_counterpart("prompt", "token-id prompts cannot be translated; send text");
      if (arr.size() > 1)
        return no_counterpart("prompt",
                              "an array of several prompts asks for one answer per prompt; "
                              "send one request per prompt");
      prompt = arr[0].get_string();
    } else {
      return field_error("prompt", "is required");
    }

    if (auto n = raw.if_contains("n"); present(n) && int_or(n, 2) != 1)
      return no_counterpart("n", "only one choice (n = 1) can be translated");
    if (auto b = raw.if_contains("best_of"); present(b) && int_or(b, 2) > 1)
      return no_counterpart("best_of", "server-side best-of sampling has no chat counterpart");
    if (auto e = raw.if_contains("echo"); e && e->is_bool() && e->get_bool())
      return no_counterpart("echo", "echoing the prompt has no chat counterpart");
    if (auto s = raw.if_contains("suffix"); present(s) && !(s->is_string() && s->get_string().empty()))
      return no_counterpart("suffix", "insertion (fill-in-the-middle) has no chat counterpart");
    if (present(raw.if_contains("logprobs")))
      return no_counterpart("logprobs", "token log probabilities cannot be translated");

    Message m;
    m.role = Role::user;
    m.parts.push_back(Part::make_text(std::string(prompt)));
    out.messages.push_back(std::move(m));

    // OpenAI's completions API stops at 16 tokens when max_tokens is absent.
    out.max_tokens = 16;
    out.max_tokens = int_or(raw.if_contains("max_tokens"), 16);
    auto number = [&](const char* f, std::optional<double>& dst) {
      if (auto x = raw.if_contains(f); present(x) && x->is_number()) dst = x->to_number<double>();
    };
    number("temperature", out.temperature);
    number("top_p", out.top_p);
    number("presence_penalty", out.presence_penalty);
    number("frequency_penalty", out.frequency_penalty);
    if (auto x = raw.if_contains("seed"); present(x) && is_integer(*x))
      out.seed = int_or(x, 0);
    if (auto u = raw.if_contains("user"); u && u->is_string()) out.user = std::string(u->get_string());
    if (auto st = raw.if_contains("stop"); present(st)) {
      if (st->is_string()) {
        out.stop.emplace_back(st->get_string());
      } else if (st->is_array()) {
        for (const auto& s : st->get_array()) {
          if (!s.is_string()) return field_error("stop", "must be a string or an array of strings");
          out.stop.emplace_back(s.get_string());
        }
      }
    }
    for (const auto& kv : raw)
      if (!known_key(kv.key()) && !kv.value().is_null())
        out.unknown_fields.push_back(std::string(kv.key()));
    return {};
  }

  std::string encode_result(const ChatResult& result) const override {
    std::string text;
    for (const Part& p : result.parts)
      if (p.kind == Part::Kind::text) text += p.text;
    json::object choice;
    choice["text"] = text;
    choice["index"] = 0;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish_json(result.finish);
    json::object o;
    o["id"] = completions_id(result.id);
    o["object"] = "text_completion";
    o["created"] = result.created > 0 ? result.created : static_cast<int64_t>(std::time(nullptr));
    o["model"] = result.model;
    o["choices"] = json::array{std::move(choice)};
    if (result.usage.known()) o["usage"] = usage_json(result.usage);
    return json::serialize(o);
  }

  std::unique_ptr<StreamEncoder> stream_encoder(const InboundInfo& info) const override {
    return std::make_unique<Encoder>(info);
  }

  std::string error_body(const ApiError& e) const override { return to_openai_json(e); }
};

}  // namespace

const InboundCodec& openai_completions_codec() {
  static const CompletionsCodec codec;
  return codec;
}

}  // namespace torii
