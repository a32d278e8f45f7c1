// The OpenAI Responses stream encoder: the SSE event sequence (names, sequence numbers, item
// and content indexes), the final response equal to the non-streamed one, failures and
// passthrough re-framing.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/inbound.h"
#include "api/openai_responses.h"

namespace torii {
namespace {
namespace json = boost::json;

struct Sse {
  std::string event;
  json::object data;
};

// Splits encoder output into events; fails the test on anything that is not
// "event: X\ndata: {json}\n\n".
std::vector<Sse> parse_sse(const std::string& out) {
  std::vector<Sse> events;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto end = out.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << pos;
    if (end == std::string::npos) break;
    std::string_view block(out.data() + pos, end - pos);
    pos = end + 2;
    Sse e;
    EXPECT_TRUE(block.starts_with("event: ")) << block;
    auto nl = block.find('\n');
    e.event = std::string(block.substr(7, nl - 7));
    std::string_view data = block.substr(nl + 1);
    EXPECT_TRUE(data.starts_with("data: ")) << block;
    boost::system::error_code ec;
    json::value v = json::parse(data.substr(6), ec);
    EXPECT_FALSE(ec) << "bad JSON: " << data;
    if (!ec && v.is_object()) e.data = v.as_object();
    events.push_back(std::move(e));
  }
  return events;
}

std::vector<std::string> names(const std::vector<Sse>& events) {
  std::vector<std::string> n;
  for (const auto& e : events) n.push_back(e.event);
  return n;
}

// Feeds events to a fresh encoder and returns it (output in ->out).
struct Feed {
  std::unique_ptr<StreamEncoder> enc;
  Feed() {
    InboundInfo info;
    info.model = "local/mock-1";
    info.stream = true;
    enc = openai_responses_codec().stream_encoder(info);
  }
  Feed& start(std::string_view id, std::string_view model) {
    StreamEvent e;
    e.kind = StreamEvent::Kind::start;
    e.id = id;
    e.name = model;
    enc->event(e);
    return *this;
  }
  Feed& ev(StreamEvent::Kind k, std::string_view text, int index = 0) {
    StreamEvent e;
    e.kind = k;
    e.text = text;
    e.index = index;
    enc->event(e);
    return *this;
  }
  Feed& tool(int index, std::string_view id, std::string_view name) {
    StreamEvent e;
    e.kind = StreamEvent::Kind::tool_call_start;
    e.index = index;
    e.id = id;
    e.name = name;
    enc->event(e);
    return *this;
  }
  Feed& finish(FinishReason f) {
    StreamEvent e;
    e.kind = StreamEvent::Kind::finish;
    e.finish = f;
    enc->event(e);
    return *this;
  }
  Feed& usage(int64_t in, int64_t out, int64_t cached = -1, int64_t reasoning = -1) {
    StreamEvent e;
    e.kind = StreamEvent::Kind::usage;
    e.usage.prompt_tokens = in;
    e.usage.completion_tokens = out;
    e.usage.cached_tokens = cached;
    e.usage.reasoning_tokens = reasoning;
    enc->event(e);
    return *this;
  }
};

void expect_well_numbered(const std::vector<Sse>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data.at("type").as_string(), events[i].event) << i;
    EXPECT_EQ(events[i].data.at("sequence_number").as_int64(), static_cast<int64_t>(i)) << i;
  }
}

TEST(OpenAiResponsesStream, TextSequence) {
  Feed f;
  f.start("chatcmpl-1", "gpt-4o-mini")
      .ev(StreamEvent::Kind::text, "Hel")
      .ev(StreamEvent::Kind::text, "lo \"w\"\n")
      .finish(FinishReason::stop)
      .usage(10, 3, 4);
  f.enc->finish();
  auto events = parse_sse(f.enc->out);
  std::vector<std::string> want = {
      "response.created",           "response.in_progress",      "response.output_item.added",
      "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
      "response.output_text.done",  "response.content_part.done", "response.output_item.done",
      "response.completed"};
  ASSERT_EQ(names(events), want);
  expect_well_numbered(events);
  const auto& created = events[0].data.at("response").as_object();
  EXPECT_EQ(created.at("id").as_string(), "resp_chatcmpl-1");
  EXPECT_EQ(created.at("status").as_string(), "in_progress");
  EXPECT_EQ(created.at("model").as_string(), "gpt-4o-mini");
  EXPECT_TRUE(created.at("output").as_array().empty());

  const auto& added = events[2].data;
  EXPECT_EQ(added.at("output_index").as_int64(), 0);
  EXPECT_EQ(added.at("item").at("type").as_string(), "message");
  EXPECT_EQ(added.at("item").at("status").as_string(), "in_progress");
  std::string item_id(added.at("item").at("id").as_string());
  EXPECT_EQ(item_id, "msg_chatcmpl-1");

  std::string deltas;
  for (int i : {4, 5}) {
    EXPECT_EQ(events[i].data.at("item_id").as_string(), item_id);
    EXPECT_EQ(events[i].data.at("content_index").as_int64(), 0);
    deltas += std::string(events[i].data.at("delta").as_string());
  }
  EXPECT_EQ(deltas, "Hello \"w\"\n");
  EXPECT_EQ(events[6].data.at("text").as_string(), deltas);
  EXPECT_EQ(events[7].data.at("part").at("text").as_string(), deltas);
  EXPECT_EQ(events[8].data.at("item").at("content").at(0).at("text").as_string(), deltas);

  const auto& done = events[9].data.at("response").as_object();
  EXPECT_EQ(done.at("status").as_string(), "completed");
  EXPECT_EQ(done.at("output").at(0).at("content").at(0).at("text").as_string(), deltas);
  EXPECT_EQ(done.at("usage").at("input_tokens").as_int64(), 10);
  EXPECT_EQ(done.at("usage").at("output_tokens").as_int64(), 3);
  EXPECT_EQ(done.at("usage").at("total_tokens").as_int64(), 13);
  EXPECT_EQ(done.at("usage").at("input_tokens_details").at("cached_tokens").as_int64(), 4);

  // Nothing more after the terminal event.
  auto size = f.enc->out.size();
  f.enc->finish();
  f.enc->fail(ApiError::bad_gateway("late"));
  EXPECT_EQ(f.enc->out.size(), size);
}

// The streamed answer's final response equals the non-streamed encoding of the same answer,
// and the tool call's argument deltas concatenate to its final arguments.
TEST(OpenAiResponsesStream, StreamedEqualsWhole) {
  Feed f;
  f.start("chatcmpl-abc", "gpt-4o-mini")
      .ev(StreamEvent::Kind::thinking, "The user ")
      .ev(StreamEvent::Kind::thinking, "wants weather.")
      .ev(StreamEvent::Kind::thinking_signature, "sig-1")
      .ev(StreamEvent::Kind::text, "Let me ")
      .ev(StreamEvent::Kind::text, "check.")
      .tool(0, "call_1", "get_weather")
      .ev(StreamEvent::Kind::tool_call_args, "{\"city\":", 0)
      .ev(StreamEvent::Kind::tool_call_args, "\"Paris\"}", 0)
      .finish(FinishReason::tool_calls)
      .usage(36, 87, 12, 40);
  f.enc->finish();
  auto events = parse_sse(f.enc->out);
  expect_well_numbered(events);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "response.completed");

  ChatResult whole;
  whole.id = "chatcmpl-abc";
  whole.model = "gpt-4o-mini";
  Part th;
  th.kind = Part::Kind::thinking;
  th.text = "The user wants weather.";
  th.signature = "sig-1";
  whole.parts.push_back(th);
  whole.parts.push_back(Part::make_text("Let me check."));
  Part call;
  call.kind = Part::Kind::tool_call;
  call.id = "call_1";
  call.name = "get_weather";
  call.arguments = R"({"city":"Paris"})";
  whole.parts.push_back(call);
  whole.finish = FinishReason::tool_calls;
  whole.usage.prompt_tokens = 36;
  whole.usage.completion_tokens = 87;
  whole.usage.cached_tokens = 12;
  whole.usage.reasoning_tokens = 40;
  json::value w = json::parse(openai_responses_codec().encode_result(whole));
  const auto& streamed = events.back().data.at("response");
  EXPECT_EQ(streamed.at("output"), w.at("output"));
  EXPECT_EQ(streamed.at("usage"), w.at("usage"));
  EXPECT_EQ(streamed.at("id"), w.at("id"));

  std::string summary, args, args_done;
  bool saw_summary_part = false;
  for (const auto& e : events) {
    if (e.event == "response.reasoning_summary_text.delta")
      summary += std::string(e.data.at("delta").as_string());
    if (e.event == "response.reasoning_summary_part.added") saw_summary_part = true;
    if (e.event == "response.function_call_arguments.delta") {
      EXPECT_EQ(e.data.at("item_id").as_string(), "fc_chatcmpl-abc");
      EXPECT_EQ(e.data.at("output_index").as_int64(), 2);
      args += std::string(e.data.at("delta").as_string());
    }
    if (e.event == "response.function_call_arguments.done") {
      args_done = std::string(e.data.at("arguments").as_string());
      EXPECT_EQ(e.data.at("name").as_string(), "get_weather");
    }
  }
  EXPECT_TRUE(saw_summary_part);
  EXPECT_EQ(summary, "The user wants weather.");
  EXPECT_EQ(args, R"({"city":"Paris"})");
  EXPECT_EQ(args_done, args);
}

TEST(OpenAiResponsesStream, InterleavedToolCallsKeepTheirItems) {
  Feed f;
  f.start("x", "m")
      .tool(0, "call_a", "a")
      .tool(1, "call_b", "b")
      .ev(StreamEvent::Kind::tool_call_args, "{\"p\":", 0)
      .ev(StreamEvent::Kind::tool_call_args, "{}", 1)
      .ev(StreamEvent::Kind::tool_call_args, "1}", 0)
      .finish(FinishReason::tool_calls);
  f.enc->finish();
  auto events = parse_sse(f.enc->out);
  expect_well_numbered(events);
  const auto& out = events.back().data.at("response").at("output").as_array();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].at("call_id").as_string(), "call_a");
  EXPECT_EQ(out[0].at("arguments").as_string(), "{\"p\":1}");
  EXPECT_EQ(out[1].at("call_id").as_string(), "call_b");
  EXPECT_EQ(out[1].at("arguments").as_string(), "{}");
  EXPECT_NE(out[0].at("id"), out[1].at("id"));
  EXPECT_TRUE(events.back().data.at("response").at("usage").is_null());
}

TEST(OpenAiResponsesStream, LengthEndsIncomplete) {
  Feed f;
  f.start("c", "m").ev(StreamEvent::Kind::text, "abc").finish(FinishReason::length).usage(5, 16);
  f.enc->finish();
  auto events = parse_sse(f.enc->out);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "response.incomplete");
  const auto& r = events.back().data.at("response");
  EXPECT_EQ(r.at("status").as_string(), "incomplete");
  EXPECT_EQ(r.at("incomplete_details").at("reason").as_string(), "max_output_tokens");
  EXPECT_EQ(r.at("output").at(0).at("status").as_string(), "incomplete");
}

TEST(OpenAiResponsesStream, RedactedThinkingIsAnOpaqueReasoningItem) {
  Feed f;
  f.start("c", "m").ev(StreamEvent::Kind::redacted_thinking, "opaque==").ev(StreamEvent::Kind::text, "hi");
  f.enc->finish();
  auto events = parse_sse(f.enc->out);
  const auto& out = events.back().data.at("response").at("output").as_array();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].at("type").as_string(), "reasoning");
  EXPECT_TRUE(out[0].at("summary").as_array().empty());
  EXPECT_EQ(out[0].at("encrypted_content").as_string(), "opaque==");
  EXPECT_EQ(out[1].at("type").as_string(), "message");
}

TEST(OpenAiResponsesStream, EmptyStreamStillFramesAResponse) {
  Feed f;
  f.enc->finish();
  auto events = parse_sse(f.enc->out);
  std::vector<std::string> want = {"response.created", "response.in_progress",
                                   "response.completed"};
  EXPECT_EQ(names(events), want);
  EXPECT_EQ(events[0].data.at("response").at("model").as_string(), "local/mock-1");
  EXPECT_TRUE(events[0].data.at("response").at("id").as_string().starts_with("resp_"));
}

TEST(OpenAiResponsesStream, FailEndsWithErrorThenFailed) {
  Feed f;
  f.start("c", "m").ev(StreamEvent::Kind::text, "partial");
  f.enc->fail(ApiError::bad_gateway("upstream reset the connection"));
  auto events = parse_sse(f.enc->out);
  expect_well_numbered(events);
  ASSERT_GE(events.size(), 2u);
  const auto& err = events[events.size() - 2];
  EXPECT_EQ(err.event, "error");
  EXPECT_EQ(err.data.at("message").as_string(), "upstream reset the connection");
  EXPECT_EQ(err.data.at("code").as_string(), "upstream_error");
  EXPECT_EQ(err.data.at("error").at("message").as_string(), "upstream reset the connection");
  const auto& failed = events.back();
  EXPECT_EQ(failed.event, "response.failed");
  EXPECT_EQ(failed.data.at("response").at("status").as_string(), "failed");
  EXPECT_EQ(failed.data.at("response").at("error").at("message").as_string(),
            "upstream reset the connection");
  for (const auto& e : events) EXPECT_NE(e.event, "response.completed");
  auto size = f.enc->out.size();
  f.enc->finish();  // the stream is over: no fake success
  EXPECT_EQ(f.enc->out.size(), size);
}

TEST(OpenAiResponsesStream, PassthroughReframesUnchanged) {
  Feed f;
  std::string e1 = R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_n"}})";
  std::string e2 = R"({"type":"response.output_text.delta","sequence_number":7,"delta":"é\n"})";
  f.enc->raw("response.created", e1, false);
  f.enc->raw("response.output_text.delta", e2, false);
  EXPECT_EQ(f.enc->out, "event: response.created\ndata: " + e1 +
                            "\n\nevent: response.output_text.delta\ndata: " + e2 + "\n\n");
  f.enc->out.clear();
  f.enc->finish();
  EXPECT_EQ(f.enc->out, "");  // Responses streams have no [DONE]
  Feed g;
  g.enc->raw("response.output_text.delta", e2, false);
  g.enc->out.clear();
  g.enc->fail(ApiError::gateway_timeout("upstream idle"));
  auto events = parse_sse(g.enc->out);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "error");
  EXPECT_EQ(events[0].data.at("sequence_number").as_int64(), 8);
}

TEST(OpenAiResponsesStream, ErrorBodyIsOpenAiShaped) {
  auto body = openai_responses_codec().error_body(ApiError::invalid_request("bad", "input"));
  json::value v = json::parse(body);
  EXPECT_EQ(v.at("error").at("message").as_string(), "bad");
  EXPECT_EQ(v.at("error").at("param").as_string(), "input");
  EXPECT_EQ(v.at("error").at("type").as_string(), "invalid_request_error");
}

}  // namespace
}  // namespace torii
