#include "providers/gemini.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <unordered_map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/path_segment.h"
#include "core/json_access.h"
#include "core/json_text.h"
#include "providers/gemini_media.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::sv;
using jsonx::str_at;
using jsonx::int_at;
using jsonx::obj_at;
using jsonx::arr_at;

constexpr std::size_t kMaxMessage = 500;

// --- request ---------------------------------------------------------------------------------

class Encoder {
 public:
  Encoder(const ChatRequest& rq, std::string_view provider, std::vector<std::string>& ignored)
      : rq_(rq), provider_(provider), ignored_(ignored) {}

  Result<std::string> run() {
    out_.reserve(512);
    out_ += "{\"contents\":[";
    if (auto r = messages(); !r) return r.error();
    if (open_) out_ += "]}";
    out_ += ']';
    if (!system_.empty()) {
      out_ += ",\"systemInstruction\":{\"parts\":[";
      out_ += system_;
      out_ += "]}";
    }
    if (auto r = tools(); !r) return r.error();
    if (auto r = generation_config(); !r) return r.error();
    for (const auto& f : rq_.unknown_fields) ignore(f);
    if (!rq_.user.empty()) ignore("user");
    if (rq_.parallel_tool_calls) ignore("parallel_tool_calls");
    out_ += '}';
    return std::move(out_);
  }

 private:
  ApiError no_counterpart(std::string_view field, std::string_view why) const {
    return torii::no_counterpart(provider_, "gemini", field, why);
  }
  void ignore(std::string_view name) { add_ignored(ignored_, name); }

  // Starts a part in a content of `role`; consecutive messages of the same Gemini role share
  // one content (OpenAI's one-message-per-tool-result become one turn, as Gemini expects for
  // parallel calls).
  void begin_part(std::string_view role) {
    if (open_ && open_role_ == role) {
      out_ += ',';
      return;
    }
    if (open_) out_ += "]},";
    open_ = true;
    open_role_ = role;
    out_ += "{\"role\":\"";
    out_ += role;
    out_ += "\",\"parts\":[";
  }

  Result<void> media(const Part& p, std::string_view field) {
    if (!p.data.empty()) {
      if (p.media_type.empty()) return no_counterpart(field, "inline data needs a media type");
      out_ += "{\"inlineData\":{\"mimeType\":";
      append_json_string(out_, p.media_type);
      out_ += ",\"data\":";
      append_json_string(out_, p.data);
      out_ += "}}";
    } else {
      // fileData takes a URI Gemini can fetch (Files API, YouTube, some public URLs); others
      // are refused by Gemini itself with a 400 that names the URI.
      out_ += "{\"fileData\":{";
      if (!p.media_type.empty()) {
        out_ += "\"mimeType\":";
        append_json_string(out_, p.media_type);
        out_ += ',';
      }
      out_ += "\"fileUri\":";
      append_json_string(out_, p.url);
      out_ += "}}";
    }
    if (!p.detail.empty()) ignore("detail");
    return {};
  }

  Result<void> tool_result(const Part& p, std::string_view field) {
    auto it = call_names_.find(p.id);
    if (it == call_names_.end())
      return ApiError::invalid_request(
          "provider '" + std::string(provider_) + "' (gemini) needs the function name of tool " +
              "result '" + p.id + "': no earlier tool call has that id",
          std::string(field));
    begin_part("user");
    out_ += "{\"functionResponse\":{\"name\":";
    append_json_string(out_, it->second);
    out_ += ",\"response\":";
    // `response` must be an object: a result that is a JSON object goes as it is, other text
    // goes as {"content": text} ({"error": text} for a failed call).
    std::string text;
    for (const Part& c : p.content)
      if (c.kind == Part::Kind::text) text += c.text;
    if (p.content.empty()) text = p.text;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (!ec && v.is_object() && !p.is_error) {
      out_ += text;
    } else {
      out_ += p.is_error ? "{\"error\":" : "{\"content\":";
      append_json_string(out_, text);
      out_ += '}';
    }
    out_ += "}}";
    // Images returned by a tool follow the functionResponse in the same turn.
    for (const Part& c : p.content) {
      if (c.kind != Part::Kind::image && c.kind != Part::Kind::document) continue;
      out_ += ',';
      if (auto r = media(c, field); !r) return r;
    }
    return {};
  }

  Result<void> tool_call(const Part& p, std::string_view field) {
    std::string_view args = p.arguments.empty() ? std::string_view("{}") : p.arguments;
    boost::system::error_code ec;
    json::value v = json::parse(args, ec);
    if (ec || !v.is_object())
      return ApiError::invalid_request("tool call arguments must be a JSON object",
                                       std::string(field));
    call_names_[p.id] = p.name;
    begin_part("model");
    out_ += "{\"functionCall\":{\"name\":";
    append_json_string(out_, p.name);
    out_ += ",\"args\":";
    out_ += args;
    out_ += '}';
    if (!p.signature.empty()) {
      out_ += ",\"thoughtSignature\":";
      append_json_string(out_, p.signature);
    }
    out_ += '}';
    return {};
  }

  Result<void> messages() {
    for (std::size_t i = 0; i < rq_.messages.size(); ++i) {
      const Message& m = rq_.messages[i];
      std::string field = "messages[" + std::to_string(i) + "]";
      if (!m.name.empty()) ignore("name");
      if (m.role == Role::system) {
        for (const Part& p : m.parts) {
          if (p.kind != Part::Kind::text)
            return no_counterpart(field, "system instructions take text only");
          if (!system_.empty()) system_ += ',';
          system_ += "{\"text\":";
          append_json_string(system_, p.text);
          system_ += '}';
        }
        continue;
      }
      std::string_view role = m.role == Role::assistant ? "model" : "user";
      for (const Part& p : m.parts) {
        if (p.cache_hint) ignore("cache_control");  // Gemini caches implicitly
        switch (p.kind) {
          case Part::Kind::text:
            begin_part(role);
            out_ += "{\"text\":";
            append_json_string(out_, p.text);
            if (!p.signature.empty()) {
              out_ += ",\"thoughtSignature\":";
              append_json_string(out_, p.signature);
            }
            out_ += '}';
            break;
          case Part::Kind::image:
          case Part::Kind::document:
            begin_part(role);
            if (auto r = media(p, field); !r) return r;
            break;
          case Part::Kind::thinking:
            begin_part(role);
            out_ += "{\"text\":";
            append_json_string(out_, p.text);
            out_ += ",\"thought\":true";
            if (!p.signature.empty()) {
              out_ += ",\"thoughtSignature\":";
              append_json_string(out_, p.signature);
            }
            out_ += '}';
            break;
          case Part::Kind::redacted_thinking:
            ignore("redacted_thinking");  // Anthropic's opaque data means nothing to Gemini
            break;
          case Part::Kind::tool_call:
            if (auto r = tool_call(p, field); !r) return r;
            break;
          case Part::Kind::tool_result:
            if (auto r = tool_result(p, field); !r) return r;
            break;
        }
      }
    }
    return {};
  }

  Result<void> tools() {
    if (!rq_.tools.empty()) {
      out_ += ",\"tools\":[{\"functionDeclarations\":[";
      bool first = true;
      for (const Tool& t : rq_.tools) {
        if (!first) out_ += ',';
        first = false;
        out_ += "{\"name\":";
        append_json_string(out_, t.name);
        if (!t.description.empty()) {
          out_ += ",\"description\":";
          append_json_string(out_, t.description);
        }
        if (t.parameters.is_object()) {
          json::value s = gemini_schema(t.parameters);
          // Gemini refuses an OBJECT schema with no properties: a tool without parameters
          // leaves `parameters` unset.
          const json::object& so = s.get_object();
          auto props = so.if_contains("properties");
          bool empty = !props || !props->is_object() || props->get_object().empty();
          auto type = so.if_contains("type");
          bool object = !type || (type->is_string() && (type->get_string() == "object" ||
                                                         type->get_string() == "OBJECT"));
          if (!(object && empty)) {
            out_ += ",\"parameters\":";
            out_ += json::serialize(s);
          }
        }
        if (t.strict) ignore("strict");
        out_ += '}';
      }
      out_ += "]}]";
    }
    const ToolChoice& tc = rq_.tool_choice;
    if (tc.mode == ToolChoice::Mode::unset) return {};
    out_ += ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":";
    switch (tc.mode) {
      case ToolChoice::Mode::auto_: out_ += "\"AUTO\""; break;
      case ToolChoice::Mode::none: out_ += "\"NONE\""; break;
      case ToolChoice::Mode::required: out_ += "\"ANY\""; break;
      case ToolChoice::Mode::tool:
        out_ += "\"ANY\",\"allowedFunctionNames\":[";
        append_json_string(out_, tc.name);
        out_ += ']';
        break;
      case ToolChoice::Mode::unset: break;
    }
    out_ += "}}";
    return {};
  }

  Result<void> generation_config() {
    std::string g;
    auto key = [&](std::string_view k) {
      g += g.empty() ? "{\"" : ",\"";
      g += k;
      g += "\":";
    };
    auto number = [&](std::string_view k, double v) {
      key(k);
      g += json::serialize(json::value(v));
    };
    if (rq_.n && *rq_.n > 1) return no_counterpart("n", "the answer carries one choice");
    if (rq_.logprobs)
      return no_counterpart("logprobs", "Gemini's logprobsResult has no place in the answer");
    if (rq_.top_logprobs) ignore("top_logprobs");
    if (rq_.temperature) number("temperature", *rq_.temperature);
    if (rq_.top_p) number("topP", *rq_.top_p);
    if (rq_.top_k) key("topK"), append_json_int(g, *rq_.top_k);
    if (rq_.max_tokens) key("maxOutputTokens"), append_json_int(g, *rq_.max_tokens);
    if (!rq_.stop.empty()) {
      key("stopSequences");
      g += '[';
      for (std::size_t i = 0; i < rq_.stop.size(); ++i) {
        if (i) g += ',';
        append_json_string(g, rq_.stop[i]);
      }
      g += ']';
    }
    if (rq_.seed) key("seed"), append_json_int(g, *rq_.seed);
    if (rq_.presence_penalty) number("presencePenalty", *rq_.presence_penalty);
    if (rq_.frequency_penalty) number("frequencyPenalty", *rq_.frequency_penalty);
    const ResponseFormat& rf = rq_.response_format;
    if (rf.kind == ResponseFormat::Kind::json_object ||
        rf.kind == ResponseFormat::Kind::json_schema) {
      key("responseMimeType");
      g += "\"application/json\"";
    }
    if (rf.kind == ResponseFormat::Kind::json_schema) {
      if (!rf.schema.is_object())
        return no_counterpart("response_format", "json_schema needs a schema object");
      key("responseJsonSchema");  // JSON Schema as it is (responseSchema is the OpenAPI subset)
      g += json::serialize(rf.schema);
    }
    int64_t budget = -2;  // -2: not asked
    if (rq_.thinking_budget) {
      budget = *rq_.thinking_budget;
    } else if (!rq_.reasoning_effort.empty()) {
      budget = effort_thinking_budget(rq_.reasoning_effort);  // the shared scale
      if (budget < 0)
        return no_counterpart("reasoning_effort", "expected none, minimal, low, medium or high");
    }
    if (budget != -2) {
      key("thinkingConfig");
      g += "{\"thinkingBudget\":";
      append_json_int(g, budget);
      if (budget != 0) g += ",\"includeThoughts\":true";
      g += '}';
    }
    if (g.empty()) return {};
    out_ += ",\"generationConfig\":";
    out_ += g;
    out_ += '}';
    return {};
  }

  const ChatRequest& rq_;
  std::string_view provider_;
  std::vector<std::string>& ignored_;
  std::string out_, system_;
  bool open_ = false;
  std::string_view open_role_;
  std::unordered_map<std::string, std::string> call_names_;  // tool call id → function name
};

// --- answers ---------------------------------------------------------------------------------

Usage parse_usage(const json::object& u) {
  Usage usage;
  int64_t prompt = int_at(u, "promptTokenCount");
  int64_t candidates = int_at(u, "candidatesTokenCount");
  int64_t thoughts = int_at(u, "thoughtsTokenCount");
  int64_t tool_prompt = int_at(u, "toolUsePromptTokenCount");
  // promptTokenCount already includes cachedContentTokenCount (OpenAI's meaning); the results
  // of tools Gemini ran itself are input too, so they join the prompt.
  if (prompt >= 0) usage.prompt_tokens = prompt + std::max<int64_t>(tool_prompt, 0);
  if (candidates >= 0 || thoughts >= 0 || prompt >= 0)
    usage.completion_tokens = std::max<int64_t>(candidates, 0) + std::max<int64_t>(thoughts, 0);
  usage.reasoning_tokens = thoughts;
  usage.cached_tokens = int_at(u, "cachedContentTokenCount");
  usage.total_tokens = int_at(u, "totalTokenCount");
  usage.complete();
  return usage;
}

std::string upstream_message(std::string_view body) {
  std::string msg;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec) {
    const json::object* o = v.if_object();
    // A streamed error may come wrapped in an array.
    if (!o && v.is_array() && !v.get_array().empty()) o = v.get_array()[0].if_object();
    if (o)
      if (auto e = obj_at(*o, "error")) msg = str_at(*e, "message");
  }
  if (msg.empty()) return upstream_excerpt(body, 200);
  return upstream_excerpt(msg, kMaxMessage);
}

ApiError bad_answer(std::string_view provider, std::string_view why) {
  return ApiError::bad_gateway("provider '" + std::string(provider) + "' (gemini) sent " +
                               std::string(why));
}

// Walks candidates[0] of one GenerateContentResponse and calls `on_part` for each part.
// `tool_index` numbers function calls across a whole answer (or stream).
struct PartVisitor {
  virtual ~PartVisitor() = default;
  virtual void text(std::string_view t, std::string_view signature, bool thought) = 0;
  virtual void call(int index, std::string_view name, std::string_view args,
                    std::string_view signature) = 0;
  virtual void image(std::string_view mime, std::string_view data) = 0;
};

// Visits the parts; returns the finishReason ("" when absent) or an error for a bad shape.
Result<std::string_view> visit_candidate(const json::object& root, int& tool_index,
                                         PartVisitor& v, std::string_view provider) {
  const json::array* cands = arr_at(root, "candidates");
  if (!cands || cands->empty()) return std::string_view{};
  const json::object* c = (*cands)[0].if_object();
  if (!c) return bad_answer(provider, "a candidate that is not an object");
  if (const json::object* content = obj_at(*c, "content")) {
    if (const json::array* parts = arr_at(*content, "parts")) {
      for (const json::value& pv : *parts) {
        const json::object* p = pv.if_object();
        if (!p) return bad_answer(provider, "a part that is not an object");
        std::string_view sig = str_at(*p, "thoughtSignature");
        if (const json::object* fc = obj_at(*p, "functionCall")) {
          std::string args = "{}";
          if (auto a = fc->if_contains("args"); a && a->is_object()) args = json::serialize(*a);
          v.call(tool_index++, str_at(*fc, "name"), args, sig);
        } else if (const json::object* inl = obj_at(*p, "inlineData")) {
          v.image(str_at(*inl, "mimeType"), str_at(*inl, "data"));
        } else if (auto t = p->if_contains("text"); t && t->is_string()) {
          auto th = p->if_contains("thought");
          v.text(sv(t->get_string()), sig, th && th->is_bool() && th->get_bool());
        } else if (!sig.empty()) {
          v.text({}, sig, false);
        }
      }
    }
  }
  return str_at(*c, "finishReason");
}

std::string_view block_reason(const json::object& root) {
  if (const json::object* pf = obj_at(root, "promptFeedback")) return str_at(*pf, "blockReason");
  return {};
}

struct WholeVisitor final : PartVisitor {
  ChatResult& r;
  bool calls = false;
  explicit WholeVisitor(ChatResult& result) : r(result) {}
  void text(std::string_view t, std::string_view sig, bool thought) override {
    if (!thought && sig.empty() && !r.parts.empty() && r.parts.back().kind == Part::Kind::text &&
        r.parts.back().signature.empty()) {
      r.parts.back().text += t;  // Gemini may split one text into several parts
      return;
    }
    Part p;
    p.kind = thought ? Part::Kind::thinking : Part::Kind::text;
    p.text = t;
    p.signature = sig;
    r.parts.push_back(std::move(p));
  }
  void call(int index, std::string_view name, std::string_view args,
            std::string_view sig) override {
    Part p;
    p.kind = Part::Kind::tool_call;
    p.id = "call_" + std::to_string(index);
    p.name = name;
    p.arguments = args;
    p.signature = sig;
    r.parts.push_back(std::move(p));
    calls = true;
  }
  void image(std::string_view mime, std::string_view data) override {
    Part p;
    p.kind = Part::Kind::image;
    p.media_type = mime;
    p.data = data;
    r.parts.push_back(std::move(p));
  }
};

FinishReason final_reason(std::string_view native, bool calls) {
  FinishReason f = gemini_finish_reason(native);
  return calls && f == FinishReason::stop ? FinishReason::tool_calls : f;
}

class GeminiStreamDecoder final : public SseStreamDecoder {
 public:
  explicit GeminiStreamDecoder(std::string_view provider) : provider_(provider) {}

  Result<void> on_event(const SseEvent& ev, StreamSink& sink, Usage& usage, bool& done) override {
    if (ev.data.empty()) return {};
    boost::system::error_code ec;
    json::value v = json::parse(ev.data, ec);
    if (ec || !v.is_object()) return bad_answer(provider_, "an undecodable stream event");
    const json::object& root = v.get_object();
    if (root.contains("error"))
      return ApiError::bad_gateway("provider '" + provider_ + "' stream failed: " +
                                   upstream_message(ev.data));
    if (const json::object* u = obj_at(root, "usageMetadata")) usage = parse_usage(*u);
    if (finished_) return {};  // a late usage-only event: `usage` already updated
    StreamEvent e;
    if (!started_) {
      started_ = true;
      e.kind = StreamEvent::Kind::start;
      e.id = str_at(root, "responseId");
      e.name = str_at(root, "modelVersion");
      sink.event(e);
    }
    Visitor vis(sink, calls_);
    auto reason = visit_candidate(root, tool_index_, vis, provider_);
    if (!reason) return reason.error();
    std::string_view native = *reason;
    FinishReason finish = FinishReason::unset;
    if (!native.empty()) {
      finish = final_reason(native, calls_);
    } else if (std::string_view block = block_reason(root); !block.empty()) {
      native = block;
      finish = FinishReason::content_filter;
    }
    if (finish == FinishReason::unset) return {};
    finished_ = true;
    e = StreamEvent{};
    e.kind = StreamEvent::Kind::finish;
    e.finish = finish;
    e.text = native;
    sink.event(e);
    if (usage.known()) {
      e = StreamEvent{};
      e.kind = StreamEvent::Kind::usage;
      e.usage = usage;
      sink.event(e);
    }
    done = true;
    return {};
  }

 private:
  struct Visitor final : PartVisitor {
    StreamSink& sink;
    bool& calls;
    Visitor(StreamSink& s, bool& c) : sink(s), calls(c) {}
    void text(std::string_view t, std::string_view sig, bool thought) override {
      StreamEvent e;
      if (!t.empty()) {
        e.kind = thought ? StreamEvent::Kind::thinking : StreamEvent::Kind::text;
        e.text = t;
        sink.event(e);
      }
      if (thought && !sig.empty()) {
        e.kind = StreamEvent::Kind::thinking_signature;
        e.text = sig;
        sink.event(e);
      }
    }
    void call(int index, std::string_view name, std::string_view args,
              std::string_view sig) override {
      std::string id = "call_" + std::to_string(index);
      StreamEvent e;
      e.kind = StreamEvent::Kind::tool_call_start;
      e.index = index;
      e.id = id;
      e.name = name;
      e.text = sig;
      sink.event(e);
      e = StreamEvent{};
      e.kind = StreamEvent::Kind::tool_call_args;  // Gemini sends whole args: one fragment
      e.index = index;
      e.text = args;
      sink.event(e);
      calls = true;
    }
    void image(std::string_view, std::string_view) override {}  // no stream event for images
  };

  std::string provider_;
  bool started_ = false, finished_ = false, calls_ = false;
  int tool_index_ = 0;
};

// --- the provider ----------------------------------------------------------------------------

class Gemini final : public Provider {
 public:
  Gemini(const ProviderConfig& c, Endpoint ep)
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models) {
    caps_.chat = caps_.chat_stream = caps_.tools = caps_.stream_tools = true;
    caps_.images = caps_.documents = caps_.json_mode = caps_.json_schema = caps_.thinking = true;
    caps_.embeddings = caps_.image_generation = true;
    version_ = c.api_version.empty() ? "v1beta" : c.api_version;
    // A base_url that already ends with a version segment ("…/v1beta") is used as it is.
    std::string_view base = endpoint_.base_path;
    std::string_view last = base.substr(base.rfind('/') + 1);
    if (last.size() >= 2 && last[0] == 'v' && last[1] >= '0' && last[1] <= '9') version_.clear();
    std::string block = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    block += "x-goog-api-key: " + c.api_key.value + "\r\n";
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_json_ = block + "Accept: application/json\r\n";
    headers_sse_ = block + "Accept: text/event-stream\r\n";
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return "gemini"; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_chat(const ChatCall& call) const override {
    if (!call.request)
      return ApiError::internal("gemini: encode_chat without a canonical request");
    std::vector<std::string> scratch;
    Encoder enc(*call.request, name_, call.ignored ? *call.ignored : scratch);
    auto body = enc.run();
    if (!body) return body.error();
    UpstreamRequest r;
    r.path = gemini_path(endpoint_.base_path, version_, call.upstream_model, call.stream);
    r.header_block = call.stream ? headers_sse_ : headers_json_;
    r.body = std::move(*body);
    return r;
  }

  Result<ChatResponse> decode_chat(std::string&& body, bool) const override {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return bad_answer(name_, "a body that is not a JSON object");
    const json::object& root = v.get_object();
    ChatResponse out;
    ChatResult& r = out.result;
    r.id = str_at(root, "responseId");
    r.model = str_at(root, "modelVersion");
    r.created = static_cast<int64_t>(std::time(nullptr));  // Gemini sends no timestamp
    if (const json::object* u = obj_at(root, "usageMetadata")) r.usage = parse_usage(*u);
    WholeVisitor vis(r);
    int tool_index = 0;
    auto reason = visit_candidate(root, tool_index, vis, name_);
    if (!reason) return reason.error();
    if (const json::array* c = arr_at(root, "candidates"); c && !c->empty()) {
      r.native_finish = *reason;
      r.finish = reason->empty() ? FinishReason::stop : final_reason(*reason, vis.calls);
    } else if (std::string_view block = block_reason(root); !block.empty()) {
      r.native_finish = block;  // the prompt itself was blocked: an answer with no parts
      r.finish = FinishReason::content_filter;
    } else {
      return bad_answer(name_, "an answer with no candidates");
    }
    return out;
  }

  std::unique_ptr<StreamDecoder> stream_decoder(bool) const override {
    return std::make_unique<GeminiStreamDecoder>(name_);
  }

  ApiError map_error(int status, std::string_view body,
                     std::string_view retry_after) const override {
    return map_gemini_error(name_, status, body, retry_after);
  }

  // The semantic cache's vectors: batchEmbedContents (gemini_media.h).
  Result<UpstreamRequest> encode_embeddings(const EmbeddingsCall& call) const override {
    return encode_gemini_embeddings(wire(), call.upstream_model, call.inputs, call.dimensions);
  }
  Result<EmbeddingsResult> decode_embeddings(std::string_view body) const override {
    return decode_gemini_embeddings(name_, body, 0);
  }

  // Embeddings and Imagen's image generation (gemini_media.h).
  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality == Modality::embeddings) return encode_gemini_embeddings_call(wire(), call);
    if (call.modality == Modality::image_generation) return encode_imagen(wire(), call);
    return Provider::encode_modality(call);
  }
  Result<ModalityReply> decode_modality(const ModalityCall& call, int step, std::string_view,
                                        std::string&& body) const override {
    if (step != 0) return bad_answer(name_, "an answer to a request it never asked for");
    if (call.modality == Modality::embeddings)
      return decode_gemini_embeddings_call(name_, call, body);
    if (call.modality == Modality::image_generation) return decode_imagen(name_, body);
    return Provider::decode_modality(call, step, {}, std::move(body));
  }

 private:
  GeminiWire wire() const {
    return GeminiWire{name_, endpoint_.base_path, version_, headers_json_};
  }

  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::string version_;
  std::string headers_json_, headers_sse_;  // prebuilt header lines (they hold the key)
};

}  // namespace

// --- public helpers --------------------------------------------------------------------------

std::string gemini_path(std::string_view base_path, std::string_view version,
                        std::string_view model, bool stream) {
  return gemini_method_path(base_path, version, model,
                            stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}

std::string gemini_method_path(std::string_view base_path, std::string_view version,
                               std::string_view model, std::string_view method) {
  std::string p(base_path);
  if (!version.empty()) {
    p += '/';
    p += version;
  }
  p += "/models/";
  if (model.starts_with("models/")) model.remove_prefix(7);  // the API's resource name form
  append_path_segment(p, model);
  p += method;
  return p;
}

json::value gemini_schema(const json::value& schema) {
  const json::object* in = schema.if_object();
  if (!in) return schema;
  static constexpr std::string_view kKept[] = {
      "format", "title", "description", "nullable", "required", "minProperties",
      "maxProperties", "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
      "pattern", "example", "default", "propertyOrdering"};
  json::object out;
  for (const auto& kv : *in) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& v = kv.value();
    if (k == "type") {
      if (!v.is_array()) {
        out["type"] = v;
        continue;
      }
      // ["string", "null"] → type string, nullable
      for (const json::value& t : v.get_array()) {
        if (t.is_string() && t.get_string() == "null") out["nullable"] = true;
        else if (!out.contains("type")) out["type"] = t;
      }
    } else if (k == "properties" && v.is_object()) {
      json::object props;
      for (const auto& p : v.get_object()) props[p.key()] = gemini_schema(p.value());
      out["properties"] = std::move(props);
    } else if (k == "items") {
      out["items"] = gemini_schema(v);
    } else if (k == "anyOf" && v.is_array()) {
      json::array any;
      for (const json::value& s : v.get_array()) any.push_back(gemini_schema(s));
      out["anyOf"] = std::move(any);
    } else if (k == "enum" || k == "const") {
      json::array values;
      auto add = [&](const json::value& e) {
        if (e.is_string()) values.push_back(e);
        else if (!e.is_null()) values.emplace_back(json::serialize(e));
      };
      if (k == "const") add(v);
      else if (v.is_array()) for (const json::value& e : v.get_array()) add(e);
      out["enum"] = std::move(values);
    } else if (std::find(std::begin(kKept), std::end(kKept), k) != std::end(kKept)) {
      out[kv.key()] = v;
    }
    // Dropped: keywords outside Gemini's Schema ($schema, $id, $ref, $defs, definitions,
    // additionalProperties, oneOf, allOf, not, examples, propertyNames…): Gemini answers 400
    // "Unknown name" for them.
  }
  return out;
}

FinishReason gemini_finish_reason(std::string_view r) {
  if (r == "STOP" || r.empty()) return FinishReason::stop;
  if (r == "MAX_TOKENS") return FinishReason::length;
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY" || r == "LANGUAGE")
    return FinishReason::content_filter;
  if (r == "MALFORMED_FUNCTION_CALL" || r == "UNEXPECTED_TOOL_CALL" ||
      r == "TOO_MANY_TOOL_CALLS")
    return FinishReason::error;
  return FinishReason::stop;  // OTHER, FINISH_REASON_UNSPECIFIED, future values
}

ApiError map_gemini_error(std::string_view provider, int status, std::string_view body,
                          std::string_view retry_after) {
  std::string msg = upstream_message(body);
  // Details Gemini adds: ErrorInfo.reason (API_KEY_INVALID comes with a 400) and
  // RetryInfo.retryDelay ("37s") with a 429.
  std::string reason, retry(retry_after);
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object())
    if (const json::object* e = obj_at(v.get_object(), "error"))
      if (const json::array* details = arr_at(*e, "details"))
        for (const json::value& d : *details) {
          const json::object* o = d.if_object();
          if (!o) continue;
          if (std::string_view r = str_at(*o, "reason"); !r.empty()) reason = r;
          std::string_view delay = str_at(*o, "retryDelay");
          if (retry.empty() && !delay.empty()) {
            double secs = std::atof(std::string(delay).c_str());
            if (secs > 0) retry = std::to_string(static_cast<int64_t>(secs + 0.999));
          }
        }
  if (status == 400 && (reason == "API_KEY_INVALID" || msg.find("API key") != std::string::npos))
    status = 401;  // Gemini refuses a bad key with a 400: still the gateway's credentials
  return map_upstream_status(provider, status, msg, retry);
}

Result<std::unique_ptr<Provider>> make_gemini(const ProviderConfig& config, Endpoint endpoint) {
  if (config.api_key.empty())
    return ApiError::invalid_request("provider '" + config.name +
                                         "' (gemini): api_key is required", "api_key");
  return std::unique_ptr<Provider>(std::make_unique<Gemini>(config, std::move(endpoint)));
}

}  // namespace torii
