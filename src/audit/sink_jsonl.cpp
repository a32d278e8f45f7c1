// The jsonl sink: one event per line appended to a file, fdatasync'ed per batch, rotated by
// size and age (path -> path.1 -> ... -> path.keep), reopened when the file was moved away.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "audit/sinks.h"

namespace torii::audit {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

class JsonlSink final : public AuditSink {
 public:
  explicit JsonlSink(const AuditSinkConfig& c)
      : name_(c.name), path_(c.path), max_bytes_(c.max_bytes), max_age_(c.max_age),
        keep_(c.keep) {}
  ~JsonlSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  const std::string& name() const override { return name_; }

  Result<void> open() {
    std::error_code ec;
    auto parent = fs::path(path_).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) return sink_error(name_, "cannot create " + parent.string() + ": " + ec.message());
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return sink_error(name_, "cannot open " + path_ + ": " + errno_text(errno));
    struct stat st {};
    ::fstat(fd, &st);
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    size_ = st.st_size;
    ino_ = st.st_ino;
    dev_ = st.st_dev;
    opened_ = Clock::now();
    return {};
  }

  Result<void> write(std::span<const std::string> events) override {
    if (events.empty()) return {};
    if (auto r = reopen_if_moved(); !r) return r;
    if (max_age_.count() > 0 && size_ > 0 && Clock::now() - opened_ >= max_age_) {
      if (auto r = rotate(); !r) return r;
    }
    // Lines go out in as few ::write calls as possible: one per file the batch lands in.
    std::string buf;
    std::size_t total = 0;
    for (const auto& e : events) total += e.size() + 1;
    buf.reserve(total);
    for (const auto& e : events) {
      const auto line = static_cast<int64_t>(e.size() + 1);
      const auto would_be = size_ + static_cast<int64_t>(buf.size()) + line;
      if (max_bytes_ > 0 && would_be > max_bytes_ && size_ + static_cast<int64_t>(buf.size()) > 0) {
        if (auto r = append(buf); !r) return r;
        buf.clear();
        if (auto r = rotate(); !r) return r;
      }
      buf.append(e);
      buf.push_back('\n');
    }
    return append(buf);
  }

  void flush() override {
    if (fd_ >= 0) ::fdatasync(fd_);
  }

 private:
  // logrotate (or a person) moved or removed the file: write to a new one at `path`.
  Result<void> reopen_if_moved() {
    struct stat st {};
    if (fd_ >= 0 && ::stat(path_.c_str(), &st) == 0 && st.st_ino == ino_ && st.st_dev == dev_) {
      return {};
    }
    return open();
  }

  // Writes `buf` whole and syncs it; on failure the file is cut back to its previous size so
  // that the runner's retry of the batch does not duplicate a part of it.
  Result<void> append(const std::string& buf) {
    if (buf.empty()) return {};
    std::size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::write(fd_, buf.data() + done, buf.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : ENOSPC;
        if (::ftruncate(fd_, size_) != 0) { /* nothing more to do: the retry repeats lines */ }
        return sink_error(name_, "cannot write " + path_ + ": " + errno_text(err));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0) {
      int err = errno;
      if (::ftruncate(fd_, size_) != 0) { /* as above */ }
      return sink_error(name_, "cannot sync " + path_ + ": " + errno_text(err));
    }
    size_ += static_cast<int64_t>(buf.size());
    return {};
  }

  Result<void> rotate() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    std::error_code ec;
    auto numbered = [&](int i) { return path_ + "." + std::to_string(i); };
    if (keep_ <= 0) {
      fs::remove(path_, ec);
    } else {
      fs::remove(numbered(keep_), ec);
      for (int i = keep_ - 1; i >= 1; --i) {
        if (fs::exists(numbered(i), ec)) fs::rename(numbered(i), numbered(i + 1), ec);
      }
      fs::rename(path_, numbered(1), ec);
      if (ec) return sink_error(name_, "cannot rotate " + path_ + ": " + ec.message());
    }
    return open();
  }

  std::string name_;
  std::string path_;
  int64_t max_bytes_;
  std::chrono::seconds max_age_;
  int keep_;
  int fd_ = -1;
  int64_t size_ = 0;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  Clock::time_point opened_;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> make_jsonl_sink(const AuditSinkConfig& c) {
  if (c.path.empty()) return sink_error(c.name, "jsonl needs a path");
  auto sink = std::make_unique<JsonlSink>(c);
  if (auto r = sink->open(); !r) return r.error();
  return std::unique_ptr<AuditSink>(std::move(sink));
}

}  // namespace torii::audit
