#include "core/request_id.h"

#include <cctype>
#include <random>

namespace torii {

std::string request_id_for(std::string_view v) {
  bool sane = !v.empty() && v.size() <= 128;
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':'))
      sane = false;
  if (sane) return std::string(v);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(32, '0');
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) {
    id[i] = hex[(a >> (i * 4)) & 15];
    id[16 + i] = hex[(b >> (i * 4)) & 15];
  }
  return id;
}

}  // namespace torii
