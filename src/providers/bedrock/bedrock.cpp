#include "providers/bedrock/bedrock.h"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/path_segment.h"
#include "core/json_access.h"
#include "providers/bedrock/bedrock_internal.h"
#include "providers/bedrock/eventstream.h"
#include "providers/bedrock/sigv4.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::sv;
using jsonx::str_at;
using jsonx::int_at;
using jsonx::obj_at;
using jsonx::arr_at;

constexpr std::size_t kMaxMessage = 500;

std::string next_id() {
  static std::atomic<uint64_t> counter{0};
  return "bedrock-" + std::to_string(++counter);
}

// inputTokens excludes cache reads and writes: the canonical prompt adds them.
Usage parse_usage(const json::object& u) {
  Usage usage;
  int64_t input = int_at(u, "inputTokens");
  int64_t read = int_at(u, "cacheReadInputTokens");
  int64_t write = int_at(u, "cacheWriteInputTokens");
  if (input >= 0)
    usage.prompt_tokens = input + std::max<int64_t>(read, 0) + std::max<int64_t>(write, 0);
  usage.completion_tokens = int_at(u, "outputTokens");
  usage.cached_tokens = read;
  usage.cache_write_tokens = write;
  usage.complete();
  return usage;
}

// {"message": "..."} (Bedrock), {"Message": "..."} (some AWS front ends), else the body.
std::string upstream_message(std::string_view body) {
  std::string msg;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    msg = str_at(v.get_object(), "message");
    if (msg.empty()) msg = str_at(v.get_object(), "Message");
  }
  if (msg.empty()) return upstream_excerpt(body, 200);
  return upstream_excerpt(msg, kMaxMessage);
}

ApiError bad_answer(std::string_view provider, std::string_view why) {
  return ApiError::bad_gateway("provider '" + std::string(provider) + "' (bedrock) sent " +
                               std::string(why));
}

FinishReason final_reason(std::string_view native, bool calls) {
  FinishReason f = bedrock_finish_reason(native);
  return calls && f == FinishReason::stop ? FinishReason::tool_calls : f;
}

// --- non-streamed answers --------------------------------------------------------------------

Result<ChatResponse> decode_converse(std::string_view provider, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad_answer(provider, "a body that is not a JSON object");
  const json::object& root = v.get_object();
  ChatResponse out;
  ChatResult& r = out.result;
  r.id = next_id();
  r.created = static_cast<int64_t>(std::time(nullptr));
  if (const json::object* u = obj_at(root, "usage")) r.usage = parse_usage(*u);
  const json::object* output = obj_at(root, "output");
  const json::object* message = output ? obj_at(*output, "message") : nullptr;
  if (!message) return bad_answer(provider, "an answer without output.message");
  bool calls = false;
  if (const json::array* content = arr_at(*message, "content")) {
    for (const json::value& bv : *content) {
      const json::object* b = bv.if_object();
      if (!b) return bad_answer(provider, "a content block that is not an object");
      if (auto t = b->if_contains("text"); t && t->is_string()) {
        if (!r.parts.empty() && r.parts.back().kind == Part::Kind::text)
          r.parts.back().text += sv(t->get_string());
        else
          r.parts.push_back(Part::make_text(std::string(sv(t->get_string()))));
      } else if (const json::object* tu = obj_at(*b, "toolUse")) {
        Part p;
        p.kind = Part::Kind::tool_call;
        p.id = str_at(*tu, "toolUseId");
        p.name = str_at(*tu, "name");
        auto in = tu->if_contains("input");
        p.arguments = in && in->is_object() ? json::serialize(*in) : "{}";
        r.parts.push_back(std::move(p));
        calls = true;
      } else if (const json::object* rc = obj_at(*b, "reasoningContent")) {
        Part p;
        if (const json::object* rt = obj_at(*rc, "reasoningText")) {
          p.kind = Part::Kind::thinking;
          p.text = str_at(*rt, "text");
          p.signature = str_at(*rt, "signature");
        } else {
          p.kind = Part::Kind::redacted_thinking;
          p.data = str_at(*rc, "redactedContent");
        }
        r.parts.push_back(std::move(p));
      }
      // Other blocks (citations, guardContent…) have no canonical counterpart in answers.
    }
  }
  r.native_finish = str_at(root, "stopReason");
  r.finish = final_reason(r.native_finish, calls);
  return out;
}

// --- streamed answers ------------------------------------------------------------------------

class BedrockStreamDecoder final : public StreamDecoder {
 public:
  explicit BedrockStreamDecoder(std::string_view provider) : provider_(provider) {}

  Result<void> feed(std::string_view bytes, StreamSink& sink, Usage& usage, bool& done) override {
    Result<void> failure;
    auto framed = frames_.feed(bytes, [&](const aws::EventMessage& m) {
      if (!failure.ok() || done) return;  // nothing after an error or the end
      failure = on_message(m, sink, usage, done);
    });
    if (!framed.ok())
      return bad_answer(provider_, "a corrupt event stream (" +
                                       std::string(aws::to_string(frames_.error())) + ")");
    return failure;
  }

 private:
  void start(StreamSink& sink) {
    if (started_) return;
    started_ = true;
    id_ = next_id();
    StreamEvent e;
    e.kind = StreamEvent::Kind::start;
    e.id = id_;
    sink.event(e);
  }

  Result<void> on_message(const aws::EventMessage& m, StreamSink& sink, Usage& usage,
                          bool& done) {
    if (m.is_exception())
      return map_bedrock_exception(provider_, m.exception_type, m.payload);
    if (m.is_error())
      return ApiError::bad_gateway("provider '" + provider_ + "' stream failed: " +
                                   upstream_excerpt(m.error_code, 100) + " " +
                                   upstream_excerpt(m.error_message, kMaxMessage));
    if (!m.is_event()) return {};
    boost::system::error_code ec;
    json::value v = json::parse(m.payload, ec);
    if (ec || !v.is_object()) return bad_answer(provider_, "an undecodable stream event");
    const json::object& o = v.get_object();
    std::string_view type = m.event_type;
    if (type == "messageStart") {
      start(sink);
    } else if (type == "contentBlockStart") {
      start(sink);
      const json::object* s = obj_at(o, "start");
      const json::object* tu = s ? obj_at(*s, "toolUse") : nullptr;
      if (!tu) return {};
      int index = tools_++;
      tool_index_[int_at(o, "contentBlockIndex")] = index;
      StreamEvent e;
      e.kind = StreamEvent::Kind::tool_call_start;
      e.index = index;
      e.id = str_at(*tu, "toolUseId");
      e.name = str_at(*tu, "name");
      sink.event(e);
    } else if (type == "contentBlockDelta") {
      start(sink);
      return delta(o, sink);
    } else if (type == "messageStop") {
      start(sink);
      StreamEvent e;
      e.kind = StreamEvent::Kind::finish;
      e.text = str_at(o, "stopReason");
      e.finish = final_reason(e.text, tools_ > 0);
      sink.event(e);
    } else if (type == "metadata") {
      if (const json::object* u = obj_at(o, "usage")) {
        usage = parse_usage(*u);
        StreamEvent e;
        e.kind = StreamEvent::Kind::usage;
        e.usage = usage;
        sink.event(e);
      }
      done = true;
    }
    // contentBlockStop and future event types carry nothing to forward.
    return {};
  }

  Result<void> delta(const json::object& o, StreamSink& sink) {
    const json::object* d = obj_at(o, "delta");
    if (!d) return bad_answer(provider_, "a contentBlockDelta without a delta");
    StreamEvent e;
    if (auto t = d->if_contains("text"); t && t->is_string()) {
      e.kind = StreamEvent::Kind::text;
      e.text = sv(t->get_string());
      sink.event(e);
    } else if (const json::object* tu = obj_at(*d, "toolUse")) {
      auto it = tool_index_.find(int_at(o, "contentBlockIndex"));
      if (it == tool_index_.end())
        return bad_answer(provider_, "tool input for a block that was not started");
      e.kind = StreamEvent::Kind::tool_call_args;
      e.index = it->second;
      e.text = str_at(*tu, "input");
      if (!e.text.empty()) sink.event(e);
    } else if (const json::object* rc = obj_at(*d, "reasoningContent")) {
      if (auto t = rc->if_contains("text"); t && t->is_string()) {
        e.kind = StreamEvent::Kind::thinking;
        e.text = sv(t->get_string());
      } else if (auto s = rc->if_contains("signature"); s && s->is_string()) {
        e.kind = StreamEvent::Kind::thinking_signature;
        e.text = sv(s->get_string());
      } else if (auto r = rc->if_contains("redactedContent"); r && r->is_string()) {
        e.kind = StreamEvent::Kind::redacted_thinking;
        e.text = sv(r->get_string());
      } else {
        return {};
      }
      sink.event(e);
    }
    return {};
  }

  std::string provider_;
  aws::EventStreamDecoder frames_;
  bool started_ = false;
  std::string id_;
  int tools_ = 0;
  std::unordered_map<int64_t, int> tool_index_;  // contentBlockIndex -> tool call ordinal
};

// --- the provider ----------------------------------------------------------------------------

std::time_t system_clock_now() { return std::time(nullptr); }

class Bedrock final : public Provider {
 public:
  Bedrock(const ProviderConfig& c, Endpoint ep, std::time_t (*clock)())
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models), region_(c.region),
        access_key_id_(c.aws_access_key_id.value), secret_(c.aws_secret_access_key.value),
        session_token_(c.aws_session_token.value), clock_(clock) {
    caps_.chat = caps_.chat_stream = caps_.tools = caps_.stream_tools = true;
    caps_.images = caps_.documents = caps_.thinking = caps_.embeddings = true;
    std::string block = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_json_ = block + "Accept: application/json\r\n";
    headers_stream_ = block + "Accept: application/vnd.amazon.eventstream\r\n";
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return "bedrock"; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_chat(const ChatCall& call) const override {
    if (!call.request)
      return ApiError::internal("bedrock: encode_chat without a canonical request");
    std::vector<std::string> scratch;
    auto body = bedrock_detail::encode_converse(*call.request, name_,
                                                call.ignored ? *call.ignored : scratch);
    if (!body) return body.error();
    UpstreamRequest r;
    r.path = bedrock_path(endpoint_.base_path, call.upstream_model, call.stream);
    r.header_block = call.stream ? headers_stream_ : headers_json_;
    r.body = std::move(*body);
    if (auto s = sign(r); !s) return s.error();
    return r;
  }

  Result<ChatResponse> decode_chat(std::string&& body, bool) const override {
    return decode_converse(name_, body);
  }

  std::unique_ptr<StreamDecoder> stream_decoder(bool) const override {
    return std::make_unique<BedrockStreamDecoder>(name_);
  }

  ApiError map_error(int status, std::string_view body,
                     std::string_view retry_after) const override {
    return map_bedrock_error(name_, status, body, retry_after);
  }

  // The semantic cache's vectors: one text, InvokeModel as for the modality.
  Result<UpstreamRequest> encode_embeddings(const EmbeddingsCall& call) const override {
    auto body = bedrock_detail::encode_embed(embeddings_ask(call), call.upstream_model, {},
                                             name_, nullptr);
    if (!body) return body.error();
    return invoke(call.upstream_model, std::move(*body));
  }

  Result<EmbeddingsResult> decode_embeddings(std::string_view body) const override {
    return bedrock_detail::decode_embed(body, 0, name_);
  }

  // /v1/embeddings -> POST /model/{id}/invoke (Titan or Cohere embed, from the model id).
  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality != Modality::embeddings) return Provider::encode_modality(call);
    static constexpr std::string_view own[] = {"input_type"};
    auto ask = read_embeddings_ask(call, name_, "bedrock", own);
    if (!ask) return ask.error();
    const std::string input_type = field_text(call, "input_type");
    auto body = bedrock_detail::encode_embed(*ask, call.upstream_model, input_type, name_,
                                             call.ignored);
    if (!body) return body.error();
    return invoke(call.upstream_model, std::move(*body));
  }

  Result<ModalityReply> decode_modality(const ModalityCall& call, int step,
                                        std::string_view content_type,
                                        std::string&& body) const override {
    if (call.modality != Modality::embeddings)
      return Provider::decode_modality(call, step, content_type, std::move(body));
    auto result = bedrock_detail::decode_embed(body, embeddings_input_count(call), name_);
    if (!result) return result.error();
    const bool b64 = field_text(call, "encoding_format") == "base64";
    return embeddings_reply(*result, call.upstream_model,
                            b64 ? VectorEncoding::base64 : VectorEncoding::floats);
  }

 private:
  // A signed InvokeModel request for `model` with a JSON `body`.
  Result<UpstreamRequest> invoke(std::string_view model, std::string&& body) const {
    UpstreamRequest r;
    r.path = bedrock_invoke_path(endpoint_.base_path, model);
    r.header_block = headers_json_;
    r.body = std::move(body);
    if (auto s = sign(r); !s) return s.error();
    return r;
  }

  // Adds the SigV4 headers (authorization, x-amz-date, x-amz-security-token) for r's path and
  // body, signed now.
  Result<void> sign(UpstreamRequest& r) const {
    aws::SigV4Request sr;
    sr.method = "POST";
    sr.host = endpoint_.host_header;
    sr.path = r.path;
    sr.headers = {{"content-type", "application/json"}};
    sr.payload = r.body;
    const std::string date = aws::amz_date(clock_());
    auto signed_headers = aws::sign_v4(sr, access_key_id_, session_token_, key_for(date), date);
    if (!signed_headers) return signed_headers.error();
    r.headers.emplace_back("authorization", std::move(signed_headers->authorization));
    r.headers.emplace_back("x-amz-date", std::move(signed_headers->amz_date));
    if (!session_token_.empty())
      r.headers.emplace_back("x-amz-security-token", session_token_);
    return {};
  }

  // The signing key of `amz_date`'s day, derived once per day (shared by the worker threads).
  aws::SigningKey key_for(std::string_view amz_date) const {
    std::string_view day = amz_date.substr(0, 8);
    std::lock_guard lock(key_mutex_);
    if (key_.date != day) key_ = aws::derive_signing_key(secret_, day, region_, "bedrock");
    return key_;
  }

  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::string region_, access_key_id_, secret_, session_token_;
  std::time_t (*clock_)();
  std::string headers_json_, headers_stream_;
  mutable std::mutex key_mutex_;
  mutable aws::SigningKey key_;
};

}  // namespace

std::string bedrock_path(std::string_view base_path, std::string_view model, bool stream) {
  std::string p(base_path);
  p += "/model/";
  append_path_segment(p, model);
  p += stream ? "/converse-stream" : "/converse";
  return p;
}

std::string bedrock_invoke_path(std::string_view base_path, std::string_view model) {
  std::string p(base_path);
  p += "/model/";
  append_path_segment(p, model);
  p += "/invoke";
  return p;
}

FinishReason bedrock_finish_reason(std::string_view r) {
  if (r == "end_turn" || r == "stop_sequence" || r.empty()) return FinishReason::stop;
  if (r == "max_tokens" || r == "model_context_window_exceeded") return FinishReason::length;
  if (r == "tool_use") return FinishReason::tool_calls;
  if (r == "guardrail_intervened" || r == "content_filtered") return FinishReason::content_filter;
  return FinishReason::stop;
}

// Bad keys, a bad signature or no access to the model (401/403) are the gateway's fault.
ApiError map_bedrock_error(std::string_view provider, int status, std::string_view body,
                           std::string_view retry_after) {
  return map_upstream_status(provider, status, upstream_message(body), retry_after);
}

ApiError map_bedrock_exception(std::string_view provider, std::string_view type,
                               std::string_view payload) {
  std::string prefix = "provider '" + std::string(provider) + "' stream failed (" +
                       std::string(type.substr(0, 100)) + "): ";
  std::string msg = upstream_message(payload);
  ApiError e;
  if (type == "throttlingException") {
    e = ApiError::rate_limited(prefix + msg);
    e.retryable = true;
  } else if (type == "validationException") {
    e = ApiError::invalid_request(prefix + msg);
  } else if (type == "modelTimeoutException") {
    e = ApiError::gateway_timeout(prefix + msg);
    e.retryable = true;
  } else {
    e = ApiError::bad_gateway(prefix + msg);
    e.retryable = true;
  }
  return e;
}

Result<std::unique_ptr<Provider>> make_bedrock_with_clock(const ProviderConfig& config,
                                                          Endpoint endpoint,
                                                          std::time_t (*clock)()) {
  auto missing = [&](std::string_view field) {
    return ApiError::invalid_request("provider '" + config.name + "' (bedrock): " +
                                         std::string(field) + " is required",
                                     std::string(field));
  };
  if (config.region.empty()) return missing("region");
  if (config.aws_access_key_id.empty()) return missing("aws_access_key_id");
  if (config.aws_secret_access_key.empty()) return missing("aws_secret_access_key");
  for (char c : config.region)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
      return ApiError::invalid_request("provider '" + config.name +
                                           "' (bedrock): region must look like us-east-1",
                                       "region");
  // The registry's default base URL is a placeholder: use the region's public endpoint.
  const std::string_view placeholder_host = "bedrock-runtime.aws-region.amazonaws.com";
  if (endpoint.host == placeholder_host) {
    std::string url(kBedrockDefaultBaseUrl);
    url.replace(url.find("{region}"), 8, config.region);
    auto ep = make_endpoint(url, config.ca_file, config.timeouts);
    if (!ep) return ApiError::invalid_request("provider '" + config.name + "': " +
                                              ep.error().message);
    ep->egress = endpoint.egress;  // the snapshot's egress policy (build_snapshot)
    endpoint = std::move(*ep);
  }
  return std::unique_ptr<Provider>(
      std::make_unique<Bedrock>(config, std::move(endpoint), clock ? clock : &system_clock_now));
}

Result<std::unique_ptr<Provider>> make_bedrock(const ProviderConfig& config, Endpoint endpoint) {
  return make_bedrock_with_clock(config, std::move(endpoint), &system_clock_now);
}

}  // namespace torii
