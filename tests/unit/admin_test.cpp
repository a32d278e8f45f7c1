// The admin API's building blocks: the config document (YAML/JSON typing, the loader round trip,
// secret redaction and restoration) and the accounts (argon2id logins, lockout, tokens, roles).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "admin/accounts.h"
#include "admin/config_doc.h"

namespace torii::admin {
namespace {

json::object doc(const std::string& yaml) {
  auto d = yaml_to_doc(yaml, "t.yaml");
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  return d.ok() ? *d : json::object{};
}

TEST(AdminConfigDoc, ScalarsAreTyped) {
  auto d = doc("a: 123\nb: \"123\"\nc: 0.50\nd: true\ne: ~\nf: 2024-02-01\ng: '1.5'\nh: -7\n"
               "i: 1e3\nj: 007\n");
  EXPECT_EQ(d["a"], json::value(123));
  EXPECT_EQ(d["b"], json::value("123"));
  EXPECT_EQ(d["c"], json::value(0.5));
  EXPECT_EQ(d["d"], json::value(true));
  EXPECT_TRUE(d["e"].is_null());
  EXPECT_EQ(d["f"], json::value("2024-02-01"));
  EXPECT_EQ(d["g"], json::value("1.5"));
  EXPECT_EQ(d["h"], json::value(-7));
  EXPECT_EQ(d["i"], json::value("1e3"));  // not a plain decimal: kept as written
  EXPECT_EQ(d["j"], json::value("007"));
  EXPECT_FALSE(yaml_to_doc("a: [1,", "t.yaml").ok());
  EXPECT_FALSE(yaml_to_doc("- 1\n- 2\n", "t.yaml").ok());
  EXPECT_FALSE(json_to_doc("[1]").ok());
  EXPECT_FALSE(json_to_doc("{").ok());
}

const char* kConfig = R"(
providers:
  - {name: up, kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: "${env:HOME}", models: [m]}
routes:
  - {name: r, targets: [up/m]}
quotas:
  budgets:
    - {id: b, scope: [key], usd: 5.25, period: day}
prices:
  m: {input: 0.50, output: 1.5}
)";

TEST(AdminConfigDoc, TheLoaderReadsTheDocument) {
  json::object d = doc(kConfig);
  auto c = doc_to_config(d);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->quotas.budgets.at(0).usd_micros, 5'250'000);
  EXPECT_EQ(c->prices.at("m").input, 500'000);
  EXPECT_EQ(c->prices.at("m").output, 1'500'000);
  // Through YAML and back: the same document.
  auto again = yaml_to_doc(doc_to_yaml(d), "export");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, d);
  // Errors name the path, not a line of the generated text.
  d["routes"].get_array()[0].get_object()["targets"] = json::array{"ghost/m"};
  auto bad = doc_to_config(d);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status, 400);
  EXPECT_EQ(bad.error().message.find("admin:"), std::string::npos) << bad.error().message;
  d = doc(kConfig);
  d["providers"].get_array()[0].get_object()["colour"] = "red";
  bad = doc_to_config(d);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("colour"), std::string::npos) << bad.error().message;
}

TEST(AdminConfigDoc, SecretsAreRedactedWhereverTheyAre) {
  json::object d = doc(R"(
providers:
  - {name: a, kind: openai, api_key: sk-literal, api_keys: ["${env:K2}", sk-other],
     headers: {authorization: Bearer xyz, x-mock-fail-percent: "30", x-api-key: k},
     aws_secret_access_key: s3cret}
auth:
  api_keys:
    - {name: k, key: tk-literal, previous: [{key: tk-old, expires_at: "2030-01-01T00:00:00Z"}]}
    - {name: r, key: "${env:REF}"}
  jwt:
    - {issuer: i, hmac_secret: hmac-x}
authorization:
  rules:
    - {id: x, when: [{key: demo}]}
vault: {backend: hashicorp, address: "http://v", token: vault-tok-x}
quotas: {store: redis, redis: {password: redis-pw-x}}
audit: {sinks: [{type: webhook, url: "http://w", headers: {authorization: webhook-auth-x}}]}
)");
  const std::string shown = json::serialize(redact(d));
  for (const char* secret : {"sk-literal", "sk-other", "Bearer xyz", "\"k\"}", "s3cret",
                             "tk-literal", "tk-old", "hmac-x", "vault-tok-x", "redis-pw-x",
                             "webhook-auth-x"})
    EXPECT_EQ(shown.find(secret), std::string::npos) << secret << " in " << shown;
  for (const char* kept : {"${env:K2}", "${env:REF}", "\"30\"", "{\"key\":\"demo\"}", "http://v"})
    EXPECT_NE(shown.find(kept), std::string::npos) << kept << " missing from " << shown;
  // One api_keys item, at its collection's path.
  json::value key = d["auth"].get_object()["api_keys"].get_array()[0];
  EXPECT_EQ(redact(key, "auth.api_keys").get_object().at("key"), json::value(kRedacted));
}

TEST(AdminConfigDoc, PlaceholdersKeepTheStoredSecretAndLiteralsAreRefused) {
  json::value old = boost::json::parse(R"({"name":"a","api_key":"sk-stored","models":["m"]})");
  json::value next = boost::json::parse(R"({"name":"a","api_key":"<redacted>","models":["n"]})");
  ASSERT_TRUE(restore_secrets(next, &old, "providers").ok());
  EXPECT_EQ(next.get_object().at("api_key"), json::value("sk-stored"));  // unchanged literal: kept

  json::value lit = boost::json::parse(R"({"name":"a","api_key":"sk-new-literal"})");
  auto r = restore_secrets(lit, &old, "providers");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "secret_literal");
  EXPECT_EQ(r.error().message.find("sk-new-literal"), std::string::npos);

  json::value ref = boost::json::parse(R"({"name":"a","api_key":"${vault:openai/key}"})");
  EXPECT_TRUE(restore_secrets(ref, &old, "providers").ok());

  json::value orphan = boost::json::parse(R"({"name":"b","api_key":"<redacted>"})");
  EXPECT_FALSE(restore_secrets(orphan, nullptr, "providers").ok());
}

TEST(AdminConfigDoc, CollectionsAndEtags) {
  json::object d;
  const Collection* c = find_collection("rate-limits");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(collection_items(d, *c, false), nullptr);
  json::array* items = collection_items(d, *c, true);
  ASSERT_NE(items, nullptr);
  items->push_back(json::object{{"id", "x"}, {"requests", 5}});
  EXPECT_NE(find_item(collection_items(d, *c, false), *c, "x"), nullptr);
  EXPECT_EQ(find_item(collection_items(d, *c, false), *c, "y"), nullptr);
  EXPECT_TRUE(d["quotas"].get_object()["limits"].is_array());
  EXPECT_EQ(find_collection("nope"), nullptr);
  const json::value a = json::object{{"id", "x"}}, b = json::object{{"id", "y"}};
  EXPECT_EQ(etag_of(a), etag_of(json::object{{"id", "x"}}));
  EXPECT_NE(etag_of(a), etag_of(b));
}

class AdminAccounts : public ::testing::Test {
 protected:
  AdminAccounts() : store_(make_memory_config_store()) {
    cfg_.login_failures = 3;
    cfg_.login_window = std::chrono::seconds(60);
    accounts_ = std::make_unique<Accounts>(*store_, cfg_);
  }
  std::unique_ptr<ConfigStore> store_;
  AdminConfig cfg_;
  std::unique_ptr<Accounts> accounts_;
};

TEST_F(AdminAccounts, InitialAdminLoginLockoutAndTokens) {
  auto pw = accounts_->bootstrap();
  ASSERT_TRUE(pw.ok());
  EXPECT_GE(pw->size(), 20u);
  EXPECT_EQ(*accounts_->bootstrap(), "");  // once
  // The stored document holds an argon2id hash, never the password.
  const std::string stored = store_->load(kAccountsDoc)->json;
  EXPECT_NE(stored.find("$argon2id$"), std::string::npos);
  EXPECT_EQ(stored.find(*pw), std::string::npos);

  auto s = accounts_->login("admin", *pw, "10.0.0.1");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->second.must_change_password);
  auto who = accounts_->authenticate(s->first);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->role, Role::admin);
  EXPECT_EQ(stored.find(s->first), std::string::npos);

  EXPECT_EQ(accounts_->change_password(*who, *pw, "short").error().code, "weak_password");
  ASSERT_TRUE(accounts_->change_password(*who, *pw, "a long new password").ok());
  EXPECT_FALSE(accounts_->authenticate(s->first)->must_change_password);

  // Three failures lock the user out, even for the right password.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(accounts_->login("admin", "wrong password!", "10.0.0.2").error().status, 401);
  auto locked = accounts_->login("admin", "a long new password", "10.0.0.3");
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().status, 429);
  EXPECT_FALSE(locked.error().retry_after.empty());

  // Tokens: never above their creator's role; deleted with their user.
  ASSERT_TRUE(accounts_->create_user(*who, "ed", Role::editor, "temporary password").ok());
  auto ed = accounts_->login("ed", "temporary password", "10.0.0.4");
  ASSERT_TRUE(ed.ok());
  EXPECT_EQ(accounts_->create_token(ed->second, "t", Role::admin, {}).error().status, 403);
  auto t = accounts_->create_token(ed->second, "t", Role::viewer, std::chrono::seconds(0));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(accounts_->authenticate(t->first)->role, Role::viewer);
  ASSERT_TRUE(accounts_->delete_user(*who, "ed").ok());
  EXPECT_FALSE(accounts_->authenticate(t->first).ok());
  EXPECT_FALSE(accounts_->authenticate("tka_unknown").ok());
  // The last admin stays.
  EXPECT_EQ(accounts_->update_user(*who, "admin", Role::viewer, std::nullopt).error().code,
            "last_admin");
  EXPECT_EQ(accounts_->delete_user(*who, "admin").error().code, "self_delete");
}

}  // namespace
}  // namespace torii::admin
