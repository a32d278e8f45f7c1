// Canonical ChatRequest → Anthropic Messages request, and the passthrough encoder.
// A small hand-written writer: base64 images and documents are copied once, straight from
// the canonical parts into the body.
#include <algorithm>
#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_splice.h"
#include "core/json_text.h"
#include "providers/anthropic.h"

namespace torii {
namespace json = boost::json;

namespace {

// The shared escaper (core/json_text.h): 8 bytes at a time, valid JSON for any UTF-8.
void str(std::string& out, std::string_view s) { append_json_string(out, s); }

void num(std::string& out, double d) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void num(std::string& out, int64_t n) { out += std::to_string(n); }

class Encoder {
 public:
  Encoder(std::string& out, std::string_view provider, std::vector<std::string>& ignored)
      : out_(out), provider_(provider), ignored_(ignored) {}

  ApiError no_counterpart(std::string_view field, std::string_view why) const {
    return torii::no_counterpart(provider_, "anthropic", field, why);
  }

  // "source" of an image or document: base64 data or a URL.
  void source(const Part& p) {
    if (!p.data.empty() || p.url.empty()) {
      out_ += R"("source":{"type":"base64","media_type":)";
      str(out_, p.media_type);
      out_ += R"(,"data":)";
      str(out_, p.data);
    } else {
      out_ += R"("source":{"type":"url","url":)";
      str(out_, p.url);
    }
    out_ += '}';
  }

  void cache(const Part& p) {
    if (p.cache_hint) out_ += R"(,"cache_control":{"type":"ephemeral"})";
  }

  // Appends one content block (with a leading comma unless `first`); returns false when the
  // part produces no block (empty text, unsigned thinking).
  Result<bool> block(const Part& p, bool first) {
    const std::size_t mark = out_.size();
    if (!first) out_ += ',';
    switch (p.kind) {
      case Part::Kind::text:
        if (p.text.empty()) break;  // Anthropic rejects empty text blocks
        out_ += R"({"type":"text","text":)";
        str(out_, p.text);
        cache(p);
        out_ += '}';
        return true;
      case Part::Kind::image:
        if (!p.detail.empty()) add_ignored(ignored_, "detail");
        out_ += R"({"type":"image",)";
        source(p);
        cache(p);
        out_ += '}';
        return true;
      case Part::Kind::document:
        out_ += R"({"type":"document",)";
        source(p);
        if (!p.text.empty()) {
          out_ += R"(,"title":)";
          str(out_, p.text);
        }
        cache(p);
        out_ += '}';
        return true;
      case Part::Kind::thinking:
        if (p.signature.empty()) {
          add_ignored(ignored_, "thinking");
          break;
        }
        out_ += R"({"type":"thinking","thinking":)";
        str(out_, p.text);
        out_ += R"(,"signature":)";
        str(out_, p.signature);
        out_ += '}';
        return true;
      case Part::Kind::redacted_thinking:
        out_ += R"({"type":"redacted_thinking","data":)";
        str(out_, p.data);
        out_ += '}';
        return true;
      case Part::Kind::tool_call: {
        std::string_view args = p.arguments;
        while (!args.empty() && (args.front() == ' ' || args.front() == '\n')) args.remove_prefix(1);
        if (args.empty()) args = "{}";
        boost::system::error_code ec;
        json::value v = json::parse(args, ec);
        if (ec || !v.is_object())
          return ApiError::invalid_request("tool call '" + p.name +
                                               "' arguments are not a JSON object",
                                           "messages");
        out_ += R"({"type":"tool_use","id":)";
        str(out_, p.id);
        out_ += R"(,"name":)";
        str(out_, p.name);
        out_ += R"(,"input":)";
        out_.append(args);  // valid JSON: copied as the client wrote it
        cache(p);
        out_ += '}';
        return true;
      }
      case Part::Kind::tool_result: {
        out_ += R"({"type":"tool_result","tool_use_id":)";
        str(out_, p.id);
        if (p.content.size() == 1 && p.content[0].kind == Part::Kind::text) {
          out_ += R"(,"content":)";
          str(out_, p.content[0].text);
        } else if (!p.content.empty()) {
          out_ += R"(,"content":[)";
          bool f = true;
          for (const Part& c : p.content) {
            if (c.kind != Part::Kind::text && c.kind != Part::Kind::image &&
                c.kind != Part::Kind::document)
              return ApiError::invalid_request("a tool result holds text, images or documents",
                                               "messages");
            auto r = block(c, f);
            if (!r) return r.error();
            if (*r) f = false;
          }
          out_ += ']';
        } else if (!p.text.empty()) {
          out_ += R"(,"content":)";
          str(out_, p.text);
        }
        if (p.is_error) out_ += R"(,"is_error":true)";
        cache(p);
        out_ += '}';
        return true;
      }
    }
    out_.resize(mark);
    return false;
  }

  Result<void> system(const ChatRequest& r) {
    bool any = false;
    for (const Message& m : r.messages) {
      if (m.role != Role::system) continue;
      for (const Part& p : m.parts) {
        if (p.kind != Part::Kind::text)
          return ApiError::invalid_request("system messages may hold text only", "messages");
        if (p.text.empty()) continue;
        out_ += any ? "," : R"(,"system":[)";
        any = true;
        out_ += R"({"type":"text","text":)";
        str(out_, p.text);
        cache(p);
        out_ += '}';
      }
    }
    if (any) out_ += ']';
    return {};
  }

  Result<void> messages(const ChatRequest& r) {
    out_ += R"(,"messages":[)";
    char open = 0;  // role of the open message: 'u', 'a', or 0
    for (const Message& m : r.messages) {
      if (m.role == Role::system) continue;
      if (!m.name.empty()) add_ignored(ignored_, "name");
      const char role = m.role == Role::assistant ? 'a' : 'u';  // tool results go in user turns
      const std::size_t mark = out_.size();
      const bool opened = role != open;
      if (opened) {
        if (open) out_ += "]},";
        out_ += role == 'a' ? R"({"role":"assistant","content":[)" : R"({"role":"user","content":[)";
      }
      bool first = opened;
      bool wrote = false;
      for (const Part& p : m.parts) {
        auto b = block(p, first);
        if (!b) return b.error();
        if (*b) first = false, wrote = true;
      }
      if (opened && !wrote)
        out_.resize(mark);  // no block: as if the message was not there
      else if (opened)
        open = role;
    }
    if (open) out_ += "]}";
    out_ += ']';
    return {};
  }

  void tools(const ChatRequest& r) {
    out_ += R"(,"tools":[)";
    bool first = true;
    for (const Tool& t : r.tools) {
      if (!first) out_ += ',';
      first = false;
      out_ += R"({"name":)";
      str(out_, t.name);
      if (!t.description.empty()) {
        out_ += R"(,"description":)";
        str(out_, t.description);
      }
      out_ += R"(,"input_schema":)";
      if (t.parameters.is_object())
        out_ += json::serialize(t.parameters);
      else
        out_ += R"({"type":"object","properties":{}})";
      if (t.strict.value_or(false)) out_ += R"(,"strict":true)";
      out_ += '}';
    }
    out_ += ']';
    const bool no_parallel = r.parallel_tool_calls.has_value() && !*r.parallel_tool_calls;
    const auto mode = r.tool_choice.mode;
    if (mode == ToolChoice::Mode::unset && !no_parallel) return;
    out_ += R"(,"tool_choice":{"type":)";
    switch (mode) {
      case ToolChoice::Mode::none: out_ += R"("none")"; break;
      case ToolChoice::Mode::required: out_ += R"("any")"; break;
      case ToolChoice::Mode::tool:
        out_ += R"("tool","name":)";
        str(out_, r.tool_choice.name);
        break;
      default: out_ += R"("auto")";
    }
    if (no_parallel && mode != ToolChoice::Mode::none)
      out_ += R"(,"disable_parallel_tool_use":true)";
    out_ += '}';
  }

 private:
  std::string& out_;
  std::string_view provider_;
  std::vector<std::string>& ignored_;
};

std::optional<int64_t> effort_budget(std::string_view effort) {
  int64_t b = effort_thinking_budget(effort);
  if (b <= 0) return std::nullopt;
  return b;
}

}  // namespace

std::string encode_anthropic_passthrough(const json::object& request, std::string_view model,
                                         bool stream, std::string_view raw_text) {
  // The fast path: the edits spliced into the client's text, every other member copied as it
  // was (a base64 image is a memchr and a memcpy, not an escape pass).
  if (!raw_text.empty()) {
    if (auto obj = JsonObjectText::scan(raw_text)) {
      JsonObjectWriter w(raw_text.size() + model.size() + 16);
      bool saw_stream = false;
      for (const JsonMember& m : obj->members()) {
        if (m.key == "model") {
          str(w.key(m.key), model);
        } else if (m.key == "stream") {
          saw_stream = true;
          w.raw(m.key, stream ? "true" : "false");
        } else {
          w.copy(m);
        }
      }
      if (stream && !saw_stream) w.raw("stream", "true");
      return w.finish();
    }
  }
  std::string out;
  out.reserve(256);
  out += '{';
  bool first = true, saw_stream = false;
  for (const auto& kv : request) {
    std::string_view k(kv.key().data(), kv.key().size());
    if (!first) out += ',';
    first = false;
    str(out, k);
    out += ':';
    if (k == "model") {
      str(out, model);
    } else if (k == "stream") {
      saw_stream = true;
      out += stream ? "true" : "false";
    } else {
      out += json::serialize(kv.value());
    }
  }
  if (stream && !saw_stream) out += first ? R"("stream":true)" : R"(,"stream":true)";
  out += '}';
  return out;
}

Result<std::string> encode_anthropic_request(const ChatRequest& r, std::string_view model,
                                             bool stream, std::string_view provider,
                                             std::vector<std::string>& ignored) {
  std::string out;
  Encoder enc(out, provider, ignored);
  // Fields whose loss would change the answer.
  if (r.n.value_or(1) != 1) return enc.no_counterpart("n", "it answers one choice per request");
  if (r.logprobs || r.top_logprobs)
    return enc.no_counterpart(r.logprobs ? "logprobs" : "top_logprobs",
                              "it does not return token log probabilities");
  if (r.response_format.kind == ResponseFormat::Kind::json_object)
    return enc.no_counterpart("response_format",
                              "it has no JSON mode without a schema (use json_schema)");
  // Hints with no counterpart.
  if (r.seed) add_ignored(ignored, "seed");
  if (r.presence_penalty) add_ignored(ignored, "presence_penalty");
  if (r.frequency_penalty) add_ignored(ignored, "frequency_penalty");
  for (const auto& f : r.unknown_fields) add_ignored(ignored, f);

  // Thinking: an explicit budget wins over an effort.
  std::optional<int64_t> budget;
  bool disabled = false;
  if (r.thinking_budget) {
    if (*r.thinking_budget <= 0) disabled = true;
    else budget = *r.thinking_budget;
  } else if (!r.reasoning_effort.empty()) {
    if (r.reasoning_effort == "none") {
      disabled = true;
    } else {
      budget = effort_budget(r.reasoning_effort);
      if (!budget)
        return ApiError::invalid_request("unknown reasoning_effort '" + r.reasoning_effort +
                                             "' (minimal, low, medium, high or none)",
                                         "reasoning_effort");
      if (r.max_tokens && *budget >= *r.max_tokens) {
        *budget = *r.max_tokens - 1;
        if (*budget < kAnthropicMinThinkingBudget) {
          budget.reset();
          add_ignored(ignored, "reasoning_effort");
        }
      }
    }
  }
  const int64_t max_tokens =
      r.max_tokens ? *r.max_tokens : kAnthropicDefaultMaxTokens + budget.value_or(0);

  std::size_t estimate = 256 + model.size();
  for (const Message& m : r.messages)
    for (const Part& p : m.parts) estimate += p.text.size() + p.data.size() + p.arguments.size() + 64;
  out.reserve(estimate);

  out += R"({"model":)";
  str(out, model);
  out += R"(,"max_tokens":)";
  num(out, max_tokens);
  if (auto s = enc.system(r); !s) return s.error();
  if (auto m = enc.messages(r); !m) return m.error();
  if (!r.tools.empty()) {
    enc.tools(r);
  } else if (r.tool_choice.mode == ToolChoice::Mode::tool ||
             r.tool_choice.mode == ToolChoice::Mode::required) {
    return ApiError::invalid_request("tool_choice requires tools", "tool_choice");
  }
  if (!r.stop.empty()) {
    out += R"(,"stop_sequences":[)";
    for (std::size_t i = 0; i < r.stop.size(); ++i) {
      if (i) out += ',';
      str(out, r.stop[i]);
    }
    out += ']';
  }
  if (r.temperature) out += R"(,"temperature":)", num(out, *r.temperature);
  if (r.top_p) out += R"(,"top_p":)", num(out, *r.top_p);
  if (r.top_k) out += R"(,"top_k":)", num(out, *r.top_k);
  if (budget) {
    out += R"(,"thinking":{"type":"enabled","budget_tokens":)";
    num(out, *budget);
    out += '}';
  } else if (disabled) {
    out += R"(,"thinking":{"type":"disabled"})";
  }
  if (r.response_format.kind == ResponseFormat::Kind::json_schema) {
    if (!r.response_format.schema.is_object())
      return ApiError::invalid_request("response_format.json_schema.schema must be an object",
                                       "response_format");
    out += R"(,"output_config":{"format":{"type":"json_schema","schema":)";
    out += json::serialize(r.response_format.schema);
    out += "}}";
  }
  if (!r.user.empty()) {
    out += R"(,"metadata":{"user_id":)";
    str(out, r.user);
    out += '}';
  }
  if (stream) out += R"(,"stream":true)";
  out += '}';
  return out;
}

}  // namespace torii
