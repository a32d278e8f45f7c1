// The api_key policy: which credential a request presents, and the on_headers verdicts.
#include "policies/api_key/api_key_policy.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>

namespace torii {
namespace {

// Runs a hook's coroutine to completion on a private io_context. (co_spawn of an awaitable<T>
// needs a default-constructible T, which Verdict is not, hence the wrapper.)
Verdict run_verdict(Task<Verdict> task) {
  net::io_context ioc;
  std::optional<Verdict> out;
  net::co_spawn(
      ioc, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  if (!out) throw std::runtime_error("hook did not complete");
  return std::move(*out);
}

RequestHead head_with(Headers h) {
  RequestHead head;
  head.method = "POST";
  head.target = "/v1/chat/completions";
  head.headers = std::move(h);
  return head;
}

TEST(PresentedKey, BearerAnyCaseAndSpaces) {
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer abc123"}})), "abc123");
  EXPECT_EQ(presented_key(head_with({{"authorization", "bearer abc123"}})), "abc123");
  EXPECT_EQ(presented_key(head_with({{"AUTHORIZATION", "BEARER abc123"}})), "abc123");
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer    abc123   "}})), "abc123");
}

TEST(PresentedKey, XApiKeyAndNone) {
  EXPECT_EQ(presented_key(head_with({{"x-api-key", "k-1"}})), "k-1");
  EXPECT_EQ(presented_key(head_with({{"X-Api-Key", "k-2"}})), "k-2");
  EXPECT_EQ(presented_key(head_with({})), "");
  EXPECT_EQ(presented_key(head_with({{"Content-Type", "application/json"}})), "");
  // Another scheme is not a bearer key; x-api-key is still looked at.
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Basic dXNlcjpwdw=="}})), "");
  EXPECT_EQ(
      presented_key(head_with({{"Authorization", "Basic dXNlcjpwdw=="}, {"x-api-key", "k-3"}})),
      "k-3");
  // "Bearer" with no token presents nothing.
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer "}})), "");
  EXPECT_EQ(presented_key(head_with({{"Authorization", "Bearer    "}})), "");
  // Bearer wins over x-api-key.
  EXPECT_EQ(presented_key(head_with({{"x-api-key", "b"}, {"Authorization", "Bearer a"}})), "a");
}

class ApiKeyPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiKeyConfig a;
    a.name = "team-a";
    a.key.value = "sk-team-a-0123456789";
    a.metadata = {{"team", "a"}};
    ApiKeyConfig b;
    b.name = "team-b";
    b.key.value = "sk-team-b-9876543210";
    policy_ = make_api_key_policy({a, b});
  }

  Verdict run(RequestContext& ctx) { return run_verdict(policy_->on_headers(ctx)); }

  std::unique_ptr<Policy> policy_;
};

TEST_F(ApiKeyPolicyTest, ValidKeySetsPrincipal) {
  EXPECT_EQ(policy_->name(), "api_key");
  for (Headers h : {Headers{{"Authorization", "Bearer sk-team-a-0123456789"}},
                    Headers{{"x-api-key", "sk-team-a-0123456789"}}}) {
    RequestHead head = head_with(h);
    RequestContext ctx;
    ctx.head = &head;
    Verdict v = run(ctx);
    EXPECT_TRUE(v.is_next());
    EXPECT_TRUE(ctx.principal.authenticated);
    EXPECT_EQ(ctx.principal.id, "team-a");
    EXPECT_EQ(ctx.principal.key_name, "team-a");
    ASSERT_NE(ctx.principal.metadata, nullptr);
    EXPECT_EQ(ctx.principal.metadata->at("team"), "a");
  }
  RequestHead head = head_with({{"Authorization", "Bearer sk-team-b-9876543210"}});
  RequestContext ctx;
  ctx.head = &head;
  EXPECT_TRUE(run(ctx).is_next());
  EXPECT_EQ(ctx.principal.id, "team-b");
}

TEST_F(ApiKeyPolicyTest, MissingKeyIs401) {
  RequestHead head = head_with({});
  RequestContext ctx;
  ctx.head = &head;
  Verdict v = run(ctx);
  ASSERT_EQ(v.kind(), Verdict::Kind::reject);
  EXPECT_EQ(v.error().status, 401);
  EXPECT_EQ(v.error().type, "authentication_error");
  EXPECT_FALSE(ctx.principal.authenticated);
}

TEST_F(ApiKeyPolicyTest, WrongKeyIs401WithoutEchoingIt) {
  for (const char* wrong : {"sk-team-a-012345678", "sk-team-a-0123456789x", "SK-TEAM-A-0123456789",
                            "totally-wrong-secret"}) {
    RequestHead head = head_with({{"Authorization", std::string("Bearer ") + wrong}});
    RequestContext ctx;
    ctx.head = &head;
    Verdict v = run(ctx);
    ASSERT_EQ(v.kind(), Verdict::Kind::reject) << wrong;
    EXPECT_EQ(v.error().status, 401);
    EXPECT_EQ(v.error().message.find(wrong), std::string::npos) << v.error().message;
    EXPECT_EQ(to_openai_json(v.error()).find(wrong), std::string::npos);
    EXPECT_FALSE(ctx.principal.authenticated);
    EXPECT_TRUE(ctx.principal.id.empty());
  }
}

TEST_F(ApiKeyPolicyTest, NoKeysConfiguredRejectsEverything) {
  auto empty = make_api_key_policy({});
  RequestHead head = head_with({{"x-api-key", "anything"}});
  RequestContext ctx;
  ctx.head = &head;
  std::optional<Verdict> out = run_verdict(empty->on_headers(ctx));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->kind(), Verdict::Kind::reject);
}

}  // namespace
}  // namespace torii
