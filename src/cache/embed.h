#pragma once
// The semantic cache's embedding call, through torii's own provider layer: the configured
// embedding model's route resolved at snapshot build into targets that announce embeddings,
// tried in order until one answers within the timeout.
#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/task.h"

namespace torii {
class Provider;
}

namespace torii::cache {

struct EmbedTarget {
  const Provider* provider = nullptr;  // owned by the snapshot
  std::string model;
};

struct EmbedOutcome {
  std::vector<float> vector;  // empty: no vector (then `cause` says why)
  std::string cause;          // never the text, the key or the upstream body
  int64_t latency_us = 0;
};

Task<EmbedOutcome> embed(const std::vector<EmbedTarget>& targets, std::string text,
                         int dimensions, std::chrono::milliseconds timeout);

}  // namespace torii::cache
