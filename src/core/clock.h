#pragma once
// Wall-clock time as plain integers (records, expiries, histories).
#include <chrono>
#include <cstdint>

namespace torii {

// Milliseconds since the Unix epoch.
inline int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace torii
