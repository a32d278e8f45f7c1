#include "audit/sink_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/log.h"
#include "core/result.h"

namespace torii::audit {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Spill paths owned by a live runner of this process. A config reload builds the new runner of
// a sink before it retires the old one, which keeps writing and replaying its spill file for a
// while: the new one must not touch that file until the old one is gone.
// Never destroyed: a runner held by another static (the process's audit pipeline) may be
// destroyed after this file's statics at exit.
struct SpillPaths {
  std::mutex mu;
  std::set<std::string> held;
};
SpillPaths& spill_paths() {
  static SpillPaths* paths = new SpillPaths;
  return *paths;
}

bool acquire_path(const std::string& path) {
  SpillPaths& p = spill_paths();
  std::lock_guard lk(p.mu);
  return p.held.insert(path).second;
}

void release_path(const std::string& path) {
  SpillPaths& p = spill_paths();
  std::lock_guard lk(p.mu);
  p.held.erase(path);
}

std::string file_name_for(const std::string& sink) {
  std::string out = sink;
  for (char& ch : out) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.';
    if (!ok) ch = '_';
  }
  return out.empty() ? "sink" : out;
}

}  // namespace

// The spill file: JSON lines, appended whole (a failed append is cut back off) and synced.
// Replay reads from a byte offset. The offset survives a restart in a side file
// "<path>.offset", replaced atomically (write a temporary, fdatasync, rename) after each chunk
// the sink accepted. That is the simplest crash-safe scheme: the data file is never rewritten
// on the common path, and a crash at any point only makes the next run resend the chunk in
// flight (at least once; sinks deduplicate on "id"), never skip one. Once the offset reaches
// the end, the data file is removed first, then the offset file: a stale offset file without
// its data file is ignored and removed at startup.
class SpillFile {
 public:
  explicit SpillFile(std::string path) : path_(std::move(path)), offset_path_(path_ + ".offset") {}

  int64_t pending() const { return pending_; }

  // A previous run's file: cuts a torn last line (an append that never completed, so never
  // acknowledged), loads the offset and counts the lines left.
  void recover(const std::string& sink) {
    if (path_.empty()) return;
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      ::unlink(offset_path_.c_str());
      return;
    }
    int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      log::error("audit sink {}: cannot open the spill file {}: {}", sink, path_,
                 std::strerror(errno));
      return;
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t good = last_line_end(fd, size);
    if (good != size) {
      log::warn("audit sink {}: the spill file {} ends with a torn line ({} bytes), cut off", sink,
                path_, size - good);
      if (::ftruncate(fd, static_cast<off_t>(good)) == 0) size = good;
    }
    offset_ = read_offset(fd, size);
    pending_ = count_lines(fd, offset_, size);
    ::close(fd);
    if (pending_ == 0) remove_files();
  }

  // Appends the batches' lines (at the end, or before what is left to replay when
  // `at_front`) and syncs them.
  Result<void> append(const std::vector<EventBatch>& batches, bool at_front) {
    std::string buf;
    int64_t lines = 0;
    for (const auto& b : batches) {
      for (const auto& e : *b) {
        if (e.empty()) continue;
        buf.append(e);
        buf.push_back('\n');
        ++lines;
      }
    }
    if (lines == 0) return {};
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    auto r = at_front ? prepend(buf) : append_raw(buf);
    if (r) pending_ += lines;
    return r;
  }

  // Reads at most `max` lines from the offset; `end` is the offset just past the last one.
  Result<void> read(std::size_t max, std::vector<std::string>& lines, uint64_t& end) {
    end = offset_;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ApiError::internal(errno_text("cannot open " + path_, errno));
    std::string carry;
    std::vector<char> buf(256 * 1024);
    uint64_t pos = offset_;
    while (lines.size() < max) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return ApiError::internal(errno_text("cannot read " + path_, err));
      }
      if (n == 0) break;
      std::size_t start = 0;
      for (std::size_t i = 0; i < static_cast<std::size_t>(n) && lines.size() < max; ++i) {
        if (buf[i] != '\n') continue;
        carry.append(buf.data() + start, i - start);
        if (!carry.empty()) lines.push_back(std::move(carry));
        carry.clear();
        start = i + 1;
        end = pos + start;
      }
      if (lines.size() < max) carry.append(buf.data() + start, static_cast<std::size_t>(n) - start);
      pos += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return {};
  }

  // Everything before `end` (`lines` lines) reached the sink.
  void commit(uint64_t end, int64_t lines, const std::string& sink) {
    offset_ = end;
    pending_ = std::max<int64_t>(0, pending_ - lines);
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0 || offset_ >= static_cast<uint64_t>(st.st_size)) {
      remove_files();
      return;
    }
    if (!save_offset()) {
      // Memory keeps the right offset; only a crash before the next save would resend.
      log::warn("audit sink {}: cannot save the spill offset {}: {}", sink, offset_path_,
                std::strerror(errno));
    }
  }

  // Forgets the file (its remaining bytes hold no complete line).
  void reset() { remove_files(); }

 private:
  Result<void> append_raw(const std::string& buf) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ApiError::internal(errno_text("cannot open " + path_, errno));
    struct stat st {};
    ::fstat(fd, &st);
    if (!write_all(fd, buf.data(), buf.size()) || ::fdatasync(fd) != 0) {
      int err = errno;
      if (::ftruncate(fd, st.st_size) != 0) { /* the torn line is cut at the next start */ }
      ::close(fd);
      return ApiError::internal(errno_text("cannot write " + path_, err));
    }
    ::close(fd);
    return {};
  }

  // Rare (a batch that failed while push() spilled newer ones): rewrites the file as
  // buf + the unreplayed rest. The offset file is removed before the rename, so a crash in
  // between replays the old file from its start (repeats, no loss).
  Result<void> prepend(const std::string& buf) {
    const std::string tmp = path_ + ".tmp";
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return ApiError::internal(errno_text("cannot open " + tmp, errno));
    bool ok = write_all(out, buf.data(), buf.size());
    int in = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
      std::vector<char> chunk(256 * 1024);
      uint64_t pos = offset_;
      for (;;) {
        ssize_t n = ::pread(in, chunk.data(), chunk.size(), static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ok = false;
        if (n <= 0 || !ok) break;
        ok = write_all(out, chunk.data(), static_cast<std::size_t>(n));
        pos += static_cast<uint64_t>(n);
      }
      ::close(in);
    }
    ok = ok && ::fdatasync(out) == 0;
    int err = errno;
    ::close(out);
    if (!ok) {
      ::unlink(tmp.c_str());
      return ApiError::internal(errno_text("cannot write " + tmp, err));
    }
    ::unlink(offset_path_.c_str());
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      err = errno;
      ::unlink(tmp.c_str());
      save_offset();
      return ApiError::internal(errno_text("cannot rename " + tmp, err));
    }
    offset_ = 0;
    return {};
  }

  bool save_offset() {
    const std::string tmp = offset_path_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const std::string text = std::to_string(offset_) + "\n";
    bool ok = write_all(fd, text.data(), text.size()) && ::fdatasync(fd) == 0;
    ::close(fd);
    return ok && ::rename(tmp.c_str(), offset_path_.c_str()) == 0;
  }

  void remove_files() {
    ::unlink(path_.c_str());
    ::unlink(offset_path_.c_str());
    offset_ = 0;
    pending_ = 0;
  }

  // The offset of the byte after the file's last '\n' (0 when there is none).
  static uint64_t last_line_end(int fd, uint64_t size) {
    char buf[4096];
    uint64_t end = size;
    while (end > 0) {
      uint64_t start = end > sizeof buf ? end - sizeof buf : 0;
      ssize_t n = ::pread(fd, buf, end - start, static_cast<off_t>(start));
      if (n <= 0) return size;  // cannot tell: leave it
      for (ssize_t i = n - 1; i >= 0; --i) {
        if (buf[i] == '\n') return start + static_cast<uint64_t>(i) + 1;
      }
      end = start;
    }
    return 0;
  }

  // The saved offset when it is sane (within the file, just after a newline), else 0.
  uint64_t read_offset(int fd, uint64_t size) const {
    int ofd = ::open(offset_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (ofd < 0) return 0;
    char text[32] = {};
    ssize_t n = ::read(ofd, text, sizeof text - 1);
    ::close(ofd);
    if (n <= 0) return 0;
    char* endp = nullptr;
    unsigned long long v = std::strtoull(text, &endp, 10);
    if (endp == text || v > size) return 0;
    if (v == 0) return 0;
    char prev = 0;
    if (::pread(fd, &prev, 1, static_cast<off_t>(v - 1)) != 1 || prev != '\n') return 0;
    return v;
  }

  static int64_t count_lines(int fd, uint64_t from, uint64_t size) {
    std::vector<char> buf(1 << 20);
    int64_t lines = 0;
    char prev = '\n';
    for (uint64_t pos = from; pos < size;) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(pos));
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\n' && prev != '\n') ++lines;
        prev = buf[i];
      }
      pos += static_cast<uint64_t>(n);
    }
    return lines;
  }

  std::string path_;
  std::string offset_path_;
  uint64_t offset_ = 0;
  int64_t pending_ = 0;
};

SinkRunner::SinkRunner(std::unique_ptr<AuditSink> sink, RunnerOptions opt)
    : sink_(std::move(sink)), opt_(std::move(opt)), name_(sink_->name()),
      rng_(std::random_device{}()) {
  if (opt_.replay_batch == 0) opt_.replay_batch = 512;
  if (opt_.backoff_min.count() <= 0) opt_.backoff_min = std::chrono::milliseconds(1);
  if (opt_.backoff_max < opt_.backoff_min) opt_.backoff_max = opt_.backoff_min;
  if (!opt_.spill_dir.empty()) {
    spill_path_ = (fs::path(opt_.spill_dir) / (file_name_for(name_) + ".spill.jsonl")).string();
  }
  spill_ = std::make_unique<SpillFile>(spill_path_);
  owns_spill_ = spill_path_.empty() || acquire_path(spill_path_);
  if (owns_spill_) {
    recover_spill();
  } else {
    log::info("audit sink {}: waiting for the previous runner to release {}", name_,
              spill_path_);
  }
  thread_ = std::thread([this] { run(); });
}

void SinkRunner::recover_spill() {
  std::lock_guard sl(spill_mu_);
  spill_->recover(name_);
  stats_.spill_pending = spill_->pending();
  if (spill_->pending() > 0) {
    log::info("audit sink {}: {} events left in {} by an earlier runner, replaying them", name_,
              spill_->pending(), spill_path_);
  }
}

SinkRunner::~SinkRunner() {
  flush(Clock::now() + opt_.stop_flush);
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::unique_lock lk(mu_);
  if (!owns_spill_ && acquire_path(spill_path_)) {
    owns_spill_ = true;
    recover_spill();
  }
  if (!queue_.empty()) spill_queue(lk);
  lk.unlock();
  if (owns_spill_ && !spill_path_.empty()) release_path(spill_path_);
  std::lock_guard ll(lost_mu_);
  if (lost_unlogged_ > 0) {
    log::error("audit sink {}: {} events lost (the spill file could not be written)", name_,
               lost_unlogged_);
  }
}

void SinkRunner::push(EventBatch batch) {
  if (!batch || batch->empty()) return;
  std::unique_lock lk(mu_);
  stats_.queued += static_cast<int64_t>(batch->size());
  queue_.push_back(std::move(batch));
  if (queue_.size() > opt_.max_queued && owns_spill_) {
    // The sink is slower than the traffic: the queue goes to disk (in order) and the runner
    // will replay it. A batch being written now is older than all of it (see write_queued).
    ++overflows_;
    spill_queue(lk);
  }
  lk.unlock();
  cv_.notify_all();
}

bool SinkRunner::flush(Clock::time_point deadline) {
  std::unique_lock lk(mu_);
  ++flush_waiters_;
  flushing_ = true;
  cv_.notify_all();
  bool done = done_cv_.wait_until(lk, deadline, [&] { return queue_.empty() && !inflight_; });
  if (--flush_waiters_ == 0) flushing_ = false;
  return done;
}

void SinkRunner::run() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    if (!owns_spill_) {
      // Nothing is written before the earlier runner's spill file is ours (order).
      if (acquire_path(spill_path_)) {
        owns_spill_ = true;
        recover_spill();
      } else {
        cv_.wait_for(lk, std::chrono::milliseconds(20));
      }
      continue;
    }
    const bool can_try = up_ || Clock::now() >= next_attempt_;
    const bool spill_has = stats_.spill_pending.load() > 0;
    if (!queue_.empty() && (!can_try || (flushing_ && spill_has))) {
      spill_queue(lk);  // down, or a flush must not wait behind the replay: to disk, in order
      continue;
    }
    if (can_try && spill_has) {
      lk.unlock();
      replay_chunk();
      lk.lock();
      continue;
    }
    if (can_try && !queue_.empty()) {
      write_queued(lk);
      continue;
    }
    if (!can_try) {
      cv_.wait_until(lk, next_attempt_);
    } else {
      cv_.wait(lk);
    }
  }
  lk.unlock();
  sink_->flush();
}

void SinkRunner::write_queued(std::unique_lock<std::mutex>& lk) {
  EventBatch batch = std::move(queue_.front());
  queue_.pop_front();
  inflight_ = true;
  const uint64_t overflows = overflows_;
  lk.unlock();
  auto r = sink_->write(std::span<const std::string>(batch->data(), batch->size()));
  if (r) {
    stats_.written += batch->size();
    mark_up();
    lk.lock();
  } else {
    mark_down(r.error().message);
    lk.lock();
    // push() may have spilled newer batches meanwhile: this one then goes before them.
    std::lock_guard sl(spill_mu_);
    spill_locked({batch}, overflows_ != overflows);
  }
  inflight_ = false;
  stats_.queued -= static_cast<int64_t>(batch->size());
  done_cv_.notify_all();
}

void SinkRunner::spill_queue(std::unique_lock<std::mutex>& lk) {
  std::vector<EventBatch> batches(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end()));
  queue_.clear();
  {
    std::lock_guard sl(spill_mu_);
    spill_locked(batches);
  }
  int64_t events = 0;
  for (const auto& b : batches) events += static_cast<int64_t>(b->size());
  stats_.queued -= events;
  done_cv_.notify_all();
}

void SinkRunner::spill_locked(const std::vector<EventBatch>& batches, bool at_front) {
  std::size_t events = 0;
  for (const auto& b : batches) events += b->size();
  if (events == 0) return;
  if (spill_path_.empty()) {
    count_lost(events, "no spill_dir");
    return;
  }
  if (!owns_spill_) {
    count_lost(events, "the spill file is still held by an earlier runner");
    return;
  }
  if (auto r = spill_->append(batches, at_front); !r) {
    count_lost(events, r.error().message);
  } else {
    stats_.spilled += events;
  }
  stats_.spill_pending = spill_->pending();
}

void SinkRunner::replay_chunk() {
  std::vector<std::string> lines;
  uint64_t end = 0;
  Result<void> r;
  {
    std::lock_guard sl(spill_mu_);
    r = spill_->read(opt_.replay_batch, lines, end);
    if (r && lines.empty()) {
      log::warn("audit sink {}: {} holds no complete line, removed", name_, spill_path_);
      spill_->reset();
      stats_.spill_pending = 0;
      return;
    }
  }
  if (!r) {
    // Not the sink's fault, but retrying at once would spin: back off as for a failed write.
    mark_down(r.error().message);
    return;
  }
  auto w = sink_->write(std::span<const std::string>(lines.data(), lines.size()));
  if (!w) {
    mark_down(w.error().message);
    return;
  }
  {
    std::lock_guard sl(spill_mu_);
    spill_->commit(end, static_cast<int64_t>(lines.size()), name_);
    stats_.spill_pending = spill_->pending();
  }
  stats_.replayed += lines.size();
  stats_.written += lines.size();
  mark_up();
  if (stats_.spill_pending.load() == 0) {
    log::info("audit sink {}: spill file replayed", name_);
  }
}

void SinkRunner::mark_down(const std::string& why) {
  ++stats_.write_errors;
  if (up_) log::warn("audit sink {} is down: {}", name_, why);
  up_ = false;
  stats_.up = false;
  backoff_ = backoff_.count() == 0 ? opt_.backoff_min : std::min(backoff_ * 2, opt_.backoff_max);
  // Jitter in [0.75, 1.25): sinks that failed together do not all retry at the same instant.
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_ * jitter(rng_));
  next_attempt_ = Clock::now() + wait;
}

void SinkRunner::mark_up() {
  if (!up_) log::info("audit sink {} is up again", name_);
  up_ = true;
  stats_.up = true;
  backoff_ = std::chrono::milliseconds(0);
}

void SinkRunner::count_lost(std::size_t events, const std::string& why) {
  stats_.lost += events;
  std::lock_guard ll(lost_mu_);
  lost_unlogged_ += events;
  const auto now = Clock::now();
  if (now - lost_logged_ >= std::chrono::seconds(1)) {
    log::error("audit sink {}: {} events lost: the spill file cannot be written ({})", name_,
               lost_unlogged_, why);
    lost_unlogged_ = 0;
    lost_logged_ = now;
  }
}

}  // namespace torii::audit
