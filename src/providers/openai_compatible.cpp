#include "providers/openai_compatible.h"

#include <string.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_splice.h"
#include "core/json_text.h"
#include "providers/openai_format.h"
#include "providers/openai_media.h"

namespace torii {
namespace json = boost::json;

// --- request ---------------------------------------------------------------------------------

namespace {

// encode_openai_body's edits spliced into the client's text (same output, parsed): members are
// copied verbatim, so a 60 KB base64 image costs a memchr and a memcpy, not an escape pass.
// std::nullopt when the text cannot be spliced (an escaped key): the caller re-serialises.
std::optional<std::string> splice_openai_body(std::string_view text, std::string_view model,
                                              bool stream, const VendorSpec& vendor) {
  auto obj = JsonObjectText::scan(text);
  if (!obj) return std::nullopt;
  const bool has_max_tokens = obj->find("max_tokens") != nullptr;
  JsonObjectWriter w(text.size() + model.size() + 48);
  bool saw_stream_options = false;
  for (const JsonMember& m : obj->members()) {
    if (m.key == "model") {
      append_json_string(w.key(m.key), model);
    } else if (m.key == "stream_options") {
      if (vendor.strip_stream_options || !stream || m.value == "null") continue;
      saw_stream_options = true;
      if (vendor.stream_usage_option && m.value.front() == '{') {
        auto so = JsonObjectText::scan(m.value);
        if (!so) return std::nullopt;
        JsonObjectWriter sw(m.value.size() + 24);
        for (const JsonMember& x : so->members())
          if (x.key != "include_usage") sw.copy(x);
        sw.raw("include_usage", "true");
        w.raw(m.key, sw.finish());
      } else {
        w.copy(m);
      }
    } else if (m.key == "max_completion_tokens" && vendor.max_completion_tokens_as_max_tokens) {
      if (has_max_tokens) continue;
      w.raw("max_tokens", m.value);
    } else {
      w.copy(m);
    }
  }
  if (stream && !saw_stream_options && vendor.stream_usage_option && !vendor.strip_stream_options)
    w.raw("stream_options", R"({"include_usage":true})");
  return w.finish();
}

}  // namespace

std::string encode_openai_body(const json::object& request, std::string_view model, bool stream,
                               const VendorSpec& vendor, std::string_view raw_text) {
  if (!raw_text.empty()) {
    if (auto spliced = splice_openai_body(raw_text, model, stream, vendor)) return *spliced;
  }
  std::string out;
  out.reserve(256);
  out.push_back('{');
  bool first = true;
  auto key = [&](std::string_view k) {
    if (!first) out.push_back(',');
    first = false;
    out.append(json::serialize(json::string_view(k.data(), k.size())));
    out.push_back(':');
  };
  bool saw_stream_options = false;
  for (const auto& kv : request) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& v = kv.value();
    if (k == "model") {
      key(k);
      out.append(json::serialize(json::string_view(model.data(), model.size())));
    } else if (k == "stream_options") {
      if (vendor.strip_stream_options || !stream || v.is_null()) continue;  // null: as if absent
      saw_stream_options = true;
      key(k);
      if (vendor.stream_usage_option && v.is_object()) {
        json::object so = v.get_object();
        so["include_usage"] = true;
        out.append(json::serialize(so));
      } else {
        out.append(json::serialize(v));
      }
    } else if (k == "max_completion_tokens" && vendor.max_completion_tokens_as_max_tokens) {
      if (request.contains("max_tokens")) continue;
      key("max_tokens");
      out.append(json::serialize(v));
    } else {
      key(k);
      out.append(json::serialize(v));
    }
  }
  if (stream && !saw_stream_options && vendor.stream_usage_option && !vendor.strip_stream_options) {
    key("stream_options");  // not a bare ',' prefix: the object may be empty
    out.append(R"({"include_usage":true})");
  }
  out.push_back('}');
  return out;
}

// --- usage and errors ------------------------------------------------------------------------

static int64_t int_or(const json::object& o, std::string_view k) {
  auto v = o.if_contains(k);
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return -1;
}

json::object embeddings_body(const EmbeddingsCall& call) {
  json::object body;
  body["model"] = call.upstream_model;
  json::array input;
  for (const auto& text : call.inputs) input.emplace_back(text);
  body["input"] = std::move(input);
  if (call.dimensions > 0) body["dimensions"] = call.dimensions;
  return body;
}

Result<EmbeddingsResult> decode_openai_embeddings(std::string_view provider,
                                                  std::string_view body) {
  auto bad = [&](std::string_view why) {
    return ApiError::bad_gateway("provider '" + std::string(provider) +
                                 "' returned unusable embeddings: " + std::string(why));
  };
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad("not JSON");
  const auto* data = v.get_object().if_contains("data");
  if (!data || !data->is_array()) return bad("no data array");
  EmbeddingsResult out;
  out.vectors.resize(data->get_array().size());
  std::size_t next = 0;
  for (const auto& item : data->get_array()) {
    const auto* o = item.if_object();
    const auto* emb = o ? o->if_contains("embedding") : nullptr;
    if (!emb || !emb->is_array()) return bad("an item has no embedding array");
    std::size_t index = next++;
    if (const auto* i = o->if_contains("index"); i && i->is_int64()) {
      if (i->get_int64() < 0 || static_cast<std::size_t>(i->get_int64()) >= out.vectors.size())
        return bad("an index is out of range");
      index = static_cast<std::size_t>(i->get_int64());
    }
    auto& vec = out.vectors[index];
    if (!vec.empty()) return bad("an index repeats");
    vec.reserve(emb->get_array().size());
    for (const auto& x : emb->get_array()) {
      if (!x.is_number()) return bad("a value is not a number");
      vec.push_back(static_cast<float>(x.to_number<double>()));
    }
    if (vec.empty()) return bad("an embedding is empty");
  }
  for (const auto& vec : out.vectors) {
    if (vec.empty()) return bad("an input has no vector");
    if (vec.size() != out.vectors.front().size()) return bad("the vectors differ in dimension");
  }
  if (const auto* u = v.get_object().if_contains("usage"); u && u->is_object())
    out.usage = parse_openai_usage(u->get_object());
  return out;
}

Usage parse_openai_usage(const json::object& u) {
  Usage usage;
  usage.cache_write_tokens = int_or(u, "cache_write_tokens");
  usage.prompt_tokens = int_or(u, "prompt_tokens");
  usage.completion_tokens = int_or(u, "completion_tokens");
  usage.total_tokens = int_or(u, "total_tokens");
  if (auto d = u.if_contains("prompt_tokens_details"); d && d->is_object())
    usage.cached_tokens = int_or(d->get_object(), "cached_tokens");
  if (auto d = u.if_contains("completion_tokens_details"); d && d->is_object())
    usage.reasoning_tokens = int_or(d->get_object(), "reasoning_tokens");
  return usage;
}

// The message of an OpenAI-style (or FastAPI-style) error body, capped in size.
static std::string upstream_message(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  std::string msg;
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    const json::value* m = nullptr;
    if (auto e = o.if_contains("error"); e && e->is_object()) m = e->get_object().if_contains("message");
    else if (e && e->is_string()) m = e;
    if (!m) m = o.if_contains("message");
    if (!m) m = o.if_contains("detail");
    if (m) msg = m->is_string() ? std::string(m->get_string()) : json::serialize(*m);
  }
  if (msg.empty()) return upstream_excerpt(body, 200);
  return upstream_excerpt(msg);
}

ApiError map_openai_error(std::string_view name, int status, std::string_view body,
                          std::string_view retry_after) {
  return map_upstream_status(name, status, upstream_message(body), retry_after);
}

// --- the provider ----------------------------------------------------------------------------

// One pass over a usage object's text: every "key": <integer> whose key is one of ours (the
// first occurrence wins; the details objects are nested inside). Six separate searches cost
// ~3k instructions on a usage object with its details; this pass costs a few hundred.
static void scan_usage(std::string_view obj, Usage& u) {
  auto set = [&](std::string_view key, int64_t n) {
    int64_t* slot = key == "prompt_tokens"        ? &u.prompt_tokens
                    : key == "completion_tokens"  ? &u.completion_tokens
                    : key == "total_tokens"       ? &u.total_tokens
                    : key == "cached_tokens"      ? &u.cached_tokens
                    : key == "cache_write_tokens" ? &u.cache_write_tokens
                    : key == "reasoning_tokens"   ? &u.reasoning_tokens
                                                  : nullptr;
    if (slot && *slot < 0) *slot = n;
  };
  const char* p = obj.data();
  const char* end = p + obj.size();
  while (p < end) {
    const char* open = static_cast<const char*>(memchr(p, '"', end - p));
    if (!open) break;
    const char* close = static_cast<const char*>(memchr(open + 1, '"', end - open - 1));
    if (!close) break;
    std::string_view key(open + 1, close - open - 1);
    p = close + 1;
    while (p < end && (*p == ' ' || *p == ':' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    if (p >= end || *p < '0' || *p > '9') continue;
    int64_t n = 0;
    for (; p < end && *p >= '0' && *p <= '9' && n < (int64_t{1} << 53); ++p) n = n * 10 + (*p - '0');
    set(key, n);
  }
}

// Reads the top-level "usage" object of an answer without parsing the rest: providers put it
// last, and the body is forwarded as it came, so a full parse would only serve to find usage
// (it cost ~7k instructions per answer). Returns false when the shape is not the expected one;
// the caller then parses the whole body.
bool find_usage(std::string_view body, Usage& usage) {
  std::size_t at = body.rfind("\"usage\"");
  if (at == std::string_view::npos || (at > 0 && body[at - 1] == '\\')) return false;
  std::size_t i = at + 7;
  while (i < body.size() && (body[i] == ' ' || body[i] == ':' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
  if (i >= body.size() || body[i] != '{') return false;
  // The object's extent: braces outside strings.
  std::size_t begin = i, depth = 0;
  bool in_string = false;
  for (; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      break;
    }
  }
  if (i >= body.size()) return false;
  std::string_view obj = body.substr(begin, i + 1 - begin);
  // What follows must close the top-level object and nothing more: else "usage" was nested.
  std::size_t closing = 0;
  for (char c : body.substr(i + 1)) {
    if (c == '}') ++closing;
    else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return false;
  }
  if (closing != 1) return false;
  usage = Usage{};
  scan_usage(obj, usage);
  return usage.known();
}

namespace {

// glibc's memmem (two-way search) is several times faster than string_view::find on JSON,
// where every '"' is a candidate first byte.
bool contains(std::string_view hay, std::string_view needle) {
  return ::memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

// Passthrough: the client speaks OpenAI too, so chunks go out as they came; only events that
// may carry usage or an error are parsed.
class OpenAiPassthroughDecoder final : public SseStreamDecoder {
 public:
  Result<void> on_event(const SseEvent& ev, StreamSink& sink, Usage& usage, bool& done) override {
    std::string_view data = ev.data;
    if (data == "[DONE]") {
      done = true;
      return {};
    }
    bool usage_only = false;
    // OpenAI puts "usage":null in every chunk of a stream that asked for usage.
    bool maybe_usage = contains(data, "\"usage\"") && !contains(data, "\"usage\":null");
    if (maybe_usage || contains(data, "\"error\"")) {
      boost::system::error_code ec;
      json::value v = json::parse(data, ec);
      if (ec || !v.is_object())
        return ApiError::bad_gateway("upstream sent an undecodable stream event");
      const auto& o = v.get_object();
      if (auto err = o.if_contains("error"); err && !err->is_null())
        return ApiError::bad_gateway("upstream stream failed: " + upstream_message(data));
      if (auto u = o.if_contains("usage"); u && u->is_object()) {
        usage = parse_openai_usage(u->get_object());
        auto c = o.if_contains("choices");
        usage_only = !c || (c->is_array() && c->get_array().empty());
      }
    }
    sink.raw({}, data, usage_only);
    return {};
  }
};

// Translating: the client speaks another format; chunks become canonical events.
class OpenAiEventDecoder final : public SseStreamDecoder {
 public:
  Result<void> on_event(const SseEvent& ev, StreamSink& sink, Usage& usage, bool& done) override {
    if (ev.data == "[DONE]") {
      done = true;
      return {};
    }
    if (contains(ev.data, "\"error\"")) {
      boost::system::error_code ec;
      json::value v = json::parse(ev.data, ec);
      if (!ec && v.is_object())
        if (auto err = v.get_object().if_contains("error"); err && !err->is_null())
          return ApiError::bad_gateway("upstream stream failed: " + upstream_message(ev.data));
    }
    return openai_chunk_to_events(ev.data, started_, usage,
                                  [&](const StreamEvent& e) { sink.event(e); });
  }

 private:
  bool started_ = false;
};

// The Responses API has no stream_options.include_usage (usage always comes with
// response.completed): its passthrough only replaces "model".
constexpr VendorSpec kNoStreamOptions{.kind = "responses", .stream_usage_option = false,
                                      .strip_stream_options = false};

class OpenAiCompatible final : public Provider {
 public:
  OpenAiCompatible(const ProviderConfig& c, const VendorSpec& v, Endpoint ep)
      : name_(c.name), vendor_(v), endpoint_(std::move(ep)), models_(c.models) {
    caps_.chat = true;
    caps_.chat_stream = true;
    caps_.tools = true;
    caps_.stream_tools = true;
    caps_.images = true;
    caps_.documents = true;
    caps_.json_mode = true;
    caps_.json_schema = true;
    caps_.thinking = true;
    caps_.stream_usage_option = v.stream_usage_option;
    caps_.embeddings = v.modalities & kEmbeddings;
    caps_.image_generation = v.modalities & kImages;
    caps_.image_edit = v.modalities & kImageEdits;
    caps_.speech = v.modalities & kSpeech;
    caps_.transcription = v.modalities & kTranscription;
    caps_.translation = v.modalities & kTranslation;
    caps_.moderation = v.modalities & kModeration;
    dialect_.stream_usage_option = v.stream_usage_option && !v.strip_stream_options;
    dialect_.max_completion_tokens = v.kind == "openai" || v.kind == "azure";
    dialect_.reasoning_content = false;
    path_ = VendorPath(v, endpoint_.base_path, c);
    std::string block = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    block += vendor_auth_line(v, c.api_key.value);
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_form_ = block.substr(block.find("\r\n") + 2);  // no Content-Type: the writer's
    headers_json_ = block + "Accept: application/json\r\n";
    headers_sse_ = block + "Accept: text/event-stream\r\n";
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return vendor_.kind; }
  bool speaks(WireFormat f) const override {
    return f == WireFormat::openai_chat || (f == WireFormat::openai_responses && vendor_.responses) ||
           (f == WireFormat::openai_completions && vendor_.completions);
  }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_chat(const ChatCall& call) const override {
    UpstreamRequest r;
    r.path = path_.chat(call.upstream_model);
    r.header_block = call.stream ? headers_sse_ : headers_json_;
    if (call.raw && call.inbound != WireFormat::openai_chat) {
      // Responses / legacy completions, natively: the same edits under the API's own path.
      r.path = endpoint_.base_path +
               (call.inbound == WireFormat::openai_responses ? "/responses" : "/completions");
      r.body = encode_openai_body(*call.raw, call.upstream_model, call.stream,
                                  call.inbound == WireFormat::openai_responses ? kNoStreamOptions
                                                                               : vendor_,
                                  call.raw_text);
      return r;
    }
    if (call.raw) {
      r.body = encode_openai_body(*call.raw, call.upstream_model, call.stream, vendor_,
                                  call.raw_text);
      return r;
    }
    auto body = canonical_to_openai_request(*call.request, call.upstream_model, call.stream,
                                            dialect_, name_, *call.ignored);
    if (!body) return body.error();
    r.body = std::move(*body);
    return r;
  }

  Result<ChatResponse> decode_chat(std::string&& body, bool passthrough) const override {
    ChatResponse out;
    if (!passthrough) {
      auto r = openai_response_to_canonical(body, name_);
      if (!r) return r.error();
      out.result = std::move(*r);
      out.result.usage.complete();
      return out;
    }
    Usage& usage = out.result.usage;
    if (!find_usage(body, usage)) {
      // No usage where providers put it (the end): parse the whole answer to be sure.
      boost::system::error_code ec;
      json::value v = json::parse(body, ec);
      if (ec || !v.is_object())
        return ApiError::bad_gateway("provider '" + name_ + "' returned a body that is not JSON");
      if (auto u = v.get_object().if_contains("usage"); u && u->is_object())
        usage = parse_openai_usage(u->get_object());
    }
    out.raw = std::move(body);
    return out;
  }

  std::unique_ptr<StreamDecoder> stream_decoder(bool passthrough) const override {
    if (passthrough) return std::make_unique<OpenAiPassthroughDecoder>();
    return std::make_unique<OpenAiEventDecoder>();
  }

  ApiError map_error(int status, std::string_view body, std::string_view retry_after) const override {
    return map_openai_error(name_, status, body, retry_after);
  }

  // POST <chat path with /chat/completions replaced by /embeddings> (Azure's deployment path
  // and api-version stay).
  Result<UpstreamRequest> encode_embeddings(const EmbeddingsCall& call) const override {
    UpstreamRequest r;
    r.path = path_.chat(call.upstream_model);
    const std::size_t q = r.path.find('?');
    std::string_view chat = "/chat/completions";
    const std::size_t at = r.path.rfind(chat, q);
    if (at == std::string::npos)
      return ApiError::invalid_request("provider '" + name_ + "': no embeddings path");
    r.path.replace(at, chat.size(), "/embeddings");
    r.header_block = headers_json_;
    json::object body = embeddings_body(call);
    body["encoding_format"] = "float";
    r.body = json::serialize(body);
    return r;
  }

  Result<EmbeddingsResult> decode_embeddings(std::string_view body) const override {
    return decode_openai_embeddings(name_, body);
  }

  // The other modalities at OpenAI's paths (openai_media.h).
  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    auto path = openai_modality_path(path_.chat(call.upstream_model), call.modality);
    if (!path)
      return ApiError::invalid_request("provider '" + name_ + "': no path for " +
                                       std::string(modality_name(call.modality)));
    return encode_openai_modality(call, vendor_, std::move(*path), headers_json_, headers_form_);
  }

  Result<ModalityReply> decode_modality(const ModalityCall& call, int, std::string_view type,
                                        std::string&& body) const override {
    return decode_openai_modality(call, vendor_, name_, type, std::move(body));
  }

 private:
  std::string name_;
  const VendorSpec& vendor_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  OpenAiDialect dialect_;
  VendorPath path_;
  std::string headers_json_, headers_sse_;  // prebuilt header lines (they hold the key)
  std::string headers_form_;                // the same without Content-Type (uploads)
};

}  // namespace

std::unique_ptr<Provider> make_openai_compatible(const ProviderConfig& config,
                                                 const VendorSpec& vendor, Endpoint endpoint) {
  return std::make_unique<OpenAiCompatible>(config, vendor, std::move(endpoint));
}

}  // namespace torii
