#include "identity/keys.h"

#include "identity/jwt.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>
#include <stdexcept>

namespace torii::identity {

KeyDigest key_digest(std::string_view key) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(),
                                                                          &EVP_MD_CTX_free};
  KeyDigest d{};
  unsigned int n = 0;
  if (md && ctx && EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), key.data(), key.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), d.data(), &n) == 1 && n == d.size())
    return d;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d.data());  // fallback
  return d;
}

std::string to_hex(const KeyDigest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char c : d) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, KeyDigest& out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

std::string generate_api_key() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
  return "tk-" + base64url_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

}  // namespace torii::identity
