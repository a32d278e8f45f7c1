// `torii vault put|get|list|new-master-key` (see identity/vault_cli.h).
#include "identity/vault_cli.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "identity/vault_store.h"

namespace torii::identity {
namespace {

Result<std::string> master_key(const VaultCliOptions& o) {
  if (!o.master_key_file.empty()) {
    std::ifstream in(o.master_key_file, std::ios::binary);
    if (!in) {
      return ApiError::invalid_request("cannot read master key file " + o.master_key_file +
                                       ": " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_master_key(ss.str());
  }
  const char* v = std::getenv(o.master_key_env.c_str());
  if (v == nullptr || *v == '\0') {
    return ApiError::invalid_request("environment variable " + o.master_key_env +
                                     " (the master key) is not set; see torii vault "
                                     "new-master-key");
  }
  return parse_master_key(v);
}

}  // namespace

int run_vault_cli(const VaultCliOptions& o, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  if (o.command == "new-master-key") {
    out << new_master_key_hex() << "\n";
    return 0;
  }
  if (o.store.empty()) {
    err << "torii vault " << o.command << ": --store PATH is required\n";
    return 1;
  }
  auto key = master_key(o);
  if (!key) {
    err << "torii vault: " << key.error().message << "\n";
    return 1;
  }
  auto store = VaultStore::open(o.store, std::move(*key), o.command == "put");
  if (!store) {
    err << "torii vault: " << store.error().message << "\n";
    return 1;
  }
  if (o.command == "list") {
    for (const auto& name : store->list()) out << name << "\n";
    return 0;
  }
  if (auto parts = split_vault_ref(o.entry); !parts) {
    err << "torii vault: '" << o.entry << "': " << parts.error().message << "\n";
    return 1;
  }
  if (o.command == "get") {
    auto v = store->get(o.entry);
    if (!v) {
      err << "torii vault: " << v.error().message << "\n";
      return 1;
    }
    out << *v << "\n";
    return 0;
  }
  if (o.command == "put") {
    std::string value;
    if (o.value) {
      value = *o.value;
    } else {
      std::ostringstream ss;
      ss << in.rdbuf();
      value = ss.str();
      if (!value.empty() && value.back() == '\n') value.pop_back();
      if (!value.empty() && value.back() == '\r') value.pop_back();
    }
    if (value.empty()) {
      err << "torii vault put: the value is empty\n";
      return 1;
    }
    auto put = store->put(o.entry, value);
    if (put) put = store->save();
    if (!put) {
      err << "torii vault: " << put.error().message << "\n";
      return 1;
    }
    err << "stored " << o.entry << " in " << o.store << "\n";
    return 0;
  }
  err << "torii vault: unknown command '" << o.command << "'\n";
  return 1;
}

}  // namespace torii::identity
