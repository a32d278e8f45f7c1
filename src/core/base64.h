#pragma once
// Base64 (RFC 4648) for the few places that need it: the vault store's fields and master key,
// the tokenizer's rank tables.
#include <string>
#include <string_view>

namespace torii {

// Standard alphabet, padded.
std::string base64_encode(std::string_view bytes);
// Standard or url-safe alphabet, padding optional; false on any other character.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace torii
