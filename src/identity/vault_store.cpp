// VaultStore: the AES-256-GCM encrypted secrets file of the `local` vault backend.
#include "identity/vault_store.h"

#include "identity/keys.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace torii::identity {
namespace {

constexpr std::size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16;
constexpr std::size_t kMaxStoreBytes = 64u << 20;

ApiError fail(std::string message) { return ApiError::invalid_request(std::move(message)); }

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* u8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

bool segment_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

}  // namespace

std::string vault_name_error(std::string_view name, std::string_view key) {
  if (name.empty() || key.empty()) return "a vault reference is NAME/KEY, both non-empty";
  if (key.find('/') != std::string_view::npos) return "the KEY of NAME/KEY has no '/'";
  std::string_view all = name;
  for (;;) {
    const auto slash = all.find('/');
    const std::string_view seg = all.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") {
      return "vault name '" + std::string(name) + "' has an empty, '.' or '..' segment";
    }
    for (char c : seg) {
      if (!segment_char(c)) {
        return "vault name '" + std::string(name) + "' may hold only letters, digits, _ . - /";
      }
    }
    if (slash == std::string_view::npos) break;
    all.remove_prefix(slash + 1);
  }
  if (key == "." || key == "..") return "vault key '" + std::string(key) + "' is not allowed";
  for (char c : key) {
    if (!segment_char(c)) {
      return "vault key '" + std::string(key) + "' may hold only letters, digits, _ . -";
    }
  }
  return {};
}

Result<std::pair<std::string, std::string>> split_vault_ref(std::string_view ref) {
  const auto slash = ref.rfind('/');
  if (slash == std::string_view::npos) return fail("a vault reference is NAME/KEY");
  std::string name(ref.substr(0, slash)), key(ref.substr(slash + 1));
  if (auto e = vault_name_error(name, key); !e.empty()) return fail(e);
  return std::pair{std::move(name), std::move(key)};
}

Result<std::string> parse_master_key(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  static_assert(sizeof(KeyDigest) == kKeyBytes);
  if (KeyDigest raw; from_hex(text, raw)) return std::string(raw.begin(), raw.end());
  std::string out;
  if (base64_decode(text, out) && out.size() == kKeyBytes) return out;
  return fail("the vault master key must be 32 bytes, given as 64 hex characters or base64");
}

std::string new_master_key_hex() {
  KeyDigest raw;
  if (RAND_bytes(raw.data(), raw.size()) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out = to_hex(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

Result<VaultStore> VaultStore::open(const std::string& path, std::string master_key,
                                    bool create) {
  if (master_key.size() != kKeyBytes) return fail("the vault master key must be 32 bytes");
  VaultStore store;
  store.path_ = path;
  store.master_key_ = std::move(master_key);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT && create) return store;
    return fail("cannot read vault store " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.size() > kMaxStoreBytes) return fail("vault store " + path + " is too large");
  boost::system::error_code ec;
  auto doc = boost::json::parse(text, ec);
  const std::string bad = "vault store " + path + " is not a valid store file";
  if (ec || !doc.is_object()) return fail(bad + " (not JSON)");
  const auto& root = doc.as_object();
  const auto* version = root.if_contains("version");
  if (!version || !version->is_int64() || version->as_int64() != 1) {
    return fail(bad + " (version must be 1)");
  }
  const auto* entries = root.if_contains("entries");
  if (!entries || !entries->is_object()) return fail(bad + " (no entries)");
  for (const auto& [name, v] : entries->as_object()) {
    const std::string entry(name);
    Sealed s;
    const auto* o = v.if_object();
    auto field = [&](const char* k, std::string& out) {
      const auto* f = o ? o->if_contains(k) : nullptr;
      return f && f->is_string() && base64_decode(f->as_string(), out);
    };
    if (!field("nonce", s.nonce) || !field("ciphertext", s.ciphertext) || !field("tag", s.tag) ||
        s.nonce.size() != kNonceBytes || s.tag.size() != kTagBytes) {
      return fail(bad + " (entry " + entry + " is malformed)");
    }
    store.entries_[entry] = std::move(s);
  }
  return store;
}

Result<std::string> VaultStore::get(const std::string& entry) const {
  auto it = entries_.find(entry);
  if (it == entries_.end()) return fail("vault entry " + entry + " not found in " + path_);
  const Sealed& s = it->second;
  const std::string auth_failed =
      "vault entry " + entry + " failed authentication (tampered, or wrong master key)";
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string plain(s.ciphertext.size(), '\0');
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, u8(master_key_), u8(s.nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(entry), static_cast<int>(entry.size())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), u8(plain), &len, u8(s.ciphertext),
                        static_cast<int>(s.ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          const_cast<char*>(s.tag.data())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), u8(plain) + len, &fin) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return fail(auth_failed);
  }
  plain.resize(static_cast<std::size_t>(len + fin));
  return plain;
}

Result<void> VaultStore::put(const std::string& entry, std::string_view value) {
  auto parts = split_vault_ref(entry);
  if (!parts) return parts.error();
  Sealed s;
  s.nonce.resize(kNonceBytes);
  s.tag.resize(kTagBytes);
  s.ciphertext.resize(value.size());
  if (RAND_bytes(u8(s.nonce), kNonceBytes) != 1) return fail("no randomness for the nonce");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, u8(master_key_), u8(s.nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(entry), static_cast<int>(entry.size())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), u8(s.ciphertext), &len, u8(value),
                        static_cast<int>(value.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), u8(s.ciphertext) + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, s.tag.data()) != 1) {
    return fail("encrypting vault entry " + entry + " failed");
  }
  s.ciphertext.resize(static_cast<std::size_t>(len + fin));
  entries_[entry] = std::move(s);
  return {};
}

bool VaultStore::remove(const std::string& entry) { return entries_.erase(entry) > 0; }

std::vector<std::string> VaultStore::list() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : entries_) out.push_back(name);
  return out;
}

Result<void> VaultStore::save() const {
  boost::json::object entries;
  for (const auto& [name, s] : entries_) {
    entries[name] = boost::json::object{{"nonce", base64_encode(s.nonce)},
                                        {"ciphertext", base64_encode(s.ciphertext)},
                                        {"tag", base64_encode(s.tag)}};
  }
  const std::string text =
      boost::json::serialize(boost::json::object{{"version", 1}, {"entries", entries}}) + "\n";
  const std::string tmp = path_ + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot write vault store " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // O_CREAT's mode does not apply to a leftover file
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail("cannot write vault store " + tmp + ": " + why);
    }
    off += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return fail("cannot replace vault store " + path_ + ": " + why);
  }
  return {};
}

}  // namespace torii::identity
