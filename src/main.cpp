// torii: the command line. `serve` runs the gateway, `mock` the provider emulator, `check`
// validates a config file.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

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

int serve(const std::string& config_path, const std::string& listen, int workers) {
  Result<Config> loaded = config_path.empty() ? Result<Config>(default_config())
                                              : load_config_file(config_path);
  if (!loaded) {
    log::error("{}", loaded.error().message);
    return 1;
  }
  Config config = std::move(*loaded);
  if (!listen.empty() && !parse_listen(listen, config.server)) {
    log::error("--listen '{}': expected HOST:PORT", listen);
    return 1;
  }
  if (workers > 0) config.server.workers = workers;
  for (const auto& k : config.api_keys) {
    if (k.key.literal)
      log::warn("auth.api_keys '{}': key is a literal in the config file; prefer key_sha256 "
                "(torii keys new) or ${{env:NAME}}", k.name);
    // A guessable key is a hole whatever else is configured (torii keys new makes 256 bits).
    if (!config.demo && !k.key.empty() && k.key.value.size() < 32)
      log::warn("auth.api_keys '{}': the key is only {} characters; use a random key of at least "
                "32 (torii keys new)", k.name, k.key.value.size());
  }
  for (const auto& p : config.providers)
    if (p.api_key.literal)
      log::warn("provider '{}': api_key is a literal in the config file; prefer ${{env:NAME}} or "
                "${{file:/path}}", p.name);

  // The built-in mock, for providers of kind "mock" or with base_url "builtin-mock" (the demo
  // config has both).
  std::unique_ptr<Server> mock_server;
  std::string mock_url;
  bool wants_mock = false;
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
  routing::HealthRegistry health;
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
  SnapshotHolder holder;
  holder.set(std::move(*snap));
  HealthChecker checker(health);
  checker.watch(holder.get());

  Server server(config.server, make_gateway(holder));
  if (!bind_and_start(server)) return 1;
  if (config.api_keys.empty() && config.jwt.empty())
    log::warn("auth has no api_keys and no jwt issuer: the gateway is open to anyone who can "
              "reach {}:{}",
              config.server.host, server.port());

  auto reload = [&] {
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
    checker.watch(holder.get());
    log::info("config reloaded from {}", config_path);
  };
  // Vault refresh: every TTL, the values read so far are fetched again; a change reloads the
  // config as SIGHUP does (on the control thread), so what uses them is rebuilt.
  std::mutex refresh_mu;
  std::condition_variable refresh_cv;
  bool refresh_stop = false;
  std::thread refresher;
  if (!config_path.empty()) {
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
    say("torii listening on http://" + config.server.host + ":" + std::to_string(server.port()));
    if (config.demo) {
      say("demo key: " + config.api_keys.front().key.value);
      say("try: curl http://" + config.server.host + ":" + std::to_string(server.port()) +
          "/v1/chat/completions -H 'Authorization: Bearer " + config.api_keys.front().key.value +
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
  std::string config_path, listen;
  int workers = 0;
  serve_cmd->add_option("-c,--config", config_path, "YAML config file (default: the embedded demo)");
  serve_cmd->add_option("--listen", listen, "HOST:PORT, overrides server.listen (port 0: any)");
  serve_cmd->add_option("--workers", workers, "worker threads, overrides server.workers");

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

  if (*serve_cmd) return serve(config_path, listen, workers);
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
