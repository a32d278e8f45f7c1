// The OpenAI Responses format of `torii mock` (POST /v1/responses): a Response object, or the
// typed SSE events (`event:` names, increasing sequence_number, no [DONE]). Written from the
// public OpenAI API reference, independently of the gateway's Responses codec in src/api/.
// The JSON is written by hand, as in mock_openai.cpp: the words are stored escaped already.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include <boost/json.hpp>

#include "tools/mock/mock_format.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kToolCallId = "call_mock_1";

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Where to cut `s` in two non-empty fragments without splitting a UTF-8 sequence.
std::size_t split_point(std::string_view s) {
  std::size_t at = s.size() / 2;
  while (at > 1 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return std::max<std::size_t>(at, 1);
}

// A non-negative integer field, absent or null = nullopt; anything else is a 400.
Result<std::optional<std::int64_t>> optional_count(const json::object& req,
                                                   std::string_view name) {
  const json::value* v = req.if_contains(name);
  if (!v || v->is_null()) return std::optional<std::int64_t>{};
  if (v->is_int64() && v->get_int64() >= 0) return std::optional<std::int64_t>{v->get_int64()};
  if (v->is_uint64()) return std::optional<std::int64_t>{INT64_MAX};
  return ApiError::invalid_request("'" + std::string(name) + "' must be a non-negative integer",
                                   std::string(name));
}

std::string_view string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// The shape of one answer: which output items it has, at which output_index.
struct Layout {
  bool reasoning = false;  // a reasoning item first
  bool message = false;    // a message item with one output_text part
  bool call = false;       // a function_call item
  int answer_index = 0;    // output_index of the message or function call
  std::int64_t deltas = 0; // output_text.delta events in a stream
  int start_events = 0;    // events written by stream_start

  explicit Layout(const MockScript& s) {
    reasoning = s.thinking;
    call = !s.tool_name.empty();
    message = !call && !s.blocked;
    answer_index = reasoning ? 1 : 0;
    // Every content chunk with words is one delta; chunks carry no word when tokens_per_chunk
    // is 0, and stream_text then writes nothing.
    if (message && s.tokens_per_chunk > 0)
      deltas = (s.content_words + s.tokens_per_chunk - 1) / s.tokens_per_chunk;
    start_events = 2 + (reasoning ? 7 : 0) + (message ? 2 : 0);
  }
};

bool incomplete(const MockScript& s) { return s.truncated || s.blocked; }

// "event: T\ndata: {"type":"T","sequence_number":N" : end_event closes the object.
void begin_event(std::string& out, std::string_view type, std::int64_t& seq) {
  out += "event: ";
  out += type;
  out += "\ndata: {\"type\":\"";
  out += type;
  out += "\",\"sequence_number\":";
  append_int(out, seq++);
}

void end_event(std::string& out) { out += "}\n\n"; }

void append_item_id(std::string& out, std::string_view prefix, const MockScript& s) {
  out += '"';
  out += prefix;
  append_json_escaped(out, s.id);
  out += '"';
}

void append_reasoning_item(std::string& out, const MockScript& s, bool done) {
  out += R"({"id":)";
  append_item_id(out, "rs_", s);
  out += R"(,"type":"reasoning","summary":[)";
  if (done) {
    out += R"({"type":"summary_text","text":")";
    append_json_escaped(out, kMockThinking);
    out += R"("}],"encrypted_content":")";
    append_json_escaped(out, kMockSignature);
    out += R"("})";
  } else {
    out += "]}";
  }
}

void append_text_part(std::string& out, const MockScript& s, bool done) {
  out += R"({"type":"output_text","text":")";
  if (done && s.words && s.content_words > 0) s.words->append(out, 0, s.content_words);
  out += R"(","annotations":[]})";
}

void append_message_item(std::string& out, const MockScript& s, bool done) {
  out += R"({"id":)";
  append_item_id(out, "msg_", s);
  out += R"(,"type":"message","status":")";
  out += !done ? "in_progress" : s.truncated ? "incomplete" : "completed";
  out += R"(","role":"assistant","content":[)";
  if (done) append_text_part(out, s, true);
  out += "]}";
}

void append_call_item(std::string& out, const MockScript& s, bool done) {
  out += R"({"id":)";
  append_item_id(out, "fc_", s);
  out += R"(,"type":"function_call","status":")";
  out += done ? "completed" : "in_progress";
  out += R"(","call_id":")";
  out += kToolCallId;
  out += R"(","name":")";
  append_json_escaped(out, s.tool_name);
  out += R"(","arguments":")";
  if (done) append_json_escaped(out, s.tool_args);
  out += R"("})";
}

void append_usage(std::string& out, const MockScript& s) {
  out += R"({"input_tokens":)";
  append_int(out, s.prompt_tokens);
  out += R"(,"input_tokens_details":{"cached_tokens":)";
  append_int(out, s.cached_tokens);
  out += R"(},"output_tokens":)";
  append_int(out, s.completion_tokens);
  out += R"(,"output_tokens_details":{"reasoning_tokens":)";
  append_int(out, s.reasoning_tokens);
  out += R"(},"total_tokens":)";
  append_int(out, s.prompt_tokens + s.completion_tokens);
  out += '}';
}

// The Response object: in progress (no output, no usage) or final (the whole answer).
void append_response(std::string& out, const MockScript& s, bool final) {
  const Layout l(s);
  out += R"({"id":)";
  append_item_id(out, "resp_", s);
  out += R"(,"object":"response","created_at":)";
  append_int(out, s.created);
  out += R"(,"status":")";
  out += !final ? "in_progress" : incomplete(s) ? "incomplete" : "completed";
  out += R"(","error":null,"incomplete_details":)";
  if (final && incomplete(s)) {
    out += R"({"reason":")";
    out += s.blocked ? "content_filter" : "max_output_tokens";
    out += R"("})";
  } else {
    out += "null";
  }
  out += R"(,"model":")";
  append_json_escaped(out, s.model);
  out += R"(","output":[)";
  if (final) {
    if (l.reasoning) append_reasoning_item(out, s, true);
    if (l.reasoning && (l.message || l.call)) out += ',';
    if (l.message) append_message_item(out, s, true);
    if (l.call) append_call_item(out, s, true);  // never with a message
  }
  out += R"(],"usage":)";
  if (final) append_usage(out, s);
  else out += "null";
  out += '}';
}

// "item_id":"<prefix><id>","output_index":N
void append_item_ref(std::string& out, std::string_view prefix, const MockScript& s, int index) {
  out += R"(,"item_id":)";
  append_item_id(out, prefix, s);
  out += R"(,"output_index":)";
  append_int(out, index);
}

class ResponsesFormat final : public MockFormat {
 public:
  std::string_view name() const override { return "openai-responses"; }
  bool matches(std::string_view path) const override {
    return path == "/v1/responses" || path == "/responses";
  }
  Result<MockTurn> parse(std::string_view target, const Headers& headers,
                         std::string_view body) const override;
  std::string whole(const MockScript& s) const override {
    std::string out;
    out.reserve(600 + s.model.size() + s.tool_args.size() * 2 +
                static_cast<std::size_t>(s.content_words) * 8);
    append_response(out, s, true);
    return out;
  }
  void stream_start(std::string& out, const MockScript& s) const override;
  void stream_text(std::string& out, const MockScript& s, std::int64_t first,
                   std::int64_t count) const override;
  void stream_end(std::string& out, const MockScript& s) const override;
  std::string error_body(const ApiError& e) const override { return to_openai_json(e); }
};

// Adds one input item to the turn: its text to `bytes` (the prompt estimate), a user
// message's text to the last user text, its images to the count.
void read_item(const json::object& item, MockTurn& turn, std::int64_t& bytes) {
  std::string_view type = string_field(item, "type");
  if (type.empty() && item.contains("role")) type = "message";  // the "easy" message form
  if (type == "message") {
    const json::value* content = item.if_contains("content");
    if (!content) return;
    std::string text;
    append_message_text(text, *content);
    bytes += std::int64_t(text.size());
    if (string_field(item, "role") == "user") turn.last_user_text = std::move(text);
    if (const json::array* parts = content->if_array()) {
      for (const json::value& p : *parts) {
        const json::object* o = p.if_object();
        if (o && string_field(*o, "type") == "input_image") ++turn.images;
      }
    }
  } else if (type == "function_call") {
    bytes += std::int64_t(string_field(item, "name").size());
    bytes += std::int64_t(string_field(item, "arguments").size());
  } else if (type == "function_call_output") {
    if (const json::value* output = item.if_contains("output")) {
      if (output->is_string()) {
        bytes += std::int64_t(output->get_string().size());
      } else {
        std::string text;
        append_message_text(text, *output);
        bytes += std::int64_t(text.size());
      }
    }
  }
}

Result<MockTurn> ResponsesFormat::parse(std::string_view, const Headers&,
                                        std::string_view body) const {
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  const json::value doc = json::parse(body, ec, &mr);
  if (ec) return ApiError::invalid_request("malformed JSON in request body: " + ec.message());
  const json::object* req = doc.if_object();
  if (!req) return ApiError::invalid_request("request body must be a JSON object");

  MockTurn turn;
  turn.include_usage = true;  // a Response always carries its usage
  const json::value* model = req->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    return ApiError::invalid_request("'model' is required and must be a string", "model");
  turn.model = model->get_string();
  if (const json::value* s = req->if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool()) return ApiError::invalid_request("'stream' must be a boolean", "stream");
    turn.stream = s->get_bool();
  }
  auto max_tokens = optional_count(*req, "max_output_tokens");
  if (!max_tokens) return max_tokens.error();
  turn.max_tokens = *max_tokens;

  std::int64_t bytes = 0;
  if (const json::value* in = req->if_contains("instructions"); in && in->is_string())
    bytes += std::int64_t(in->get_string().size());
  // input is optional in the API (previous_response_id, prompt templates): absent = no words.
  if (const json::value* input = req->if_contains("input"); input && !input->is_null()) {
    if (input->is_string()) {
      turn.last_user_text = input->get_string();
      bytes += std::int64_t(turn.last_user_text.size());
    } else if (const json::array* items = input->if_array()) {
      for (const json::value& v : *items) {
        const json::object* item = v.if_object();
        if (!item)
          return ApiError::invalid_request("'input' items must be objects", "input");
        read_item(*item, turn, bytes);
      }
      const json::object* last = items->empty() ? nullptr : items->back().if_object();
      turn.last_is_tool_result = last && string_field(*last, "type") == "function_call_output";
    } else {
      return ApiError::invalid_request("'input' must be a string or an array of items",
                                       "input");
    }
  }
  turn.prompt_tokens = std::max<std::int64_t>(1, (bytes + 3) / 4);

  const json::value* choice = req->if_contains("tool_choice");
  const bool no_tools = choice && choice->is_string() && choice->get_string() == "none";
  const json::value* tools = req->if_contains("tools");
  if (!no_tools && tools && tools->is_array()) {
    // tool_choice {"type":"function","name"} picks the tool; else the first function tool.
    const json::object* forced = choice ? choice->if_object() : nullptr;
    if (forced && string_field(*forced, "type") == "function")
      turn.tool_name = string_field(*forced, "name");
    for (const json::value& t : tools->get_array()) {
      if (!turn.tool_name.empty()) break;
      const json::object* o = t.if_object();
      if (o && string_field(*o, "type") == "function") turn.tool_name = string_field(*o, "name");
    }
  }
  if (const json::value* r = req->if_contains("reasoning"); r && r->is_object()) {
    const std::string_view effort = string_field(r->get_object(), "effort");
    turn.thinking = !effort.empty() && effort != "none";
  }
  if (const json::value* mock = req->if_contains("mock"))
    turn.knobs = json::value(*mock, json::storage_ptr());  // off the stack buffer
  return turn;
}

void ResponsesFormat::stream_start(std::string& out, const MockScript& s) const {
  const Layout l(s);
  std::int64_t seq = 0;
  for (std::string_view type : {"response.created", "response.in_progress"}) {
    begin_event(out, type, seq);
    out += R"(,"response":)";
    append_response(out, s, false);
    end_event(out);
  }
  if (l.reasoning) {
    begin_event(out, "response.output_item.added", seq);
    out += R"(,"output_index":0,"item":)";
    append_reasoning_item(out, s, false);
    end_event(out);
    begin_event(out, "response.reasoning_summary_part.added", seq);
    append_item_ref(out, "rs_", s, 0);
    out += R"(,"summary_index":0,"part":{"type":"summary_text","text":""})";
    end_event(out);
    const std::size_t cut = split_point(kMockThinking);
    for (std::string_view part : {kMockThinking.substr(0, cut), kMockThinking.substr(cut)}) {
      begin_event(out, "response.reasoning_summary_text.delta", seq);
      append_item_ref(out, "rs_", s, 0);
      out += R"(,"summary_index":0,"delta":")";
      append_json_escaped(out, part);
      out += '"';
      end_event(out);
    }
    begin_event(out, "response.reasoning_summary_text.done", seq);
    append_item_ref(out, "rs_", s, 0);
    out += R"(,"summary_index":0,"text":")";
    append_json_escaped(out, kMockThinking);
    out += '"';
    end_event(out);
    begin_event(out, "response.reasoning_summary_part.done", seq);
    append_item_ref(out, "rs_", s, 0);
    out += R"(,"summary_index":0,"part":{"type":"summary_text","text":")";
    append_json_escaped(out, kMockThinking);
    out += R"("})";
    end_event(out);
    begin_event(out, "response.output_item.done", seq);
    out += R"(,"output_index":0,"item":)";
    append_reasoning_item(out, s, true);
    end_event(out);
  }
  if (l.message) {
    begin_event(out, "response.output_item.added", seq);
    out += R"(,"output_index":)";
    append_int(out, l.answer_index);
    out += R"(,"item":)";
    append_message_item(out, s, false);
    end_event(out);
    begin_event(out, "response.content_part.added", seq);
    append_item_ref(out, "msg_", s, l.answer_index);
    out += R"(,"content_index":0,"part":)";
    append_text_part(out, s, false);
    end_event(out);
  }
}

void ResponsesFormat::stream_text(std::string& out, const MockScript& s, std::int64_t first,
                                  std::int64_t count) const {
  const Layout l(s);
  if (!l.message || count <= 0 || s.tokens_per_chunk <= 0 || !s.words) return;
  std::int64_t seq = l.start_events + first / s.tokens_per_chunk;
  begin_event(out, "response.output_text.delta", seq);
  append_item_ref(out, "msg_", s, l.answer_index);
  out += R"(,"content_index":0,"delta":")";
  s.words->append(out, first, count);
  out += R"(","logprobs":[])";
  end_event(out);
}

void ResponsesFormat::stream_end(std::string& out, const MockScript& s) const {
  const Layout l(s);
  std::int64_t seq = l.start_events + l.deltas;
  if (l.message) {
    begin_event(out, "response.output_text.done", seq);
    append_item_ref(out, "msg_", s, l.answer_index);
    out += R"(,"content_index":0,"text":")";
    if (s.words && s.content_words > 0) s.words->append(out, 0, s.content_words);
    out += R"(","logprobs":[])";
    end_event(out);
    begin_event(out, "response.content_part.done", seq);
    append_item_ref(out, "msg_", s, l.answer_index);
    out += R"(,"content_index":0,"part":)";
    append_text_part(out, s, true);
    end_event(out);
    begin_event(out, "response.output_item.done", seq);
    out += R"(,"output_index":)";
    append_int(out, l.answer_index);
    out += R"(,"item":)";
    append_message_item(out, s, true);
    end_event(out);
  }
  if (l.call) {
    begin_event(out, "response.output_item.added", seq);
    out += R"(,"output_index":)";
    append_int(out, l.answer_index);
    out += R"(,"item":)";
    append_call_item(out, s, false);
    end_event(out);
    const std::string_view args = s.tool_args;
    const std::size_t cut = split_point(args);
    for (std::string_view part : {args.substr(0, cut), args.substr(cut)}) {
      begin_event(out, "response.function_call_arguments.delta", seq);
      append_item_ref(out, "fc_", s, l.answer_index);
      out += R"(,"delta":")";
      append_json_escaped(out, part);
      out += '"';
      end_event(out);
    }
    begin_event(out, "response.function_call_arguments.done", seq);
    append_item_ref(out, "fc_", s, l.answer_index);
    out += R"(,"name":")";
    append_json_escaped(out, s.tool_name);
    out += R"(","arguments":")";
    append_json_escaped(out, args);
    out += '"';
    end_event(out);
    begin_event(out, "response.output_item.done", seq);
    out += R"(,"output_index":)";
    append_int(out, l.answer_index);
    out += R"(,"item":)";
    append_call_item(out, s, true);
    end_event(out);
  }
  // The terminal event names the final status, as the API does (no [DONE] in this format).
  begin_event(out, incomplete(s) ? "response.incomplete" : "response.completed", seq);
  out += R"(,"response":)";
  append_response(out, s, true);
  end_event(out);
}

}  // namespace

const MockFormat& mock_responses_format() {
  static const ResponsesFormat format;
  return format;
}

}  // namespace torii
