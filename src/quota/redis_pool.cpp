// The Redis connection pool: one Worker per store per io_context, kept by an Asio service.
#include "quota/redis_pool.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <unordered_map>
#include <vector>

namespace torii::quota {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);
constexpr auto kPause = std::chrono::seconds(1);  // no attempt for this long after a failure

int64_t steady_ns() { return Clock::now().time_since_epoch().count(); }

}  // namespace

// The connections of one pool on one io_context. Used only from that io_context's thread.
struct RedisPool::Worker {
  struct Waiter {
    Waiter(const net::any_io_executor& ex, Worker& w) : timer(ex), worker(w) {
      worker.waiters.push_back(this);
    }
    // A call destroyed while it waits (its io_context shutting down) leaves no dangling entry.
    ~Waiter() { std::erase(worker.waiters, this); }
    net::steady_timer timer;
    Worker& worker;
    std::unique_ptr<RedisConnection> conn;  // handed over by release()
    bool slot = false;                      // or: a slot freed, connect one
  };
  std::weak_ptr<const RedisPool> owner;
  std::vector<std::unique_ptr<RedisConnection>> idle;
  int open = 0;  // idle + in use + being connected
  std::deque<Waiter*> waiters;
  bool closed = false;  // the io_context is shutting down

  void release(std::unique_ptr<RedisConnection> c, uint64_t generation) {
    if (closed) return;
    if (c && !c->broken() && c->generation == generation) {
      if (waiters.empty()) {
        idle.push_back(std::move(c));
        return;
      }
      Waiter* w = waiters.front();
      waiters.pop_front();
      w->conn = std::move(c);
      w->timer.cancel();
      return;
    }
    release_slot();
  }
  // One connection fewer: a waiter, if any, may open one.
  void release_slot() {
    if (closed) return;
    --open;
    if (waiters.empty()) return;
    Waiter* w = waiters.front();
    waiters.pop_front();
    ++open;
    w->slot = true;
    w->timer.cancel();
  }
};

namespace {

// One Worker per pool, per io_context: an Asio service, so that connections die with their
// io_context (a thread_local pool would outlive an io_context destroyed before its thread).
class WorkerService final : public net::execution_context::service {
 public:
  static inline net::execution_context::id id;
  explicit WorkerService(net::execution_context& ctx) : service(ctx) {}

  std::shared_ptr<RedisPool::Worker> worker_for(const std::shared_ptr<const RedisPool>& owner) {
    auto& slot = workers_[owner.get()];
    // A worker of a destroyed pool at the same address is not ours.
    if (!slot || slot->owner.expired()) {
      std::erase_if(workers_,
                    [&](const auto& kv) { return kv.second && kv.second->owner.expired(); });
      auto& fresh = workers_[owner.get()];
      fresh = std::make_shared<RedisPool::Worker>();
      fresh->owner = owner;
      return fresh;
    }
    return slot;
  }

 private:
  // Sockets must close while the reactor still exists: here, not in the destructor. Calls still
  // suspended hold their worker; once closed, it drops what they give back.
  void shutdown() override {
    for (auto& [key, worker] : workers_) {
      worker->closed = true;
      worker->idle.clear();
      worker->waiters.clear();
    }
    workers_.clear();
  }
  std::unordered_map<const RedisPool*, std::shared_ptr<RedisPool::Worker>> workers_;
};

}  // namespace

RedisPool::Lease::~Lease() {
  if (worker_ && conn_)
    worker_->release(std::move(conn_), owner_->generation_.load(std::memory_order_relaxed));
}

std::shared_ptr<RedisPool> RedisPool::make(RedisPoolSettings settings) {
  return std::shared_ptr<RedisPool>(new RedisPool(std::move(settings)));
}

void RedisPool::failed() {
  generation_.fetch_add(1, std::memory_order_relaxed);
  paused_until_ns_.store(steady_ns() + std::chrono::nanoseconds(kPause).count(),
                         std::memory_order_relaxed);
}

std::optional<ApiError> RedisPool::paused() const {
  if (steady_ns() >= paused_until_ns_.load(std::memory_order_relaxed)) return std::nullopt;
  ApiError e = redis_unavailable("Redis at " + where() + " failed less than 1 s ago");
  e.retry_after = "1";
  return e;
}

Task<Result<RedisPool::Lease>> RedisPool::acquire() {
  if (auto e = paused()) co_return *e;
  auto ex = co_await net::this_coro::executor;
  auto& ctx = net::query(ex, net::execution::context);
  Lease lease;
  lease.owner_ = shared_from_this();
  lease.worker_ = net::use_service<WorkerService>(ctx).worker_for(lease.owner_);
  Worker& worker = *lease.worker_;
  const uint64_t gen = generation_.load(std::memory_order_relaxed);
  while (!worker.idle.empty()) {
    lease.conn_ = std::move(worker.idle.back());
    worker.idle.pop_back();
    if (lease.conn_->generation == gen && !lease.conn_->stale()) co_return lease;
    lease.conn_.reset();
    --worker.open;
  }
  const int size = std::max(1, s_.size);
  if (worker.open >= size) {
    // All busy: wait for one to come back, at most one round trip's timeout.
    Worker::Waiter w(ex, worker);
    w.timer.expires_after(s_.timeout);
    co_await w.timer.async_wait(nothrow);
    if (w.conn) {
      lease.conn_ = std::move(w.conn);
      co_return lease;
    }
    if (!w.slot) {
      co_return redis_unavailable("all " + std::to_string(size) +
                                  " Redis connections of this worker stayed busy for " +
                                  std::to_string(s_.timeout.count()) + " ms");
    }
    if (auto e = paused()) {
      worker.release_slot();
      co_return *e;
    }
  } else {
    ++worker.open;
  }
  auto c = co_await RedisConnection::connect(s_.ep, s_.init);
  if (!c) {
    failed();
    worker.release_slot();
    co_return c.error();
  }
  lease.conn_ = std::move(*c);
  lease.conn_->generation = gen;
  co_return lease;
}

Task<Result<std::vector<RedisReply>>> RedisPool::round_trip(const RedisRequest& req) {
  auto lease = co_await acquire();
  if (!lease) co_return lease.error();
  auto r = co_await (*lease)->round_trip(req, s_.timeout);
  if (!r) failed();
  co_return r;
}

}  // namespace torii::quota
