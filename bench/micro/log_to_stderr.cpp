// The micro-benchmarks write their JSON to stdout: torii's log lines (a missing tokenizer
// table, a store warning) must go to stderr, as `torii serve` sends them (log::init).
#include "core/log.h"

namespace {
const bool kLogToStderr = (torii::log::init("warn"), true);
}  // namespace
