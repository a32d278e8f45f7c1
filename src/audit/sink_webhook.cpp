// The webhook sink: POSTs each batch as one JSON array through http_fetch (blocking, on the
// runner's thread). Header values may be secrets: they go into the request only, never into a
// message; messages name the URL without its query string.
#include <boost/url/parse.hpp>

#include "audit/sinks.h"
#include "upstream/endpoint.h"
#include "upstream/http_client.h"

namespace torii::audit {
namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

bool header_safe(std::string_view s) {
  for (char ch : s) {
    if (ch == '\r' || ch == '\n' || ch == '\0') return false;
  }
  return true;
}

class WebhookSink final : public AuditSink {
 public:
  WebhookSink(std::string name, Endpoint endpoint, std::string path, std::string headers,
              std::string shown_url, std::chrono::milliseconds timeout)
      : name_(std::move(name)), endpoint_(std::move(endpoint)), path_(std::move(path)),
        headers_(std::move(headers)), shown_url_(std::move(shown_url)), timeout_(timeout) {}

  const std::string& name() const override { return name_; }

  Result<void> write(std::span<const std::string> events) override {
    if (events.empty()) return {};
    UpstreamRequest req;
    req.method = "POST";
    req.path = path_;
    req.header_block = headers_;
    std::size_t total = 2;
    for (const auto& e : events) total += e.size() + 1;
    req.body.reserve(total);
    req.body.push_back('[');
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (i) req.body.push_back(',');
      req.body.append(events[i]);
    }
    req.body.push_back(']');
    req.deadline = std::chrono::steady_clock::now() + timeout_;
    auto r = http_fetch(endpoint_, std::move(req), kMaxAnswerBytes);
    if (!r) return sink_error(name_, "POST " + shown_url_ + ": " + r.error().message);
    if (r->status < 200 || r->status > 299) {
      return sink_error(name_,
                        "POST " + shown_url_ + " answered HTTP " + std::to_string(r->status));
    }
    return {};
  }

 private:
  std::string name_;
  Endpoint endpoint_;
  std::string path_;
  std::string headers_;
  std::string shown_url_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> make_webhook_sink(const AuditSinkConfig& c) {
  if (c.url.empty()) return sink_error(c.name, "webhook needs a url");
  auto parsed = boost::urls::parse_absolute_uri(c.url);
  if (!parsed) return sink_error(c.name, "url is not an absolute http(s) URL");
  // The query may hold a token: keep it for the request, out of messages.
  std::string shown = std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host()) +
                      (parsed->has_port() ? ":" + std::string(parsed->port()) : "") +
                      std::string(parsed->encoded_path());
  UpstreamTimeouts timeouts;
  timeouts.connect = c.timeout;
  timeouts.first_byte = c.timeout;
  timeouts.idle = c.timeout;
  auto ep = make_endpoint(c.url, "", timeouts);
  if (!ep) {
    if (parsed->has_userinfo()) return sink_error(c.name, "url must not carry credentials");
    return sink_error(c.name, "bad url " + shown + " (http or https, with a host)");
  }
  std::string path(parsed->encoded_path());
  if (path.empty()) path = "/";
  if (parsed->has_query()) path += "?" + std::string(parsed->encoded_query());

  std::string headers = "Content-Type: application/json\r\nUser-Agent: torii-audit\r\n";
  for (const auto& [hname, value] : c.headers) {
    if (hname.empty() || !header_safe(hname) || hname.find(':') != std::string::npos) {
      return sink_error(c.name, "bad header name '" + hname + "'");
    }
    if (!header_safe(value)) {
      return sink_error(c.name, "header " + hname + ": value holds a line break");
    }
    headers += hname + ": " + value + "\r\n";
  }
  return std::unique_ptr<AuditSink>(std::make_unique<WebhookSink>(
      c.name, std::move(*ep), std::move(path), std::move(headers), std::move(shown), c.timeout));
}

}  // namespace torii::audit
