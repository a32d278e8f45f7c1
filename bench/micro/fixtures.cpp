#include "fixtures.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tools/mock/mock_wire.h"

// Counting allocator: every operator new of the process goes through malloc and one relaxed
// increment (a nanosecond), so each benchmark can report its allocations per call.
namespace {
std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}

void* counted_aligned_alloc(std::size_t n, std::align_val_t al) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(al);
  if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t al) { return counted_aligned_alloc(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return counted_aligned_alloc(n, al); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

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

// The conversation of chat_bodies(): ~1 KB of text.
constexpr std::string_view kSystem =
    "You are a concise assistant for network engineers. Answer in plain prose, at most three "
    "short paragraphs, and call get_weather only when the user asks about the weather.";
constexpr std::string_view kTurn1 =
    "Our gateway sits between 400 internal services and two LLM providers. How many upstream "
    "keep-alive connections should it hold per provider?";
constexpr std::string_view kAnswer1 =
    "Size the pool from the concurrency you expect, not from the number of services: at 200 "
    "requests in flight and a median answer of two seconds, 200 to 250 connections per "
    "provider are enough. Idle connections cost a file descriptor and a little memory each.";
constexpr std::string_view kTurn2 = "And how long should an idle connection stay open?";
constexpr std::string_view kAnswer2 =
    "Keep it a little shorter than the provider's own idle timeout, commonly 60 seconds, so "
    "that the gateway closes first and never writes a request into a connection being torn "
    "down. Thirty to fifty seconds is a safe choice.";
constexpr std::string_view kTurn3 =
    "Thanks. Last question: does streaming change any of this, and what should we monitor?";

// Deterministic bytes as base64, starting with the PNG signature's encoding.
std::string base64_image(std::size_t raw_bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string raw = "\x89PNG\r\n\x1a\n";
  std::uint32_t x = 2463534242u;
  while (raw.size() < raw_bytes) {  // xorshift32: incompressible, like real image data
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    raw.push_back(static_cast<char>(x & 0xFF));
  }
  raw.resize(raw_bytes / 3 * 3);
  std::string out;
  out.reserve(raw.size() / 3 * 4);
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(std::uint8_t(raw[i])) << 16) |
                            (std::uint32_t(std::uint8_t(raw[i + 1])) << 8) |
                            std::uint8_t(raw[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  return out;
}

json::object weather_schema() {
  return json::object{
      {"type", "object"},
      {"properties",
       json::object{{"city", json::object{{"type", "string"}, {"description", "City name"}}},
                    {"unit", json::object{{"type", "string"},
                                          {"enum", json::array{"celsius", "fahrenheit"}}}}}},
      {"required", json::array{"city"}}};
}
constexpr std::string_view kToolDescription = "Current weather for a city.";

ChatBodies build_chat_bodies(bool large) {
  const std::string image = large ? image_base64() : std::string();
  const std::string data_url = "data:image/png;base64," + image;
  const std::string_view turns[] = {kTurn1, kAnswer1, kTurn2, kAnswer2, kTurn3};
  auto role = [](int i) { return i % 2 == 0 ? "user" : "assistant"; };
  ChatBodies b;

  json::array oa{json::object{{"role", "system"}, {"content", kSystem}}};
  json::array an, rs;
  for (int i = 0; i < 5; ++i) {
    const bool with_image = large && i == 4;
    json::value oc(turns[i]), ac(turns[i]), rc(turns[i]);
    if (with_image) {
      oc = json::array{json::object{{"type", "text"}, {"text", turns[i]}},
                       json::object{{"type", "image_url"},
                                    {"image_url", json::object{{"url", data_url}}}}};
      ac = json::array{json::object{{"type", "text"}, {"text", turns[i]}},
                       json::object{{"type", "image"},
                                    {"source", json::object{{"type", "base64"},
                                                            {"media_type", "image/png"},
                                                            {"data", image}}}}};
      rc = json::array{json::object{{"type", "input_text"}, {"text", turns[i]}},
                       json::object{{"type", "input_image"}, {"image_url", data_url}}};
    }
    oa.push_back(json::object{{"role", role(i)}, {"content", std::move(oc)}});
    an.push_back(json::object{{"role", role(i)}, {"content", std::move(ac)}});
    rs.push_back(json::object{{"role", role(i)}, {"content", std::move(rc)}});
  }
  b.openai_chat = json::serialize(json::object{
      {"model", "gpt-4o-mini"},
      {"messages", std::move(oa)},
      {"tools", json::array{json::object{
                    {"type", "function"},
                    {"function", json::object{{"name", "get_weather"},
                                              {"description", kToolDescription},
                                              {"parameters", weather_schema()}}}}}},
      {"temperature", 0.7},
      {"max_tokens", 512}});
  b.anthropic_messages = json::serialize(json::object{
      {"model", "claude-sonnet-4-5"},
      {"max_tokens", 512},
      {"system", kSystem},
      {"messages", std::move(an)},
      {"tools", json::array{json::object{{"name", "get_weather"},
                                         {"description", kToolDescription},
                                         {"input_schema", weather_schema()}}}},
      {"temperature", 0.7}});
  b.openai_responses = json::serialize(json::object{
      {"model", "gpt-4o-mini"},
      {"instructions", kSystem},
      {"input", std::move(rs)},
      {"tools", json::array{json::object{{"type", "function"},
                                         {"name", "get_weather"},
                                         {"description", kToolDescription},
                                         {"parameters", weather_schema()}}}},
      {"temperature", 0.7},
      {"max_output_tokens", 512}});
  return b;
}

}  // namespace

const std::string& image_base64() {
  static const std::string s = base64_image(45'000);
  return s;
}

const ChatBodies& chat_bodies(bool large) {
  static const ChatBodies small_bodies = build_chat_bodies(false);
  static const ChatBodies large_bodies = build_chat_bodies(true);
  return large ? large_bodies : small_bodies;
}

std::uint64_t allocation_count() { return g_allocations.load(std::memory_order_relaxed); }

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
