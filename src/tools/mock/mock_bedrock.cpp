// The AWS Bedrock Converse format of `torii mock`: POST /model/{modelId}/converse answers
// Converse JSON; POST /model/{modelId}/converse-stream answers application/vnd.amazon.eventstream
// frames. Signatures are not verified, but a request must carry a SigV4 Authorization header
// and x-amz-date (else 403), so a test proves the gateway signed it.
//
// Written apart from the Bedrock adapter (src/providers/bedrock/), with its own small frame
// writer: it is the other side of the wire that tests the adapter.
#include <algorithm>
#include <charconv>
#include <cstdint>

#include <boost/crc.hpp>
#include <boost/json.hpp>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kModelPrefix = "/model/";
constexpr std::string_view kToolUseId = "tooluse_mock_1";

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint32_t crc(std::string_view bytes) {
  boost::crc_32_type c;
  c.process_bytes(bytes.data(), bytes.size());
  return c.checksum();
}

// One event-stream message with Bedrock's three string headers and a JSON payload.
void frame(std::string& out, std::string_view event_type, std::string_view payload,
           std::string_view message_type = "event") {
  std::string headers;
  auto header = [&](std::string_view name, std::string_view value) {
    headers.push_back(static_cast<char>(name.size()));
    headers += name;
    headers.push_back(7);  // string
    headers.push_back(static_cast<char>(value.size() >> 8));
    headers.push_back(static_cast<char>(value.size() & 0xFF));
    headers += value;
  };
  header(message_type == "event" ? ":event-type" : ":exception-type", event_type);
  header(":content-type", "application/json");
  header(":message-type", message_type);
  const std::size_t start = out.size();
  put32(out, static_cast<std::uint32_t>(16 + headers.size() + payload.size()));
  put32(out, static_cast<std::uint32_t>(headers.size()));
  put32(out, crc(std::string_view(out).substr(start, 8)));
  out += headers;
  out += payload;
  put32(out, crc(std::string_view(out).substr(start)));
}

// The model id of "…/model/{id}/converse[-stream]" (percent-decoded), or "" when not one.
std::string model_of(std::string_view path, bool* stream) {
  const std::size_t at = path.find(kModelPrefix);
  if (at == std::string_view::npos) return {};
  std::string_view rest = path.substr(at + kModelPrefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return {};
  std::string_view op = rest.substr(slash);
  if (op != "/converse" && op != "/converse-stream") return {};
  if (stream) *stream = op == "/converse-stream";
  std::string id;
  std::string_view enc = rest.substr(0, slash);
  for (std::size_t i = 0; i < enc.size(); ++i) {
    auto hex = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : c >= 'a' && c <= 'f'   ? c - 'a' + 10 : -1;
    };
    if (enc[i] == '%' && i + 2 < enc.size() && hex(enc[i + 1]) >= 0 && hex(enc[i + 2]) >= 0) {
      id.push_back(static_cast<char>(hex(enc[i + 1]) * 16 + hex(enc[i + 2])));
      i += 2;
    } else {
      id.push_back(enc[i]);
    }
  }
  return id;
}

std::string_view stop_reason(const MockScript& s) {
  if (s.blocked) return "content_filtered";
  if (!s.tool_name.empty()) return "tool_use";
  if (s.truncated) return "max_tokens";
  return "end_turn";
}

// Bedrock's usage: inputTokens excludes cache reads and writes, which are reported apart.
void append_usage(std::string& out, const MockScript& s) {
  const std::int64_t input = s.prompt_tokens - s.cached_tokens - s.cache_write_tokens;
  out += R"({"inputTokens":)";
  append_int(out, input);
  out += R"(,"outputTokens":)";
  append_int(out, s.completion_tokens);
  out += R"(,"totalTokens":)";
  append_int(out, s.prompt_tokens + s.completion_tokens);
  if (s.cached_tokens > 0) {
    out += R"(,"cacheReadInputTokens":)";
    append_int(out, s.cached_tokens);
  }
  if (s.cache_write_tokens > 0) {
    out += R"(,"cacheWriteInputTokens":)";
    append_int(out, s.cache_write_tokens);
  }
  out += '}';
}

// Where to cut `s` in two non-empty fragments without splitting a UTF-8 sequence.
std::size_t split_point(std::string_view s) {
  std::size_t at = s.size() / 2;
  while (at > 1 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return std::max<std::size_t>(at, 1);
}

// Text of the "text" blocks of a Converse content array.
void append_blocks_text(std::string& out, const json::value& content) {
  if (!content.is_array()) return;
  for (const json::value& b : content.get_array()) {
    const json::object* o = b.if_object();
    const json::value* t = o ? o->if_contains("text") : nullptr;
    if (!t || !t->is_string()) continue;
    if (!out.empty()) out += ' ';
    out += t->get_string();
  }
}

class BedrockFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "bedrock"; }
  bool matches(std::string_view path) const override { return !model_of(path, nullptr).empty(); }
  Result<MockTurn> parse(std::string_view target, const Headers& headers,
                         std::string_view body) const override;
  std::string whole(const MockScript& s) const override;
  std::string_view stream_content_type() const override {
    return "application/vnd.amazon.eventstream";
  }
  void stream_start(std::string& out, const MockScript& s) const override;
  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override;
  void stream_end(std::string& out, const MockScript& s) const override;
  std::string error_body(const ApiError& e) const override {
    std::string out = R"({"message":")";
    append_json_escaped(out, e.message);
    out += "\"}";
    return out;
  }

 private:
  static int text_block(const MockScript& s) { return s.thinking ? 1 : 0; }
};

Result<MockTurn> BedrockFormat::parse(std::string_view target, const Headers& headers,
                                      std::string_view body) const {
  if (!find_header(headers, "authorization").starts_with("AWS4-HMAC-SHA256 Credential=") ||
      find_header(headers, "x-amz-date").empty())
    return ApiError::permission("missing AWS SigV4 authorization (Authorization, X-Amz-Date)");
  MockTurn turn;
  turn.model = model_of(target.substr(0, target.find('?')), &turn.stream);
  turn.include_usage = true;  // ConverseStream always ends with a metadata event

  json::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec) return ApiError::invalid_request("malformed JSON in request body: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("request body must be a JSON object");
  const json::value* messages = req->if_contains("messages");
  if (!messages || !messages->is_array())
    return ApiError::invalid_request("'messages' is required and must be an array", "messages");

  std::string all;  // every text, for the prompt estimate
  if (const json::value* system = req->if_contains("system")) append_blocks_text(all, *system);
  const json::array& list = messages->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json::object* m = list[i].if_object();
    if (!m) return ApiError::invalid_request("each message must be an object", "messages");
    const json::value* role = m->if_contains("role");
    const json::value* content = m->if_contains("content");
    if (!role || !role->is_string() || !content || !content->is_array())
      return ApiError::invalid_request("a message needs a role and a content array", "messages");
    append_blocks_text(all, *content);
    bool tool_result = false;
    for (const json::value& b : content->get_array()) {
      const json::object* o = b.if_object();
      if (!o) continue;
      if (o->contains("image")) ++turn.images;
      if (const json::value* tr = o->if_contains("toolResult"); tr && tr->is_object()) {
        tool_result = true;
        if (const json::value* c = tr->get_object().if_contains("content"))
          append_blocks_text(all, *c);
      }
    }
    if (i + 1 == list.size()) turn.last_is_tool_result = tool_result;
    if (role->get_string() == "user") {
      std::string text;
      append_blocks_text(text, *content);
      if (!text.empty()) turn.last_user_text = std::move(text);
    }
  }
  turn.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>(all.size() / 4));

  if (const json::value* ic = req->if_contains("inferenceConfig"); ic && ic->is_object())
    if (const json::value* mt = ic->get_object().if_contains("maxTokens"); mt && mt->is_int64())
      turn.max_tokens = mt->get_int64();
  if (const json::value* tc = req->if_contains("toolConfig"); tc && tc->is_object()) {
    const json::object& cfg = tc->get_object();
    const json::value* tools = cfg.if_contains("tools");
    if (tools && tools->is_array() && !tools->get_array().empty()) {
      const json::value& first = tools->get_array().front();
      const json::value* spec = first.is_object() ? first.get_object().if_contains("toolSpec")
                                                  : nullptr;
      const json::value* name = spec && spec->is_object() ? spec->get_object().if_contains("name")
                                                          : nullptr;
      if (const json::value* choice = cfg.if_contains("toolChoice"); choice && choice->is_object())
        if (const json::value* t = choice->get_object().if_contains("tool"); t && t->is_object())
          if (const json::value* n = t->get_object().if_contains("name")) name = n;
      if (name && name->is_string()) turn.tool_name = name->get_string();
    }
  }
  if (const json::value* extra = req->if_contains("additionalModelRequestFields");
      extra && extra->is_object())
    turn.thinking = extra->get_object().contains("thinking");
  if (const json::value* mock = req->if_contains("mock")) turn.knobs = *mock;
  return turn;
}

std::string BedrockFormat::whole(const MockScript& s) const {
  std::string out;
  out.reserve(300 + s.tool_args.size() + static_cast<std::size_t>(s.content_words) * 8);
  out += R"({"output":{"message":{"role":"assistant","content":[)";
  bool first = true;
  if (s.thinking) {
    out += R"({"reasoningContent":{"reasoningText":{"text":")";
    append_json_escaped(out, kMockThinking);
    out += R"(","signature":")";
    out += kMockSignature;
    out += R"("}}})";
    first = false;
  }
  if (!s.tool_name.empty()) {
    if (!first) out += ',';
    out += R"({"toolUse":{"toolUseId":")";
    out += kToolUseId;
    out += R"(","name":")";
    append_json_escaped(out, s.tool_name);
    out += R"(","input":)";
    out += s.tool_args;  // already a JSON object text
    out += "}}";
  } else if (!s.blocked) {
    if (!first) out += ',';
    out += R"({"text":")";
    if (s.words && s.content_words > 0) s.words->append(out, 0, s.content_words);
    out += "\"}";
  }
  out += R"(]}},"stopReason":")";
  out += stop_reason(s);
  out += R"(","usage":)";
  append_usage(out, s);
  out += R"(,"metrics":{"latencyMs":1}})";
  return out;
}

void BedrockFormat::stream_start(std::string& out, const MockScript& s) const {
  frame(out, "messageStart", R"({"role":"assistant"})");
  if (!s.thinking) return;
  const std::size_t cut = kMockThinking.find(' ', kMockThinking.size() / 2) + 1;
  for (std::string_view part : {kMockThinking.substr(0, cut), kMockThinking.substr(cut)}) {
    std::string p = R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":")";
    append_json_escaped(p, part);
    p += R"("}}})";
    frame(out, "contentBlockDelta", p);
  }
  std::string sig = R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":")";
  sig += kMockSignature;
  sig += R"("}}})";
  frame(out, "contentBlockDelta", sig);
  frame(out, "contentBlockStop", R"({"contentBlockIndex":0})");
}

void BedrockFormat::stream_text(std::string& out, const MockScript& s, std::int64_t first,
                                std::int64_t count) const {
  std::string p = R"({"contentBlockIndex":)";
  append_int(p, text_block(s));
  p += R"(,"delta":{"text":")";
  if (s.words && count > 0) s.words->append(p, first, count);
  p += R"("}})";
  frame(out, "contentBlockDelta", p);
}

void BedrockFormat::stream_end(std::string& out, const MockScript& s) const {
  const int block = text_block(s);
  if (!s.tool_name.empty()) {
    std::string p = R"({"contentBlockIndex":)";
    append_int(p, block);
    p += R"(,"start":{"toolUse":{"toolUseId":")";
    p += kToolUseId;
    p += R"(","name":")";
    append_json_escaped(p, s.tool_name);
    p += R"("}}})";
    frame(out, "contentBlockStart", p);
    const std::string_view args = s.tool_args;
    const std::size_t cut = split_point(args);
    for (std::string_view part : {args.substr(0, cut), args.substr(cut)}) {
      p = R"({"contentBlockIndex":)";
      append_int(p, block);
      p += R"(,"delta":{"toolUse":{"input":")";
      append_json_escaped(p, part);
      p += R"("}}})";
      frame(out, "contentBlockDelta", p);
    }
  }
  if (!s.blocked) {
    std::string p = R"({"contentBlockIndex":)";
    append_int(p, block);
    p += '}';
    frame(out, "contentBlockStop", p);
  }
  std::string stop = R"({"stopReason":")";
  stop += stop_reason(s);
  stop += "\"}";
  frame(out, "messageStop", stop);
  std::string meta = R"({"usage":)";
  append_usage(meta, s);
  meta += R"(,"metrics":{"latencyMs":1}})";
  frame(out, "metadata", meta);
}

}  // namespace

const MockFormat& mock_bedrock_format() {
  static const BedrockFormat format;
  return format;
}

}  // namespace torii
