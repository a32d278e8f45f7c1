#include "cache/embed.h"

#include "providers/provider.h"
#include "upstream/http_client.h"

namespace torii::cache {

namespace {
constexpr std::size_t kMaxAnswer = 8u << 20;  // 8 MiB: a few vectors of any dimension
}

Task<EmbedOutcome> embed(const std::vector<EmbedTarget>& targets, std::string text,
                         int dimensions, std::chrono::milliseconds timeout) {
  EmbedOutcome out;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  out.cause = "no embedding target";
  const std::string inputs[1] = {std::move(text)};
  for (const EmbedTarget& t : targets) {
    if (std::chrono::steady_clock::now() >= deadline) {
      out.cause = "timeout";
      break;
    }
    EmbeddingsCall call{t.model, inputs, dimensions};
    auto req = t.provider->encode_embeddings(call);
    if (!req) {
      out.cause = req.error().message;
      continue;
    }
    req->deadline = deadline;
    auto sent = co_await UpstreamClient::local().send(t.provider->endpoint(), *req);
    if (!sent) {
      out.cause = t.provider->name() + ": " + (sent.error().status == 504 ? "timeout"
                                                                           : "connection failed");
      continue;
    }
    UpstreamResponse& resp = **sent;
    if (resp.status() < 200 || resp.status() >= 300) {
      out.cause = t.provider->name() + ": status " + std::to_string(resp.status());
      continue;
    }
    resp.set_deadline(deadline);
    auto body = co_await resp.read_all(kMaxAnswer);
    if (!body) {
      out.cause = t.provider->name() + ": unreadable answer";
      continue;
    }
    auto decoded = t.provider->decode_embeddings(*body);
    if (!decoded || decoded->vectors.size() != 1) {
      out.cause = t.provider->name() + ": unusable embeddings";
      continue;
    }
    out.vector = std::move(decoded->vectors.front());
    out.cause.clear();
    break;
  }
  out.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - start).count();
  co_return out;
}

}  // namespace torii::cache
