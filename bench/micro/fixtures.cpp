#include "fixtures.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tools/mock/mock_wire.h"

namespace torii::bench {
namespace json = boost::json;

namespace {

constexpr std::string_view kPrompt =
    "Explain how a reverse proxy keeps upstream connections alive, why streaming answers need "
    "backpressure, and what happens to tokens already generated when the client disconnects.";

constexpr std::string_view kAssistantTurn =
    "A reverse proxy keeps a pool of idle keep-alive connections per upstream host and reuses "
    "them for later requests, which saves the TCP and TLS handshakes. When the answer streams, "
    "the proxy reads one event, writes it to the client and only then reads the next, so a "
    "slow client slows the upstream read instead of filling memory. If the client goes away, "
    "the proxy closes the upstream connection so that generation stops and no more is billed.";

json::value user_messages() {
  json::array messages;
  messages.push_back(json::object{{"role", "user"}, {"content", kPrompt}});
  return messages;
}

OpenAiStream build_stream() {
  // 1 role + 61 content + 1 finish + 1 usage = 64 chunk events; 5 words (~30 bytes) of content
  // each puts a content event near 200 bytes, like the mock's and a real gpt-4o-mini stream.
  constexpr int kContentChunks = 61;
  constexpr int kWordsPerChunk = 5;
  const json::value messages = user_messages();
  const MockWords words(messages, std::int64_t{kContentChunks} * kWordsPerChunk);
  const MockChunks chunks("chatcmpl-mock-1", 1'700'000'000, "gpt-4o-mini");

  OpenAiStream s;
  chunks.append_role(s.wire);
  for (int i = 0; i < kContentChunks; ++i)
    chunks.append_content(s.wire, words, std::int64_t{i} * kWordsPerChunk, kWordsPerChunk);
  chunks.append_finish(s.wire);
  chunks.append_usage(s.wire, MockUsage{estimate_prompt_tokens(messages),
                                        std::int64_t{kContentChunks} * kWordsPerChunk});
  MockChunks::append_done(s.wire);

  // Split back into events (the mock writes exactly `data: <json>\n\n` per event).
  for (std::size_t at = 0; at < s.wire.size();) {
    std::size_t end = s.wire.find("\n\n", at);
    s.events.emplace_back(s.wire.substr(at + 6, end - at - 6));
    at = end + 2;
  }
  s.content_event = s.events[10];
  s.usage_event = s.events[s.events.size() - 2];
  return s;
}

std::string build_large_request() {
  json::array messages;
  messages.push_back(json::object{
      {"role", "system"}, {"content", "You are a concise assistant for network engineers."}});
  for (int i = 1; i < 50; ++i) {
    if (i % 2 == 1) {
      std::string q = "Question " + std::to_string(i) + ": " + std::string(kPrompt) +
                      " Please also give one concrete example with numbers, and say which of the timeouts "
                      "matter most in production.";
      messages.push_back(json::object{{"role", "user"}, {"content", q}});
    } else {
      messages.push_back(json::object{{"role", "assistant"}, {"content", kAssistantTurn}});
    }
  }
  json::object req{{"model", "gpt-4o-mini"},
                   {"messages", std::move(messages)},
                   {"stream", true},
                   {"temperature", 0.7},
                   {"top_p", 1},
                   {"max_tokens", 1024},
                   {"user", "bench-user-42"}};
  return json::serialize(req);
}

}  // namespace

const OpenAiStream& openai_stream() {
  static const OpenAiStream s = build_stream();
  return s;
}

const std::string& small_chat_request() {
  static const std::string s = json::serialize(json::object{
      {"model", "gpt-4o-mini"},
      {"messages", json::array{json::object{{"role", "user"},
                                            {"content", "Say hello in three languages."}}}},
      {"stream", true}});
  return s;
}

const std::string& large_chat_request() {
  static const std::string s = build_large_request();
  return s;
}

const std::string& completion_answer() {
  static const std::string s = [] {
    const json::value messages = user_messages();
    constexpr std::int64_t kWords = 30;
    const MockWords words(messages, kWords);
    return build_completion_json("chatcmpl-mock-1700000000000002", 1'700'000'000, "gpt-4o-mini",
                                 words, kWords, MockUsage{estimate_prompt_tokens(messages), kWords});
  }();
  return s;
}

}  // namespace torii::bench
