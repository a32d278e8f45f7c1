// AWS event stream framing: known encodings (the aws-c-event-stream test messages), round trips,
// splits at every byte offset, corruption, truncation, absurd lengths, exceptions, header types.
#include "providers/bedrock/eventstream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace torii::aws {
namespace {

struct Msg {
  std::string message_type, event_type, exception_type, content_type, error_code, error_message;
  std::string payload;
  bool operator==(const Msg&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Msg& m) {
  return os << "{" << m.message_type << " " << m.event_type << " " << m.exception_type << " "
            << m.content_type << " payload=" << m.payload << "}";
}

Msg copy(const EventMessage& m) {
  return {std::string(m.message_type),  std::string(m.event_type),
          std::string(m.exception_type), std::string(m.content_type),
          std::string(m.error_code),     std::string(m.error_message),
          std::string(m.payload)};
}

struct Decoded {
  std::vector<Msg> msgs;
  bool ok = true;
  EventStreamError error = EventStreamError::none;
  std::size_t pending = 0;
};

Decoded decode(const std::vector<std::string_view>& pieces,
               std::size_t max = EventStreamDecoder::kDefaultMaxMessageBytes) {
  EventStreamDecoder d(max);
  Decoded out;
  for (auto p : pieces) {
    auto r = d.feed(p, [&](const EventMessage& m) { out.msgs.push_back(copy(m)); });
    if (!r.ok()) {
      out.ok = false;
      EXPECT_EQ(r.error().status, 502);
      EXPECT_EQ(r.error().code, "upstream_bad_frame");
      break;
    }
  }
  out.error = d.error();
  out.pending = d.pending();
  return out;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(BedrockEventStream, Crc32IsZlibs) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("6789", crc32("12345")), 0xCBF43926u);  // continues a running CRC
}

TEST(BedrockEventStream, EncodesTheKnownMessages) {
  // Test messages of awslabs/aws-c-event-stream: empty, payload only, one string header.
  std::string out;
  ASSERT_TRUE(append_event_frame(out, {}, ""));
  EXPECT_EQ(out,
            bytes({0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff}));

  out.clear();
  ASSERT_TRUE(append_event_frame(out, {}, "{'foo':'bar'}"));
  EXPECT_EQ(out, bytes({0, 0, 0, 0x1D, 0, 0, 0, 0, 0xfd, 0x52, 0x8c, 0x5a}) + "{'foo':'bar'}" +
                     bytes({0xc3, 0x65, 0x39, 0x36}));

  out.clear();
  const EventHeader h[] = {EventHeader::string("content-type", "application/json")};
  ASSERT_TRUE(append_event_frame(out, h, "{'foo':'bar'}"));
  EXPECT_EQ(out, bytes({0, 0, 0, 0x3D, 0, 0, 0, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C}) +
                     "content-type" + bytes({0x07, 0x00, 0x10}) + "application/json" +
                     "{'foo':'bar'}" + bytes({0x8D, 0x9C, 0x08, 0xB1}));

  Decoded d = decode({out});
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.msgs.size(), 1u);
  EXPECT_EQ(d.msgs[0].payload, "{'foo':'bar'}");
  EXPECT_EQ(d.msgs[0].content_type, "");  // only ":content-type" is the well-known header
}

std::string sample_stream() {
  std::string s;
  append_event(s, "messageStart", R"({"role":"assistant"})");
  append_event(s, "contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hel"}})");
  append_event(s, "contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"lo"}})");
  append_event(s, "messageStop", R"({"stopReason":"end_turn"})");
  append_event(s, "metadata", R"({"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5}})");
  return s;
}

TEST(BedrockEventStream, RoundTrip) {
  Decoded d = decode({sample_stream()});
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.pending, 0u);
  ASSERT_EQ(d.msgs.size(), 5u);
  EXPECT_EQ(d.msgs[0], (Msg{"event", "messageStart", "", "application/json", "", "",
                            R"({"role":"assistant"})"}));
  EXPECT_EQ(d.msgs[2].event_type, "contentBlockDelta");
  EXPECT_EQ(d.msgs[2].payload, R"({"contentBlockIndex":0,"delta":{"text":"lo"}})");
  EXPECT_EQ(d.msgs[4].event_type, "metadata");
}

TEST(BedrockEventStream, SplitAtEveryOffsetGivesTheSameMessages) {
  const std::string s = sample_stream();
  const Decoded whole = decode({s});
  ASSERT_EQ(whole.msgs.size(), 5u);
  for (std::size_t i = 0; i <= s.size(); ++i) {
    std::string_view v(s);
    Decoded two = decode({v.substr(0, i), v.substr(i)});
    ASSERT_TRUE(two.ok) << "split at " << i;
    ASSERT_EQ(two.msgs, whole.msgs) << "split at " << i;
    EXPECT_EQ(two.pending, 0u);
  }
  // Byte by byte: every prelude and header is split everywhere.
  std::vector<std::string_view> ones;
  for (std::size_t i = 0; i < s.size(); ++i) ones.push_back(std::string_view(s).substr(i, 1));
  Decoded bytewise = decode(ones);
  ASSERT_TRUE(bytewise.ok);
  EXPECT_EQ(bytewise.msgs, whole.msgs);
  // Three-way splits around the second frame's prelude.
  std::size_t second = 0;
  {
    std::string one;
    append_event(one, "messageStart", R"({"role":"assistant"})");
    second = one.size();
  }
  for (std::size_t a = second - 3; a <= second + 13; ++a) {
    std::string_view v(s);
    Decoded three = decode({v.substr(0, a), v.substr(a, 5), v.substr(a + 5)});
    ASSERT_TRUE(three.ok);
    EXPECT_EQ(three.msgs, whole.msgs) << "split at " << a;
  }
}

TEST(BedrockEventStream, PendingTracksAnIncompleteTail) {
  const std::string s = sample_stream();
  EventStreamDecoder d;
  int n = 0;
  ASSERT_TRUE(d.feed(std::string_view(s).substr(0, s.size() - 1), [&](const EventMessage&) { ++n; })
                  .ok());
  EXPECT_EQ(n, 4);
  EXPECT_GT(d.pending(), 0u);  // a truncated last frame is visible to the caller at end of stream
  ASSERT_TRUE(d.feed(std::string_view(s).substr(s.size() - 1), [&](const EventMessage&) { ++n; })
                  .ok());
  EXPECT_EQ(n, 5);
  EXPECT_EQ(d.pending(), 0u);
}

TEST(BedrockEventStream, ExceptionMessage) {
  std::string s;
  append_event(s, "messageStart", R"({"role":"assistant"})");
  append_exception(s, "throttlingException", R"({"message":"Too many requests"})");
  Decoded d = decode({s});
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.msgs.size(), 2u);
  EXPECT_EQ(d.msgs[1], (Msg{"exception", "", "throttlingException", "application/json", "", "",
                            R"({"message":"Too many requests"})"}));
  EventStreamDecoder dec;
  bool seen = false;
  ASSERT_TRUE(dec.feed(s, [&](const EventMessage& m) {
                   if (m.is_exception()) seen = !m.is_event() && !m.is_error();
                 }).ok());
  EXPECT_TRUE(seen);
}

TEST(BedrockEventStream, ErrorMessageHeaders) {
  std::string s;
  const EventHeader h[] = {EventHeader::string(":message-type", "error"),
                           EventHeader::string(":error-code", "InternalFailure"),
                           EventHeader::string(":error-message", "boom")};
  ASSERT_TRUE(append_event_frame(s, h, ""));
  Decoded d = decode({s});
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.msgs.size(), 1u);
  EXPECT_EQ(d.msgs[0].message_type, "error");
  EXPECT_EQ(d.msgs[0].error_code, "InternalFailure");
  EXPECT_EQ(d.msgs[0].error_message, "boom");
}

TEST(BedrockEventStream, EveryHeaderTypeIsSkippedOrRead) {
  const std::string uuid(16, '\x11');
  const EventHeader h[] = {
      {"t", EventHeaderType::bool_true, ""},
      {"f", EventHeaderType::bool_false, ""},
      {"b", EventHeaderType::byte, "\x7f"},
      {"s", EventHeaderType::int16, std::string_view("\x01\x02", 2)},
      {"i", EventHeaderType::int32, std::string_view("\x00\x00\x00\x2a", 4)},
      {"l", EventHeaderType::int64, std::string_view("\0\0\0\0\0\0\0\x01", 8)},
      {"by", EventHeaderType::bytes, std::string_view("\x00\xff\x00", 3)},
      {":event-type", EventHeaderType::string, "contentBlockStop"},
      {"ts", EventHeaderType::timestamp, std::string_view("\0\0\x01\x8c\0\0\0\0", 8)},
      {"u", EventHeaderType::uuid, uuid},
      {":message-type", EventHeaderType::string, "event"},
  };
  std::string s;
  ASSERT_TRUE(append_event_frame(s, h, "{}"));
  Decoded d = decode({s});
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.msgs.size(), 1u);
  EXPECT_EQ(d.msgs[0].event_type, "contentBlockStop");
  EXPECT_EQ(d.msgs[0].message_type, "event");
  EXPECT_EQ(d.msgs[0].payload, "{}");

  // for_each_event_header sees every header back with its type and raw value.
  EventStreamDecoder dec;
  std::vector<std::pair<std::string, std::string>> seen;
  ASSERT_TRUE(dec.feed(s, [&](const EventMessage& m) {
                   EXPECT_EQ(for_each_event_header(m.raw_headers,
                                                   [&](const EventHeader& x) {
                                                     seen.emplace_back(std::string(x.name),
                                                                       std::string(x.value));
                                                   }),
                             EventStreamError::none);
                 }).ok());
  ASSERT_EQ(seen.size(), std::size(h));
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, h[i].name);
    EXPECT_EQ(seen[i].second, h[i].value);
  }
}

TEST(BedrockEventStream, EncoderRejectsBadHeaders) {
  std::string s = "keep";
  const std::string long_name(256, 'n');
  const std::string long_value(65536, 'v');
  const EventHeader bad[][1] = {
      {{"", EventHeaderType::string, "x"}},
      {{long_name, EventHeaderType::string, "x"}},
      {{"v", EventHeaderType::string, long_value}},
      {{"i", EventHeaderType::int32, "abc"}},
      {{"t", EventHeaderType::bool_true, "x"}},
      {{"x", static_cast<EventHeaderType>(10), ""}},
  };
  for (const auto& h : bad) EXPECT_FALSE(append_event_frame(s, h, "p"));
  EXPECT_EQ(s, "keep");
  const EventHeader ok[] = {{"v", EventHeaderType::string, std::string_view(long_value).substr(1)}};
  EXPECT_TRUE(append_event_frame(s, ok, "p"));
  Decoded d = decode({std::string_view(s).substr(4)});
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.msgs.size(), 1u);
}

TEST(BedrockEventStream, CorruptedCrcsAreErrors) {
  const std::string good = sample_stream();
  std::string first;
  append_event(first, "messageStart", R"({"role":"assistant"})");

  std::string s = good;
  s[9] ^= 0x01;  // prelude CRC of the first frame
  Decoded d = decode({s});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error, EventStreamError::bad_prelude_crc);
  EXPECT_TRUE(d.msgs.empty());

  s = good;
  s[first.size() + 20] ^= 0x40;  // a header byte of the second frame
  d = decode({s});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error, EventStreamError::bad_message_crc);
  EXPECT_EQ(d.msgs.size(), 1u);  // the first frame was good and delivered

  s = good;
  s[first.size() - 1] ^= 0xFF;  // the message CRC itself
  for (std::size_t split : {std::size_t{0}, std::size_t{5}, first.size() - 2}) {
    d = decode({std::string_view(s).substr(0, split), std::string_view(s).substr(split)});
    EXPECT_FALSE(d.ok);
    EXPECT_EQ(d.error, EventStreamError::bad_message_crc);
    EXPECT_TRUE(d.msgs.empty());
  }

  // The decoder stays failed: a later good frame is not delivered.
  EventStreamDecoder dec;
  int n = 0;
  EXPECT_FALSE(dec.feed(s.substr(0, first.size()), [&](const EventMessage&) { ++n; }).ok());
  auto again = dec.feed(good, [&](const EventMessage&) { ++n; });
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("bad message CRC"), std::string::npos);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(dec.pending(), 0u);
}

// Four big-endian bytes.
std::string be(std::uint32_t v) {
  return bytes({static_cast<int>(v >> 24), static_cast<int>((v >> 16) & 0xFF),
                static_cast<int>((v >> 8) & 0xFF), static_cast<int>(v & 0xFF)});
}

// A prelude with a right CRC around lengths chosen by the test.
std::string prelude(std::uint32_t total, std::uint32_t headers) {
  std::string p = be(total) + be(headers);
  return p + be(crc32(p));
}

TEST(BedrockEventStream, AbsurdLengthsAreErrorsNotAllocations) {
  Decoded d = decode({prelude(0xFFFFFFFFu, 0)});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error, EventStreamError::bad_length);

  d = decode({prelude((16u << 20) + 1, 0)});  // just over 16 MiB
  EXPECT_EQ(d.error, EventStreamError::bad_length);

  d = decode({prelude(15, 0)});  // smaller than the fixed overhead
  EXPECT_EQ(d.error, EventStreamError::bad_length);

  d = decode({prelude(100, 85)});  // headers longer than the frame can hold
  EXPECT_EQ(d.error, EventStreamError::bad_length);

  d = decode({prelude(1000, 0)}, 999);  // a custom limit
  EXPECT_EQ(d.error, EventStreamError::bad_length);

  // Split inside the prelude: the check happens as soon as 12 bytes are there.
  std::string p = prelude(0x7FFFFFFFu, 0);
  d = decode({std::string_view(p).substr(0, 7), std::string_view(p).substr(7)});
  EXPECT_EQ(d.error, EventStreamError::bad_length);
  EXPECT_EQ(d.pending, 0u);
}

TEST(BedrockEventStream, HeaderOverrunAndBadTypeAreErrors) {
  // Build frames by hand with a valid CRC around a broken header block.
  auto frame = [](std::string headers) {
    std::string f = prelude(static_cast<std::uint32_t>(16 + headers.size()),
                            static_cast<std::uint32_t>(headers.size()));
    f += headers;
    return f + be(crc32(f));
  };
  // A string header claiming 0x10 value bytes with only 3 present.
  Decoded d = decode({frame(bytes({1, 'a', 7, 0x00, 0x10}) + "abc")});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error, EventStreamError::header_overrun);
  // A name length past the block.
  d = decode({frame(bytes({9, 'a', 'b'}))});
  EXPECT_EQ(d.error, EventStreamError::header_overrun);
  // A string header cut inside its length prefix.
  d = decode({frame(bytes({1, 'a', 7, 0x00}))});
  EXPECT_EQ(d.error, EventStreamError::header_overrun);
  // An int64 with 4 bytes.
  d = decode({frame(bytes({1, 'a', 5, 1, 2, 3, 4}))});
  EXPECT_EQ(d.error, EventStreamError::header_overrun);
  // Value type 10 does not exist.
  d = decode({frame(bytes({1, 'a', 10}))});
  EXPECT_EQ(d.error, EventStreamError::bad_header_type);
  EXPECT_TRUE(d.msgs.empty());
}

TEST(BedrockEventStream, TruncatedFrameIsPendingNotDelivered) {
  std::string s;
  append_event(s, "messageStop", R"({"stopReason":"end_turn"})");
  for (std::size_t cut = 1; cut < s.size(); ++cut) {
    Decoded d = decode({std::string_view(s).substr(0, cut)});
    ASSERT_TRUE(d.ok) << cut;
    EXPECT_TRUE(d.msgs.empty()) << cut;
    EXPECT_EQ(d.pending, cut);
  }
}

TEST(BedrockEventStream, LargePayloadRoundTrip) {
  std::string payload(1u << 20, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 7) payload[i] = static_cast<char>(i);
  std::string s;
  append_event(s, "contentBlockDelta", payload);
  std::string_view v(s);
  Decoded d = decode({v.substr(0, 100), v.substr(100, 500000), v.substr(500100)});
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.msgs.size(), 1u);
  EXPECT_EQ(d.msgs[0].payload, payload);
}

}  // namespace
}  // namespace torii::aws
