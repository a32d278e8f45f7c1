#include "tools/mock/mock.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "tools/mock/mock_embedding.h"
#include "tools/mock/mock_endpoint.h"
#include "tools/mock/mock_format.h"
#include "tools/mock/mock_wire.h"

namespace torii {
namespace json = boost::json;

namespace {

// A counter on its own cache line: every worker bumps them, and they must not share a line.
struct alignas(64) Counter {
  std::atomic<std::int64_t> v{0};
  std::int64_t operator++() { return v.fetch_add(1, std::memory_order_relaxed) + 1; }
  void operator--() { v.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t get() const { return v.load(std::memory_order_relaxed); }
  void reset() { v.store(0, std::memory_order_relaxed); }
};

struct LastRequest {
  std::string method, target;
  Headers headers;
  std::string body;  // raw; parsed only when /mock/last is read
  bool valid = false;
};

// Sends nothing bigger than this in one write when chunks are batched (interval_ms == 0).
constexpr std::size_t kBatchBytes = 64 * 1024;

// Returns false when the wait was cancelled (server shutdown): the caller stops.
// Callers test ms > 0 first: calling a coroutine allocates its frame.
Task<bool> sleep_ms(int ms) {
  if (ms <= 0) co_return true;
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(ms));
  auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  co_return !ec;
}

int roll_percent() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return static_cast<int>(rng() % 100);
}

Headers json_headers() { return {{"content-type", "application/json"}}; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

class MockHandler final : public Handler {
 public:
  explicit MockHandler(MockOptions options)
      : defaults_(MockKnobs::from_options(options)),
        models_json_(models_json(options.models)),
        formats_(mock_formats()),
        format_requests_(new Counter[formats_.size()]),
        endpoints_(mock_endpoints()),
        endpoint_requests_(new Counter[endpoints_.size()]) {}

  Task<void> handle(Exchange& ex) override;

 private:
  static std::string models_json(const std::vector<std::string>& models);
  Task<void> chat(Exchange& ex, std::size_t format_index);
  Task<void> stream(Exchange& ex, const MockFormat& format, const MockKnobs& knobs,
                    const MockScript& script);
  Task<void> send_error(Exchange& ex, const ApiError& e);
  Task<void> send_error(Exchange& ex, const MockFormat& format, const ApiError& e);
  void record_last(Exchange& ex);
  std::string stats_json() const;
  std::string reset();
  Task<void> count_tokens(Exchange& ex);
  enum class JsonEndpoint { moderation, embeddings };
  Task<void> json_post(Exchange& ex, JsonEndpoint endpoint);
  Task<void> endpoint(Exchange& ex, std::size_t index);
  std::string last_json();

  const MockKnobs defaults_;
  const std::string models_json_;
  const std::vector<const MockFormat*>& formats_;
  std::unique_ptr<Counter[]> format_requests_;  // chat requests per format, as formats_
  const std::vector<const MockEndpoint*>& endpoints_;
  std::unique_ptr<Counter[]> endpoint_requests_;  // requests per endpoint, as endpoints_
  MockJobs jobs_;
  Counter requests_, chat_requests_, streams_started_, streams_completed_, streams_aborted_,
      streams_reset_, active_streams_, next_id_, fail_first_seen_, moderation_requests_,
      next_moderation_id_, embedding_requests_;
  std::mutex last_mutex_;
  LastRequest last_;  // guarded by last_mutex_
};

std::string MockHandler::models_json(const std::vector<std::string>& models) {
  json::array data;
  for (const auto& m : models)
    data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", "torii-mock"}});
  json::object root;
  root["object"] = "list";
  root["data"] = std::move(data);
  return json::serialize(root);
}

Task<void> MockHandler::send_error(Exchange& ex, const ApiError& e) {
  Headers headers = json_headers();
  if (!e.retry_after.empty()) headers.emplace_back("retry-after", e.retry_after);
  co_await ex.respond(e.status, std::move(headers), to_openai_json(e));
}

Task<void> MockHandler::send_error(Exchange& ex, const MockFormat& format, const ApiError& e) {
  Headers headers = json_headers();
  if (!e.retry_after.empty()) headers.emplace_back("retry-after", e.retry_after);
  co_await ex.respond(e.status, std::move(headers), format.error_body(e));
}

Task<void> MockHandler::handle(Exchange& ex) {
  ++requests_;
  const RequestHead& head = ex.head();
  std::string_view path = head.target;
  path = path.substr(0, path.find('?'));
  const bool get = head.method == "GET";
  const bool post = head.method == "POST";

  auto wrong_method = [&](std::string_view allow) -> Task<void> {
    ApiError e = ApiError::invalid_request(
        "method " + head.method + " is not allowed on " + std::string(path), {},
        "method_not_allowed");
    e.status = 405;
    Headers headers = json_headers();
    headers.emplace_back("allow", std::string(allow));
    co_await ex.respond(405, std::move(headers), to_openai_json(e));
  };

  // Azure's deployment paths (/openai/deployments/<d>/embeddings?api-version=...) serve the
  // same endpoints as /v1/...
  std::string azure;
  std::string_view media = path;
  if (path.starts_with("/openai/deployments/")) {
    const std::size_t slash = path.find('/', 20);
    if (slash != std::string_view::npos) {
      azure = "/v1" + std::string(path.substr(slash));
      media = azure;
    }
  }
  std::size_t endpoint_index = 0;
  while (endpoint_index < endpoints_.size() &&
         !endpoints_[endpoint_index]->matches(head.method, media))
    ++endpoint_index;
  std::size_t format = 0;
  while (format < formats_.size() && !formats_[format]->matches(path)) ++format;
  if (endpoint_index < endpoints_.size()) {
    co_await endpoint(ex, endpoint_index);
  } else if (format < formats_.size()) {
    if (post) co_await chat(ex, format);
    else co_await wrong_method("POST");
  } else if (media == "/v1/moderations" || path == "/moderations") {
    if (post) co_await json_post(ex, JsonEndpoint::moderation);
    else co_await wrong_method("POST");
  } else if (media == "/v1/embeddings" || path == "/embeddings") {
    if (post) co_await json_post(ex, JsonEndpoint::embeddings);
    else co_await wrong_method("POST");
  } else if (path == "/v1/messages/count_tokens") {
    if (post) co_await count_tokens(ex);
    else co_await wrong_method("POST");
  } else if (path == "/v1/models" || path == "/models") {
    if (get) co_await ex.respond(200, json_headers(), models_json_);
    else co_await wrong_method("GET");
  } else if (path == "/mock/stats") {
    if (get) co_await ex.respond(200, json_headers(), stats_json());
    else co_await wrong_method("GET");
  } else if (path == "/mock/last") {
    std::string body = get ? last_json() : std::string();
    if (!get) co_await wrong_method("GET");
    else if (body.empty()) co_await send_error(ex, ApiError::not_found("no chat request yet"));
    else co_await ex.respond(200, json_headers(), std::move(body));
  } else if (path == "/mock/reset") {
    if (post) co_await ex.respond(200, json_headers(), reset());
    else co_await wrong_method("POST");
  } else if (path == "/health") {
    if (get) co_await ex.respond(200, json_headers(), R"({"status":"ok"})");
    else co_await wrong_method("GET");
  } else {
    co_await send_error(ex, ApiError::not_found("unknown path " + std::string(path)));
  }
}

// Anthropic's count_tokens: {"input_tokens": N}, N about one per 4 bytes of the text under
// "system", "messages" and "tools" (at least 1). Recorded as the last request.
Task<void> MockHandler::count_tokens(Exchange& ex) {
  if (co_await ex.read_body() != BodyError::none) co_return;
  json::error_code ec;
  const json::value doc = json::parse(ex.body(), ec);
  record_last(ex);
  if (ec || !doc.is_object() || !doc.get_object().contains("messages")) {
    ApiError e = ApiError::invalid_request("count_tokens needs a JSON body with messages");
    co_await ex.respond(400, json_headers(), to_anthropic_json(e));
    co_return;
  }
  std::size_t bytes = 0;
  auto walk = [&](auto& self, const json::value& v) -> void {
    if (v.is_string()) bytes += v.get_string().size();
    else if (v.is_array())
      for (const auto& x : v.get_array()) self(self, x);
    else if (v.is_object())
      for (const auto& kv : v.get_object()) self(self, kv.value());
  };
  for (const char* k : {"system", "messages", "tools"})
    if (auto v = doc.get_object().if_contains(k)) walk(walk, *v);
  const std::int64_t tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>(bytes / 4));
  co_await ex.respond(200, json_headers(), "{\"input_tokens\":" + std::to_string(tokens) + "}");
}

// OpenAI's moderations (mock_moderation in mock_wire.h) and embeddings (mock_embeddings in
// mock_embedding.h), after the knobs latency_ms and the injected faults (status, fail_percent,
// fail_first). Recorded as the last request.
Task<void> MockHandler::json_post(Exchange& ex, JsonEndpoint endpoint) {
  switch (co_await ex.read_body()) {
    case BodyError::none: break;
    case BodyError::too_large:
      co_return co_await send_error(ex, ApiError::too_large("request body too large"));
    case BodyError::malformed:
      co_return co_await send_error(ex, ApiError::invalid_request("malformed request body"));
    default: co_return;
  }
  const bool moderation = endpoint == JsonEndpoint::moderation;
  ++(moderation ? moderation_requests_ : embedding_requests_);
  MockKnobs knobs = defaults_;
  json::error_code ec;
  const json::value doc = json::parse(ex.body(), ec);
  Result<std::string> answer = moderation ? mock_moderation(ex.body(), ++next_moderation_id_)
                                          : mock_embeddings(ex.body());
  record_last(ex);
  if (auto r = apply_header_knobs(knobs, ex.head().headers); !r)
    co_return co_await send_error(ex, r.error());
  if (const auto* mock = !ec && doc.is_object() ? doc.get_object().if_contains("mock") : nullptr)
    if (auto r = apply_body_knobs(knobs, *mock); !r) co_return co_await send_error(ex, r.error());
  if (knobs.latency_ms > 0) {
    if (!co_await sleep_ms(knobs.latency_ms)) co_return;
  }
  const std::int64_t seen = knobs.fail_first >= 0 ? ++fail_first_seen_ : 0;
  if (const int fault = knobs.fault_status(knobs.fail_percent >= 0 ? roll_percent() : 0, seen)) {
    ApiError e = mock_fault_error(fault);
    if (knobs.retry_after >= 0) e.retry_after = std::to_string(knobs.retry_after);
    co_return co_await send_error(ex, e);
  }
  if (!answer) co_return co_await send_error(ex, answer.error());
  co_await ex.respond(200, json_headers(), std::move(*answer));
}

// An endpoint of mock_endpoint.h: the body, the knobs (headers only), latency and faults,
// then its answer, whole or streamed in pieces interval_ms apart. Recorded as the last request.
Task<void> MockHandler::endpoint(Exchange& ex, std::size_t index) {
  const MockEndpoint& ep = *endpoints_[index];
  switch (co_await ex.read_body()) {
    case BodyError::none: break;
    case BodyError::too_large: {
      MockAnswer a = ep.error(ApiError::too_large("request body too large"));
      co_await ex.respond(a.status, json_headers(), std::move(a.body));
      co_return;
    }
    case BodyError::malformed: {
      MockAnswer a = ep.error(ApiError::invalid_request("malformed request body"));
      co_await ex.respond(a.status, json_headers(), std::move(a.body));
      co_return;
    }
    default: co_return;
  }
  ++endpoint_requests_[index];
  const RequestHead& head = ex.head();
  MockKnobs knobs = defaults_;
  std::optional<MockAnswer> answer;
  if (auto r = apply_header_knobs(knobs, head.headers); !r) answer = ep.error(r.error());
  const std::int64_t seen = knobs.fail_first >= 0 ? ++fail_first_seen_ : 0;
  if (!answer) {
    if (const int fault = knobs.fault_status(knobs.fail_percent >= 0 ? roll_percent() : 0, seen)) {
      ApiError e = mock_fault_error(fault);
      if (knobs.retry_after >= 0) e.retry_after = std::to_string(knobs.retry_after);
      answer = ep.error(e);
    }
  }
  if (!answer) {
    std::string_view path = head.target;
    path = path.substr(0, path.find('?'));
    const MockRequest req{head.method, head.target, path, head.headers, ex.body()};
    answer = ep.answer(req, knobs, jobs_);
  }
  record_last(ex);
  if (knobs.latency_ms > 0) {
    if (!co_await sleep_ms(knobs.latency_ms)) co_return;
  }
  MockAnswer& a = *answer;
  Headers headers = std::move(a.headers);
  headers.emplace_back("content-type", a.content_type);
  if (a.pieces.empty()) {
    co_await ex.respond(a.status, std::move(headers), std::move(a.body));
    co_return;
  }
  if (!co_await ex.start_stream(a.status, std::move(headers))) co_return;
  for (std::size_t i = 0; i < a.pieces.size(); ++i) {
    if (i > 0 && knobs.interval_ms > 0) {
      if (!co_await sleep_ms(knobs.interval_ms)) co_return;
    }
    if (static_cast<int>(i) == knobs.reset_after_chunks) {
      ex.abort();
      co_return;
    }
    if (!co_await ex.write(a.pieces[i])) co_return;
  }
  co_await ex.finish_stream();
}

std::string MockHandler::reset() {
  for (Counter* c : {&requests_, &chat_requests_, &streams_started_, &streams_completed_,
                     &streams_aborted_, &streams_reset_, &fail_first_seen_,
                     &moderation_requests_, &embedding_requests_})
    c->reset();
  for (std::size_t i = 0; i < formats_.size(); ++i) format_requests_[i].reset();
  for (std::size_t i = 0; i < endpoints_.size(); ++i) endpoint_requests_[i].reset();
  {
    std::lock_guard lock(last_mutex_);
    last_.valid = false;
  }
  return R"({"status":"reset"})";
}

// Every chat request lands here, so once warm it does not allocate: the strings are assigned into
// the previous request's storage (their capacity is reused) and the body is swapped, not copied.
// The lock is held for a few hundred bytes of copying; it is the mock's only shared write.
void MockHandler::record_last(Exchange& ex) {
  const RequestHead& head = ex.head();
  std::lock_guard lock(last_mutex_);
  last_.method.assign(head.method);
  last_.target.assign(head.target);
  last_.headers.resize(head.headers.size());
  for (std::size_t i = 0; i < head.headers.size(); ++i) {
    last_.headers[i].first.assign(head.headers[i].first);
    last_.headers[i].second.assign(head.headers[i].second);
  }
  last_.body.swap(ex.body());  // parsed already; the handler needs it no more
  ex.body().clear();           // it now holds the previous request's body
  last_.valid = true;
}

std::string MockHandler::last_json() {
  LastRequest last;
  {
    std::lock_guard lock(last_mutex_);
    last = last_;
  }
  if (!last.valid) return {};
  json::object headers;
  for (const auto& [name, value] : last.headers) {
    std::string key = lower(name);
    if (auto* prev = headers.if_contains(key)) {  // repeated header: join, as HTTP allows
      std::string joined(prev->get_string());
      joined += ", ";
      joined += value;
      *prev = joined;
    } else {
      headers[key] = value;
    }
  }
  json::error_code ec;
  json::value body = json::parse(last.body, ec);
  json::object root;
  if (ec) {
    body = nullptr;
    // Not JSON (a multipart upload): the text as it came, at most 64 KiB of it.
    root["raw"] = json::string_view(last.body.data(), std::min<std::size_t>(last.body.size(), 65536));
  }
  root["method"] = last.method;
  root["target"] = last.target;
  root["headers"] = std::move(headers);
  root["body"] = std::move(body);
  return json::serialize(root);
}

std::string MockHandler::stats_json() const {
  json::object o;
  o["requests"] = requests_.get();
  o["chat_requests"] = chat_requests_.get();
  o["streams_started"] = streams_started_.get();
  o["streams_completed"] = streams_completed_.get();
  o["streams_aborted"] = streams_aborted_.get();
  o["streams_reset"] = streams_reset_.get();
  o["active_streams"] = active_streams_.get();
  o["moderation_requests"] = moderation_requests_.get();
  o["embedding_requests"] = embedding_requests_.get();
  json::object formats;
  for (std::size_t i = 0; i < formats_.size(); ++i)
    formats[formats_[i]->name()] = format_requests_[i].get();
  o["formats"] = std::move(formats);
  json::object endpoints;
  for (std::size_t i = 0; i < endpoints_.size(); ++i)
    endpoints[endpoints_[i]->name()] = endpoint_requests_[i].get();
  o["endpoints"] = std::move(endpoints);
  return json::serialize(o);
}

Task<void> MockHandler::chat(Exchange& ex, std::size_t format_index) {
  const MockFormat& format = *formats_[format_index];
  switch (co_await ex.read_body()) {
    case BodyError::none: break;
    case BodyError::too_large:
      co_return co_await send_error(ex, format, ApiError::too_large("request body too large"));
    case BodyError::malformed:
      co_return co_await send_error(ex, format,
                                    ApiError::invalid_request("malformed request body"));
    default: co_return;  // closed or timed out: nobody to answer
  }
  ++chat_requests_;
  ++format_requests_[format_index];
  Result<MockTurn> parsed = format.parse(ex.head().target, ex.head().headers, ex.body());
  record_last(ex);  // after parse: it takes the body away
  if (!parsed) co_return co_await send_error(ex, format, parsed.error());
  const MockTurn& turn = *parsed;

  MockKnobs knobs = defaults_;
  if (auto r = apply_header_knobs(knobs, ex.head().headers); !r)
    co_return co_await send_error(ex, format, r.error());
  if (auto r = apply_body_knobs(knobs, turn.knobs); !r)
    co_return co_await send_error(ex, format, r.error());

  const std::int64_t seen = knobs.fail_first >= 0 ? ++fail_first_seen_ : 0;
  const int fault = knobs.fault_status(knobs.fail_percent >= 0 ? roll_percent() : 0, seen);
  if (fault) {
    if (knobs.latency_ms > 0) {
      if (!co_await sleep_ms(knobs.latency_ms)) co_return;
    }
    ApiError e = mock_fault_error(fault);
    if (knobs.retry_after >= 0) e.retry_after = std::to_string(knobs.retry_after);
    co_return co_await send_error(ex, format, e);
  }

  const MockWords words(turn.last_user_text, knobs.total_words(), knobs.glue == 1);
  MockScript script = make_mock_script(turn, knobs, words);
  script.id = "mock-" + std::to_string(++next_id_);
  script.created = std::time(nullptr);
  if (turn.stream) co_return co_await stream(ex, format, knobs, script);

  if (const int delay = knobs.latency_ms + knobs.stall_ms; delay > 0) {
    if (!co_await sleep_ms(delay)) co_return;
  }
  co_await ex.respond(200, json_headers(), format.whole(script));
}

Task<void> MockHandler::stream(Exchange& ex, const MockFormat& format, const MockKnobs& k,
                               const MockScript& s) {
  ++streams_started_;
  ++active_streams_;
  struct Active {  // leaves active_streams on every exit, also on cancellation
    Counter& c;
    ~Active() { --c; }
  } active{active_streams_};

  if (k.latency_ms > 0) {
    if (!co_await sleep_ms(k.latency_ms)) co_return;
  }
  // A named variable: GCC 12 rejects a braced list inside a co_await expression.
  Headers sse_headers{{"content-type", std::string(format.stream_content_type())},
                      {"cache-control", "no-cache"}};
  if (!co_await ex.start_stream(200, std::move(sse_headers))) {
    ++streams_aborted_;
    co_return;
  }
  if (k.ttft_ms > 0) {
    if (!co_await sleep_ms(k.ttft_ms)) co_return;
  }

  std::string buf;
  buf.reserve(k.interval_ms > 0 ? 512 : kBatchBytes / 4);
  format.stream_start(buf, s);

  auto flush = [&]() -> Task<bool> {
    if (buf.empty()) co_return true;
    const bool ok = co_await ex.write(buf);
    buf.clear();
    if (!ok) ++streams_aborted_;
    co_return ok;
  };
  const int reset_at = k.reset_after_chunks >= 0 ? std::min(k.reset_after_chunks, s.chunks) : -1;
  const int stall_at = k.stall_ms > 0 ? std::min(k.stall_after_chunks, s.chunks) : -1;
  // At the top of iteration i, content chunks [0, i) are sent or buffered. With interval_ms 0
  // the chunks are batched into few writes: a zero-delay mock must not cost a syscall a chunk.
  std::optional<net::steady_timer> interval_timer;
  // co_await stays out of && and ||: GCC 12 has had coroutine bugs with them.
  for (int i = 0;; ++i) {
    if (i == reset_at) {
      if (co_await flush()) {
        ++streams_reset_;
        ex.abort();
      }
      co_return;
    }
    if (i == stall_at) {
      if (!co_await flush()) co_return;
      if (!co_await sleep_ms(k.stall_ms)) co_return;
    }
    if (i == s.chunks) break;
    if (i > 0 && k.interval_ms > 0) {  // the hot wait: one timer per stream, no extra frame
      if (!interval_timer) interval_timer.emplace(co_await net::this_coro::executor);
      interval_timer->expires_after(std::chrono::milliseconds(k.interval_ms));
      auto [ec] = co_await interval_timer->async_wait(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
    }
    format.stream_text(buf, s, std::int64_t(i) * s.tokens_per_chunk, mock_chunk_words(s, i));
    if (k.interval_ms > 0 || buf.size() >= kBatchBytes) {
      if (!co_await flush()) co_return;
    }
  }
  format.stream_end(buf, s);
  if (!co_await flush()) co_return;
  co_await ex.finish_stream();
  ++streams_completed_;
}

}  // namespace

std::shared_ptr<Handler> make_mock_handler(MockOptions options) {
  return std::make_shared<MockHandler>(std::move(options));
}

}  // namespace torii
