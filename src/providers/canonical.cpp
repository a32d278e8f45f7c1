#include "providers/canonical.h"

namespace torii {

int64_t effort_thinking_budget(std::string_view effort) {
  if (effort == "none") return 0;
  if (effort == "minimal") return 1024;  // Anthropic's (and Claude on Bedrock's) minimum
  if (effort == "low") return 2048;
  if (effort == "medium") return 8192;
  if (effort == "high") return 16384;
  return -1;
}

std::string_view thinking_budget_effort(int64_t budget) {
  return budget <= 2048 ? "low" : budget <= 8192 ? "medium" : "high";
}

}  // namespace torii
