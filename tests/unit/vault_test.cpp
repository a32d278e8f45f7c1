// Tests for the vault (src/identity/vault*.cpp): the encrypted local store and its tamper
// detection, the env and file backends, name validation, ${vault:...} references, the `vault:`
// config section, the cache TTL and refresh(), and `torii vault` (run_vault_cli).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "config/config.h"
#include "identity/vault.h"
#include "identity/vault_cli.h"
#include "identity/vault_store.h"

namespace torii::identity {
namespace {

namespace fs = std::filesystem;

const std::string kKeyHex(64, 'a');  // 32 bytes of 0xaa
const std::string kOtherKeyHex = std::string(63, 'a') + "b";

std::string raw_key(const std::string& hex) { return *parse_master_key(hex); }

// A fresh directory per test, removed at its end.
class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("torii_vault_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static void write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Writes a store with openai/api_key and anthropic/api_key under kKeyHex.
  std::string make_store() {
    auto store = VaultStore::open(path("store.json"), raw_key(kKeyHex), true);
    EXPECT_TRUE(store.ok());
    EXPECT_TRUE(store->put("openai/api_key", "sk-openai-secret").ok());
    EXPECT_TRUE(store->put("anthropic/api_key", "sk-ant-secret").ok());
    EXPECT_TRUE(store->save().ok());
    return path("store.json");
  }

  // Edits the store's JSON with `edit`, then writes it back.
  static void edit_store(const std::string& file,
                         const std::function<void(boost::json::object& entries)>& edit) {
    auto doc = boost::json::parse(read(file));
    edit(doc.as_object()["entries"].as_object());
    write(file, boost::json::serialize(doc));
  }

  fs::path dir_;
};

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }

 private:
  std::string name_;
};

std::string flip_b64(const std::string& b64) {
  std::string raw;
  EXPECT_TRUE(base64_decode(b64, raw));
  raw[0] = static_cast<char>(raw[0] ^ 1);
  return base64_encode(raw);
}

TEST(VaultNames, ValidAndInvalid) {
  EXPECT_EQ(vault_name_error("openai", "api_key"), "");
  EXPECT_EQ(vault_name_error("team-a/openai.prod", "api_key"), "");
  EXPECT_NE(vault_name_error("", "k"), "");
  EXPECT_NE(vault_name_error("n", ""), "");
  EXPECT_NE(vault_name_error("a/../b", "k"), "");
  EXPECT_NE(vault_name_error("..", "k"), "");
  EXPECT_NE(vault_name_error("a//b", "k"), "");
  EXPECT_NE(vault_name_error("/abs", "k"), "");
  EXPECT_NE(vault_name_error("n", ".."), "");
  EXPECT_NE(vault_name_error("sp ace", "k"), "");
  EXPECT_NE(vault_name_error("n", "k$"), "");
  auto split = split_vault_ref("team/openai/api_key");
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->first, "team/openai");
  EXPECT_EQ(split->second, "api_key");
  EXPECT_FALSE(split_vault_ref("nokey").ok());
  EXPECT_FALSE(split_vault_ref("name/").ok());
}

TEST(VaultMasterKey, HexAndBase64) {
  auto hex = parse_master_key(kKeyHex);
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(*hex, std::string(32, '\xaa'));
  auto b64 = parse_master_key(base64_encode(std::string(32, '\xaa')) + "\n");
  ASSERT_TRUE(b64.ok());
  EXPECT_EQ(*b64, *hex);
  EXPECT_FALSE(parse_master_key("abcd").ok());
  EXPECT_FALSE(parse_master_key(std::string(62, 'a')).ok());
  auto bad = parse_master_key("this-is-not-a-key-this-is-not-a-key");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("this-is-not"), std::string::npos);
  const std::string fresh = new_master_key_hex();
  EXPECT_EQ(fresh.size(), 64u);
  EXPECT_TRUE(parse_master_key(fresh).ok());
  EXPECT_NE(fresh, new_master_key_hex());
}

TEST(VaultBase64, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10 bytes"}) {
    std::string back;
    ASSERT_TRUE(base64_decode(base64_encode(s), back));
    EXPECT_EQ(back, s);
  }
  std::string out;
  EXPECT_FALSE(base64_decode("ab$d", out));
}

TEST_F(VaultTest, StoreRoundTripsAndIsPrivate) {
  const std::string file = make_store();
  struct stat st{};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string text = read(file);
  EXPECT_EQ(text.find("sk-openai-secret"), std::string::npos);  // encrypted at rest
  auto doc = boost::json::parse(text).as_object();
  EXPECT_EQ(doc["version"].as_int64(), 1);
  auto& e = doc["entries"].as_object()["openai/api_key"].as_object();
  std::string nonce, tag;
  ASSERT_TRUE(base64_decode(e["nonce"].as_string(), nonce));
  ASSERT_TRUE(base64_decode(e["tag"].as_string(), tag));
  EXPECT_EQ(nonce.size(), 12u);
  EXPECT_EQ(tag.size(), 16u);

  auto reopened = VaultStore::open(file, raw_key(kKeyHex));
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ(*reopened->get("openai/api_key"), "sk-openai-secret");
  EXPECT_EQ(*reopened->get("anthropic/api_key"), "sk-ant-secret");
  EXPECT_EQ(reopened->list(), (std::vector<std::string>{"anthropic/api_key", "openai/api_key"}));
  EXPECT_FALSE(reopened->get("missing/key").ok());
  // A second put of the same value uses a fresh nonce.
  ASSERT_TRUE(reopened->put("openai/api_key", "sk-openai-secret").ok());
  ASSERT_TRUE(reopened->save().ok());
  auto again = boost::json::parse(read(file)).as_object();
  EXPECT_NE(again["entries"].as_object()["openai/api_key"].as_object()["nonce"],
            e["nonce"]);
  EXPECT_FALSE(VaultStore::open(path("absent.json"), raw_key(kKeyHex)).ok());
  EXPECT_FALSE(reopened->put("bad name/k", "v").ok());
}

TEST_F(VaultTest, StoreRejectsTamperingAndWrongKey) {
  const std::string file = make_store();
  const std::string want =
      "vault entry openai/api_key failed authentication (tampered, or wrong master key)";
  {
    auto wrong = VaultStore::open(file, raw_key(kOtherKeyHex));
    ASSERT_TRUE(wrong.ok());
    auto r = wrong->get("openai/api_key");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, want);
  }
  for (const char* field : {"ciphertext", "tag", "nonce"}) {
    const std::string copy = path(std::string("tampered_") + field + ".json");
    fs::copy_file(file, copy);
    edit_store(copy, [&](boost::json::object& entries) {
      auto& f = entries["openai/api_key"].as_object()[field];
      f = flip_b64(std::string(f.as_string()));
    });
    auto store = VaultStore::open(copy, raw_key(kKeyHex));
    ASSERT_TRUE(store.ok()) << field;
    auto r = store->get("openai/api_key");
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error().message, want) << field;
    EXPECT_TRUE(store->get("anthropic/api_key").ok()) << field;  // the others still read
  }
  // Swapping two entries' sealed values: the name is authenticated data, so both fail.
  edit_store(file, [](boost::json::object& entries) {
    std::swap(entries["openai/api_key"], entries["anthropic/api_key"]);
  });
  auto swapped = VaultStore::open(file, raw_key(kKeyHex));
  ASSERT_TRUE(swapped.ok());
  EXPECT_EQ(swapped->get("openai/api_key").error().message, want);
  EXPECT_FALSE(swapped->get("anthropic/api_key").ok());
  // A malformed file is refused, not half read.
  write(path("bad.json"), R"({"version":1,"entries":{"a/b":{"nonce":"xx"}}})");
  EXPECT_FALSE(VaultStore::open(path("bad.json"), raw_key(kKeyHex)).ok());
  write(path("v2.json"), R"({"version":2,"entries":{}})");
  EXPECT_FALSE(VaultStore::open(path("v2.json"), raw_key(kKeyHex)).ok());
}

TEST_F(VaultTest, EnvBackend) {
  ScopedEnv a("TORII_SECRET_OPENAI_API_KEY", "sk-from-env");
  ScopedEnv b("TORII_SECRET_TEAM_A_OPENAI_PROD_API_KEY", "sk-team");
  ScopedEnv c("MYPFX_OPENAI_API_KEY", "sk-prefixed");
  VaultConfig cfg;
  cfg.backend = "env";
  auto v = make_vault(cfg);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->backend(), "env");
  EXPECT_EQ(*(*v)->get("openai", "api_key"), "sk-from-env");
  EXPECT_EQ(*(*v)->get("team-a/openai.prod", "api_key"), "sk-team");
  auto missing = (*v)->get("nope", "api_key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("TORII_SECRET_NOPE_API_KEY"), std::string::npos);
  EXPECT_FALSE((*v)->get("../x", "k").ok());
  cfg.prefix = "MYPFX_";
  EXPECT_EQ(*(*make_vault(cfg))->get("openai", "api_key"), "sk-prefixed");
}

TEST_F(VaultTest, FileBackend) {
  write(path("secrets/openai/api_key"), "sk-from-file\n");
  write(path("secrets/team/openai/api_key"), "sk-nested");
  write(path("outside"), "not for you");
  VaultConfig cfg;
  cfg.backend = "file";
  cfg.directory = path("secrets") + "/";
  auto v = make_vault(cfg);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*(*v)->get("openai", "api_key"), "sk-from-file");  // newline stripped
  EXPECT_EQ(*(*v)->get("team/openai", "api_key"), "sk-nested");
  EXPECT_FALSE((*v)->get("openai", "missing").ok());
  auto escape = (*v)->get("..", "outside");
  ASSERT_FALSE(escape.ok());
  EXPECT_EQ(escape.error().message.find("not for you"), std::string::npos);
}

TEST_F(VaultTest, LocalBackendReadsTheStore) {
  const std::string file = make_store();
  ScopedEnv key("TORII_TEST_VAULT_KEY", kKeyHex);
  VaultConfig cfg;
  cfg.backend = "local";
  cfg.path = file;
  cfg.master_key = *resolve_secret("${env:TORII_TEST_VAULT_KEY}");
  auto v = make_vault(cfg);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*(*v)->get("anthropic", "api_key"), "sk-ant-secret");
  cfg.master_key.value = "short";
  EXPECT_FALSE(make_vault(cfg).ok());
  cfg.master_key.value = kOtherKeyHex;
  cfg.path = file;
  auto wrong = make_vault(cfg);
  ASSERT_TRUE(wrong.ok());
  auto r = (*wrong)->get("openai", "api_key");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("failed authentication"), std::string::npos);
}

TEST_F(VaultTest, ResolveSecretWithVault) {
  write(path("s/openai/api_key"), "sk-resolved");
  VaultConfig cfg;
  cfg.backend = "file";
  cfg.directory = path("s");
  auto v = make_vault(cfg);
  ASSERT_TRUE(v.ok());
  auto r = resolve_secret("${vault:openai/api_key}", v->get());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->value, "sk-resolved");
  EXPECT_EQ(r->reference, "${vault:openai/api_key}");
  EXPECT_FALSE(r->literal);
  auto none = resolve_secret("${vault:openai/api_key}");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "${vault:...} used but no `vault:` is configured");
  EXPECT_FALSE(resolve_secret("${vault:openai}", v->get()).ok());
  EXPECT_FALSE(resolve_secret("${vault:/api_key}", v->get()).ok());
  EXPECT_FALSE(resolve_secret("${vault:a/../b/k}", v->get()).ok());
  EXPECT_FALSE(resolve_secret("Bearer ${vault:openai/api_key}", v->get()).ok());
  auto missing = resolve_secret("${vault:other/api_key}", v->get());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("other/api_key"), std::string::npos);
}

TEST_F(VaultTest, CacheTtlAndRefresh) {
  const std::string file = path("c/openai/api_key");
  write(file, "v1");
  VaultConfig cfg;
  cfg.backend = "file";
  cfg.directory = path("c");
  cfg.ttl = std::chrono::seconds(3600);
  auto v = make_vault(cfg);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*(*v)->get("openai", "api_key"), "v1");
  write(file, "v2");
  EXPECT_EQ(*(*v)->get("openai", "api_key"), "v1");  // fresh in the cache
  // A second vault of the same backend identity (a reload) shares the cache.
  auto reloaded = make_vault(cfg);
  EXPECT_EQ(*(*reloaded)->get("openai", "api_key"), "v1");
  auto changed = (*v)->refresh();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(*(*v)->get("openai", "api_key"), "v2");
  EXPECT_EQ(*(*reloaded)->get("openai", "api_key"), "v2");
  EXPECT_FALSE(*(*v)->refresh());  // nothing changed since
  // The backend failing keeps the cached value.
  fs::remove(file);
  EXPECT_FALSE((*v)->refresh().ok());
  EXPECT_EQ(*(*v)->get("openai", "api_key"), "v2");

  // TTL 0: every get reads the backend.
  write(path("d/openai/api_key"), "a1");
  VaultConfig zero = cfg;
  zero.directory = path("d");
  zero.ttl = std::chrono::seconds(0);
  auto z = make_vault(zero);
  EXPECT_EQ(*(*z)->get("openai", "api_key"), "a1");
  write(path("d/openai/api_key"), "a2");
  EXPECT_EQ(*(*z)->get("openai", "api_key"), "a2");

  // TTL 1 s: the change shows once the value is older than that.
  write(path("e/openai/api_key"), "b1");
  VaultConfig one = cfg;
  one.directory = path("e");
  one.ttl = std::chrono::seconds(1);
  auto o = make_vault(one);
  EXPECT_EQ(*(*o)->get("openai", "api_key"), "b1");
  write(path("e/openai/api_key"), "b2");
  EXPECT_EQ(*(*o)->get("openai", "api_key"), "b1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(*(*o)->get("openai", "api_key"), "b2");
}

constexpr const char* kVaultConfig = R"(vault:
  backend: file
  directory: DIR
  ttl_s: 60
providers:
  - name: openai
    kind: openai
    api_key: ${vault:openai/api_key}
    models: [gpt-4o-mini]
auth:
  api_keys:
    - name: team
      key: ${vault:torii/team_key}
)";

std::string with_dir(std::string text, const std::string& dir) {
  text.replace(text.find("DIR"), 3, dir);
  return text;
}

TEST_F(VaultTest, ConfigSectionResolvesReferences) {
  write(path("cfg/openai/api_key"), "sk-provider-from-vault\n");
  write(path("cfg/torii/team_key"), "tk-team-from-vault");
  auto r = parse_config(with_dir(kVaultConfig, path("cfg")), "v.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->vault.backend, "file");
  EXPECT_EQ(r->vault.ttl, std::chrono::seconds(60));
  ASSERT_TRUE(r->vault_client);
  EXPECT_EQ(r->providers.at(0).api_key.value, "sk-provider-from-vault");
  EXPECT_EQ(r->providers.at(0).api_key.reference, "${vault:openai/api_key}");

  fs::remove(path("cfg/openai/api_key"));
  // A fresh directory identity, so the cache of the config above is not involved.
  fs::rename(path("cfg"), path("cfg2"));
  auto missing = parse_config(with_dir(kVaultConfig, path("cfg2")), "v.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("v.yaml:8: providers[0].api_key"), std::string::npos)
      << missing.error().message;
  EXPECT_EQ(missing.error().message.find("tk-team-from-vault"), std::string::npos);

  std::string no_vault = kVaultConfig;
  no_vault = no_vault.substr(no_vault.find("providers:"));
  auto unconfigured = parse_config(no_vault, "n.yaml");
  ASSERT_FALSE(unconfigured.ok());
  EXPECT_NE(unconfigured.error().message.find("no `vault:` is configured"), std::string::npos);
}

TEST_F(VaultTest, ConfigSectionErrors) {
  ScopedEnv token("TORII_TEST_VAULT_TOKEN", "hvs-super-secret-token");
  auto check = [](const std::string& yaml, const std::string& want) {
    auto r = parse_config(yaml + "providers: []\n", "e.yaml");
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("hvs-super-secret-token"), std::string::npos);
  };
  check("vault:\n  backend: consul\n", "e.yaml:2: vault.backend: must be env, file, local or");
  check("vault:\n  ttl_s: 5\n", "vault.backend: is required");
  check("vault:\n  backend: file\n", "vault.directory: is required");
  check("vault:\n  backend: env\n  directory: /x\n", "vault.directory: is not used by the env");
  check("vault:\n  backend: hashicorp\n  address: http://127.0.0.1:1\n",
        "vault.token: is required");
  check("vault:\n  backend: hashicorp\n  address: ftp://x\n"
        "  token: ${env:TORII_TEST_VAULT_TOKEN}\n",
        "vault.address: must start with http:// or https://");
  check("vault:\n  backend: hashicorp\n  address: http://127.0.0.1:1\n"
        "  token: hvs-super-secret-token\n",
        "must be ${env:NAME} or ${file:/path}, not literals");
  check("vault:\n  backend: local\n  path: /tmp/x\n  master_key: ${env:TORII_TEST_VAULT_TOKEN}\n",
        "master key must be 32 bytes");
  check("vault:\n  backend: env\n  ttl_s: -1\n", "vault.ttl_s: must be at least 0");
  check("vault:\n  backend: env\n  tll_s: 5\n", "unknown key (did you mean ttl_s?)");
}

TEST_F(VaultTest, CliPutGetList) {
  ScopedEnv key("TORII_TEST_CLI_KEY", kKeyHex);
  VaultCliOptions o;
  o.store = path("cli.json");
  o.master_key_env = "TORII_TEST_CLI_KEY";
  auto run = [&](const std::string& command, const std::string& entry, const std::string& in,
                 std::string* out_text = nullptr, std::string* err_text = nullptr) {
    VaultCliOptions c = o;
    c.command = command;
    c.entry = entry;
    std::istringstream input(in);
    std::ostringstream out, err;
    const int rc = run_vault_cli(c, input, out, err);
    if (out_text) *out_text = out.str();
    if (err_text) *err_text = err.str();
    return rc;
  };
  std::string out, err;
  EXPECT_EQ(run("put", "openai/api_key", "sk-cli-value\n", nullptr, &err), 0);
  EXPECT_EQ(err.find("sk-cli-value"), std::string::npos);
  EXPECT_EQ(run("put", "mistral/api_key", "sk-mistral"), 0);
  EXPECT_EQ(run("get", "openai/api_key", "", &out), 0);
  EXPECT_EQ(out, "sk-cli-value\n");
  EXPECT_EQ(run("list", "", "", &out), 0);
  EXPECT_EQ(out, "mistral/api_key\nopenai/api_key\n");
  EXPECT_NE(run("put", "bad", "x"), 0);
  EXPECT_NE(run("put", "a/b", ""), 0);
  EXPECT_NE(run("get", "missing/key", "", nullptr, &err), 0);
  // The master key from a file; a wrong one fails to authenticate.
  write(path("mk"), kOtherKeyHex + "\n");
  o.master_key_file = path("mk");
  EXPECT_NE(run("get", "openai/api_key", "", &out, &err), 0);
  EXPECT_NE(err.find("failed authentication"), std::string::npos);
  EXPECT_EQ(err.find(kOtherKeyHex), std::string::npos);
  o.master_key_file.clear();
  o.master_key_env = "TORII_TEST_UNSET_KEY_VAR";
  EXPECT_NE(run("list", "", "", nullptr, &err), 0);
  EXPECT_NE(err.find("TORII_TEST_UNSET_KEY_VAR"), std::string::npos);
  EXPECT_EQ(run("new-master-key", "", "", &out), 0);
  EXPECT_EQ(out.size(), 65u);
}

}  // namespace
}  // namespace torii::identity
