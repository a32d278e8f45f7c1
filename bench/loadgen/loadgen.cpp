// torii_loadgen: the bench harness's own load client (bench/run.sh, BENCH.md figure 3).
//
//   torii_loadgen stream --url http://127.0.0.1:P/v1/chat/completions --key K --model M
//                        --streams N --duration S --chunks C --interval-ms I [--header k:v]...
//                        [--threads T] [--ramp-ms R] [--timeout-s S]
//
// Opens N keep-alive connections; each one POSTs streaming chat requests back to back until the
// duration is over (the last stream is let finish), parses the chunked SSE answer and records the
// time to first token (request written -> first event with non-empty content) and every gap
// between consecutive events after it. Prints one JSON line with the figures (all times in µs).
// Connections are spread over T threads (default 1), each with its own io_context: epoll holds
// thousands of sockets on one thread, and the harness pins the loadgen to one core anyway.

#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "histogram.h"
#include "response_reader.h"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace torii::bench {
namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "80";
  std::string path = "/v1/chat/completions";
  std::string key;
  std::string model = "mock-1";
  std::vector<std::string> headers;  // "name: value"
  int streams = 100;
  double duration_s = 10;
  int chunks = 64;
  int interval_ms = 20;
  int threads = 1;
  int ramp_ms = -1;      // -1: derived from the stream count
  double timeout_s = 30;  // no byte for this long: the request counts as an error
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "error: %s\nusage: torii_loadgen stream --url http://HOST:PORT/PATH [--key K] "
               "[--model M] [--streams N] [--duration S] [--chunks C] [--interval-ms I] "
               "[--header k:v]... [--threads T] [--ramp-ms R] [--timeout-s S]\n",
               msg);
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "stream") usage("the only mode is `stream`");
  Options o;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (a == "--url") {
      std::string url = value();
      if (!url.starts_with("http://")) usage("--url must start with http://");
      auto rest = url.substr(7);
      auto slash = rest.find('/');
      auto hostport = rest.substr(0, slash);
      o.path = slash == std::string::npos ? "/" : rest.substr(slash);
      auto colon = hostport.rfind(':');
      o.host = hostport.substr(0, colon);
      if (colon != std::string::npos) o.port = hostport.substr(colon + 1);
    } else if (a == "--key") {
      o.key = value();
    } else if (a == "--model") {
      o.model = value();
    } else if (a == "--header") {
      auto h = value();
      auto colon = h.find(':');
      if (colon == std::string::npos) usage("--header wants name:value");
      auto v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      o.headers.push_back(h.substr(0, colon) + ": " + v);
    } else if (a == "--streams") {
      o.streams = std::atoi(value().c_str());
    } else if (a == "--duration") {
      o.duration_s = std::atof(value().c_str());
    } else if (a == "--chunks") {
      o.chunks = std::atoi(value().c_str());
    } else if (a == "--interval-ms") {
      o.interval_ms = std::atoi(value().c_str());
    } else if (a == "--threads") {
      o.threads = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--ramp-ms") {
      o.ramp_ms = std::atoi(value().c_str());
    } else if (a == "--timeout-s") {
      o.timeout_s = std::atof(value().c_str());
    } else {
      usage(("unknown option " + std::string(a)).c_str());
    }
  }
  if (o.streams < 1) usage("--streams must be >= 1");
  if (o.ramp_ms < 0) o.ramp_ms = std::min(5000, o.streams / 4);  // ~4 connects per ms
  return o;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::uint64_t micros(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

/// Figures shared by every connection: the open and in-flight gauges are read across threads.
struct Gauges {
  std::atomic<int> open{0};
  std::atomic<int> open_max{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> in_flight_max{0};
  std::atomic<std::uint64_t> seq{0};

  static void bump(std::atomic<int>& g, std::atomic<int>& max) {
    int now = ++g;
    int prev = max.load(std::memory_order_relaxed);
    while (now > prev && !max.compare_exchange_weak(prev, now)) {
    }
  }
};

/// Per-thread results, merged at the end.
struct Stats {
  Histogram ttft;
  Histogram gap;
  std::uint64_t requests = 0;
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  std::uint64_t cut_at_end = 0;
  std::uint64_t stalls = 0;
  std::uint64_t events = 0;
  std::map<std::string, std::uint64_t> error_kinds;

  void error(const std::string& kind) {
    ++errors;
    ++error_kinds[kind];
  }
};

struct Conn {
  explicit Conn(net::io_context& io) : socket(io) {}
  tcp::socket socket;
  Clock::time_point last_activity{};
  bool busy = false;       // a request is in flight
  bool timed_out = false;  // the watchdog closed the socket
};

class Worker {
 public:
  Worker(const Options& o, Gauges& g, tcp::endpoint ep, Clock::time_point start)
      : opt_(o), gauges_(g), endpoint_(ep), start_(start) {
    deadline_ = start + std::chrono::milliseconds(o.ramp_ms) +
                std::chrono::microseconds(static_cast<std::int64_t>(o.duration_s * 1e6));
    // The last stream of each connection may finish; then everything is cut.
    auto stream_ms = static_cast<std::int64_t>(o.chunks) * o.interval_ms;
    hard_deadline_ = deadline_ + std::chrono::milliseconds(std::max<std::int64_t>(
                                     5000, 2 * stream_ms + 3000));
    stall_us_ = 5ull * static_cast<std::uint64_t>(std::max(1, o.interval_ms)) * 1000;
  }

  void add(int index) {
    conns_.emplace_back(io_);
    auto when = start_ + std::chrono::microseconds(
                             static_cast<std::int64_t>(opt_.ramp_ms) * 1000 * index /
                             std::max(1, opt_.streams));
    net::co_spawn(io_, run(conns_.back(), when), net::detached);
  }

  void run_all() {
    net::co_spawn(io_, watchdog(), net::detached);
    io_.run();
  }

  Stats stats;
  std::uint64_t stall_threshold_us() const { return stall_us_; }

 private:
  net::awaitable<void> watchdog() {
    net::steady_timer timer(io_);
    const auto timeout = std::chrono::microseconds(static_cast<std::int64_t>(opt_.timeout_s * 1e6));
    for (;;) {
      timer.expires_after(std::chrono::milliseconds(200));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      auto now = Clock::now();
      bool all_closed = now > deadline_ && live_ == 0;
      if (all_closed) co_return;
      for (auto& c : conns_) {
        if (!c.socket.is_open()) continue;
        if (now > hard_deadline_ || (c.busy && now - c.last_activity > timeout)) {
          c.timed_out = now <= hard_deadline_;
          boost::system::error_code ignored;
          c.socket.close(ignored);
        }
      }
      if (now > hard_deadline_ + std::chrono::seconds(2)) {
        io_.stop();
        co_return;
      }
    }
  }

  std::string make_request() {
    auto n = gauges_.seq.fetch_add(1, std::memory_order_relaxed);
    std::string body;
    body.reserve(256);
    body.append(R"({"model":")").append(opt_.model);
    body.append(R"(","stream":true,"messages":[{"role":"user","content":"bench prompt )");
    body.append(std::to_string(n)).append(R"( tell me a story"}],"mock":{"chunks":)");
    body.append(std::to_string(opt_.chunks)).append(R"(,"interval_ms":)");
    body.append(std::to_string(opt_.interval_ms)).append("}}");
    std::string req;
    req.reserve(512 + body.size());
    req.append("POST ").append(opt_.path).append(" HTTP/1.1\r\nHost: ").append(opt_.host);
    req.append(":").append(opt_.port);
    req.append("\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n");
    if (!opt_.key.empty()) req.append("Authorization: Bearer ").append(opt_.key).append("\r\n");
    for (auto& h : opt_.headers) req.append(h).append("\r\n");
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    req.append(body);
    return req;
  }

  void close(Conn& c) {
    if (c.socket.is_open()) {
      boost::system::error_code ignored;
      c.socket.close(ignored);
    }
  }

  net::awaitable<void> run(Conn& c, Clock::time_point when) {
    ++live_;
    net::steady_timer timer(io_);
    timer.expires_at(when);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    std::unique_ptr<char[]> buf(new char[4096]);
    ResponseReader reader;
    bool counted_open = false;
    auto mark_closed = [&] {
      if (counted_open) --gauges_.open;
      counted_open = false;
    };
    while (Clock::now() < deadline_) {
      if (!c.socket.is_open()) {
        mark_closed();
        c.socket = tcp::socket(io_);
        c.busy = true;
        c.last_activity = Clock::now();
        auto [ec] = co_await c.socket.async_connect(endpoint_, net::as_tuple(net::use_awaitable));
        c.busy = false;
        if (ec) {
          stats.error("connect: " + ec.message());
          close(c);
          timer.expires_after(std::chrono::milliseconds(100));
          co_await timer.async_wait(net::as_tuple(net::use_awaitable));
          continue;
        }
        c.socket.set_option(tcp::no_delay(true));
        counted_open = true;
        Gauges::bump(gauges_.open, gauges_.open_max);
      }
      std::string req = make_request();
      reader.reset();
      ++stats.requests;
      c.busy = true;
      c.timed_out = false;
      const auto sent = Clock::now();
      c.last_activity = sent;
      Gauges::bump(gauges_.in_flight, gauges_.in_flight_max);
      auto [wec, wn] =
          co_await net::async_write(c.socket, net::buffer(req), net::as_tuple(net::use_awaitable));
      bool first = false, done = false, error_event = false;
      Clock::time_point last{};
      ResponseReader::State state = ResponseReader::State::head;
      std::string failure;
      if (wec) failure = "write: " + wec.message();
      while (failure.empty() && state != ResponseReader::State::complete) {
        auto [ec, n] = co_await c.socket.async_read_some(net::buffer(buf.get(), 4096),
                                                         net::as_tuple(net::use_awaitable));
        const auto now = Clock::now();
        c.last_activity = now;
        if (ec == net::error::eof) {
          state = reader.on_eof();
          if (state != ResponseReader::State::complete) failure = "closed by peer";
          break;
        }
        if (ec) {
          failure = c.timed_out ? "timeout" : (now > hard_deadline_ ? "cut" : "read: " + ec.message());
          break;
        }
        state = reader.feed(std::string_view(buf.get(), n), [&](EventKind kind) {
          ++stats.events;
          if (kind == EventKind::done) done = true;
          if (kind == EventKind::error) error_event = true;
          if (!first) {
            if (kind != EventKind::content) return;
            first = true;
            stats.ttft.record(micros(now - sent));
            last = now;
            return;
          }
          auto gap = micros(now - last);
          stats.gap.record(gap);
          if (gap > stall_us_) ++stats.stalls;
          last = now;
        });
        if (state == ResponseReader::State::bad) failure = "bad response framing";
      }
      --gauges_.in_flight;
      c.busy = false;
      if (failure.empty()) {
        if (reader.status() != 200) failure = "status " + std::to_string(reader.status());
        else if (error_event) failure = "error event";
        else if (!done) failure = "no [DONE]";
      }
      if (failure == "cut") {
        ++stats.cut_at_end;
      } else if (!failure.empty()) {
        stats.error(failure);
      } else {
        ++stats.completed;
      }
      if (!failure.empty() || reader.wants_close()) close(c);
    }
    close(c);
    mark_closed();
    --live_;
  }

  const Options& opt_;
  Gauges& gauges_;
  tcp::endpoint endpoint_;
  Clock::time_point start_, deadline_, hard_deadline_;
  std::uint64_t stall_us_ = 0;
  net::io_context io_{1};
  std::deque<Conn> conns_;
  int live_ = 0;
};

}  // namespace
}  // namespace torii::bench

int main(int argc, char** argv) {
  using namespace torii::bench;
  Options opt = parse_args(argc, argv);
  raise_fd_limit();
  tcp::endpoint endpoint;
  try {
    net::io_context io;
    tcp::resolver resolver(io);
    endpoint = *resolver.resolve(opt.host, opt.port).begin();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torii_loadgen: cannot resolve %s:%s: %s\n", opt.host.c_str(),
                 opt.port.c_str(), e.what());
    return 2;
  }
  Gauges gauges;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < opt.threads; ++t)
    workers.push_back(std::make_unique<Worker>(opt, gauges, endpoint, start));
  for (int i = 0; i < opt.streams; ++i) workers[i % opt.threads]->add(i);
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run_all(); });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  Stats all;
  for (auto& w : workers) {
    all.ttft.merge(w->stats.ttft);
    all.gap.merge(w->stats.gap);
    all.requests += w->stats.requests;
    all.completed += w->stats.completed;
    all.errors += w->stats.errors;
    all.cut_at_end += w->stats.cut_at_end;
    all.stalls += w->stats.stalls;
    all.events += w->stats.events;
    for (auto& [k, v] : w->stats.error_kinds) all.error_kinds[k] += v;
  }
  std::string kinds = "{";
  for (auto& [k, v] : all.error_kinds) {
    if (kinds.size() > 1) kinds += ",";
    kinds += "\"" + k + "\":" + std::to_string(v);
  }
  kinds += "}";
  std::printf(
      "{\"mode\":\"stream\",\"streams_requested\":%d,\"streams_established\":%d,"
      "\"streams_in_flight_max\":%d,\"requests\":%llu,\"completed\":%llu,\"errors\":%llu,"
      "\"cut_at_end\":%llu,\"error_kinds\":%s,\"ttft_p50_us\":%llu,\"ttft_p99_us\":%llu,"
      "\"ttft_max_us\":%llu,\"gap_p50_us\":%llu,\"gap_p99_us\":%llu,\"gap_max_us\":%llu,"
      "\"gaps\":%llu,\"stalls\":%llu,\"stall_threshold_us\":%llu,\"events\":%llu,"
      "\"elapsed_s\":%.2f}\n",
      opt.streams, gauges.open_max.load(), gauges.in_flight_max.load(),
      (unsigned long long)all.requests, (unsigned long long)all.completed,
      (unsigned long long)all.errors, (unsigned long long)all.cut_at_end, kinds.c_str(),
      (unsigned long long)all.ttft.percentile(0.5), (unsigned long long)all.ttft.percentile(0.99),
      (unsigned long long)all.ttft.max(), (unsigned long long)all.gap.percentile(0.5),
      (unsigned long long)all.gap.percentile(0.99), (unsigned long long)all.gap.max(),
      (unsigned long long)all.gap.count(), (unsigned long long)all.stalls,
      (unsigned long long)workers.front()->stall_threshold_us(), (unsigned long long)all.events,
      elapsed);
  return 0;
}
