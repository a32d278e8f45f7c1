#pragma once
// Pieces of the Bedrock provider shared by its own files (not an interface for others).
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "providers/canonical.h"

namespace torii::bedrock_detail {

// The Converse request body for `rq`; names dropped hints in `ignored`; a 400 for a field
// whose loss would change the meaning.
Result<std::string> encode_converse(const ChatRequest& rq, std::string_view provider,
                                    std::vector<std::string>& ignored);

}  // namespace torii::bedrock_detail
