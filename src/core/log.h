#pragma once
// Logging: spdlog to stderr. Never pass a secret to these functions.
#include <spdlog/spdlog.h>

namespace torii::log {
using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;
// Sets the level ("debug", "info", "warn", "error") and the pattern; called once by main.
void init(const std::string& level);
}  // namespace torii::log
