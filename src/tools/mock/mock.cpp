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
      : defaults_(MockKnobs::from_options(options)), models_json_(models_json(options.models)) {}

  Task<void> handle(Exchange& ex) override;

 private:
  static std::string models_json(const std::vector<std::string>& models);
  Task<void> chat(Exchange& ex);
  Task<void> stream(Exchange& ex, const MockKnobs& knobs, const MockWords& words,
                    std::string_view model, MockUsage usage, bool include_usage);
  Task<void> send_error(Exchange& ex, const ApiError& e);
  void record_last(Exchange& ex);
  std::string stats_json() const;
  std::string reset();
  std::string last_json();

  const MockKnobs defaults_;
  const std::string models_json_;
  Counter requests_, chat_requests_, streams_started_, streams_completed_, streams_aborted_,
      streams_reset_, active_streams_, next_id_;
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

  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    if (post) co_await chat(ex);
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

std::string MockHandler::reset() {
  for (Counter* c : {&requests_, &chat_requests_, &streams_started_, &streams_completed_,
                     &streams_aborted_, &streams_reset_})
    c->reset();
  {
    std::lock_guard lock(last_mutex_);
    last_.valid = false;
  }
  return R"({"status":"reset"})";
}

// Every chat request lands here, so once warm it does not allocate: the strings are assigned into the
// previous request's storage (their capacity is reused) and the body is swapped, not copied.
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
  if (ec) body = nullptr;
  json::object root;
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
  return json::serialize(o);
}

Task<void> MockHandler::chat(Exchange& ex) {
  switch (co_await ex.read_body()) {
    case BodyError::none: break;
    case BodyError::too_large:
      co_return co_await send_error(ex, ApiError::too_large("request body too large"));
    case BodyError::malformed:
      co_return co_await send_error(ex, ApiError::invalid_request("malformed request body"));
    default: co_return;  // closed or timed out: nobody to answer
  }
  ++chat_requests_;
  json::error_code ec;
  const json::value doc = json::parse(ex.body(), ec);
  record_last(ex);
  if (ec)
    co_return co_await send_error(
        ex, ApiError::invalid_request("malformed JSON in request body: " + ec.message()));
  const json::object* req = doc.if_object();
  if (!req)
    co_return co_await send_error(
        ex, ApiError::invalid_request("request body must be a JSON object"));
  const json::value* model = req->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty())
    co_return co_await send_error(
        ex, ApiError::invalid_request("'model' is required and must be a string", "model"));
  const json::value* messages = req->if_contains("messages");
  if (!messages || !messages->is_array())
    co_return co_await send_error(
        ex, ApiError::invalid_request("'messages' is required and must be an array",
                                      "messages"));
  bool streaming = false;
  if (const json::value* s = req->if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool())
      co_return co_await send_error(
          ex, ApiError::invalid_request("'stream' must be a boolean", "stream"));
    streaming = s->get_bool();
  }
  bool include_usage = false;
  if (const json::value* so = req->if_contains("stream_options"); so && so->is_object()) {
    const json::value* iu = so->get_object().if_contains("include_usage");
    include_usage = iu && iu->is_bool() && iu->get_bool();
  }

  MockKnobs knobs = defaults_;
  if (auto r = apply_header_knobs(knobs, ex.head().headers); !r)
    co_return co_await send_error(ex, r.error());
  if (const json::value* mock = req->if_contains("mock"))
    if (auto r = apply_body_knobs(knobs, *mock); !r) co_return co_await send_error(ex, r.error());

  const int fault = knobs.fault_status(knobs.fail_percent >= 0 ? roll_percent() : 0);
  if (fault) {
    if (knobs.latency_ms > 0) {
      if (!co_await sleep_ms(knobs.latency_ms)) co_return;
    }
    ApiError e = mock_fault_error(fault);
    if (knobs.retry_after >= 0) e.retry_after = std::to_string(knobs.retry_after);
    co_return co_await send_error(ex, e);
  }

  const std::int64_t total = knobs.total_words();
  const MockWords words(*messages, total);
  const MockUsage usage{estimate_prompt_tokens(*messages), total};
  const std::string_view model_name = model->get_string();
  if (streaming)
    co_return co_await stream(ex, knobs, words, model_name, usage, include_usage);

  if (const int delay = knobs.latency_ms + knobs.stall_ms; delay > 0) {
    if (!co_await sleep_ms(delay)) co_return;
  }
  const std::string id = "chatcmpl-mock-" + std::to_string(++next_id_);
  co_await ex.respond(200, json_headers(),
                      build_completion_json(id, std::time(nullptr), model_name, words, total,
                                            usage));
}

Task<void> MockHandler::stream(Exchange& ex, const MockKnobs& k, const MockWords& words,
                               std::string_view model, MockUsage usage, bool include_usage) {
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
  Headers sse_headers{{"content-type", "text/event-stream"}, {"cache-control", "no-cache"}};
  if (!co_await ex.start_stream(200, std::move(sse_headers))) {
    ++streams_aborted_;
    co_return;
  }
  if (k.ttft_ms > 0) {
    if (!co_await sleep_ms(k.ttft_ms)) co_return;
  }

  const MockChunks chunks("chatcmpl-mock-" + std::to_string(++next_id_), std::time(nullptr),
                          model);
  std::string buf;
  buf.reserve(k.interval_ms > 0 ? 512 : kBatchBytes / 4);
  chunks.append_role(buf);

  auto flush = [&]() -> Task<bool> {
    if (buf.empty()) co_return true;
    const bool ok = co_await ex.write(buf);
    buf.clear();
    if (!ok) ++streams_aborted_;
    co_return ok;
  };
  const int reset_at = k.reset_after_chunks >= 0 ? std::min(k.reset_after_chunks, k.chunks) : -1;
  const int stall_at = k.stall_ms > 0 ? std::min(k.stall_after_chunks, k.chunks) : -1;
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
    if (i == k.chunks) break;
    if (i > 0 && k.interval_ms > 0) {  // the hot wait: one timer per stream, no extra frame
      if (!interval_timer) interval_timer.emplace(co_await net::this_coro::executor);
      interval_timer->expires_after(std::chrono::milliseconds(k.interval_ms));
      auto [ec] = co_await interval_timer->async_wait(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
    }
    chunks.append_content(buf, words, std::int64_t(i) * k.tokens_per_chunk, k.tokens_per_chunk);
    if (k.interval_ms > 0 || buf.size() >= kBatchBytes) {
      if (!co_await flush()) co_return;
    }
  }
  chunks.append_finish(buf);
  if (include_usage) chunks.append_usage(buf, usage);
  MockChunks::append_done(buf);
  if (!co_await flush()) co_return;
  co_await ex.finish_stream();
  ++streams_completed_;
}

}  // namespace

std::shared_ptr<Handler> make_mock_handler(MockOptions options) {
  return std::make_shared<MockHandler>(std::move(options));
}

}  // namespace torii
