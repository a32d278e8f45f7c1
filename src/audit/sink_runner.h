#pragma once
// SinkRunner: one per audit sink. It owns the sink and a thread that writes the batches the
// audit dispatcher pushes, so that a slow or broken sink never blocks anyone, and loses nothing:
//
// - push() only queues (in memory, at most `max_queued` batches; past it, the queue and the new
//   batch are appended to the spill file: disk I/O, never the sink).
// - A failed write appends the batch to the spill file "<spill_dir>/<sink name>.spill.jsonl"
//   (append + fdatasync), marks the sink down and waits a backoff (doubling from backoff_min to
//   backoff_max, with jitter). While down, queued batches go to the spill file untried.
// - When the backoff expires, the spill file is replayed oldest first, in chunks of at most
//   `replay_batch` lines, and deleted once all of it is written. Nothing new reaches the sink
//   before the spill file is empty: order is preserved.
// - A spill file left by a previous run is replayed first. Two runners of one process never
//   share a spill file: a runner built while an older one for the same sink name is still
//   alive (a config reload) waits for it to be destroyed before it writes anything.
// - Only events that neither the sink nor the spill file would take are lost (stats().lost,
//   logged at most once per second).
//
// Delivery is at least once: a crash between a sink's success and the spill file's offset
// update, or a sink's partial success, repeats events. Every event carries a unique "id".
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "audit/sink.h"

namespace torii::audit {

// A batch of events, one JSON line each (no newline), shared by every sink's runner.
using EventBatch = std::shared_ptr<const std::vector<std::string>>;

struct RunnerOptions {
  std::string spill_dir;         // the spill file is "<spill_dir>/<sink name>.spill.jsonl"
  std::size_t max_queued = 64;   // batches held in memory; past it, batches go to the spill file
  std::size_t replay_batch = 512;  // lines per sink write when replaying the spill file
  std::chrono::milliseconds backoff_min{200}, backoff_max{30000};
  std::chrono::milliseconds stop_flush{2000};  // the destructor's flush() budget
};

// Counters read by /metrics from other threads. Event counts, not batches.
struct SinkStats {
  std::atomic<uint64_t> written{0};       // accepted by the sink (replayed ones included)
  std::atomic<uint64_t> write_errors{0};  // failed sink writes (calls, not events)
  std::atomic<uint64_t> spilled{0};       // appended to the spill file
  std::atomic<uint64_t> replayed{0};      // written to the sink from the spill file
  std::atomic<uint64_t> lost{0};          // neither written nor spilled
  std::atomic<int64_t> queued{0};         // in memory (including the batch being written)
  std::atomic<int64_t> spill_pending{0};  // in the spill file, not yet replayed
  std::atomic<bool> up{true};             // false from a failed write to the next success
};

class SpillFile;

class SinkRunner {
 public:
  // Takes the sink and starts the thread, which first replays a spill file left by a
  // previous run (if any). `sink` must not be null.
  SinkRunner(std::unique_ptr<AuditSink> sink, RunnerOptions opt);
  // flush() with `stop_flush` of budget, then stops and joins the thread (waiting for a sink
  // write in progress: its own timeout bounds it); what is still in memory is spilled.
  ~SinkRunner();
  SinkRunner(const SinkRunner&) = delete;
  SinkRunner& operator=(const SinkRunner&) = delete;

  // Queues a batch; returns at once (no sink call; disk I/O only when the queue is full). Null
  // and empty batches are ignored. Thread-safe.
  void push(EventBatch batch);

  // Writes everything queued, or spills it when the sink is down or the spill file is not
  // empty. True when nothing remains in memory, false at the deadline (for SIGTERM).
  bool flush(std::chrono::steady_clock::time_point deadline);

  const SinkStats& stats() const { return stats_; }
  const std::string& name() const { return name_; }
  const std::string& spill_path() const { return spill_path_; }

 private:
  void run();
  void recover_spill();
  // Appends batches to the spill file (mu_ and spill_mu_ held: every append happens under
  // mu_, so the runner's view of "spill file empty" is exact); counts what it cannot.
  void spill_locked(const std::vector<EventBatch>& batches, bool at_front = false);
  // Moves the whole queue to the spill file (mu_ held throughout).
  void spill_queue(std::unique_lock<std::mutex>& lk);
  void write_queued(std::unique_lock<std::mutex>& lk);
  void replay_chunk();
  void mark_down(const std::string& why);
  void mark_up();
  void count_lost(std::size_t events, const std::string& why);

  std::unique_ptr<AuditSink> sink_;
  RunnerOptions opt_;
  std::string name_;
  std::string spill_path_;
  SinkStats stats_;

  std::mutex mu_;  // taken before spill_mu_ when both are held
  std::condition_variable cv_;       // wakes the runner
  std::condition_variable done_cv_;  // wakes flush() waiters
  std::deque<EventBatch> queue_;
  bool inflight_ = false;   // the runner is writing a batch taken from queue_
  bool flushing_ = false;   // a flush() waits: spill rather than wait when the sink cannot take it
  bool stop_ = false;
  // The spill path is this runner's (no other live runner of the process has it). Until then
  // the runner neither writes nor spills: batches wait in memory, past max_queued if need be.
  bool owns_spill_ = false;
  int flush_waiters_ = 0;
  // Times push() spilled the queue: a failed in-flight batch taken before that is older than
  // what was spilled, so it goes to the front of the spill file.
  uint64_t overflows_ = 0;

  std::mutex spill_mu_;
  std::unique_ptr<SpillFile> spill_;

  // Runner thread only.
  bool up_ = true;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::minstd_rand rng_;

  std::mutex lost_mu_;
  uint64_t lost_unlogged_ = 0;
  std::chrono::steady_clock::time_point lost_logged_{};

  std::thread thread_;
};

}  // namespace torii::audit
