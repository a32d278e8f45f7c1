// Canonical ChatRequest -> Bedrock Converse request body (see bedrock.h for the choices).
#include "providers/bedrock/bedrock_internal.h"

#include <algorithm>
#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.h"
#include "providers/provider.h"

namespace torii::bedrock_detail {
namespace json = boost::json;

namespace {

std::string_view image_format(std::string_view media_type) {
  if (media_type == "image/png") return "png";
  if (media_type == "image/jpeg" || media_type == "image/jpg") return "jpeg";
  if (media_type == "image/gif") return "gif";
  if (media_type == "image/webp") return "webp";
  return {};
}

std::string_view document_format(std::string_view m) {
  if (m == "application/pdf") return "pdf";
  if (m == "text/csv") return "csv";
  if (m == "application/msword") return "doc";
  if (m == "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return "docx";
  if (m == "application/vnd.ms-excel") return "xls";
  if (m == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") return "xlsx";
  if (m == "text/html") return "html";
  if (m == "text/plain") return "txt";
  if (m == "text/markdown") return "md";
  return {};
}

// Bedrock's document names take letters, digits, single spaces, '-', '(', ')', '[' and ']'.
std::string document_name(std::string_view title, int ordinal) {
  std::string out;
  for (unsigned char c : title) {
    if (std::isalnum(c) || c == '-' || c == '(' || c == ')' || c == '[' || c == ']') {
      out.push_back(static_cast<char>(c));
    } else if (std::isspace(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > 200) out.resize(200);
  return out.empty() ? "document-" + std::to_string(ordinal) : out;
}

class Encoder {
 public:
  Encoder(const ChatRequest& rq, std::string_view provider, std::vector<std::string>& ignored)
      : rq_(rq), provider_(provider), ignored_(ignored) {}

  Result<std::string> run() {
    out_.reserve(512);
    out_ += "{\"messages\":[";
    if (auto r = messages(); !r) return r.error();
    if (open_) out_ += "]}";
    out_ += ']';
    if (!system_.empty()) {
      out_ += ",\"system\":[";
      out_ += system_;
      out_ += ']';
    }
    if (auto r = tools(); !r) return r.error();
    if (auto r = inference(); !r) return r.error();
    for (const auto& f : rq_.unknown_fields) ignore(f);
    if (!rq_.user.empty()) ignore("user");
    if (rq_.parallel_tool_calls) ignore("parallel_tool_calls");
    if (rq_.seed) ignore("seed");
    if (rq_.presence_penalty) ignore("presence_penalty");
    if (rq_.frequency_penalty) ignore("frequency_penalty");
    if (rq_.top_logprobs) ignore("top_logprobs");
    out_ += '}';
    return std::move(out_);
  }

 private:
  ApiError no_counterpart(std::string_view field, std::string_view why) const {
    return torii::no_counterpart(provider_, "bedrock", field, why);
  }
  void ignore(std::string_view name) { add_ignored(ignored_, name); }

  // Starts a content block in a message of `role`; consecutive messages of one role merge.
  void begin_block(std::string_view role) {
    if (open_ && open_role_ == role) {
      out_ += ',';
      return;
    }
    if (open_) out_ += "]},";
    open_ = true;
    open_role_ = role;
    out_ += "{\"role\":\"";
    out_ += role;
    out_ += "\",\"content\":[";
  }

  void cache_point(std::string& out, const Part& p) {
    if (p.cache_hint) out += ",{\"cachePoint\":{\"type\":\"default\"}}";
  }

  Result<void> image(std::string& out, const Part& p, std::string_view field) {
    if (p.data.empty())
      return no_counterpart(field, "Bedrock takes images as bytes only, not URLs");
    std::string_view format = image_format(p.media_type);
    if (format.empty())
      return no_counterpart(field, "image type '" + p.media_type +
                                       "' (Bedrock takes png, jpeg, gif and webp)");
    out += "{\"image\":{\"format\":\"";
    out += format;
    out += "\",\"source\":{\"bytes\":";
    append_json_string(out, p.data);
    out += "}}}";
    if (!p.detail.empty()) ignore("detail");
    return {};
  }

  Result<void> document(std::string& out, const Part& p, std::string_view field) {
    if (p.data.empty())
      return no_counterpart(field, "Bedrock takes documents as bytes only, not URLs");
    std::string_view format = document_format(p.media_type);
    if (format.empty())
      return no_counterpart(field, "document type '" + p.media_type + "'");
    out += "{\"document\":{\"format\":\"";
    out += format;
    out += "\",\"name\":";
    append_json_string(out, document_name(p.text, ++documents_));
    out += ",\"source\":{\"bytes\":";
    append_json_string(out, p.data);
    out += "}}}";
    return {};
  }

  Result<void> tool_call(const Part& p, std::string_view field) {
    std::string_view args = p.arguments.empty() ? std::string_view("{}") : p.arguments;
    boost::system::error_code ec;
    json::value v = json::parse(args, ec);
    if (ec || !v.is_object())
      return ApiError::invalid_request("tool call arguments must be a JSON object",
                                       std::string(field));
    tool_blocks_ = true;
    begin_block("assistant");
    out_ += "{\"toolUse\":{\"toolUseId\":";
    append_json_string(out_, p.id);
    out_ += ",\"name\":";
    append_json_string(out_, p.name);
    out_ += ",\"input\":";
    out_ += args;
    out_ += "}}";
    return {};
  }

  Result<void> tool_result(const Part& p, std::string_view field) {
    tool_blocks_ = true;
    begin_block("user");
    out_ += "{\"toolResult\":{\"toolUseId\":";
    append_json_string(out_, p.id);
    out_ += ",\"content\":[";
    bool first = true;
    if (p.content.empty()) {
      out_ += "{\"text\":";
      append_json_string(out_, p.text);
      out_ += '}';
      first = false;
    }
    for (const Part& c : p.content) {
      if (!first) out_ += ',';
      first = false;
      if (c.kind == Part::Kind::text) {
        out_ += "{\"text\":";
        append_json_string(out_, c.text);
        out_ += '}';
      } else if (c.kind == Part::Kind::image) {
        if (auto r = image(out_, c, field); !r) return r;
      } else if (c.kind == Part::Kind::document) {
        if (auto r = document(out_, c, field); !r) return r;
      } else {
        return no_counterpart(field, "a tool result holds text, images and documents only");
      }
    }
    out_ += ']';
    if (p.is_error) out_ += ",\"status\":\"error\"";
    out_ += "}}";
    cache_point(out_, p);
    return {};
  }

  Result<void> messages() {
    for (std::size_t i = 0; i < rq_.messages.size(); ++i) {
      const Message& m = rq_.messages[i];
      std::string field = "messages[" + std::to_string(i) + "]";
      if (!m.name.empty()) ignore("name");
      if (m.role == Role::system) {
        for (const Part& p : m.parts) {
          if (p.kind != Part::Kind::text)
            return no_counterpart(field, "system instructions take text only");
          if (!system_.empty()) system_ += ',';
          system_ += "{\"text\":";
          append_json_string(system_, p.text);
          system_ += '}';
          cache_point(system_, p);
        }
        continue;
      }
      std::string_view role = m.role == Role::assistant ? "assistant" : "user";
      for (const Part& p : m.parts) {
        switch (p.kind) {
          case Part::Kind::text:
            begin_block(role);
            out_ += "{\"text\":";
            append_json_string(out_, p.text);
            out_ += '}';
            break;
          case Part::Kind::image:
            begin_block(role);
            if (auto r = image(out_, p, field); !r) return r;
            break;
          case Part::Kind::document:
            begin_block(role);
            if (auto r = document(out_, p, field); !r) return r;
            break;
          case Part::Kind::thinking:
            // Unsigned reasoning (from another provider) would be rejected by Claude on
            // Bedrock, and means nothing to the others: dropped, and said so.
            if (p.signature.empty()) {
              ignore("thinking");
              break;
            }
            begin_block(role);
            out_ += "{\"reasoningContent\":{\"reasoningText\":{\"text\":";
            append_json_string(out_, p.text);
            out_ += ",\"signature\":";
            append_json_string(out_, p.signature);
            out_ += "}}}";
            break;
          case Part::Kind::redacted_thinking:
            begin_block(role);
            out_ += "{\"reasoningContent\":{\"redactedContent\":";
            append_json_string(out_, p.data);
            out_ += "}}";
            break;
          case Part::Kind::tool_call:
            if (auto r = tool_call(p, field); !r) return r;
            continue;  // no cache point inside an assistant's tool calls
          case Part::Kind::tool_result:
            if (auto r = tool_result(p, field); !r) return r;
            continue;  // tool_result wrote its own cache point
        }
        cache_point(out_, p);
      }
    }
    return {};
  }

  Result<void> tools() {
    const ToolChoice& tc = rq_.tool_choice;
    if (rq_.tools.empty()) {
      if (tc.mode == ToolChoice::Mode::required || tc.mode == ToolChoice::Mode::tool)
        return no_counterpart("tool_choice", "it requires a tool but no tools are declared");
      return {};
    }
    bool none = tc.mode == ToolChoice::Mode::none;
    if (none && !tool_blocks_) return {};  // Converse has no "none": send no tools at all
    if (none) ignore("tool_choice");
    out_ += ",\"toolConfig\":{\"tools\":[";
    for (std::size_t i = 0; i < rq_.tools.size(); ++i) {
      const Tool& t = rq_.tools[i];
      if (i) out_ += ',';
      out_ += "{\"toolSpec\":{\"name\":";
      append_json_string(out_, t.name);
      if (!t.description.empty()) {
        out_ += ",\"description\":";
        append_json_string(out_, t.description);
      }
      out_ += ",\"inputSchema\":{\"json\":";
      if (t.parameters.is_object())
        out_ += json::serialize(t.parameters);
      else
        out_ += "{\"type\":\"object\",\"properties\":{}}";
      out_ += "}}}";
      if (t.strict) ignore("strict");
    }
    out_ += ']';
    switch (none ? ToolChoice::Mode::auto_ : tc.mode) {
      case ToolChoice::Mode::auto_: out_ += ",\"toolChoice\":{\"auto\":{}}"; break;
      case ToolChoice::Mode::required: out_ += ",\"toolChoice\":{\"any\":{}}"; break;
      case ToolChoice::Mode::tool:
        out_ += ",\"toolChoice\":{\"tool\":{\"name\":";
        append_json_string(out_, tc.name);
        out_ += "}}";
        break;
      default: break;
    }
    out_ += '}';
    return {};
  }

  Result<void> inference() {
    if (rq_.n && *rq_.n > 1) return no_counterpart("n", "Converse answers one choice");
    if (rq_.logprobs) return no_counterpart("logprobs", "Converse returns no log probabilities");
    const ResponseFormat& rf = rq_.response_format;
    if (rf.kind == ResponseFormat::Kind::json_object)
      return no_counterpart("response_format", "Converse has no JSON mode");
    if (rf.kind == ResponseFormat::Kind::json_schema)
      return no_counterpart("response_format", "Converse cannot enforce a JSON schema");

    std::string g;
    auto key = [&](std::string_view k) {
      g += g.empty() ? "{\"" : ",\"";
      g += k;
      g += "\":";
    };
    if (rq_.max_tokens) key("maxTokens"), append_json_int(g, *rq_.max_tokens);
    if (rq_.temperature) key("temperature"), g += json::serialize(json::value(*rq_.temperature));
    if (rq_.top_p) key("topP"), g += json::serialize(json::value(*rq_.top_p));
    if (!rq_.stop.empty()) {
      key("stopSequences");
      g += '[';
      for (std::size_t i = 0; i < rq_.stop.size(); ++i) {
        if (i) g += ',';
        append_json_string(g, rq_.stop[i]);
      }
      g += ']';
    }
    if (!g.empty()) {
      out_ += ",\"inferenceConfig\":";
      out_ += g;
      out_ += '}';
    }

    int64_t budget = 0;
    if (rq_.thinking_budget) {
      budget = *rq_.thinking_budget;
    } else if (!rq_.reasoning_effort.empty()) {
      budget = effort_thinking_budget(rq_.reasoning_effort);  // the shared scale
      if (budget < 0)
        return no_counterpart("reasoning_effort", "expected none, minimal, low, medium or high");
    }
    std::string extra;
    if (budget > 0) {
      extra += "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":";
      append_json_int(extra, budget);
      extra += '}';
    }
    if (rq_.top_k) {
      if (!extra.empty()) extra += ',';
      extra += "\"top_k\":";
      append_json_int(extra, *rq_.top_k);
    }
    if (!extra.empty()) {
      out_ += ",\"additionalModelRequestFields\":{";
      out_ += extra;
      out_ += '}';
    }
    return {};
  }

  const ChatRequest& rq_;
  std::string_view provider_;
  std::vector<std::string>& ignored_;
  std::string out_, system_;
  bool open_ = false;
  std::string_view open_role_;
  bool tool_blocks_ = false;
  int documents_ = 0;
};

}  // namespace

Result<std::string> encode_converse(const ChatRequest& rq, std::string_view provider,
                                    std::vector<std::string>& ignored) {
  return Encoder(rq, provider, ignored).run();
}

}  // namespace torii::bedrock_detail
