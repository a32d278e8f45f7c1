// The Anthropic Messages encoders: a canonical answer → the Messages body, canonical stream
// events → Anthropic's SSE sequence. JSON is written by hand (the shapes are fixed and small);
// strings go through one escaper, and a tool call's arguments are embedded as they are once
// checked to be a JSON object.
#include <atomic>
#include <cstdio>
#include <chrono>
#include <vector>

#include <boost/json/parse.hpp>

#include "api/anthropic_messages.h"
#include "core/json_text.h"

namespace torii {
namespace json = boost::json;

namespace {

void append_int(std::string& out, int64_t v) { append_json_int(out, v); }

// "msg_" + the upstream id; a fresh one when the upstream gave none.
std::string message_id(std::string_view id) {
  if (id.empty()) {
    static std::atomic<uint64_t> counter{0};
    auto now = std::chrono::system_clock::now().time_since_epoch().count();
    char buf[48];
    int n = std::snprintf(buf, sizeof buf, "msg_torii%llx%llx",
                          static_cast<unsigned long long>(now),
                          static_cast<unsigned long long>(counter.fetch_add(1)));
    return std::string(buf, static_cast<std::size_t>(n));
  }
  if (id.substr(0, 4) == "msg_") return std::string(id);
  std::string out = "msg_";
  out.append(id);
  return out;
}

int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

// Anthropic's usage object (input_tokens excludes cache reads and writes). Fields the upstream
// did not report are written as 0, as Anthropic's are numbers; reasoning tokens go to
// output_tokens_details.thinking_tokens when known.
void append_usage(std::string& out, const Usage& u) {
  int64_t input = nonneg(u.prompt_tokens) - nonneg(u.cached_tokens) - nonneg(u.cache_write_tokens);
  out.append(R"({"input_tokens":)");
  append_int(out, nonneg(input));
  out.append(R"(,"output_tokens":)");
  append_int(out, nonneg(u.completion_tokens));
  out.append(R"(,"cache_read_input_tokens":)");
  append_int(out, nonneg(u.cached_tokens));
  out.append(R"(,"cache_creation_input_tokens":)");
  append_int(out, nonneg(u.cache_write_tokens));
  if (u.reasoning_tokens >= 0) {
    out.append(R"(,"output_tokens_details":{"thinking_tokens":)");
    append_int(out, u.reasoning_tokens);
    out.push_back('}');
  }
  out.push_back('}');
}

// A tool call's input: the arguments when they are a JSON object, else {} (Anthropic's input
// is always an object; a provider's malformed arguments cannot be represented).
void append_tool_input(std::string& out, std::string_view arguments) {
  boost::system::error_code ec;
  json::value v = json::parse(arguments, ec);
  if (ec || !v.is_object()) {
    out.append("{}");
    return;
  }
  out.append(arguments);
}

void append_block(std::string& out, const Part& p) {
  switch (p.kind) {
    case Part::Kind::text:
      out.append(R"({"type":"text","text":)");
      append_json_string(out, p.text);
      break;
    case Part::Kind::thinking:
      out.append(R"({"type":"thinking","thinking":)");
      append_json_string(out, p.text);
      out.append(R"(,"signature":)");
      append_json_string(out, p.signature);
      break;
    case Part::Kind::redacted_thinking:
      out.append(R"({"type":"redacted_thinking","data":)");
      append_json_string(out, p.data);
      break;
    case Part::Kind::tool_call:
      out.append(R"({"type":"tool_use","id":)");
      append_json_string(out, p.id);
      out.append(R"(,"name":)");
      append_json_string(out, p.name);
      out.append(R"(,"input":)");
      append_tool_input(out, p.arguments);
      break;
    default:
      return;  // not an output kind
  }
  out.push_back('}');
}

void append_event(std::string& out, std::string_view name, std::string_view data) {
  out.append("event: ").append(name).append("\ndata: ").append(data).append("\n\n");
}

class AnthropicStreamEncoder final : public StreamEncoder {
 public:
  explicit AnthropicStreamEncoder(const InboundInfo& info) : model_(info.model) {}

  void event(const StreamEvent& e) override {
    using K = StreamEvent::Kind;
    switch (e.kind) {
      case K::start:
        if (!e.name.empty()) model_ = std::string(e.name);  // start: name = the model
        ensure_started(e.id);
        break;
      case K::text:
        if (e.text.empty()) break;
        open(Block::text, R"({"type":"text","text":""})");
        delta(open_index_, R"({"type":"text_delta","text":)", e.text);
        break;
      case K::thinking:
        if (e.text.empty()) break;
        open(Block::thinking, R"({"type":"thinking","thinking":""})");
        delta(open_index_, R"({"type":"thinking_delta","thinking":)", e.text);
        break;
      case K::thinking_signature:
        if (e.text.empty()) break;
        open(Block::thinking, R"({"type":"thinking","thinking":""})");
        delta(open_index_, R"({"type":"signature_delta","signature":)", e.text);
        signed_ = true;
        break;
      case K::redacted_thinking: {
        std::string block = R"({"type":"redacted_thinking","data":)";
        append_json_string(block, e.text);
        block.push_back('}');
        open(Block::redacted, block, /*always_new=*/true);
        close();
        break;
      }
      case K::tool_call_start:
        start_tool(e.index, e.id, e.name);
        break;
      case K::tool_call_args: {
        if (e.text.empty()) break;
        int block = tool_block(e.index);
        if (block < 0) block = start_tool(e.index, {}, {});
        // Args for a tool whose block was already closed still go to that block's index
        // (clients accumulate by index); providers send one tool's args before the next's.
        delta(block, R"({"type":"input_json_delta","partial_json":)", e.text);
        break;
      }
      case K::finish:
        ensure_started({});
        close();
        stop_sequence_ = std::string(e.id);
        stop_reason_ = anthropic_stop_reason(e.finish, e.text, !e.id.empty());
        finished_ = true;
        if (usage_.known()) message_delta();
        break;
      case K::usage:
        usage_ = e.usage;
        if (finished_) message_delta();
        break;
    }
  }

  void raw(std::string_view name, std::string_view data, bool) override {
    passthrough_ = true;
    if (name == "message_stop") stopped_ = true;
    if (!name.empty()) out.append("event: ").append(name).push_back('\n');
    // One "data:" line per line of data (SSE framing); Anthropic's data is one JSON line.
    std::size_t pos = 0;
    for (;;) {
      std::size_t nl = data.find('\n', pos);
      out.append("data: ").append(data.substr(pos, nl == std::string_view::npos ? nl : nl - pos));
      out.push_back('\n');
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    out.push_back('\n');
  }

  void finish() override {
    if (stopped_) return;
    if (!passthrough_) {
      ensure_started({});
      close();
      if (!delta_sent_) message_delta();
    }
    append_event(out, "message_stop", R"({"type":"message_stop"})");
    stopped_ = true;
  }

  void fail(const ApiError& e) override {
    if (stopped_) return;
    append_event(out, "error", to_anthropic_json(e));
    stopped_ = true;
  }

 private:
  enum class Block : uint8_t { none, text, thinking, tool, redacted };

  void ensure_started(std::string_view id) {
    if (started_) return;
    started_ = true;
    std::string d = R"({"type":"message_start","message":{"id":)";
    append_json_string(d, message_id(id));
    d.append(R"(,"type":"message","role":"assistant","model":)");
    append_json_string(d, model_);
    // Usage usually arrives at the end: zeros here, the real figures in message_delta.
    d.append(R"(,"content":[],"stop_reason":null,"stop_sequence":null,)"
             R"("usage":{"input_tokens":0,"output_tokens":0}}})");
    append_event(out, "message_start", d);
  }

  // Makes a block of `kind` the open one (closing another kind first).
  void open(Block kind, std::string_view block_json, bool always_new = false) {
    ensure_started({});
    if (open_ == kind && !always_new) return;
    close();
    open_ = kind;
    open_index_ = next_index_++;
    std::string d = R"({"type":"content_block_start","index":)";
    append_int(d, open_index_);
    d.append(R"(,"content_block":)").append(block_json).push_back('}');
    append_event(out, "content_block_start", d);
  }

  void close() {
    if (open_ == Block::none) return;
    // Every thinking block ends with a signature (the SDK's type requires one). A provider
    // that signs nothing (OpenAI-format reasoning) gets "", as in the whole answer.
    if (open_ == Block::thinking && !signed_)
      delta(open_index_, R"({"type":"signature_delta","signature":)", "");
    signed_ = false;
    std::string d = R"({"type":"content_block_stop","index":)";
    append_int(d, open_index_);
    d.push_back('}');
    append_event(out, "content_block_stop", d);
    open_ = Block::none;
  }

  void delta(int index, std::string_view head, std::string_view text) {
    std::string d = R"({"type":"content_block_delta","index":)";
    append_int(d, index);
    d.append(R"(,"delta":)").append(head);
    append_json_string(d, text);
    d.append("}}");
    append_event(out, "content_block_delta", d);
  }

  int tool_block(int tool) const {
    return tool >= 0 && static_cast<std::size_t>(tool) < tool_blocks_.size() ? tool_blocks_[tool]
                                                                               : -1;
  }

  int start_tool(int tool, std::string_view id, std::string_view name) {
    std::string block = R"({"type":"tool_use","id":)";
    append_json_string(block, id);
    block.append(R"(,"name":)");
    append_json_string(block, name);
    block.append(R"(,"input":{}})");
    open(Block::tool, block, /*always_new=*/true);
    if (tool >= 0) {
      if (tool_blocks_.size() <= static_cast<std::size_t>(tool)) tool_blocks_.resize(tool + 1, -1);
      tool_blocks_[tool] = open_index_;
    }
    return open_index_;
  }

  void message_delta() {
    if (delta_sent_) return;
    delta_sent_ = true;
    std::string d = R"({"type":"message_delta","delta":{"stop_reason":)";
    append_json_string(d, stop_reason_.empty() ? std::string_view("end_turn") : stop_reason_);
    d.append(R"(,"stop_sequence":)");
    if (stop_sequence_.empty()) d.append("null");
    else append_json_string(d, stop_sequence_);
    d.append(R"(},"usage":)");
    append_usage(d, usage_);
    d.push_back('}');
    append_event(out, "message_delta", d);
  }

  std::string model_;
  bool started_ = false;
  bool finished_ = false;
  bool delta_sent_ = false;
  bool stopped_ = false;
  bool passthrough_ = false;
  Block open_ = Block::none;
  int open_index_ = -1;
  bool signed_ = false;  // the open thinking block got its signature
  int next_index_ = 0;
  std::vector<int> tool_blocks_;  // tool call ordinal → block index
  std::string_view stop_reason_;  // a static string (anthropic_stop_reason)
  std::string stop_sequence_;
  Usage usage_;
};

}  // namespace

std::string encode_anthropic_message(const ChatResult& r) {
  std::string out;
  out.reserve(256);
  out.append(R"({"id":)");
  append_json_string(out, message_id(r.id));
  out.append(R"(,"type":"message","role":"assistant","model":)");
  append_json_string(out, r.model);
  out.append(R"(,"content":[)");
  bool first = true;
  bool has_text = false;
  for (const Part& p : r.parts) {
    if (p.kind != Part::Kind::text && p.kind != Part::Kind::thinking &&
        p.kind != Part::Kind::redacted_thinking && p.kind != Part::Kind::tool_call)
      continue;
    has_text = has_text || p.kind == Part::Kind::text;
    if (!first) out.push_back(',');
    first = false;
    append_block(out, p);
  }
  if (!r.refusal.empty() && !has_text) {  // OpenAI's refusal is the answer's text
    if (!first) out.push_back(',');
    append_block(out, Part::make_text(r.refusal));
  }
  out.append(R"(],"stop_reason":)");
  append_json_string(out, anthropic_stop_reason(r.finish, r.native_finish, !r.stop_sequence.empty()));
  out.append(R"(,"stop_sequence":)");
  if (r.stop_sequence.empty()) out.append("null");
  else append_json_string(out, r.stop_sequence);
  out.append(R"(,"usage":)");
  append_usage(out, r.usage);
  out.push_back('}');
  return out;
}

std::unique_ptr<StreamEncoder> make_anthropic_stream_encoder(const InboundInfo& info) {
  return std::make_unique<AnthropicStreamEncoder>(info);
}

}  // namespace torii
