#pragma once
// The OpenAI chat-completions inbound codec: decodes and validates the client's request into
// the canonical form (the OpenAI JSON object itself, unknown fields kept), and builds the
// stream framing the client expects.
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.h"

namespace torii {

struct ChatRequestInfo {
  std::string model;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage as the client sent it
};

// Parses `body`, checks the fields every provider relies on (model, messages, stream,
// stream_options and the usual sampling parameters' types) and fills `out` and `info`.
// The JSON is allocated from out.storage().
// Errors are 400s naming the offending field in `param`.
Result<ChatRequestInfo> decode_openai_chat(std::string_view body, boost::json::object& out);

// "data: <json>\n\n"
void append_sse_data(std::string& out, std::string_view json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace torii
