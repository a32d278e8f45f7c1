#pragma once
// A throwaway redis-server for tests and benchmarks: a free port (redis has no port 0: a socket
// is bound to port 0 first to learn one), no persistence, its own temporary directory, stopped
// by PID. Blocking helpers only (the code under test brings its own Asio).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace torii::testing {

class RedisServer {
 public:
  explicit RedisServer(std::string password = {}) : password_(std::move(password)) {}
  ~RedisServer() {
    stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  static bool available() { return std::system("command -v redis-server >/dev/null 2>&1") == 0; }

  // Starts the server (on the port of the previous start, if any) and waits until it answers
  // PING. False when it did not within 5 s.
  bool start() {
    if (pid_ > 0) return true;
    if (port_ == 0) port_ = free_port();
    if (dir_.empty()) {
      char tmpl[] = "/tmp/torii-redis-XXXXXX";
      if (!mkdtemp(tmpl)) return false;
      dir_ = tmpl;
    }
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_),
                                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--dir", dir_, "--daemonize", "no", "--loglevel", "warning",
                                     "--logfile", dir_ + "/redis.log"};
    if (!password_.empty()) args.insert(args.end(), {"--requirepass", password_});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    for (int i = 0; i < 500; ++i) {
      if (command("PING").rfind("+PONG", 0) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    return false;
  }

  // Kills the server (SIGKILL: as a crash would) and reaps it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // works on a frozen process too
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Freezes / thaws the server process (SIGSTOP / SIGCONT): connections stay open, nothing
  // answers.
  void freeze() { if (pid_ > 0) ::kill(pid_, SIGSTOP); }
  void thaw() { if (pid_ > 0) ::kill(pid_, SIGCONT); }

  int port() const { return port_; }
  const std::string& password() const { return password_; }

  // Sends one command in the inline protocol (space-separated words; AUTH, and SELECT when `db`
  // is not 0, first) and returns the first line of its reply ("+PONG", ":42", "$2"...), or ""
  // on failure.
  std::string command(const std::string& cmd, int db = 0) const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return {};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      std::string wire;
      long before = 0;  // replies to skip
      if (!password_.empty()) wire += "AUTH " + password_ + "\r\n", ++before;
      if (db != 0) wire += "SELECT " + std::to_string(db) + "\r\n", ++before;
      wire += cmd + "\r\n";
      if (::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(wire.size())) {
        std::string got;
        char buf[4096];
        while (std::count(got.begin(), got.end(), '\n') <= before) {
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, static_cast<std::size_t>(n));
        }
        std::size_t start = 0;
        for (long i = 0; i < before && start != std::string::npos; ++i) {
          start = got.find('\n', start);
          if (start != std::string::npos) ++start;
        }
        std::size_t end = start == std::string::npos ? start : got.find("\r\n", start);
        if (end != std::string::npos) out = got.substr(start, end - start);
      }
    }
    ::close(fd);
    return out;
  }

 private:
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  std::string password_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace torii::testing
