#include "providers/ollama.h"

#include <charconv>
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

constexpr std::string_view kKind = "ollama";
// One NDJSON line may not grow past this (a whole tool call or a big text delta fits).
constexpr std::size_t kMaxLine = 8u << 20;

int64_t int_or(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return -1;
}



ApiError no_counterpart(const std::string& name, std::string_view field, std::string_view why) {
  return torii::no_counterpart(name, "ollama", field, why);
}

// "2023-08-04T19:22:45.499127Z" -> Unix seconds (0 when it does not parse).
int64_t parse_rfc3339(std::string_view s) {
  auto num = [&](std::size_t at, std::size_t len, int& out) {
    if (at + len > s.size()) return false;
    auto r = std::from_chars(s.data() + at, s.data() + at + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + at + len;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, se) || mo < 1 || mo > 12)
    return 0;
  // Days from civil (Howard Hinnant's public-domain algorithm).
  y -= mo <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t{era} * 146097 + static_cast<int64_t>(doe) - 719468;
  return days * 86400 + h * 3600 + mi * 60 + se;
}

FinishReason ollama_finish(std::string_view r, bool tool_calls) {
  if (tool_calls) return FinishReason::tool_calls;
  if (r == "length") return FinishReason::length;
  if (r.empty()) return FinishReason::unset;
  return FinishReason::stop;  // stop, load, unload
}

Usage ollama_usage(const json::object& o) {
  Usage u;
  u.prompt_tokens = int_or(o, "prompt_eval_count");
  u.completion_tokens = int_or(o, "eval_count");
  u.complete();
  return u;
}

// Appends the tool calls of `msg` as tool_call parts (ids call_<n>, n from `next`).
void tool_call_parts(const json::object& msg, std::vector<Part>& out, int& next) {
  auto tc = msg.if_contains("tool_calls");
  if (!tc || !tc->is_array()) return;
  for (const auto& item : tc->get_array()) {
    if (!item.is_object()) continue;
    const json::object* fn = obj_at(item.get_object(), "function");
    if (!fn) continue;
    Part p;
    p.kind = Part::Kind::tool_call;
    p.id = str_at(item.get_object(), "id");
    if (p.id.empty()) p.id = "call_" + std::to_string(next);
    ++next;
    p.name = str_at(*fn, "name");
    auto a = fn->if_contains("arguments");
    if (a && a->is_object()) p.arguments = json::serialize(*a);
    else if (a && a->is_string()) p.arguments = a->get_string();
    if (p.arguments.empty()) p.arguments = "{}";
    out.push_back(std::move(p));
  }
}

// A config option's value as JSON: a number, true/false; else null.
json::value option_value(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  int64_t i = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), i);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty()) return i;
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  if (!ec && v.is_double()) return v;
  return nullptr;
}

class OllamaStreamDecoder final : public StreamDecoder {
 public:
  explicit OllamaStreamDecoder(const std::string& name) : name_(name) {}

  Result<void> feed(std::string_view bytes, StreamSink& sink, Usage& usage, bool& done) override {
    while (!bytes.empty()) {
      std::size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        line_.append(bytes);
        if (line_.size() > kMaxLine)
          return ApiError::bad_gateway("provider '" + name_ + "' sent a stream line too long");
        return {};
      }
      Result<void> r = {};
      if (line_.empty()) {
        r = on_line(bytes.substr(0, nl), sink, usage, done);
      } else {
        line_.append(bytes.substr(0, nl));
        r = on_line(line_, sink, usage, done);
        line_.clear();
      }
      if (!r.ok()) return r;
      bytes.remove_prefix(nl + 1);
    }
    return {};
  }

 private:
  Result<void> on_line(std::string_view line, StreamSink& sink, Usage& usage, bool& done) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return {};
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object())
      return ApiError::bad_gateway("provider '" + name_ + "' sent an undecodable stream line");
    const auto& o = v.get_object();
    if (auto err = o.if_contains("error"); err && !err->is_null()) {
      std::string why = upstream_excerpt(err->is_string() ? std::string(err->get_string())
                                                          : json::serialize(*err));
      return ApiError::bad_gateway("provider '" + name_ + "' stream failed: " + why);
    }
    StreamEvent e;
    if (!started_) {
      started_ = true;
      e.kind = StreamEvent::Kind::start;
      e.name = str_at(o, "model");
      sink.event(e);
    }
    if (const json::object* m = obj_at(o, "message")) {
      if (auto t = str_at(*m, "thinking"); !t.empty()) {
        e = StreamEvent{};
        e.kind = StreamEvent::Kind::thinking;
        e.text = t;
        sink.event(e);
      }
      if (auto t = str_at(*m, "content"); !t.empty()) {
        e = StreamEvent{};
        e.kind = StreamEvent::Kind::text;
        e.text = t;
        sink.event(e);
      }
      std::vector<Part> calls;
      tool_call_parts(*m, calls, next_call_);
      for (const auto& p : calls) {
        e = StreamEvent{};
        e.kind = StreamEvent::Kind::tool_call_start;
        e.index = ordinal_;
        e.id = p.id;
        e.name = p.name;
        sink.event(e);
        e = StreamEvent{};
        e.kind = StreamEvent::Kind::tool_call_args;
        e.index = ordinal_++;
        e.text = p.arguments;
        sink.event(e);
      }
    }
    if (auto d = o.if_contains("done"); d && d->is_bool() && d->get_bool()) {
      done = true;
      std::string_view reason = str_at(o, "done_reason");
      e = StreamEvent{};
      e.kind = StreamEvent::Kind::finish;
      e.finish = ollama_finish(reason.empty() ? "stop" : reason, ordinal_ > 0);
      e.text = reason;
      sink.event(e);
      usage = ollama_usage(o);
      if (usage.known()) {
        StreamEvent ue;
        ue.kind = StreamEvent::Kind::usage;
        ue.usage = usage;
        sink.event(ue);
      }
    }
    return {};
  }

  const std::string& name_;
  std::string line_;  // an incomplete line
  bool started_ = false;
  int next_call_ = 0;
  int ordinal_ = 0;
};

class Ollama final : public Provider {
 public:
  Ollama(const ProviderConfig& c, Endpoint ep, json::object options, json::value keep_alive)
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models),
        options_(std::move(options)), keep_alive_(std::move(keep_alive)) {
    caps_.chat = caps_.chat_stream = caps_.tools = caps_.stream_tools = caps_.images = true;
    caps_.json_mode = caps_.json_schema = caps_.thinking = caps_.embeddings = true;
    path_ = endpoint_.base_path + "/api/chat";
    std::string block = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    if (!c.api_key.empty()) block += "Authorization: Bearer " + c.api_key.value + "\r\n";
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_json_ = block + "Accept: application/json\r\n";
    headers_ndjson_ = block + "Accept: application/x-ndjson\r\n";
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
    r.header_block = call.stream ? headers_ndjson_ : headers_json_;
    r.body = std::move(*body);
    return r;
  }

  // The semantic cache's vectors: the modality's request.
  Result<UpstreamRequest> encode_embeddings(const EmbeddingsCall& call) const override {
    return embed_request(embeddings_ask(call), call.upstream_model);
  }

  Result<EmbeddingsResult> decode_embeddings(std::string_view body) const override {
    return decode_embed(body, 0);
  }

  // /v1/embeddings -> POST /api/embed.
  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality != Modality::embeddings) return Provider::encode_modality(call);
    auto ask = read_embeddings_ask(call, name_, kKind);
    if (!ask) return ask.error();
    return embed_request(*ask, call.upstream_model);
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

  Result<ChatResponse> decode_chat(std::string&& body, bool) const override {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object())
      return ApiError::bad_gateway("provider '" + name_ + "' returned a body that is not JSON");
    const auto& o = v.get_object();
    if (auto err = o.if_contains("error"); err && err->is_string())
      return ApiError::bad_gateway("provider '" + name_ + "' failed: " +
                                   upstream_excerpt(std::string(err->get_string())));
    ChatResponse out;
    ChatResult& r = out.result;
    r.model = str_at(o, "model");
    r.created = parse_rfc3339(str_at(o, "created_at"));
    int next = 0;
    if (const json::object* m = obj_at(o, "message")) {
      if (auto t = str_at(*m, "thinking"); !t.empty()) {
        Part p;
        p.kind = Part::Kind::thinking;
        p.text = t;
        r.parts.push_back(std::move(p));
      }
      if (auto t = str_at(*m, "content"); !t.empty()) r.parts.push_back(Part::make_text(std::string(t)));
      tool_call_parts(*m, r.parts, next);
    }
    r.native_finish = str_at(o, "done_reason");
    r.finish = ollama_finish(r.native_finish.empty() ? "stop" : r.native_finish, next > 0);
    r.usage = ollama_usage(o);
    return out;
  }

  std::unique_ptr<StreamDecoder> stream_decoder(bool) const override {
    return std::make_unique<OllamaStreamDecoder>(name_);
  }

  ApiError map_error(int status, std::string_view body, std::string_view retry_after) const override {
    // Ollama's error body is {"error":"…"}, which the OpenAI mapper reads.
    return map_openai_error(name_, status, body, retry_after);
  }

 private:
  Result<std::string> encode_body(const ChatRequest& q, std::string_view model, bool stream,
                                  std::vector<std::string>& ignored) const;

  // {"model","input":[texts],"dimensions"?} with the config's options and keep_alive, as chat.
  Result<UpstreamRequest> embed_request(const EmbeddingsAsk& ask, std::string_view model) const {
    json::object b;
    b["model"] = json::string_view(model.data(), model.size());
    json::array input;
    input.reserve(ask.texts.size());
    for (const auto& t : ask.texts) input.emplace_back(t);
    b["input"] = std::move(input);
    if (ask.dimensions > 0) b["dimensions"] = ask.dimensions;
    if (!options_.empty()) b["options"] = options_;
    if (!keep_alive_.is_null()) b["keep_alive"] = keep_alive_;
    UpstreamRequest r;
    r.path = endpoint_.base_path + "/api/embed";
    r.header_block = headers_json_;
    r.body = json::serialize(b);
    return r;
  }

  // {"embeddings":[[...]],"prompt_eval_count"} (an {"error"} body is a failure).
  Result<EmbeddingsResult> decode_embed(std::string_view body, std::size_t expected) const {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return unusable_embeddings(name_, "not a JSON object");
    const json::object& o = v.get_object();
    if (auto err = str_at(o, "error"); !err.empty())
      return ApiError::bad_gateway("provider '" + name_ + "' failed: " + upstream_excerpt(err));
    EmbeddingsResult out;
    if (auto why = read_vectors(o.if_contains("embeddings"), expected, out.vectors))
      return unusable_embeddings(name_, *why);
    out.usage.prompt_tokens = int_or(o, "prompt_eval_count");
    return out;
  }

  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  json::object options_;   // from the config, sent in every request's options
  json::value keep_alive_;  // null when not configured
  Capabilities caps_;
  std::string path_;
  std::string headers_json_, headers_ndjson_;  // prebuilt header lines
};

Result<std::string> Ollama::encode_body(const ChatRequest& q, std::string_view model, bool stream,
                                        std::vector<std::string>& ignored) const {
  if (q.n && *q.n > 1) return no_counterpart(name_, "n", "Ollama answers one choice");
  if (q.logprobs || q.top_logprobs)
    return no_counterpart(name_, "logprobs", "log probabilities are not translated from Ollama");
  if (q.tool_choice.mode == ToolChoice::Mode::required ||
      q.tool_choice.mode == ToolChoice::Mode::tool)
    return no_counterpart(name_, "tool_choice", "Ollama cannot force a tool call");
  json::object b;
  b["model"] = json::string_view(model.data(), model.size());
  std::map<std::string_view, std::string_view> call_names;  // tool call id -> tool name
  json::array msgs;
  for (const auto& m : q.messages) {
    if (m.role == Role::tool) {
      for (const auto& p : m.parts) {
        if (p.kind != Part::Kind::tool_result) continue;
        std::string text;
        json::array images;
        for (const auto& c : p.content) {
          if (c.kind == Part::Kind::text) text += c.text;
          else if (c.kind == Part::Kind::image && c.url.empty()) images.push_back(json::string(c.data));
          else return no_counterpart(name_, "messages", "a tool result holds text and base64 images");
        }
        json::object msg{{"role", "tool"}, {"content", std::move(text)}};
        if (auto it = call_names.find(p.id); it != call_names.end())
          msg["tool_name"] = json::string_view(it->second.data(), it->second.size());
        if (!images.empty()) msg["images"] = std::move(images);
        msgs.push_back(std::move(msg));
      }
      continue;
    }
    std::string_view role = m.role == Role::system ? "system"
                            : m.role == Role::user ? "user" : "assistant";
    json::object msg{{"role", role}};
    std::string text, thinking;
    json::array images, calls;
    for (const auto& p : m.parts) {
      switch (p.kind) {
        case Part::Kind::text:
          text += p.text;
          break;
        case Part::Kind::image:
          if (!p.url.empty())
            return no_counterpart(name_, "messages",
                                  "Ollama takes base64 images only, not image URLs");
          images.push_back(json::string(p.data));
          break;
        case Part::Kind::thinking:
          thinking += p.text;
          break;
        case Part::Kind::redacted_thinking:
          break;  // opaque to every provider but its author
        case Part::Kind::tool_call: {
          json::object fn{{"name", p.name}};
          boost::system::error_code ec;
          json::value args = json::parse(p.arguments.empty() ? "{}" : p.arguments, ec);
          if (ec || !args.is_object())
            return ApiError::invalid_request("tool call '" + p.id + "' has arguments that are "
                                             "not a JSON object (Ollama needs one)", "messages");
          fn["arguments"] = std::move(args);
          calls.push_back(json::object{{"function", std::move(fn)}});
          call_names[p.id] = p.name;
          break;
        }
        default:
          return no_counterpart(name_, "messages", "Ollama takes no document (file) parts");
      }
    }
    msg["content"] = std::move(text);
    if (!images.empty()) msg["images"] = std::move(images);
    if (!thinking.empty()) msg["thinking"] = std::move(thinking);
    if (!calls.empty()) msg["tool_calls"] = std::move(calls);
    msgs.push_back(std::move(msg));
  }
  b["messages"] = std::move(msgs);
  if (!q.tools.empty() && q.tool_choice.mode != ToolChoice::Mode::none) {
    json::array tools;
    for (const auto& t : q.tools) {
      json::object f{{"name", t.name}};
      if (!t.description.empty()) f["description"] = t.description;
      if (!t.parameters.is_null()) f["parameters"] = t.parameters;
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(f)}});
      if (t.strict) ignored.push_back("tools.strict");
    }
    b["tools"] = std::move(tools);
  }
  if (q.response_format.kind == ResponseFormat::Kind::json_object) {
    b["format"] = "json";
  } else if (q.response_format.kind == ResponseFormat::Kind::json_schema) {
    if (!q.response_format.schema.is_object())
      return ApiError::invalid_request("response_format json_schema needs a schema object",
                                       "response_format");
    b["format"] = q.response_format.schema;
  }
  if (q.thinking_budget) {
    b["think"] = *q.thinking_budget > 0;
    if (*q.thinking_budget > 0) ignored.push_back("thinking_budget");
  } else if (!q.reasoning_effort.empty()) {
    const auto& r = q.reasoning_effort;
    if (r == "low" || r == "medium" || r == "high") b["think"] = r;
    else if (r == "minimal") b["think"] = "low";  // Ollama's lowest level
    else b["think"] = r != "none";
  }
  json::object opts = options_;
  if (q.temperature) opts["temperature"] = *q.temperature;
  if (q.top_p) opts["top_p"] = *q.top_p;
  if (q.top_k) opts["top_k"] = *q.top_k;
  if (q.seed) opts["seed"] = *q.seed;
  if (q.max_tokens) opts["num_predict"] = *q.max_tokens;
  if (q.presence_penalty) opts["presence_penalty"] = *q.presence_penalty;
  if (q.frequency_penalty) opts["frequency_penalty"] = *q.frequency_penalty;
  if (!q.stop.empty()) {
    json::array s;
    for (const auto& x : q.stop) s.push_back(json::string(x));
    opts["stop"] = std::move(s);
  }
  if (!opts.empty()) b["options"] = std::move(opts);
  if (!keep_alive_.is_null()) b["keep_alive"] = keep_alive_;
  b["stream"] = stream;  // Ollama streams unless told not to
  if (q.parallel_tool_calls) ignored.push_back("parallel_tool_calls");
  if (!q.user.empty()) ignored.push_back("user");
  for (const auto& f : q.unknown_fields) ignored.push_back(f);
  return json::serialize(b);
}

}  // namespace

Result<std::unique_ptr<Provider>> make_ollama(const ProviderConfig& config, Endpoint endpoint) {
  json::object options;
  json::value keep_alive;
  for (const auto& [k, v] : config.options) {
    if (k == "keep_alive") {
      json::value n = option_value(v);
      keep_alive = n.is_int64() ? n : json::value(json::string(v));
      continue;
    }
    json::value n = option_value(v);
    if (n.is_null())
      return ApiError::invalid_request("provider '" + config.name + "' (ollama): options." + k +
                                           " must be a number or true/false",
                                       "options." + k);
    options[k] = std::move(n);
  }
  return std::unique_ptr<Provider>(std::make_unique<Ollama>(config, std::move(endpoint),
                                                            std::move(options),
                                                            std::move(keep_alive)));
}

}  // namespace torii
