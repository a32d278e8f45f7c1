#pragma once
// A loopback HTTP/1.1 server for unit tests of code that POSTs somewhere (the audit webhook
// sink, the OTLP exporter, the guardrail webhook): one connection per request (Connection:
// close), every request answered `status` (or what a responder says) after `delay`, each
// request's head and body (Content-Length) recorded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace torii::test {

class HttpTestServer {
 public:
  struct Request {
    std::string head;  // request line and headers, without the blank line
    std::string body;
  };

  // What a responder answers.
  struct Answer {
    int status = 200;
    std::string body = "{}";
  };
  using Responder = std::function<Answer(const Request&)>;

  explicit HttpTestServer(int status, std::chrono::milliseconds delay = {})
      : status_(status), delay_(delay) {
    start();
  }
  // Each request is answered what `responder` returns for it (called on the server's thread).
  explicit HttpTestServer(Responder responder, std::chrono::milliseconds delay = {})
      : status_(200), delay_(delay), responder_(std::move(responder)) {
    start();
  }
  ~HttpTestServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url(std::string_view path_and_query = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path_and_query);
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void start() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  void serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[16384];
      std::size_t head_end = std::string::npos;
      std::size_t want = 0;
      for (;;) {
        if (head_end == std::string::npos) {
          head_end = data.find("\r\n\r\n");
          if (head_end != std::string::npos) {
            std::string lower = data.substr(0, head_end);
            for (auto& ch : lower) ch = static_cast<char>(std::tolower(ch));
            const auto p = lower.find("content-length:");
            want = p == std::string::npos ? 0 : std::strtoul(lower.c_str() + p + 15, nullptr, 10);
          }
        }
        if (head_end != std::string::npos && data.size() >= head_end + 4 + want) break;
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        data.append(buf, static_cast<std::size_t>(n));
      }
      Answer reply{status_, "{}"};
      if (head_end != std::string::npos) {
        Request r{data.substr(0, head_end), data.substr(head_end + 4)};
        if (responder_) reply = responder_(r);
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(r));
      }
      if (delay_ > std::chrono::milliseconds(0)) std::this_thread::sleep_for(delay_);
      const std::string answer = "HTTP/1.1 " + std::to_string(reply.status) +
                                 " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + reply.body;
      (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int status_;
  std::chrono::milliseconds delay_;
  Responder responder_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace torii::test
