// The Responses pass-through: usage is read from the final event, events go out unchanged,
// error events are upstream failures, and a stream split anywhere decodes the same.
#include <gtest/gtest.h>

#include "providers/openai_passthrough.h"

namespace torii {
namespace {

struct Sink : StreamSink {
  std::vector<std::pair<std::string, std::string>> events;
  void event(const StreamEvent&) override { ADD_FAILURE() << "passthrough emits raw events"; }
  void raw(std::string_view name, std::string_view data, bool) override {
    events.emplace_back(std::string(name), std::string(data));
  }
};

const std::string kStream =
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\",\"sequence_number\":1}\n\n"
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,"
    "\"response\":{\"id\":\"resp_1\",\"usage\":{\"input_tokens\":12,\"input_tokens_details\":"
    "{\"cached_tokens\":4},\"output_tokens\":7,\"output_tokens_details\":{\"reasoning_tokens\":"
    "2},\"total_tokens\":19}}}\n\n";

TEST(ResponsesPassthrough, EventsUnchangedUsageFromCompleted) {
  for (std::size_t split = 0; split <= kStream.size(); split += 7) {
    auto d = make_responses_passthrough_decoder("up");
    Sink sink;
    Usage usage;
    bool done = false;
    ASSERT_TRUE(d->feed(std::string_view(kStream).substr(0, split), sink, usage, done).ok());
    ASSERT_TRUE(d->feed(std::string_view(kStream).substr(split), sink, usage, done).ok());
    ASSERT_EQ(sink.events.size(), 3u) << split;
    EXPECT_EQ(sink.events[1].first, "response.output_text.delta");
    EXPECT_EQ(sink.events[1].second,
              R"({"type":"response.output_text.delta","delta":"Hi","sequence_number":1})");
    EXPECT_TRUE(done);
    EXPECT_EQ(usage.prompt_tokens, 12);
    EXPECT_EQ(usage.cached_tokens, 4);
    EXPECT_EQ(usage.completion_tokens, 7);
    EXPECT_EQ(usage.reasoning_tokens, 2);
    EXPECT_EQ(usage.total_tokens, 19);
  }
}

TEST(ResponsesPassthrough, ErrorEventsAreUpstreamFailures) {
  for (std::string ev : {"event: error\ndata: {\"type\":\"error\",\"message\":\"overloaded\"}\n\n",
                         "event: response.failed\ndata: {\"type\":\"response.failed\","
                         "\"response\":{\"error\":{\"message\":\"overloaded\"}}}\n\n"}) {
    auto d = make_responses_passthrough_decoder("up");
    Sink sink;
    Usage usage;
    bool done = false;
    auto r = d->feed(ev, sink, usage, done);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().status, 502);
    EXPECT_NE(r.error().message.find("overloaded"), std::string::npos);
    EXPECT_TRUE(sink.events.empty());
  }
}

TEST(ResponsesPassthrough, WholeBodyUsage) {
  auto u = responses_body_usage(R"({"id":"resp_1","usage":{"input_tokens":3,"output_tokens":5}})", "up");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->prompt_tokens, 3);
  EXPECT_EQ(u->completion_tokens, 5);
  EXPECT_EQ(u->total_tokens, 8);
  auto bad = responses_body_usage("nope", "up");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status, 502);
}

}  // namespace
}  // namespace torii
