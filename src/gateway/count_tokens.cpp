#include "gateway/count_tokens.h"

#include "pipeline/runner.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/anthropic_messages.h"
#include "config/snapshot.h"
#include "core/log.h"
#include "upstream/http_client.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxAnswer = 64 * 1024;

struct Tally {
  std::size_t bytes = 0;
  int64_t images = 0;
  int64_t documents = 0;
  int64_t messages = 0;
};

void count_value(const json::value& v, Tally& t);

void count_block(const json::object& b, Tally& t) {
  auto type = b.if_contains("type");
  std::string_view kind = type && type->is_string() ? std::string_view(type->get_string()) : "";
  auto str = [&](std::string_view key) {
    if (auto s = b.if_contains(key); s && s->is_string()) t.bytes += s->get_string().size();
  };
  if (kind == "text") {
    str("text");
  } else if (kind == "image") {
    ++t.images;
  } else if (kind == "document") {
    auto src = b.if_contains("source");
    const json::object* so = src && src->is_object() ? &src->get_object() : nullptr;
    auto stype = so ? so->if_contains("type") : nullptr;
    if (stype && stype->is_string() && stype->get_string() == "text") {
      if (auto d = so->if_contains("data"); d && d->is_string()) t.bytes += d->get_string().size();
    } else if (stype && stype->is_string() && stype->get_string() == "content") {
      if (auto c = so->if_contains("content")) count_value(*c, t);
    } else {
      ++t.documents;
    }
    str("title");
  } else if (kind == "thinking") {
    str("thinking");
  } else if (kind == "redacted_thinking") {
    str("data");
  } else if (kind == "tool_use") {
    str("name");
    if (auto in = b.if_contains("input")) t.bytes += json::serialize(*in).size();
  } else if (kind == "tool_result") {
    if (auto c = b.if_contains("content")) count_value(*c, t);
  } else {
    t.bytes += json::serialize(b).size();  // server tool blocks and others: their JSON
  }
}

// A content value: a string or an array of blocks.
void count_value(const json::value& v, Tally& t) {
  if (v.is_string()) {
    t.bytes += v.get_string().size();
  } else if (v.is_array()) {
    for (const auto& b : v.get_array())
      if (b.is_object()) count_block(b.get_object(), t);
  }
}

void count_tools(const json::value& v, Tally& t) {
  if (!v.is_array()) return;
  for (const auto& tool : v.get_array()) {
    if (!tool.is_object()) continue;
    const auto& o = tool.get_object();
    auto type = o.if_contains("type");
    bool custom = !type || (type->is_string() && type->get_string() == "custom");
    if (!custom) {
      t.bytes += json::serialize(o).size();
      continue;
    }
    for (const char* k : {"name", "description"})
      if (auto s = o.if_contains(k); s && s->is_string()) t.bytes += s->get_string().size();
    if (auto s = o.if_contains("input_schema")) t.bytes += json::serialize(*s).size();
  }
}

Task<void> send_count(RequestContext& ctx, Exchange& ex, int64_t tokens, bool estimated) {
  ctx.status = 200;
  ctx.usage.prompt_tokens = tokens;
  Headers h{{"content-type", "application/json"}, {"x-request-id", ctx.request_id}};
  if (estimated) h.emplace_back("x-torii-estimated", "true");
  std::string body = R"({"input_tokens":)" + std::to_string(tokens) + "}";
  if (!co_await ex.respond(200, std::move(h), std::move(body))) ctx.client_disconnected = true;
}

// The provider's {"input_tokens": N}, or -1 when the body is not that.
int64_t read_input_tokens(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return -1;
  auto n = v.get_object().if_contains("input_tokens");
  if (!n || !n->is_int64() || n->get_int64() < 0) return -1;
  return n->get_int64();
}

}  // namespace

int64_t estimate_input_tokens(const json::object& raw) {
  Tally t;
  if (auto s = raw.if_contains("system")) count_value(*s, t);
  if (auto m = raw.if_contains("messages"); m && m->is_array()) {
    for (const auto& msg : m->get_array()) {
      if (!msg.is_object()) continue;
      ++t.messages;
      if (auto c = msg.get_object().if_contains("content")) count_value(*c, t);
    }
  }
  if (auto tools = raw.if_contains("tools")) count_tools(*tools, t);
  int64_t tokens = static_cast<int64_t>((t.bytes + 3) / 4) + t.images * kImageTokens +
                   t.documents * kDocumentTokens + t.messages * kMessageOverhead;
  return tokens < 1 ? 1 : tokens;
}

namespace {

// The target count_tokens asks: the route's first one that authorization left, if any.
const Target* first_allowed(const RequestContext& ctx) {
  const auto& targets = ctx.route->targets;
  for (std::size_t i = 0; i < targets.size() && i < 64; ++i)
    if (!(ctx.denied_targets & (uint64_t{1} << i))) return &targets[i];
  return nullptr;
}

}  // namespace

Task<void> count_tokens(RequestContext& ctx, Exchange& ex) {
  const Target* first = first_allowed(ctx);
  if (first && first->provider->speaks(WireFormat::anthropic_messages)) {
    const Target& target = *first;
    const Provider& provider = *target.provider;
    std::vector<std::string> ignored;
    ChatCall call;
    call.inbound = WireFormat::anthropic_messages;
    call.raw = &ctx.request;
    call.upstream_model = target.model;
    call.ignored = &ignored;
    auto req = provider.encode_count_tokens(call);
    if (req) {
      Attempt& attempt = ctx.attempts.emplace_back();
      attempt.provider = provider.name();
      attempt.model = target.model;
      auto started = Clock::now();
      ctx.timings.upstream_sent = started;
      auto sent = co_await UpstreamClient::local().send(provider.endpoint(), *req);
      if (sent) {
        UpstreamResponse& resp = **sent;
        attempt.status = resp.status();
        auto body = co_await resp.read_all(kMaxAnswer);
        attempt.elapsed = Clock::now() - started;
        std::string_view text = body ? std::string_view(*body) : std::string_view();
        if (resp.status() >= 200 && resp.status() < 300) {
          if (int64_t n = read_input_tokens(text); n >= 0) {
            ctx.provider = provider.name();
            ctx.upstream_model = target.model;
            co_await send_count(ctx, ex, n, false);
            co_return;
          }
          attempt.error = "count_tokens answer without input_tokens";
        } else {
          ApiError e = provider.map_error(resp.status(), text, resp.header("retry-after"));
          attempt.error = e.message;
          if (resp.status() == 400) {  // the request itself is wrong: the client must know
            co_await send_error(ctx, ex, e);
            co_return;
          }
        }
      } else {
        attempt.error = sent.error().message;
        attempt.elapsed = Clock::now() - started;
      }
      log::info("request {}: count_tokens at '{}' failed ({}); estimating", ctx.request_id,
                provider.name(), ctx.attempts.back().error);
    }
  }
  co_await send_count(ctx, ex, estimate_input_tokens(ctx.request), true);
}

}  // namespace torii
