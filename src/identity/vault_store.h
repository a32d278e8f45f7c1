#pragma once
// The local vault backend's store: one JSON file of entries "NAME/KEY", each encrypted with
// AES-256-GCM under a 32-byte master key (a fresh random 12-byte nonce per entry, a 16-byte
// tag, the entry's name as additional authenticated data so that entries cannot be swapped):
//   {"version":1,"entries":{"NAME/KEY":{"nonce":b64,"ciphertext":b64,"tag":b64}}}
// Written atomically (a temporary file, then rename), mode 0600. Used by the `local` backend
// (read only) and by `torii vault put/get/list`. Not thread-safe: one owner at a time.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64.h"
#include "core/result.h"

namespace torii::identity {

// "NAME/KEY" parts are non-empty, of [A-Za-z0-9_.-/], KEY after the last '/'; no empty, "." or
// ".." segment. Returns the error text ("" when valid); it names the reference only.
std::string vault_name_error(std::string_view name, std::string_view key);
// Splits "NAME/KEY" at the last '/' and validates it.
Result<std::pair<std::string, std::string>> split_vault_ref(std::string_view ref);

// A master key given as 64 hex characters or as base64 (standard or url-safe, padding
// optional) of 32 bytes. The error never contains the input.
Result<std::string> parse_master_key(std::string_view text);
// 32 random bytes as 64 lower-case hex characters.
std::string new_master_key_hex();

using ::torii::base64_decode;  // core/base64.h
using ::torii::base64_encode;

class VaultStore {
 public:
  // Reads the store at `path` (absent: empty, when `create` is true; else an error).
  // `master_key` is the 32 raw bytes. Nothing is decrypted until get().
  static Result<VaultStore> open(const std::string& path, std::string master_key,
                                 bool create = false);

  // The decrypted value of "NAME/KEY". Errors: not in the store; failed authentication
  // (tampered, or wrong master key).
  Result<std::string> get(const std::string& entry) const;
  // Encrypts and sets the entry (in memory; save() writes the file).
  Result<void> put(const std::string& entry, std::string_view value);
  bool remove(const std::string& entry);
  // The entries' names, sorted.
  std::vector<std::string> list() const;
  // Writes the file atomically (temp + fsync + rename), mode 0600.
  Result<void> save() const;

  const std::string& path() const { return path_; }

 private:
  struct Sealed {
    std::string nonce, ciphertext, tag;  // raw bytes
  };
  std::string path_;
  std::string master_key_;
  std::map<std::string, Sealed> entries_;
};

}  // namespace torii::identity
