// torii: the command line. `serve` runs the gateway, `mock` the provider emulator, `check`
// validates a config file.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "admin/admin_api.h"
#include "admin/bootstrap.h"
#include "audit/audit_log.h"
#include "config/config.h"
#include "config/snapshot.h"
#include "gateway/health_checker.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "identity/vault.h"
#include "identity/keys.h"
#include "identity/vault_cli.h"
#include "server/server.h"
#include "tokenizer/tokenize_cli.h"
#include "tokenizer/tokenizer.h"
#include "tools/mock/mock.h"

using namespace torii;

namespace {

bool parse_listen(const std::string& listen, ServerOptions& opt) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) return false;
    opt.host = host;
    opt.port = static_cast<uint16_t>(port);
  } catch (...) {
    return false;
  }
  return true;
}

// A proxied stream holds two descriptors; take all the kernel allows.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Binds the listeners and starts the workers; false (logged) when the address is unusable.
bool bind_and_start(Server& server) {
  try {
    server.bind();
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return false;
  }
  server.start();
  return true;
}

void say(const std::string& line) {
  std::cout << line << std::endl;  // flushed: tests wait for these lines
}

struct ServeOptions {
  std::string config_path, listen, admin_listen, admin_store;
  int workers = 0;
};

void warn_about_literals(const Config& config) {
  if (config.demo) return;  // the demo's made-up provider keys are literals on purpose
  for (const auto& k : config.api_keys) {
    if (k.key.literal)
      log::warn("auth.api_keys '{}': key is a literal in the config file; prefer key_sha256 "
                "(torii keys new) or ${{env:NAME}}", k.name);
    // A guessable key is a hole whatever else is configured (torii keys new makes 256 bits).
    if (!k.key.empty() && k.key.value.size() < 32)
      log::warn("auth.api_keys '{}': the key is only {} characters; use a random key of at least "
                "32 (torii keys new)", k.name, k.key.value.size());
  }
  for (const auto& p : config.providers)
    if (p.api_key.literal)
      log::warn("provider '{}': api_key is a literal in the config file; prefer ${{env:NAME}} or "
                "${{file:/path}}", p.name);
}

int serve(const ServeOptions& so) {
  const std::string& config_path = so.config_path;
  Result<Config> loaded = config_path.empty() ? Result<Config>(default_config())
                                              : load_config_file(config_path);
  if (!loaded) {
    log::error("{}", loaded.error().message);
    return 1;
  }
  Config config = std::move(*loaded);
  if (!so.listen.empty() && !parse_listen(so.listen, config.server)) {
    log::error("--listen '{}': expected HOST:PORT", so.listen);
    return 1;
  }
  if (so.workers > 0) config.server.workers = so.workers;

  // The admin side (docs/ADMIN_API.md): on with an `admin:` section, for the demo, or with
  // --admin-listen. The config store is then the source of truth; the file seeds an empty one.
  AdminConfig admin_cfg = config.admin;
  if (config_path.empty()) admin_cfg.enabled = true;
  if (!so.admin_listen.empty()) {
    ServerOptions o;
    if (!parse_listen(so.admin_listen, o)) {
      log::error("--admin-listen '{}': expected HOST:PORT", so.admin_listen);
      return 1;
    }
    admin_cfg.enabled = true;
    admin_cfg.host = o.host;
    admin_cfg.port = o.port;
  }
  if (so.admin_store == "memory") {
    admin_cfg.store.type = "memory";
  } else if (!so.admin_store.empty()) {
    admin_cfg.store.type = "sqlite";
    admin_cfg.store.path = so.admin_store;
  }
  const bool demo = config.demo;
  const ServerOptions server_opts = config.server;  // the file's, with the command line's
  std::unique_ptr<admin::ConfigStore> store;
  std::unique_ptr<admin::ConfigManager> manager;
  std::string demo_key;
  // What a Config read from the store lacks: the bootstrap file's admin section and listener.
  auto complete = [&](Config& c) {
    c.admin = admin_cfg;
    c.server.host = server_opts.host;
    c.server.port = server_opts.port;
    c.server.workers = server_opts.workers;
    c.demo = demo;
    c.source = "the admin store";
  };

  routing::HealthRegistry health;
  SnapshotHolder holder;
  std::unique_ptr<HealthChecker> checker;
  std::string mock_url;
  if (admin_cfg.enabled) {
    if (demo)
      demo_key = admin::ensure_demo_key(admin_cfg.store.type == "sqlite"
                                            ? (std::filesystem::path(admin_cfg.store.path)
                                                   .parent_path() / "demo-key").string()
                                            : "");
    auto opened = admin::open_config_store(admin_cfg.store);
    if (!opened) {
      log::error("admin.store: {}", opened.error().message);
      return 1;
    }
    store = std::move(*opened);
    admin::ConfigManager::Hooks hooks;
    hooks.complete = complete;
    hooks.build = [&](Config c) { return build_snapshot(std::move(c), mock_url, &health); };
    hooks.commit = [&](std::shared_ptr<const Snapshot> s) {
      if (auto r = audit::AuditLog::reconfigure(s->config); !r)
        log::error("admin: the audit pipeline keeps its previous settings: {}", r.error().message);
      if (s->config.quotas.active()) tokenizer::preload();
      holder.set(std::move(s));
      if (checker) checker->watch(holder.get());
    };
    manager = std::make_unique<admin::ConfigManager>(*store, std::move(hooks));
    auto seed = admin::seed_document(config_path);
    if (!seed) {
      log::error("{}", seed.error().message);
      return 1;
    }
    auto started = manager->start(std::move(*seed), config.source);
    if (!started) {
      log::error("admin store: {}", started.error().message);
      return 1;
    }
    config = std::move(*started);
  }
  warn_about_literals(config);

  // The built-in mock, for providers of kind "mock" or with base_url "builtin-mock" (the demo
  // config has both; a managed config may add one later, so it always runs there).
  std::unique_ptr<Server> mock_server;
  bool wants_mock = admin_cfg.enabled;
  MockOptions mock_options;
  for (const auto& p : config.providers)
    if (p.kind == "mock" || p.base_url == kBuiltinMock) {
      wants_mock = true;
      if (p.kind == "mock" && !p.models.empty()) mock_options.models = p.models;
    }
  if (wants_mock) {
    ServerOptions mo;
    mo.host = "127.0.0.1";
    mo.port = 0;
    mo.workers = 1;
    mo.shutdown_grace = config.server.shutdown_grace;
    mock_server = std::make_unique<Server>(mo, make_mock_handler(mock_options));
    mock_server->bind();
    mock_server->start();
    mock_url = "http://127.0.0.1:" + std::to_string(mock_server->port());
  }

  // Target health (breakers, latency, 429 cool-downs) outlives each snapshot: a reload keeps it.
  auto snap = build_snapshot(config, mock_url, &health);
  if (!snap) {
    log::error("{}: {}", config.source, snap.error().message);
    return 1;
  }
  // The token tables load in the background once a config has quotas (their prompt estimates
  // use them), here and on reload: `torii check` and a gateway without quotas never load them.
  if ((*snap)->config.quotas.active()) tokenizer::preload();
  // The audit pipeline (sinks, metrics, traces) outlives snapshots: started once, reconfigured
  // on reload, flushed after the server has drained.
  if (auto started = audit::AuditLog::start((*snap)->config); !started) {
    log::error("{}: audit: {}", config.source, started.error().message);
    return 1;
  }
  holder.set(std::move(*snap));
  checker = std::make_unique<HealthChecker>(health);
  checker->watch(holder.get());

  Server server(config.server, make_gateway(holder));
  if (!bind_and_start(server)) return 1;
  if (config.api_keys.empty() && config.jwt.empty())
    log::warn("auth has no api_keys and no jwt issuer: the gateway is open to anyone who can "
              "reach {}:{}",
              config.server.host, server.port());

  // The admin listener: one worker thread of its own (argon2id, SQLite and snapshot builds
  // never run on a gateway worker).
  std::unique_ptr<admin::Accounts> accounts;
  std::unique_ptr<Server> admin_server;
  std::string initial_password;
  if (admin_cfg.enabled) {
    accounts = std::make_unique<admin::Accounts>(*store, admin_cfg);
    auto pw = accounts->bootstrap();
    if (!pw) {
      log::error("admin accounts: {}", pw.error().message);
      return 1;
    }
    initial_password = *pw;
    store->watch([&](std::string name, int64_t) {
      if (name == admin::kAccountsDoc) accounts->invalidate();
      else server.request_reload();  // applied on the control thread, as SIGHUP is
    });
    admin::AdminDeps deps;
    deps.manager = manager.get();
    deps.accounts = accounts.get();
    deps.holder = &holder;
    deps.config = admin_cfg;
    deps.swagger_ui_dir = admin::find_swagger_ui(admin_cfg.swagger_ui_dir);
    ServerOptions ao;
    ao.host = admin_cfg.host;
    ao.port = admin_cfg.port;
    ao.workers = 1;
    ao.max_body_bytes = config.server.max_body_bytes;
    ao.max_upload_bytes = 0;  // no uploads on the admin listener
    ao.shutdown_grace = std::chrono::milliseconds(2000);
    admin_server = std::make_unique<Server>(ao, admin::make_admin_handler(std::move(deps)));
    if (!bind_and_start(*admin_server)) return 1;
  }

  auto reload = [&] {
    if (manager) {
      // Managed: the store is the truth (another process may have written it; the vault's
      // values may have changed): apply its document again.
      if (auto r = manager->reload(); !r)
        log::error("reload failed, keeping the current config: {}", r.error().message);
      else if (!*r && !manager->rebuild())
        log::error("reload failed, keeping the current config");
      return;
    }
    if (config_path.empty()) {
      log::info("SIGHUP: running on the embedded config; nothing to reload");
      return;
    }
    auto next = load_config_file(config_path);
    if (!next) {
      log::error("reload failed, keeping the current config: {}", next.error().message);
      return;
    }
    auto built = build_snapshot(std::move(*next), mock_url, &health);
    if (!built) {
      log::error("reload failed, keeping the current config: {}: {}", config_path,
                 built.error().message);
      return;
    }
    const auto& old = holder.get()->config.server;
    const auto& neu = (*built)->config.server;
    if (old.host != neu.host || old.port != neu.port || old.workers != neu.workers)
      log::warn("reload: server.listen and server.workers take effect at restart only");
    if (auto r = audit::AuditLog::reconfigure((*built)->config); !r) {
      log::error("reload failed, keeping the current config: {}: audit: {}", config_path,
                 r.error().message);
      return;
    }
    if ((*built)->config.quotas.active()) tokenizer::preload();
    holder.set(std::move(*built));
    checker->watch(holder.get());
    log::info("config reloaded from {}", config_path);
  };
  // Vault refresh: every TTL, the values read so far are fetched again; a change reloads the
  // config as SIGHUP does (on the control thread), so what uses them is rebuilt.
  std::mutex refresh_mu;
  std::condition_variable refresh_cv;
  bool refresh_stop = false;
  std::thread refresher;
  if (!config_path.empty() || manager) {
    refresher = std::thread([&] {
      std::unique_lock lock(refresh_mu);
      for (;;) {
        std::shared_ptr<identity::Vault> vault;
        std::chrono::seconds every{5};  // no vault now: look again later (a reload may add one)
        if (auto snap = holder.get()) {
          vault = snap->config.vault_client;
          if (vault) every = std::max(snap->config.vault.ttl, std::chrono::seconds(1));
        }
        if (refresh_cv.wait_for(lock, every, [&] { return refresh_stop; })) return;
        if (!vault) continue;
        lock.unlock();
        auto changed = vault->refresh();
        lock.lock();
        if (!changed) {
          log::warn("vault: refresh failed, keeping the current values: {}",
                    changed.error().message);
        } else if (*changed) {
          log::info("vault: secrets changed, reloading");
          server.request_reload();
        }
      }
    });
  }
  server.run_until_signal(reload, [&] {
    if (admin_server) {
      say("admin API listening on http://" + admin_cfg.host + ":" +
          std::to_string(admin_server->port()) + " (docs: /apis/docs)");
      if (!initial_password.empty()) {
        say("admin user: " + admin_cfg.initial_user);
        say("admin password: " + initial_password +
            " (temporary: shown once; change it at the first login)");
      }
    }
    say("torii listening on http://" + config.server.host + ":" + std::to_string(server.port()));
    if (config.demo) {
      const std::string key = demo_key.empty() ? config.api_keys.front().key.value : demo_key;
      say("demo key: " + key);
      say("try: curl http://" + config.server.host + ":" + std::to_string(server.port()) +
          "/v1/chat/completions -H 'Authorization: Bearer " + key +
          "' -H 'Content-Type: application/json' -d '{\"model\":\"demo\",\"messages\":"
          "[{\"role\":\"user\",\"content\":\"Hello torii\"}]}'");
    }
  });
  if (refresher.joinable()) {
    {
      std::lock_guard lock(refresh_mu);
      refresh_stop = true;
    }
    refresh_cv.notify_all();
    refresher.join();
  }
  if (admin_server) {
    admin_server->shutdown();
    admin_server->wait();
    // The store's watcher thread (Redis) calls into the accounts and the server: it stops
    // first, then what it calls goes.
    admin_server.reset();
    store.reset();
    accounts.reset();
    manager.reset();
  }
  if (mock_server) {
    mock_server->shutdown();
    mock_server->wait();
  }
  // Every request has ended (and queued its event): write them all before exiting.
  audit::AuditLog::stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  log::info("stopped");
  return 0;
}

int mock(const std::string& listen, int workers, MockOptions options) {
  ServerOptions opt;
  opt.port = 9999;
  if (!listen.empty() && !parse_listen(listen, opt)) {
    log::error("--listen '{}': expected HOST:PORT", listen);
    return 1;
  }
  opt.workers = workers;
  opt.max_connections = 100000;
  opt.idle_timeout = std::chrono::seconds(120);
  opt.shutdown_grace = std::chrono::seconds(2);
  Server server(opt, make_mock_handler(std::move(options)));
  if (!bind_and_start(server)) return 1;
  server.run_until_signal(nullptr, [&] {
    say("torii mock listening on http://" + opt.host + ":" + std::to_string(server.port()));
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"torii: an LLM gateway"};
  app.require_subcommand(1);
  std::string level = "info";
  app.add_option("--log-level", level, "debug, info, warn or error");

  auto* serve_cmd = app.add_subcommand("serve", "run the gateway");
  ServeOptions so;
  serve_cmd->add_option("-c,--config", so.config_path,
                        "YAML config file (default: the embedded demo)");
  serve_cmd->add_option("--listen", so.listen, "HOST:PORT, overrides server.listen (port 0: any)");
  serve_cmd->add_option("--workers", so.workers, "worker threads, overrides server.workers");
  serve_cmd->add_option("--admin-listen", so.admin_listen,
                        "HOST:PORT of the admin API (turns it on; port 0: any)");
  serve_cmd->add_option("--admin-store", so.admin_store,
                        "the admin config store: a SQLite file, or 'memory' (nothing kept)");
  auto* routes_cmd = app.add_subcommand("admin-routes", "print the admin API's endpoints");

  auto* mock_cmd = app.add_subcommand("mock", "run the OpenAI-compatible provider emulator");
  MockOptions mo;
  std::string mock_listen = "127.0.0.1:9999", models;
  int mock_workers = 1;
  mock_cmd->add_option("--listen", mock_listen, "HOST:PORT (port 0: any)");
  mock_cmd->add_option("--workers", mock_workers, "worker threads");
  mock_cmd->add_option("--latency-ms", mo.latency_ms, "delay before the response head");
  mock_cmd->add_option("--ttft-ms", mo.ttft_ms, "streams: delay before the first content chunk");
  mock_cmd->add_option("--chunks", mo.chunks, "streams: content chunks");
  mock_cmd->add_option("--interval-ms", mo.interval_ms, "streams: delay between chunks");
  mock_cmd->add_option("--tokens-per-chunk", mo.tokens_per_chunk, "words per chunk");
  mock_cmd->add_option("--models", models, "comma-separated model ids");

  auto* check_cmd = app.add_subcommand("check", "validate a config file");
  std::string check_path;
  check_cmd->add_option("-c,--config", check_path, "YAML config file")->required();

  auto* vault_cmd = app.add_subcommand("vault", "manage the local vault's encrypted store");
  vault_cmd->require_subcommand(1);
  identity::VaultCliOptions vo;
  std::string vault_value;
  auto store_flags = [&](CLI::App* c) {
    c->add_option("--store", vo.store, "the encrypted store file")->required();
    c->add_option("--master-key-env", vo.master_key_env,
                  "variable holding the master key (default TORII_VAULT_MASTER_KEY)");
    c->add_option("--master-key-file", vo.master_key_file, "file holding the master key");
  };
  auto* vault_put = vault_cmd->add_subcommand("put", "store NAME/KEY (value from stdin)");
  vault_put->add_option("entry", vo.entry, "NAME/KEY")->required();
  vault_put->add_option("--value", vault_value, "the value (else read from stdin)");
  store_flags(vault_put);
  auto* vault_get = vault_cmd->add_subcommand("get", "print the value of NAME/KEY");
  vault_get->add_option("entry", vo.entry, "NAME/KEY")->required();
  store_flags(vault_get);
  auto* vault_list = vault_cmd->add_subcommand("list", "print the stored names");
  store_flags(vault_list);
  auto* vault_new_key =
      vault_cmd->add_subcommand("new-master-key", "print a fresh 32-byte master key (hex)");

  auto* keys_cmd = app.add_subcommand("keys", "virtual API keys");
  keys_cmd->require_subcommand(1);
  auto* keys_new = keys_cmd->add_subcommand(
      "new", "print a new API key once, and the config lines that accept it (its SHA-256)");
  std::string key_name = "my-app";
  keys_new->add_option("--name", key_name, "the key's name in the config");

  auto* tokenize_cmd = app.add_subcommand("tokenize", "print the BPE token ids of stdin");
  std::string tok_encoding;
  bool tok_count = false;
  tokenize_cmd->add_option("--encoding", tok_encoding, "cl100k_base or o200k_base")->required();
  tokenize_cmd->add_flag("--count", tok_count, "print the number of tokens only");

  CLI11_PARSE(app, argc, argv);
  log::init(level);
  raise_fd_limit();

  if (*serve_cmd) return serve(so);
  if (*routes_cmd) {
    for (const auto& r : admin::admin_routes()) std::cout << r << "\n";
    return 0;
  }
  if (*keys_new) {
    // The key is shown here once; the config keeps only its digest.
    const std::string key = identity::generate_api_key();
    std::cout << "key: " << key << "\n"
              << "# under auth.api_keys (the key itself is not stored anywhere):\n"
              << "- name: " << key_name << "\n"
              << "  key_sha256: " << identity::to_hex(identity::key_digest(key)) << "\n";
    return 0;
  }
  if (*tokenize_cmd) {
    return tokenizer::run_tokenize_cli(tok_encoding, tok_count, std::cin, std::cout, std::cerr);
  }
  if (*vault_cmd) {
    for (auto* c : {vault_put, vault_get, vault_list, vault_new_key})
      if (*c) vo.command = c->get_name();
    if (vault_put->count("--value")) vo.value = vault_value;
    return identity::run_vault_cli(vo, std::cin, std::cout, std::cerr);
  }
  if (*mock_cmd) {
    if (!models.empty()) {
      mo.models.clear();
      std::size_t start = 0;
      while (start <= models.size()) {
        auto comma = models.find(',', start);
        if (comma == std::string::npos) comma = models.size();
        if (comma > start) mo.models.push_back(models.substr(start, comma - start));
        start = comma + 1;
      }
    }
    return mock(mock_listen, mock_workers, std::move(mo));
  }
  if (*check_cmd) {
    auto c = load_config_file(check_path);
    if (!c) {
      std::cerr << c.error().message << "\n";
      return 1;
    }
    auto s = build_snapshot(std::move(*c), "http://127.0.0.1:1/v1");
    if (!s) {
      std::cerr << check_path << ": " << s.error().message << "\n";
      return 1;
    }
    std::cout << check_path << ": ok\n";
    return 0;
  }
  return 0;
}
