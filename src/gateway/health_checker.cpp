#include "gateway/health_checker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <thread>

#include "core/log.h"
#include "upstream/http_client.h"

namespace torii {

struct HealthChecker::Impl {
  routing::HealthRegistry& registry;
  // The io_context lives on the checker thread's stack, so that the checks left pending at
  // shutdown are destroyed there, before that thread's upstream client (a thread_local).
  net::io_context* io = nullptr;
  std::thread thread;
  uint64_t generation = 0;  // touched on the checker thread only

  explicit Impl(routing::HealthRegistry& r) : registry(r) {
    std::promise<void> started;
    thread = std::thread([this, &started] {
      net::io_context context;
      auto work = net::make_work_guard(context);
      io = &context;
      started.set_value();
      context.run();
    });
    started.get_future().wait();
  }

  // One provider's loop; ends when a newer snapshot is watched or the snapshot is gone.
  Task<void> check_loop(std::weak_ptr<const Snapshot> weak, std::string name, uint64_t gen) {
    bool was_healthy = true;
    for (;;) {
      auto snap = weak.lock();
      if (!snap || gen != generation) co_return;
      auto slot = snap->provider_slots.find(name);
      if (slot == snap->provider_slots.end()) co_return;
      const HealthCheckConfig cfg = slot->second.config->health_check;
      const Endpoint& ep = slot->second.keys.front()->endpoint();
      UpstreamRequest req;
      req.method = "GET";
      req.path = ep.base_path + cfg.path;
      req.header_block = "User-Agent: torii-health-check\r\nAccept: application/json\r\n";
      req.deadline = std::chrono::steady_clock::now() + cfg.timeout;
      auto flag = registry.provider_flag(name);
      snap.reset();  // not held across the wait
      std::string why;
      auto resp = co_await UpstreamClient::local().send(ep, req);
      if (!resp) {
        why = resp.error().message;
      } else {
        (*resp)->set_deadline(req.deadline);
        co_await (*resp)->read_all(64 * 1024);  // so the connection can be reused
        if ((*resp)->status() >= 500) why = "HTTP " + std::to_string((*resp)->status());
      }
      const bool healthy = why.empty();
      flag->store(!healthy, std::memory_order_relaxed);
      if (healthy != was_healthy) {
        if (healthy) log::info("health check: provider '{}' is healthy again", name);
        else log::warn("health check: provider '{}' is unhealthy: {}", name, why);
        was_healthy = healthy;
      }
      net::steady_timer timer(*io);
      timer.expires_after(cfg.interval);
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  }
};

HealthChecker::HealthChecker(routing::HealthRegistry& registry)
    : impl_(std::make_unique<Impl>(registry)) {}

HealthChecker::~HealthChecker() {
  impl_->io->stop();
  impl_->thread.join();
}

void HealthChecker::watch(std::shared_ptr<const Snapshot> snapshot) {
  net::post(*impl_->io, [impl = impl_.get(), snapshot = std::move(snapshot)] {
    const uint64_t gen = ++impl->generation;
    for (const auto& [name, slot] : snapshot->provider_slots) {
      if (!slot.config->health_check.enabled) {
        impl->registry.provider_flag(name)->store(false, std::memory_order_relaxed);
        continue;
      }
      net::co_spawn(*impl->io, impl->check_loop(snapshot, name, gen), net::detached);
    }
  });
}

}  // namespace torii
