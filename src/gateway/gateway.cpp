#include "gateway/gateway.h"

#include <random>

#include "api/openai_chat.h"
#include "core/log.h"
#include "pipeline/runner.h"

namespace torii {

std::string request_id_for(std::string_view v) {
  bool sane = !v.empty() && v.size() <= 128;
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':'))
      sane = false;
  if (sane) return std::string(v);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(32, '0');
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) {
    id[i] = hex[(a >> (i * 4)) & 15];
    id[16 + i] = hex[(b >> (i * 4)) & 15];
  }
  return id;
}

namespace {

Headers json_headers(const std::string& request_id) {
  return {{"content-type", "application/json"}, {"x-request-id", request_id}};
}

class Gateway final : public Handler {
 public:
  explicit Gateway(SnapshotHolder& s) : snapshots_(s) {}

  Task<void> handle(Exchange& ex) override {
    const RequestHead& head = ex.head();
    std::string_view path = head.path();
    std::string id = request_id_for(head.header("x-request-id"));

    if (path == "/health" || path == "/ready") {
      bool ready = path == "/health" || !ex.draining();
      co_await ex.respond(ready ? 200 : 503, json_headers(id),
                          path == "/health" ? R"({"status":"ok"})"
                          : ready           ? R"({"status":"ready"})"
                                            : R"({"status":"draining"})");
      co_return;
    }
    InboundApi api = InboundApi::unknown;
    std::string_view method;
    if (path == "/v1/chat/completions" || path == "/chat/completions") {
      api = InboundApi::openai_chat;
      method = "POST";
    } else if (path == "/v1/models" || path == "/models") {
      api = InboundApi::openai_models;
      method = "GET";
    }
    if (api == InboundApi::unknown) {
      co_await ex.respond(404, json_headers(id),
                          to_openai_json(ApiError::not_found(
                              "unknown path '" + std::string(path) + "'", "unknown_url")));
      co_return;
    }
    if (head.method != method) {
      ApiError e{405, "invalid_request_error", "method_not_allowed",
                 std::string(path) + " accepts " + std::string(method) + " only"};
      Headers h = json_headers(id);
      h.emplace_back("allow", std::string(method));
      co_await ex.respond(405, std::move(h), to_openai_json(e));
      co_return;
    }

    RequestContext ctx;
    ctx.request_id = std::move(id);
    ctx.snapshot = snapshots_.get();
    ctx.head = &head;
    ctx.api = api;
    ctx.timings.start = Clock::now();
    co_await run_pipeline(ctx, ex);
  }

 private:
  SnapshotHolder& snapshots_;
};

}  // namespace

std::shared_ptr<Handler> make_gateway(SnapshotHolder& snapshots) {
  return std::make_shared<Gateway>(snapshots);
}

}  // namespace torii
