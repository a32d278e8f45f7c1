#pragma once
// Virtual API keys: generation and the digest they are stored as (docs/SECURITY.md).
#include <array>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace torii::identity {

using KeyDigest = std::array<unsigned char, 32>;

// SHA-256 of a key. Fast path: the algorithm is fetched once and each thread keeps a context
// (OpenSSL 3's one-shot SHA256() fetches and allocates on every call, ~7k instructions).
KeyDigest key_digest(std::string_view key);

std::string to_hex(const KeyDigest& d);
// 64 hex characters (either case) -> digest; false when malformed.
bool from_hex(std::string_view hex, KeyDigest& out);

struct KeyDigestHash {
  std::size_t operator()(const KeyDigest& d) const {
    std::size_t h;
    std::memcpy(&h, d.data(), sizeof h);  // already uniformly distributed
    return h;
  }
};

// A new key: "tk-" and 43 base64url characters (256 bits from the OpenSSL CSPRNG).
std::string generate_api_key();

}  // namespace torii::identity
