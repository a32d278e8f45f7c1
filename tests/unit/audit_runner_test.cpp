// SinkRunner: nothing lost, nothing blocked, order kept, spill files replayed across runs.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "temp_dir.h"
#include "audit/sink_runner.h"

namespace torii::audit {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct TempDir : test_util::TempDir {
  TempDir() : test_util::TempDir("runner") {}
};

// What the fake sink saw, shared so that it outlives the runner that owns the sink.
struct Seen {
  std::mutex mu;
  std::vector<std::string> events;
  std::atomic<int> calls{0};
  std::size_t size() { std::lock_guard l(mu); return events.size(); }
  std::vector<std::string> all() { std::lock_guard l(mu); return events; }
};

// Fails its first `fail_first` writes (or all while `failing`); sleeps `delay` in its first
// write.
class FakeSink final : public AuditSink {
 public:
  FakeSink(std::shared_ptr<Seen> seen, int fail_first = 0)
      : seen_(std::move(seen)), fail_left_(fail_first) {}
  const std::string& name() const override { return name_; }
  Result<void> write(std::span<const std::string> events) override {
    if (++seen_->calls == 1 && delay.count() > 0) std::this_thread::sleep_for(delay);
    if (failing || fail_left_ > 0) {
      --fail_left_;
      return ApiError::bad_gateway("fake failure");
    }
    if (max_per_write && events.size() > max_per_write) ADD_FAILURE() << "chunk too big";
    std::lock_guard l(seen_->mu);
    seen_->events.insert(seen_->events.end(), events.begin(), events.end());
    return {};
  }
  std::atomic<bool> failing{false};
  std::chrono::milliseconds delay{0};
  std::size_t max_per_write = 0;

 private:
  std::string name_ = "fake";
  std::shared_ptr<Seen> seen_;
  std::atomic<int> fail_left_;
};

EventBatch batch(int from, int count) {
  auto v = std::make_shared<std::vector<std::string>>();
  for (int i = from; i < from + count; ++i) v->push_back("{\"id\":\"" + std::to_string(i) + "\"}");
  return v;
}

std::vector<std::string> expected(int count) {
  std::vector<std::string> v;
  for (int i = 0; i < count; ++i) v.push_back("{\"id\":\"" + std::to_string(i) + "\"}");
  return v;
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

RunnerOptions options(const TempDir& dir) {
  RunnerOptions o;
  o.spill_dir = dir.path + "/spill";
  o.backoff_min = 10ms;
  o.backoff_max = 40ms;
  return o;
}

TEST(AuditRunner, FailingSinkGetsEveryEventOnceInOrder) {
  TempDir dir;
  auto seen = std::make_shared<Seen>();
  SinkRunner runner(std::make_unique<FakeSink>(seen, 3), options(dir));
  const int k = 20, size = 5;
  for (int i = 0; i < k; ++i) {
    runner.push(batch(i * size, size));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(wait_for([&] { return seen->size() >= k * size; }));
  std::this_thread::sleep_for(50ms);  // nothing more arrives (no duplicate)
  EXPECT_EQ(seen->all(), expected(k * size));
  EXPECT_TRUE(runner.flush(Clock::now() + 1s));
  const auto& s = runner.stats();
  EXPECT_EQ(s.write_errors.load(), 3u);
  EXPECT_GT(s.spilled.load(), 0u);
  EXPECT_EQ(s.replayed.load(), s.spilled.load());
  EXPECT_EQ(s.written.load(), static_cast<uint64_t>(k * size));
  EXPECT_EQ(s.lost.load(), 0u);
  EXPECT_EQ(s.queued.load(), 0);
  EXPECT_EQ(s.spill_pending.load(), 0);
  EXPECT_TRUE(s.up.load());
  EXPECT_FALSE(fs::exists(runner.spill_path()));
}

TEST(AuditRunner, SpillFileOfAPreviousRunIsReplayedFirst) {
  TempDir dir;
  auto opt = options(dir);
  auto first_seen = std::make_shared<Seen>();
  std::string spill;
  {
    auto sink = std::make_unique<FakeSink>(first_seen);
    sink->failing = true;
    SinkRunner runner(std::move(sink), opt);
    for (int i = 0; i < 10; ++i) runner.push(batch(i * 5, 5));
    EXPECT_TRUE(runner.flush(Clock::now() + 2s));  // down: memory goes to the spill file
    spill = runner.spill_path();
  }  // destroyed while the sink is down
  ASSERT_TRUE(fs::exists(spill));
  EXPECT_EQ(first_seen->size(), 0u);

  auto seen = std::make_shared<Seen>();
  SinkRunner runner(std::make_unique<FakeSink>(seen), opt);
  runner.push(batch(50, 5));  // new events come after the old ones
  ASSERT_TRUE(wait_for([&] { return seen->size() >= 55; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen->all(), expected(55));
  EXPECT_EQ(runner.stats().replayed.load(), 50u);
  EXPECT_TRUE(runner.flush(Clock::now() + 1s));
  EXPECT_TRUE(wait_for([&] { return !fs::exists(spill); }));
}

TEST(AuditRunner, ReplayResumesFromItsOffsetAfterARestart) {
  TempDir dir;
  auto opt = options(dir);
  opt.replay_batch = 5;
  std::string spill = dir.path + "/spill/fake.spill.jsonl";
  fs::create_directories(dir.path + "/spill");
  {
    std::ofstream out(spill);
    for (const auto& e : expected(30)) out << e << "\n";
    out << "{\"id\":\"torn";  // an append cut by a crash: never acknowledged, dropped
  }
  auto seen = std::make_shared<Seen>();
  {
    // Accepts the first two chunks, then fails for good.
    class TwoChunks final : public AuditSink {
     public:
      explicit TwoChunks(std::shared_ptr<Seen> s) : seen_(std::move(s)) {}
      const std::string& name() const override { return name_; }
      Result<void> write(std::span<const std::string> events) override {
        if (++calls_ > 2) return ApiError::bad_gateway("broken");
        std::lock_guard l(seen_->mu);
        seen_->events.insert(seen_->events.end(), events.begin(), events.end());
        return {};
      }
     private:
      std::string name_ = "fake";
      std::shared_ptr<Seen> seen_;
      int calls_ = 0;
    };
    SinkRunner runner(std::make_unique<TwoChunks>(seen), opt);
    ASSERT_TRUE(wait_for([&] { return runner.stats().write_errors.load() > 0; }));
    EXPECT_EQ(runner.stats().spill_pending.load(), 20);
  }
  EXPECT_EQ(seen->size(), 10u);
  auto sink = std::make_unique<FakeSink>(seen);
  sink->max_per_write = 5;
  SinkRunner runner(std::move(sink), opt);
  ASSERT_TRUE(wait_for([&] { return seen->size() >= 30; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen->all(), expected(30));  // resumed at the offset: no repeat, no torn line
}

TEST(AuditRunner, ARunnerForTheSameSinkWaitsForTheEarlierOne) {
  // A config reload builds the new runner before it destroys the old one.
  TempDir dir;
  auto opt = options(dir);
  auto old_seen = std::make_shared<Seen>();
  auto old_sink = std::make_unique<FakeSink>(old_seen);
  old_sink->failing = true;
  auto old_runner = std::make_unique<SinkRunner>(std::move(old_sink), opt);
  old_runner->push(batch(0, 5));
  ASSERT_TRUE(wait_for([&] { return old_runner->stats().spill_pending.load() == 5; }));

  auto seen = std::make_shared<Seen>();
  SinkRunner runner(std::make_unique<FakeSink>(seen), opt);
  runner.push(batch(10, 5));
  old_runner->push(batch(5, 5));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(seen->size(), 0u);  // the old runner still holds the spill file
  old_runner.reset();           // its unsent events stay in the spill file
  ASSERT_TRUE(wait_for([&] { return seen->size() >= 15; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen->all(), expected(15));
  EXPECT_EQ(runner.stats().lost.load(), 0u);
}

TEST(AuditRunner, PushDoesNotWaitForASlowSink) {
  TempDir dir;
  auto seen = std::make_shared<Seen>();
  auto sink = std::make_unique<FakeSink>(seen);
  sink->delay = 300ms;
  SinkRunner runner(std::move(sink), options(dir));
  runner.push(batch(0, 5));
  ASSERT_TRUE(wait_for([&] { return seen->calls.load() == 1; }));  // the sink is sleeping
  const auto start = Clock::now();
  for (int i = 1; i < 10; ++i) runner.push(batch(i * 5, 5));
  const auto took = Clock::now() - start;
  EXPECT_LT(took, 100ms);  // well before the sink's sleep ends
  EXPECT_EQ(seen->size(), 0u);
  EXPECT_TRUE(runner.flush(Clock::now() + 10s));
  EXPECT_EQ(seen->all(), expected(50));
}

TEST(AuditRunner, OverflowSpillsAndAFailedInFlightBatchKeepsItsPlace) {
  TempDir dir;
  auto opt = options(dir);
  opt.max_queued = 2;
  auto seen = std::make_shared<Seen>();
  auto sink = std::make_unique<FakeSink>(seen, 1);  // the first write (in flight) fails...
  sink->delay = 100ms;                              // ...after push() has overflowed
  SinkRunner runner(std::move(sink), opt);
  runner.push(batch(0, 5));
  ASSERT_TRUE(wait_for([&] { return seen->calls.load() == 1; }));
  for (int i = 1; i < 12; ++i) runner.push(batch(i * 5, 5));
  EXPECT_GT(runner.stats().spilled.load(), 0u);  // the queue overflowed to disk
  ASSERT_TRUE(wait_for([&] { return seen->size() >= 60; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen->all(), expected(60));
  EXPECT_EQ(runner.stats().lost.load(), 0u);
}

TEST(AuditRunner, FlushSpillsWhenTheSinkIsDown) {
  TempDir dir;
  auto seen = std::make_shared<Seen>();
  auto sink = std::make_unique<FakeSink>(seen);
  auto* raw = sink.get();
  raw->failing = true;
  auto opt = options(dir);
  opt.backoff_min = 5000ms;  // stays down for the whole test
  opt.backoff_max = 5000ms;
  SinkRunner runner(std::move(sink), opt);
  runner.push(batch(0, 5));
  ASSERT_TRUE(wait_for([&] { return !runner.stats().up.load(); }));
  for (int i = 1; i < 4; ++i) runner.push(batch(i * 5, 5));
  EXPECT_TRUE(runner.flush(Clock::now() + 1s));
  EXPECT_EQ(runner.stats().queued.load(), 0);
  EXPECT_EQ(runner.stats().spill_pending.load(), 20);
  EXPECT_EQ(runner.stats().spilled.load(), 20u);
  EXPECT_EQ(runner.stats().write_errors.load(), 1u);  // no attempt while down
  std::ifstream in(runner.spill_path());
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  EXPECT_EQ(lines, expected(20));
}

TEST(AuditRunner, EventsAreLostOnlyWhenTheSpillFileCannotBeWritten) {
  TempDir dir;
  std::ofstream(dir.path + "/file") << "x";
  auto seen = std::make_shared<Seen>();
  auto sink = std::make_unique<FakeSink>(seen);
  sink->failing = true;
  RunnerOptions opt;
  opt.spill_dir = dir.path + "/file/spill";  // under a regular file: cannot be created
  opt.backoff_min = 10ms;
  SinkRunner runner(std::move(sink), opt);
  runner.push(batch(0, 5));
  runner.push(batch(5, 5));
  EXPECT_TRUE(runner.flush(Clock::now() + 1s));
  EXPECT_TRUE(wait_for([&] { return runner.stats().lost.load() == 10; }));
  EXPECT_EQ(runner.stats().spilled.load(), 0u);
  EXPECT_EQ(runner.stats().queued.load(), 0);
}

TEST(AuditRunner, SinkComingBackIsWrittenDirectlyAgain) {
  TempDir dir;
  auto seen = std::make_shared<Seen>();
  auto sink = std::make_unique<FakeSink>(seen);
  auto* raw = sink.get();
  raw->failing = true;
  SinkRunner runner(std::move(sink), options(dir));
  runner.push(batch(0, 5));
  ASSERT_TRUE(wait_for([&] { return !runner.stats().up.load(); }));
  raw->failing = false;
  ASSERT_TRUE(wait_for([&] { return runner.stats().up.load() && seen->size() == 5; }));
  const auto spilled = runner.stats().spilled.load();
  runner.push(batch(5, 5));
  ASSERT_TRUE(wait_for([&] { return seen->size() == 10; }));
  EXPECT_EQ(runner.stats().spilled.load(), spilled);  // straight to the sink
  EXPECT_EQ(seen->all(), expected(10));
}

}  // namespace
}  // namespace torii::audit
