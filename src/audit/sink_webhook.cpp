// The webhook sink: POSTs each batch as one JSON array through http_fetch (blocking, on the
// runner's thread). Header values may be secrets: they go into the request only, never into a
// message; messages name the URL without its query string.
#include "audit/sinks.h"
#include "upstream/json_post.h"

namespace torii::audit {
namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

class WebhookSink final : public AuditSink {
 public:
  WebhookSink(std::string name, JsonPost post) : name_(std::move(name)), post_(std::move(post)) {}

  const std::string& name() const override { return name_; }

  Result<void> write(std::span<const std::string> events) override {
    if (events.empty()) return {};
    std::string body;
    std::size_t total = 2;
    for (const auto& e : events) total += e.size() + 1;
    body.reserve(total);
    body.push_back('[');
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (i) body.push_back(',');
      body.append(events[i]);
    }
    body.push_back(']');
    auto r = post_.send(std::move(body), kMaxAnswerBytes);
    if (!r) return sink_error(name_, "POST " + post_.shown_url() + ": " + r.error().message);
    if (r->status < 200 || r->status > 299) {
      return sink_error(name_, "POST " + post_.shown_url() + " answered HTTP " +
                                   std::to_string(r->status));
    }
    return {};
  }

 private:
  std::string name_;
  JsonPost post_;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> make_webhook_sink(const AuditSinkConfig& c) {
  if (c.url.empty()) return sink_error(c.name, "webhook needs a url");
  auto post = JsonPost::make(c.url, c.headers, c.timeout, "torii-audit");
  if (!post) return sink_error(c.name, post.error().message);
  return std::unique_ptr<AuditSink>(std::make_unique<WebhookSink>(c.name, std::move(*post)));
}

}  // namespace torii::audit
