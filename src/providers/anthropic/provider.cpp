// The Anthropic provider: endpoint, headers, and the codec calls (see providers/anthropic.h).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "providers/anthropic.h"

namespace torii {
namespace json = boost::json;

void anthropic_rate_limit_headers(const UpstreamResponse& response, Headers& out) {
  // anthropic-ratelimit-<what>-<field> → x-ratelimit-<field>-<what>
  static constexpr std::string_view kWhat[] = {"requests", "tokens", "input-tokens",
                                               "output-tokens"};
  static constexpr std::string_view kField[] = {"limit", "remaining", "reset"};
  std::string name;
  for (std::string_view what : kWhat) {
    for (std::string_view field : kField) {
      name = "anthropic-ratelimit-";
      name += what;
      name += '-';
      name += field;
      std::string_view v = response.header(name);
      if (v.empty()) continue;
      std::string mapped = "x-ratelimit-";
      mapped += field;
      mapped += '-';
      mapped += what;
      out.emplace_back(std::move(mapped), std::string(v));
    }
  }
  if (auto v = response.header("retry-after"); !v.empty()) out.emplace_back("retry-after", v);
}

namespace {

class Anthropic final : public Provider {
 public:
  Anthropic(const ProviderConfig& c, Endpoint ep)
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models) {
    caps_.chat = true;
    caps_.chat_stream = true;
    caps_.tools = true;
    caps_.stream_tools = true;
    caps_.images = true;
    caps_.documents = true;
    caps_.json_mode = false;   // no JSON mode without a schema
    caps_.json_schema = true;  // output_config.format (structured outputs)
    caps_.thinking = true;
    // The base URL is the host (https://api.anthropic.com); one that ends in /v1 works too.
    const std::string& base = endpoint_.base_path;
    path_ = base.ends_with("/v1") ? base + "/messages" : base + "/v1/messages";
    std::string block = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    if (!c.api_key.empty()) block += "x-api-key: " + c.api_key.value + "\r\n";
    block += "anthropic-version: ";
    block += c.api_version.empty() ? kAnthropicDefaultVersion : std::string_view(c.api_version);
    block += "\r\n";
    for (const auto& [k, val] : c.headers) block += k + ": " + val + "\r\n";
    headers_json_ = block + "Accept: application/json\r\n";
    headers_sse_ = block + "Accept: text/event-stream\r\n";
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return "anthropic"; }
  bool speaks(WireFormat f) const override { return f == WireFormat::anthropic_messages; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_chat(const ChatCall& call) const override {
    UpstreamRequest r;
    r.path = path_;
    r.header_block = call.stream ? headers_sse_ : headers_json_;
    if (call.raw) {
      r.body = encode_anthropic_passthrough(*call.raw, call.upstream_model, call.stream,
                                            call.raw_text);
      // Beta features the client opted into (Claude Code sends several) only mean something
      // to Anthropic itself: forwarded on passthrough only.
      if (call.client)
        if (auto beta = call.client->header("anthropic-beta"); !beta.empty())
          r.headers.emplace_back("anthropic-beta", std::string(beta));
      return r;
    }
    if (!call.request) return ApiError::internal("chat call without a request");
    std::vector<std::string> scratch;
    auto body = encode_anthropic_request(*call.request, call.upstream_model, call.stream, name_,
                                         call.ignored ? *call.ignored : scratch);
    if (!body) return body.error();
    r.body = std::move(*body);
    return r;
  }

  // POST /v1/messages/count_tokens takes the Messages body's model, system, messages, tools,
  // tool_choice and thinking; the other fields (max_tokens, stream…) are dropped.
  Result<UpstreamRequest> encode_count_tokens(const ChatCall& call) const override {
    if (!call.raw) return ApiError::invalid_request("count_tokens needs the client's body");
    boost::json::object body;
    body["model"] = call.upstream_model;
    for (const char* k : {"system", "messages", "tools", "tool_choice", "thinking"})
      if (auto v = call.raw->if_contains(k)) body[k] = *v;
    UpstreamRequest r;
    r.path = path_ + "/count_tokens";
    r.header_block = headers_json_;
    r.body = boost::json::serialize(body);
    return r;
  }

  Result<ChatResponse> decode_chat(std::string&& body, bool passthrough) const override {
    ChatResponse out;
    if (!passthrough) {
      auto r = decode_anthropic_message(body, name_);
      if (!r) return r.error();
      out.result = std::move(*r);
      return out;
    }
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object())
      return ApiError::bad_gateway("provider '" + name_ + "' returned a body that is not JSON");
    if (auto u = v.get_object().if_contains("usage"); u && u->is_object())
      out.result.usage = parse_anthropic_usage(u->get_object());
    out.raw = std::move(body);
    return out;
  }

  std::unique_ptr<StreamDecoder> stream_decoder(bool passthrough) const override {
    return make_anthropic_stream_decoder(passthrough, name_);
  }

  ApiError map_error(int status, std::string_view body,
                     std::string_view retry_after) const override {
    return map_anthropic_error(name_, status, body, retry_after);
  }

  void rate_limit_headers(const UpstreamResponse& response, Headers& out) const override {
    anthropic_rate_limit_headers(response, out);
  }

 private:
  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::string path_;
  std::string headers_json_, headers_sse_;  // prebuilt header lines (they hold the key)
};

}  // namespace

Result<std::unique_ptr<Provider>> make_anthropic(const ProviderConfig& config, Endpoint endpoint) {
  if (config.api_version.find_first_of("\r\n") != std::string::npos)
    return ApiError::invalid_request("provider '" + config.name +
                                         "': api_version must be a single line",
                                     "api_version");
  return std::unique_ptr<Provider>(std::make_unique<Anthropic>(config, std::move(endpoint)));
}

}  // namespace torii
