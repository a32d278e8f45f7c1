#pragma once
// The cache key (docs/CACHING.md): what makes two requests the same question.
//
// exact key   = "<scope>:" + BLAKE2b-256(version, inbound API, stream, the route's name and
//               targets (provider/model each), the digest of the guardrails and prompt
//               library config, the request's JSON with object keys sorted and the fields that
//               cannot change the answer left out (user, metadata, store, ...))
// partition   = "<scope>:" + BLAKE2b-128 of the same but the last user turn's content: the
//               semantic cache compares only requests that agree on everything else (system
//               prompt, earlier turns, model, every parameter).
// scope       = 16 hex digits of BLAKE2b("consumer:<id>" | "group:<sorted groups>" | "shared").
//
// Numbers are normalised (1 == 1.0), so is key order; strings are compared byte for byte.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "pipeline/request_context.h"

namespace torii::cache {

struct Keys {
  std::string scope;      // 16 hex
  std::string exact;      // "<scope>:<64 hex>"
  std::string partition;  // "<scope>:<32 hex>"
  // The last user turn's text (parts joined by "\n"), what the semantic cache embeds; empty
  // when the last turn is not plain text (images, tool results...): no semantic lookup then.
  std::string last_user_text;
};

// The scope digest of a tenant text ("consumer:alice", "group:a,b", "shared").
std::string scope_digest(std::string_view tenant);

// The tenant text of a request under `scope` (consumer | group | shared).
std::string tenant_of(const Principal& p, std::string_view scope);

struct KeyInput {
  std::string_view scope;           // the digest (scope_digest)
  InboundApi api = InboundApi::unknown;
  bool stream = false;
  std::string_view route_targets;   // the route's name and its targets, one string
  std::string_view answers_digest;  // CacheConfig::answers_digest
  const boost::json::object* request = nullptr;
};

Keys make_keys(const KeyInput& in);

// Why a request must not be cached, or "" when it may: its temperature is above `max` (no
// temperature: the provider's default, 1), or it depends on state the gateway cannot see
// (Responses' previous_response_id, background).
std::string_view uncacheable(const boost::json::object& request, double max_temperature);

}  // namespace torii::cache
