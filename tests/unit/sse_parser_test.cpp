// SseParser: line endings, split feeds, field rules, limits (WHATWG event-stream parsing).
#include "upstream/sse_parser.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include <string>
#include <vector>

namespace torii {
namespace {

struct Ev {
  std::string event, data, id;
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{event='" << e.event << "' data='" << e.data << "' id='" << e.id << "'}";
}

// Feeds every piece in order; returns the events and whether every feed returned true.
std::vector<Ev> parse(const std::vector<std::string>& pieces, bool* ok = nullptr,
                      std::size_t max = 8u << 20) {
  SseParser p(max);
  std::vector<Ev> out;
  bool all = true;
  for (const auto& piece : pieces) {
    all = p.feed(piece, [&](SseEvent& e) {
      out.push_back({e.event, e.data, e.id});
      return true;
    });
    if (!all) break;
  }
  if (ok) *ok = all;
  return out;
}

std::vector<Ev> parse1(const std::string& s) { return parse({s}); }

TEST(SseParser, LfLineEndings) {
  auto ev = parse1("data: hello\n\ndata: world\n\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "hello");
  EXPECT_EQ(ev[1].data, "world");
  EXPECT_EQ(ev[0].event, "");
}

TEST(SseParser, CrlfLineEndings) {
  auto ev = parse1("event: a\r\ndata: one\r\n\r\ndata: two\r\n\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0], (Ev{"a", "one", ""}));
  EXPECT_EQ(ev[1], (Ev{"", "two", ""}));
}

TEST(SseParser, CrLineEndings) {
  auto ev = parse1("data: one\r\rdata: two\rdata: three\r\r");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "one");
  EXPECT_EQ(ev[1].data, "two\nthree");
}

TEST(SseParser, CrlfSplitAcrossFeedsIsOneLineEnd) {
  // If the '\n' after a trailing '\r' were taken as a second line end, the event would be
  // dispatched after "data: a" alone.
  auto ev = parse({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a\nb");
}

TEST(SseParser, EveryByteBoundaryGivesTheSameEvents) {
  const std::string stream =
      ": keep-alive\r\n"
      "event: delta\r\n"
      "id: 7\r\n"
      "data: {\"a\":1}\r\n"
      "data:second\r\n"
      "\r\n"
      "retry: 100\n"
      "data: lf\n\n"
      "data: cr\r\r"
      "event: lone\n\n"
      "data: [DONE]\n\n";
  auto whole = parse1(stream);
  ASSERT_EQ(whole.size(), 4u);
  EXPECT_EQ(whole[0], (Ev{"delta", "{\"a\":1}\nsecond", "7"}));
  EXPECT_EQ(whole[3].data, "[DONE]");
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    EXPECT_EQ(parse({stream.substr(0, i), stream.substr(i)}), whole) << "split at " << i;
  }
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(parse(bytes), whole);
}

TEST(SseParser, MultiLineDataJoinedWithNewline) {
  auto ev = parse1("data: a\ndata: b\ndata:\ndata: c\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a\nb\n\nc");
}

TEST(SseParser, CommentsIgnored) {
  auto ev = parse1(": ping\n:\ndata: x\n: between\n\n: trailing\n\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "x");
}

TEST(SseParser, DataWithoutSpaceAndOnlyOneSpaceStripped) {
  auto ev = parse1("data:x\n\ndata:  two spaces\n\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "x");
  EXPECT_EQ(ev[1].data, " two spaces");
}

TEST(SseParser, FieldWithoutColonIsFieldWithEmptyValue) {
  // "data" alone is a data line with an empty value; an unknown field alone is ignored.
  auto ev = parse1("data\ndata\n\nbogus\ndata: y\n\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "\n");
  EXPECT_EQ(ev[1].data, "y");
}

TEST(SseParser, EventWithoutDataIsNotDispatched) {
  auto ev = parse1("event: ping\n\nid: 3\n\n");
  EXPECT_TRUE(ev.empty());
}

TEST(SseParser, EventNameResetAfterDispatchAndAfterEmptyEvent) {
  auto ev = parse1("event: first\ndata: 1\n\ndata: 2\n\nevent: dropped\n\ndata: 3\n\n");
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].event, "first");
  EXPECT_EQ(ev[1].event, "");
  EXPECT_EQ(ev[2].event, "");
}

TEST(SseParser, IdIsKeptAndIdWithNulIgnored) {
  using namespace std::string_literals;
  auto ev = parse1("id: 5\ndata: a\n\nid: x\0y\ndata: b\n\n"s);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].id, "5");
  EXPECT_EQ(ev[1].id, "5");  // last event id persists; the NUL one is ignored
}

TEST(SseParser, IncompleteEventIsHeldNotDispatched) {
  SseParser p;
  int n = 0;
  auto count = [&](SseEvent&) { return ++n, true; };
  EXPECT_TRUE(p.feed("data: part", count));
  EXPECT_TRUE(p.feed("ial\n", count));
  EXPECT_EQ(n, 0);
  EXPECT_GT(p.pending(), 0u);
  EXPECT_TRUE(p.feed("\n", count));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(p.pending(), 0u);
}

TEST(SseParser, MaxEventBytesExceededReturnsFalse) {
  bool ok = true;
  // One data line longer than the limit, complete in one feed.
  auto ev = parse({"data: " + std::string(100, 'x') + "\n\n"}, &ok, 64);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(ev.empty());
  // Many small data lines adding up past the limit.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "data: 0123456789\n";
  ev = parse({many + "\n"}, &ok, 64);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(ev.empty());
  // A line that never ends, fed in pieces.
  ev = parse({"data: ", std::string(40, 'y'), std::string(40, 'y')}, &ok, 64);
  EXPECT_FALSE(ok);
  // Under the limit, fine.
  ev = parse({"data: " + std::string(50, 'z') + "\n\n"}, &ok, 64);
  EXPECT_TRUE(ok);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data.size(), 50u);
}

TEST(SseParser, OnEventReturningFalseStops) {
  SseParser p;
  std::vector<std::string> seen;
  bool ok = p.feed("data: 1\n\ndata: 2\n\ndata: 3\n\n", [&](SseEvent& e) {
    seen.push_back(e.data);
    return e.data != "2";
  });
  EXPECT_FALSE(ok);
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2"}));
}

TEST(SseParser, EmptyFeedBetweenCrAndLfKeepsCrlfTogether) {
  // Regression: feed("") reset the "last byte was CR" state, splitting a CRLF in two.
  auto ev = parse({"data: a\r", "", "\ndata: b\n\n"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a\nb");
}

}  // namespace
}  // namespace torii
