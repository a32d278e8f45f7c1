#pragma once
// `torii vault ...`: manages the local backend's encrypted store (docs/SECURITY.md, Vault).
#include <iosfwd>
#include <optional>
#include <string>

namespace torii::identity {

struct VaultCliOptions {
  std::string command;  // put | get | list | new-master-key
  std::string entry;    // put, get: NAME/KEY
  std::optional<std::string> value;  // put: --value; else read from stdin
  std::string store;                 // --store PATH (put, get, list)
  std::string master_key_env = "TORII_VAULT_MASTER_KEY";  // --master-key-env VAR
  std::string master_key_file;       // --master-key-file PATH (wins over the variable)
};

// Runs one command. put: the value from `in` (one trailing newline stripped) or --value,
// creates the store when absent; get: prints the value and a newline; list: one name a line;
// new-master-key: a fresh 32-byte key as 64 hex characters. Messages go to `err` and never
// hold a value or the master key. Returns the process exit code (0 ok, 1 failure).
int run_vault_cli(const VaultCliOptions& options, std::istream& in, std::ostream& out,
                  std::ostream& err);

}  // namespace torii::identity
