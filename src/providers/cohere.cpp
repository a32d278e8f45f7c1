#include "providers/cohere.h"

#include <algorithm>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/json_access.h"
#include "providers/embeddings_native.h"
#include "providers/openai_compatible.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::str_at;
using jsonx::obj_at;

constexpr std::string_view kKind = "cohere";
// Cohere's embed takes at most this many texts per call.
constexpr std::size_t kMaxEmbedTexts = 96;
// The input types for texts (Cohere's "image" is for images, which OpenAI's input cannot hold).
constexpr std::string_view kInputTypes[] = {"search_document", "search_query", "classification",
                                            "clustering"};
// The extra field a client may send with /v1/embeddings.
constexpr std::string_view kOwnEmbedFields[] = {"input_type"};

int64_t int_or(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return -1;
}



// --- finish and usage ------------------------------------------------------------------------

FinishReason cohere_finish(std::string_view r) {
  if (r == "COMPLETE" || r == "STOP_SEQUENCE") return FinishReason::stop;
  if (r == "MAX_TOKENS" || r == "ERROR_LIMIT") return FinishReason::length;
  if (r == "TOOL_CALL") return FinishReason::tool_calls;
  if (r == "ERROR_TOXIC") return FinishReason::content_filter;
  if (r.empty()) return FinishReason::unset;
  return FinishReason::error;  // ERROR, TIMEOUT, and anything new
}

Usage cohere_usage(const json::object& u) {
  Usage usage;
  const json::object* t = obj_at(u, "tokens");
  if (!t) t = obj_at(u, "billed_units");
  if (t) {
    usage.prompt_tokens = int_or(*t, "input_tokens");
    usage.completion_tokens = int_or(*t, "output_tokens");
  }
  usage.cached_tokens = int_or(u, "cached_tokens");
  usage.complete();
  return usage;
}

// --- request ---------------------------------------------------------------------------------

ApiError no_counterpart(const std::string& name, std::string_view field, std::string_view why) {
  return torii::no_counterpart(name, "cohere", field, why);
}

std::string data_url(const Part& p) {
  if (!p.url.empty()) return p.url;
  std::string u = "data:";
  u.reserve(p.media_type.size() + p.data.size() + 16);
  u += p.media_type;
  u += ";base64,";
  u += p.data;
  return u;
}

// The text of text parts joined, or nullopt-like empty flag when a non-text part is present.
bool only_text(const std::vector<Part>& parts) {
  for (const auto& p : parts)
    if (p.kind != Part::Kind::text) return false;
  return true;
}

std::string joined_text(const std::vector<Part>& parts) {
  std::string s;
  for (const auto& p : parts)
    if (p.kind == Part::Kind::text) s += p.text;
  return s;
}

Result<json::value> user_content(const std::string& name, const std::vector<Part>& parts) {
  if (only_text(parts)) return json::value(joined_text(parts));
  json::array arr;
  for (const auto& p : parts) {
    if (p.kind == Part::Kind::text) {
      arr.push_back(json::object{{"type", "text"}, {"text", p.text}});
    } else if (p.kind == Part::Kind::image) {
      json::object iu{{"url", data_url(p)}};
      if (!p.detail.empty()) iu["detail"] = p.detail;
      arr.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(iu)}});
    } else if (p.kind == Part::Kind::document) {
      return no_counterpart(name, "messages", "Cohere chat takes no document (file) parts");
    }
  }
  return json::value(std::move(arr));
}

Result<json::object> assistant_message(const std::string& name, const Message& m) {
  json::object out{{"role", "assistant"}};
  json::array content, calls;
  std::string plan;
  bool has_calls = false;
  for (const auto& p : m.parts)
    if (p.kind == Part::Kind::tool_call) has_calls = true;
  for (const auto& p : m.parts) {
    switch (p.kind) {
      case Part::Kind::text:
        content.push_back(json::object{{"type", "text"}, {"text", p.text}});
        break;
      case Part::Kind::thinking:
        // With tool calls, Cohere's reasoning before them is the tool plan.
        if (has_calls) plan += p.text;
        else content.push_back(json::object{{"type", "thinking"}, {"thinking", p.text}});
        break;
      case Part::Kind::tool_call:
        calls.push_back(json::object{
            {"id", p.id},
            {"type", "function"},
            {"function", json::object{{"name", p.name},
                                      {"arguments", p.arguments.empty() ? "{}" : p.arguments}}}});
        break;
      case Part::Kind::redacted_thinking:
        break;  // opaque to every provider but its author
      default:
        return no_counterpart(name, "messages", "an assistant message holds only text and tool calls");
    }
  }
  if (!plan.empty()) out["tool_plan"] = plan;
  if (!calls.empty()) out["tool_calls"] = std::move(calls);
  if (!content.empty()) out["content"] = std::move(content);
  return out;
}

Result<void> tool_messages(const std::string& name, const Message& m, json::array& out) {
  for (const auto& p : m.parts) {
    if (p.kind != Part::Kind::tool_result) continue;
    json::object msg{{"role", "tool"}, {"tool_call_id", p.id}};
    for (const auto& c : p.content)
      if (c.kind != Part::Kind::text)
        return no_counterpart(name, "messages", "a tool result holds only text for Cohere");
    msg["content"] = joined_text(p.content);
    out.push_back(std::move(msg));
  }
  return {};
}

json::object tool_json(const Tool& t) {
  json::object f{{"name", t.name}};
  if (!t.description.empty()) f["description"] = t.description;
  f["parameters"] = t.parameters.is_null() ? json::value(json::object{{"type", "object"},
                                                                      {"properties", json::object{}}})
                                           : t.parameters;
  return json::object{{"type", "function"}, {"function", std::move(f)}};
}

// --- the provider ----------------------------------------------------------------------------

class CohereStreamDecoder final : public SseStreamDecoder {
 public:
  explicit CohereStreamDecoder(const std::string& name) : name_(name) {}

  Result<void> on_event(const SseEvent& ev, StreamSink& sink, Usage& usage, bool& done) override {
    boost::system::error_code ec;
    json::value v = json::parse(ev.data, ec);
    if (ec || !v.is_object())
      return ApiError::bad_gateway("provider '" + name_ + "' sent an undecodable stream event");
    const auto& o = v.get_object();
    std::string_view type = str_at(o, "type");
    if (type.empty()) type = ev.event;
    const json::object* delta = obj_at(o, "delta");
    const json::object* msg = delta ? obj_at(*delta, "message") : nullptr;
    StreamEvent e;
    if (type == "message-start") {
      e.kind = StreamEvent::Kind::start;
      e.id = str_at(o, "id");
      sink.event(e);
    } else if (type == "content-start" || type == "content-delta") {
      const json::object* c = msg ? obj_at(*msg, "content") : nullptr;
      if (!c) return {};
      if (auto t = str_at(*c, "thinking"); !t.empty()) {
        e.kind = StreamEvent::Kind::thinking;
        e.text = t;
        sink.event(e);
      }
      if (auto t = str_at(*c, "text"); !t.empty()) {
        e.kind = StreamEvent::Kind::text;
        e.text = t;
        sink.event(e);
      }
    } else if (type == "tool-plan-delta") {
      if (auto t = msg ? str_at(*msg, "tool_plan") : std::string_view{}; !t.empty()) {
        e.kind = StreamEvent::Kind::thinking;
        e.text = t;
        sink.event(e);
      }
    } else if (type == "tool-call-start" || type == "tool-call-delta") {
      const json::object* tc = msg ? obj_at(*msg, "tool_calls") : nullptr;
      if (!tc) return {};
      const json::object* fn = obj_at(*tc, "function");
      int64_t native = int_or(o, "index");
      if (type == "tool-call-start") {
        int ordinal = static_cast<int>(calls_.size());
        calls_[native] = ordinal;
        e.kind = StreamEvent::Kind::tool_call_start;
        e.index = ordinal;
        e.id = str_at(*tc, "id");
        e.name = fn ? str_at(*fn, "name") : std::string_view{};
        sink.event(e);
      }
      auto it = calls_.find(native);
      if (it == calls_.end())
        return ApiError::bad_gateway("provider '" + name_ + "' sent a tool-call delta before its start");
      if (auto args = fn ? str_at(*fn, "arguments") : std::string_view{}; !args.empty()) {
        e = StreamEvent{};
        e.kind = StreamEvent::Kind::tool_call_args;
        e.index = it->second;
        e.text = args;
        sink.event(e);
      }
    } else if (type == "message-end") {
      std::string_view reason = delta ? str_at(*delta, "finish_reason") : std::string_view{};
      if (const json::object* u = delta ? obj_at(*delta, "usage") : nullptr) usage = cohere_usage(*u);
      done = true;
      FinishReason f = cohere_finish(reason);
      if (f == FinishReason::error) {
        std::string why = upstream_excerpt(delta ? str_at(*delta, "error") : std::string_view{});
        return ApiError::bad_gateway("provider '" + name_ + "' stream failed (" + std::string(reason) +
                                     ")" + (why.empty() ? "" : ": " + why));
      }
      e.kind = StreamEvent::Kind::finish;
      e.finish = f;
      e.text = reason;
      sink.event(e);
      if (usage.known()) {
        StreamEvent ue;
        ue.kind = StreamEvent::Kind::usage;
        ue.usage = usage;
        sink.event(ue);
      }
    }
    // content-end, tool-call-end, citation-start/end, debug: nothing to forward.
    return {};
  }

 private:
  const std::string& name_;
  std::map<int64_t, int> calls_;  // Cohere's tool-call index -> our ordinal
};

class Cohere final : public Provider {
 public:
  Cohere(const ProviderConfig& c, Endpoint ep)
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models) {
    caps_.chat = caps_.chat_stream = caps_.tools = caps_.stream_tools = true;
    caps_.images = caps_.json_mode = caps_.json_schema = caps_.thinking = true;
    caps_.embeddings = true;
    path_ = endpoint_.base_path + "/v2/chat";
    std::string block = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    if (!c.api_key.empty()) block += "Authorization: Bearer " + c.api_key.value + "\r\n";
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_json_ = block + "Accept: application/json\r\n";
    headers_sse_ = block + "Accept: text/event-stream\r\n";
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return kKind; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_chat(const ChatCall& call) const override {
    if (!call.request)
      return ApiError::internal("provider '" + name_ + "' needs a canonical request");
    auto body = encode_body(*call.request, call.upstream_model, call.stream, *call.ignored);
    if (!body.ok()) return body.error();
    UpstreamRequest r;
    r.path = path_;
    r.header_block = call.stream ? headers_sse_ : headers_json_;
    r.body = std::move(*body);
    return r;
  }

  Result<std::string> encode_body(const ChatRequest& q, std::string_view model, bool stream,
                                  std::vector<std::string>& ignored) const {
    if (q.n && *q.n > 1) return no_counterpart(name_, "n", "Cohere answers one choice");
    if (q.logprobs || q.top_logprobs)
      return no_counterpart(name_, "logprobs", "log probabilities are not translated from Cohere");
    json::object b;
    b["model"] = json::string_view(model.data(), model.size());
    json::array msgs;
    for (const auto& m : q.messages) {
      switch (m.role) {
        case Role::system:
          msgs.push_back(json::object{{"role", "system"}, {"content", joined_text(m.parts)}});
          break;
        case Role::user: {
          auto c = user_content(name_, m.parts);
          if (!c.ok()) return c.error();
          msgs.push_back(json::object{{"role", "user"}, {"content", std::move(*c)}});
          break;
        }
        case Role::assistant: {
          auto a = assistant_message(name_, m);
          if (!a.ok()) return a.error();
          msgs.push_back(std::move(*a));
          break;
        }
        case Role::tool:
          if (auto r = tool_messages(name_, m, msgs); !r.ok()) return r.error();
          break;
      }
    }
    b["messages"] = std::move(msgs);
    if (!q.tools.empty() && q.tool_choice.mode != ToolChoice::Mode::none) {
      json::array tools;
      bool strict = false;
      for (const auto& t : q.tools) {
        if (q.tool_choice.mode == ToolChoice::Mode::tool && t.name != q.tool_choice.name) continue;
        tools.push_back(tool_json(t));
        strict = strict || t.strict.value_or(false);
      }
      if (tools.empty())
        return ApiError::invalid_request("tool_choice names a tool that is not declared", "tool_choice");
      b["tools"] = std::move(tools);
      if (strict) b["strict_tools"] = true;
      if (q.tool_choice.mode == ToolChoice::Mode::required ||
          q.tool_choice.mode == ToolChoice::Mode::tool)
        b["tool_choice"] = "REQUIRED";
    } else if (!q.tools.empty()) {
      // tool_choice none: the tools stay declared (the conversation may refer to them).
      json::array tools;
      for (const auto& t : q.tools) tools.push_back(tool_json(t));
      b["tools"] = std::move(tools);
      b["tool_choice"] = "NONE";
    }
    if (q.response_format.kind == ResponseFormat::Kind::json_object) {
      b["response_format"] = json::object{{"type", "json_object"}};
    } else if (q.response_format.kind == ResponseFormat::Kind::json_schema) {
      json::object rf{{"type", "json_object"}};
      if (!q.response_format.schema.is_null()) rf["json_schema"] = q.response_format.schema;
      b["response_format"] = std::move(rf);
    }
    if (q.max_tokens) b["max_tokens"] = *q.max_tokens;
    if (q.temperature) b["temperature"] = *q.temperature;
    if (q.top_p) b["p"] = *q.top_p;
    if (q.top_k) b["k"] = *q.top_k;
    if (q.seed) b["seed"] = *q.seed;
    if (q.frequency_penalty) b["frequency_penalty"] = *q.frequency_penalty;
    if (q.presence_penalty) b["presence_penalty"] = *q.presence_penalty;
    if (!q.stop.empty()) {
      json::array s;
      for (const auto& x : q.stop) s.push_back(json::string(x));
      b["stop_sequences"] = std::move(s);
    }
    if (q.thinking_budget && *q.thinking_budget == 0) {
      b["thinking"] = json::object{{"type", "disabled"}};
    } else if (q.thinking_budget) {
      b["thinking"] = json::object{{"type", "enabled"}, {"token_budget", *q.thinking_budget}};
    } else if (!q.reasoning_effort.empty()) {
      int64_t budget = effort_thinking_budget(q.reasoning_effort);  // the shared scale
      if (budget == 0) b["thinking"] = json::object{{"type", "disabled"}};
      else if (budget > 0)
        b["thinking"] = json::object{{"type", "enabled"}, {"token_budget", budget}};
      else b["thinking"] = json::object{{"type", "enabled"}};
    }
    if (stream) b["stream"] = true;
    if (q.parallel_tool_calls) ignored.push_back("parallel_tool_calls");
    if (!q.user.empty()) ignored.push_back("user");
    for (const auto& f : q.unknown_fields) ignored.push_back(f);
    return json::serialize(b);
  }

  Result<ChatResponse> decode_chat(std::string&& body, bool) const override {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object())
      return ApiError::bad_gateway("provider '" + name_ + "' returned a body that is not JSON");
    const auto& o = v.get_object();
    ChatResponse out;
    ChatResult& r = out.result;
    r.id = str_at(o, "id");
    r.native_finish = str_at(o, "finish_reason");
    r.finish = cohere_finish(r.native_finish);
    if (const json::object* m = obj_at(o, "message")) {
      if (auto plan = str_at(*m, "tool_plan"); !plan.empty()) {
        Part p;
        p.kind = Part::Kind::thinking;
        p.text = plan;
        r.parts.push_back(std::move(p));
      }
      if (auto c = m->if_contains("content"); c && c->is_array()) {
        for (const auto& item : c->get_array()) {
          if (!item.is_object()) continue;
          const auto& io = item.get_object();
          std::string_view t = str_at(io, "type");
          Part p;
          if (t == "thinking") {
            p.kind = Part::Kind::thinking;
            p.text = str_at(io, "thinking");
          } else if (t == "text") {
            p.text = str_at(io, "text");
          } else {
            continue;
          }
          r.parts.push_back(std::move(p));
        }
      } else if (c && c->is_string()) {
        r.parts.push_back(Part::make_text(std::string(c->get_string())));
      }
      if (auto tc = m->if_contains("tool_calls"); tc && tc->is_array()) {
        for (const auto& item : tc->get_array()) {
          if (!item.is_object()) continue;
          const auto& io = item.get_object();
          Part p;
          p.kind = Part::Kind::tool_call;
          p.id = str_at(io, "id");
          if (const json::object* fn = obj_at(io, "function")) {
            p.name = str_at(*fn, "name");
            auto a = fn->if_contains("arguments");
            if (a && a->is_string()) p.arguments = a->get_string();
            else if (a && a->is_object()) p.arguments = json::serialize(*a);
          }
          if (p.arguments.empty()) p.arguments = "{}";
          r.parts.push_back(std::move(p));
        }
      }
    }
    if (const json::object* u = obj_at(o, "usage")) r.usage = cohere_usage(*u);
    out.raw.clear();
    return out;
  }

  std::unique_ptr<StreamDecoder> stream_decoder(bool) const override {
    return std::make_unique<CohereStreamDecoder>(name_);
  }

  ApiError map_error(int status, std::string_view body, std::string_view retry_after) const override {
    // Cohere's error body is {"id":…, "message":…}, which the OpenAI mapper reads.
    return map_openai_error(name_, status, body, retry_after);
  }

  // The semantic cache's vectors: the modality's request with input_type search_document.
  Result<UpstreamRequest> encode_embeddings(const EmbeddingsCall& call) const override {
    return embed_request(embeddings_ask(call), call.upstream_model, kInputTypes[0]);
  }

  Result<EmbeddingsResult> decode_embeddings(std::string_view body) const override {
    return decode_embed(body, 0);
  }

  // /v1/embeddings -> POST /v2/embed. The client may name Cohere's input_type (an extra field);
  // it defaults to search_document.
  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality != Modality::embeddings) return Provider::encode_modality(call);
    auto ask = read_embeddings_ask(call, name_, kKind, kOwnEmbedFields);
    if (!ask) return ask.error();
    std::string input_type = field_text(call, "input_type");
    if (input_type.empty()) {
      input_type = kInputTypes[0];
    } else if (std::find(std::begin(kInputTypes), std::end(kInputTypes), input_type) ==
               std::end(kInputTypes)) {
      return ApiError::invalid_request(
          "provider '" + name_ + "' (cohere): 'input_type' must be search_document, "
          "search_query, classification or clustering",
          "input_type");
    }
    return embed_request(*ask, call.upstream_model, input_type);
  }

  Result<ModalityReply> decode_modality(const ModalityCall& call, int step,
                                        std::string_view content_type,
                                        std::string&& body) const override {
    if (call.modality != Modality::embeddings)
      return Provider::decode_modality(call, step, content_type, std::move(body));
    auto result = decode_embed(body, embeddings_input_count(call));
    if (!result) return result.error();
    const bool b64 = field_text(call, "encoding_format") == "base64";
    return embeddings_reply(*result, call.upstream_model,
                            b64 ? VectorEncoding::base64 : VectorEncoding::floats);
  }

 private:
  // {"model","texts","input_type","embedding_types":["float"],"output_dimension"?}: floats only,
  // whatever the client's encoding (the gateway packs base64 itself).
  Result<UpstreamRequest> embed_request(const EmbeddingsAsk& ask, std::string_view model,
                                        std::string_view input_type) const {
    if (ask.texts.size() > kMaxEmbedTexts)
      return no_counterpart(name_, "input",
                            "Cohere embeds at most 96 texts per call; split the batch");
    json::object b;
    b["model"] = json::string_view(model.data(), model.size());
    json::array texts;
    texts.reserve(ask.texts.size());
    for (const auto& t : ask.texts) texts.emplace_back(t);
    b["texts"] = std::move(texts);
    b["input_type"] = json::string_view(input_type.data(), input_type.size());
    b["embedding_types"] = json::array{"float"};
    if (ask.dimensions > 0) b["output_dimension"] = ask.dimensions;
    UpstreamRequest r;
    r.path = endpoint_.base_path + "/v2/embed";
    r.header_block = headers_json_;
    r.body = json::serialize(b);
    return r;
  }

  // {"embeddings":{"float":[[...]]}, "meta":{"billed_units":{"input_tokens"}}} (or the older
  // "embeddings":[[...]] of embeddings_floats answers). `expected`: the vectors asked (0: any).
  Result<EmbeddingsResult> decode_embed(std::string_view body, std::size_t expected) const {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return unusable_embeddings(name_, "not a JSON object");
    const json::object& o = v.get_object();
    const json::value* list = o.if_contains("embeddings");
    if (list && list->is_object()) list = list->get_object().if_contains("float");
    EmbeddingsResult out;
    if (auto why = read_vectors(list, expected, out.vectors)) return unusable_embeddings(name_, *why);
    const json::object* meta = obj_at(o, "meta");
    const json::object* billed = meta ? obj_at(*meta, "billed_units") : nullptr;
    if (billed) out.usage.prompt_tokens = int_or(*billed, "input_tokens");
    return out;
  }

  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::string path_;
  std::string headers_json_, headers_sse_;  // prebuilt header lines (they hold the key)
};

}  // namespace

Result<std::unique_ptr<Provider>> make_cohere(const ProviderConfig& config, Endpoint endpoint) {
  return std::unique_ptr<Provider>(std::make_unique<Cohere>(config, std::move(endpoint)));
}

}  // namespace torii
