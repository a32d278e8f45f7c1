#include "api/openai_responses_output.h"

#include <ctime>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/openai_responses.h"
#include "core/json_text.h"

namespace torii::responses_output {
namespace json = boost::json;

ApiError field_error(std::string field, std::string what) {
  std::string msg = "'" + field + "' " + what;
  return ApiError::invalid_request(std::move(msg), std::move(field));
}

std::string_view str_or_empty(const json::value* v) {
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

namespace {

struct Status {
  std::string_view status;
  std::string_view reason;  // incomplete_details.reason, "" when complete
};

Status status_for(FinishReason f) {
  if (f == FinishReason::length) return {"incomplete", "max_output_tokens"};
  if (f == FinishReason::content_filter) return {"incomplete", "content_filter"};
  return {"completed", {}};
}

std::string item_id(std::string_view prefix, std::string_view base, int n) {
  std::string id(prefix);
  id += '_';
  id.append(base);
  if (n > 0) id.append("_").append(std::to_string(n));
  return id;
}

int64_t nz(int64_t v) { return v < 0 ? 0 : v; }

json::value usage_json(const Usage& u) {
  if (!u.known()) return nullptr;
  json::object in;
  in["cached_tokens"] = nz(u.cached_tokens);
  if (u.cache_write_tokens >= 0) in["cache_write_tokens"] = u.cache_write_tokens;
  json::object out_details;
  out_details["reasoning_tokens"] = nz(u.reasoning_tokens);
  json::object o;
  o["input_tokens"] = nz(u.prompt_tokens);
  o["input_tokens_details"] = std::move(in);
  o["output_tokens"] = nz(u.completion_tokens);
  o["output_tokens_details"] = std::move(out_details);
  o["total_tokens"] =
      u.total_tokens >= 0 ? u.total_tokens : nz(u.prompt_tokens) + nz(u.completion_tokens);
  return o;
}

json::object output_text_part(std::string_view text) {
  return json::object{{"type", "output_text"}, {"text", text}, {"annotations", json::array()}};
}

json::object message_item(std::string_view id, std::string_view status, bool has_text,
                          std::string_view text) {
  json::array content;
  if (has_text) content.push_back(output_text_part(text));
  return json::object{{"id", id},           {"type", "message"},  {"status", status},
                      {"role", "assistant"}, {"content", std::move(content)}};
}

json::object reasoning_item(std::string_view id, std::string_view text,
                            std::string_view signature) {
  json::array summary;
  if (!text.empty()) summary.push_back(json::object{{"type", "summary_text"}, {"text", text}});
  json::object o{{"id", id}, {"type", "reasoning"}, {"summary", std::move(summary)}};
  if (!signature.empty()) o["encrypted_content"] = signature;
  return o;
}

json::object function_call_item(std::string_view id, std::string_view call_id,
                                std::string_view name, std::string_view args,
                                std::string_view status) {
  return json::object{{"id", id},     {"type", "function_call"}, {"call_id", call_id},
                      {"name", name}, {"arguments", args},       {"status", status}};
}

json::object response_object(std::string_view id, int64_t created, std::string_view model,
                             std::string_view status, std::string_view reason,
                             json::array output, const Usage& usage, const ApiError* error) {
  json::object o;
  o["id"] = id;
  o["object"] = "response";
  o["created_at"] = created;
  o["status"] = status;
  if (error) {
    o["error"] = json::object{{"code", error->code.empty() ? error->type : error->code},
                              {"message", error->message}};
  } else {
    o["error"] = nullptr;
  }
  if (reason.empty()) o["incomplete_details"] = nullptr;
  else o["incomplete_details"] = json::object{{"reason", reason}};
  o["model"] = model;
  o["output"] = std::move(output);
  o["store"] = false;  // torii keeps nothing
  o["usage"] = usage_json(usage);
  return o;
}

// The args of a finished call: "{}" when it had none (canonical rule).
std::string_view final_args(std::string_view args) { return args.empty() ? "{}" : args; }

class Encoder final : public StreamEncoder {
 public:
  explicit Encoder(const InboundInfo& info) : model_(info.model), created_(std::time(nullptr)) {}

  void event(const StreamEvent& e) override {
    if (done_) return;
    switch (e.kind) {
      case StreamEvent::Kind::start:
        if (!started_) {
          if (!e.id.empty()) id_ = responses_id(e.id);
          if (!e.name.empty()) model_ = std::string(e.name);  // start: name = model
        }
        ensure_started();
        break;
      case StreamEvent::Kind::text:
        ensure_started();
        if (open_ != Open::message) {
          close_open();
          close_tools();
          open_message();
        }
        text_.append(e.text);
        begin("response.output_text.delta");
        item_fields();
        out += ",\"content_index\":0,\"delta\":";
        append_json_string(out, e.text);
        out += ",\"logprobs\":[]";
        end();
        break;
      case StreamEvent::Kind::thinking:
        ensure_started();
        if (open_ != Open::reasoning || !signature_.empty()) {  // a signed block is closed
          close_open();
          close_tools();
          open_reasoning();
        }
        if (!summary_part_) {
          summary_part_ = true;
          begin("response.reasoning_summary_part.added");
          item_fields();
          out += ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}";
          end();
        }
        text_.append(e.text);
        begin("response.reasoning_summary_text.delta");
        item_fields();
        out += ",\"summary_index\":0,\"delta\":";
        append_json_string(out, e.text);
        end();
        break;
      case StreamEvent::Kind::thinking_signature:
        ensure_started();
        if (open_ != Open::reasoning) {
          close_open();
          close_tools();
          open_reasoning();
        }
        signature_.assign(e.text);
        break;
      case StreamEvent::Kind::redacted_thinking: {
        ensure_started();
        close_open();
        close_tools();
        int index = next_output_++;
        json::object item = reasoning_item(item_id("rs", base_, rs_n_++), {}, e.text);
        item_event("response.output_item.added", index, item);
        item_event("response.output_item.done", index, item);
        output_.push_back(std::move(item));
        break;
      }
      case StreamEvent::Kind::tool_call_start:
        ensure_started();
        close_open();
        open_tool(e.index, e.id, e.name);
        break;
      case StreamEvent::Kind::tool_call_args: {
        ensure_started();
        close_open();
        ToolCall* tc = find_tool(e.index);
        if (!tc) tc = open_tool(e.index, {}, {});  // args without a start: keep them anyway
        tc->args.append(e.text);
        begin("response.function_call_arguments.delta");
        out += ",\"item_id\":";
        append_json_string(out, tc->item_id);
        out += ",\"output_index\":" + std::to_string(tc->output_index) + ",\"delta\":";
        append_json_string(out, e.text);
        end();
        break;
      }
      case StreamEvent::Kind::finish:
        finish_ = e.finish;
        break;
      case StreamEvent::Kind::usage:
        usage_ = e.usage;
        break;
    }
  }

  void raw(std::string_view name, std::string_view data, bool /*usage_only*/) override {
    if (done_) return;
    passthrough_ = true;
    if (!name.empty()) out.append("event: ").append(name).push_back('\n');
    // SSE data may hold several lines; each needs its own "data:" field.
    std::size_t start = 0;
    while (true) {
      auto nl = data.find('\n', start);
      out.append("data: ").append(data.substr(start, nl - start)).push_back('\n');
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
    out.push_back('\n');
    constexpr std::string_view kSeq = "\"sequence_number\":";
    if (auto p = data.rfind(kSeq); p != std::string_view::npos) {
      int64_t n = 0;
      bool digits = false;
      for (auto i = p + kSeq.size(); i < data.size(); ++i) {
        char c = data[i];
        if (c == ' ' && !digits) continue;
        if (c < '0' || c > '9') break;
        n = n * 10 + (c - '0');
        digits = true;
      }
      if (digits) seq_ = n + 1;
    }
  }

  void finish() override {
    if (done_ || passthrough_) return;
    ensure_started();
    close_open();
    close_tools();
    Status st = status_for(finish_);
    begin(st.reason.empty() ? "response.completed" : "response.incomplete");
    field_json("response", response_object(id_, created_, model_, st.status, st.reason,
                                           std::move(output_), usage_, nullptr));
    end();
    done_ = true;
  }

  void fail(const ApiError& e) override {
    if (done_) return;
    if (!passthrough_) ensure_started();
    // Flat fields per the SDK's ResponseErrorEvent, and the nested `error` object OpenAI sends
    // on the wire (the SDK raises an APIError from it).
    begin("error");
    out += ",\"code\":";
    append_code(e);
    out += ",\"message\":";
    append_json_string(out, e.message);
    out += ",\"param\":";
    if (e.param.empty()) out += "null";
    else append_json_string(out, e.param);
    out += ",\"error\":{\"type\":";
    append_json_string(out, e.type);
    out += ",\"code\":";
    append_code(e);
    out += ",\"message\":";
    append_json_string(out, e.message);
    out += ",\"param\":";
    if (e.param.empty()) out += "null";
    else append_json_string(out, e.param);
    out += '}';
    end();
    if (!passthrough_) {
      begin("response.failed");
      field_json("response", response_object(id_, created_, model_, "failed", {},
                                             std::move(output_), usage_, &e));
      end();
    }
    done_ = true;
  }

 private:
  enum class Open : uint8_t { none, message, reasoning };
  struct ToolCall {
    int index = 0;
    int output_index = 0;
    std::string item_id, call_id, name, args;
  };

  // "event: T\ndata: {"type":"T","sequence_number":N" … end() closes it.
  void begin(std::string_view type) {
    out.append("event: ").append(type).append("\ndata: {\"type\":\"").append(type);
    out.append("\",\"sequence_number\":").append(std::to_string(seq_++));
  }
  void end() { out += "}\n\n"; }
  void field_json(std::string_view key, const json::value& v) {
    out.append(",\"").append(key).append("\":");
    out += json::serialize(v);
  }
  void item_fields() {
    out += ",\"item_id\":";
    append_json_string(out, open_id_);
    out += ",\"output_index\":" + std::to_string(open_index_);
  }
  void item_event(std::string_view type, int index, const json::object& item) {
    begin(type);
    out += ",\"output_index\":" + std::to_string(index);
    field_json("item", item);
    end();
  }
  void append_code(const ApiError& e) {
    if (e.code.empty()) out += "null";
    else append_json_string(out, e.code);
  }

  void ensure_started() {
    if (started_) return;
    started_ = true;
    if (id_.empty()) id_ = responses_id({});
    base_ = id_.substr(5);
    for (std::string_view type : {"response.created", "response.in_progress"}) {
      begin(type);
      field_json("response", response_object(id_, created_, model_, "in_progress", {},
                                             json::array(), Usage{}, nullptr));
      end();
    }
  }

  void open_message() {
    open_ = Open::message;
    open_index_ = next_output_++;
    open_id_ = item_id("msg", base_, msg_n_++);
    text_.clear();
    item_event("response.output_item.added", open_index_,
               message_item(open_id_, "in_progress", false, {}));
    begin("response.content_part.added");
    item_fields();
    out += ",\"content_index\":0";
    field_json("part", output_text_part({}));
    end();
  }

  void open_reasoning() {
    open_ = Open::reasoning;
    open_index_ = next_output_++;
    open_id_ = item_id("rs", base_, rs_n_++);
    text_.clear();
    signature_.clear();
    summary_part_ = false;
    item_event("response.output_item.added", open_index_, reasoning_item(open_id_, {}, {}));
  }

  void close_open() {
    if (open_ == Open::message) {
      begin("response.output_text.done");
      item_fields();
      out += ",\"content_index\":0,\"text\":";
      append_json_string(out, text_);
      out += ",\"logprobs\":[]";
      end();
      begin("response.content_part.done");
      item_fields();
      out += ",\"content_index\":0";
      field_json("part", output_text_part(text_));
      end();
      std::string_view status = finish_ == FinishReason::length ? "incomplete" : "completed";
      json::object item = message_item(open_id_, status, true, text_);
      item_event("response.output_item.done", open_index_, item);
      output_.push_back(std::move(item));
    } else if (open_ == Open::reasoning) {
      if (summary_part_) {
        begin("response.reasoning_summary_text.done");
        item_fields();
        out += ",\"summary_index\":0,\"text\":";
        append_json_string(out, text_);
        end();
        begin("response.reasoning_summary_part.done");
        item_fields();
        out += ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":";
        append_json_string(out, text_);
        out += '}';
        end();
      }
      json::object item = reasoning_item(open_id_, text_, signature_);
      item_event("response.output_item.done", open_index_, item);
      output_.push_back(std::move(item));
    }
    open_ = Open::none;
  }

  ToolCall* find_tool(int index) {
    for (auto& t : tools_)
      if (t.index == index) return &t;
    return nullptr;
  }

  ToolCall* open_tool(int index, std::string_view call_id, std::string_view name) {
    ToolCall tc;
    tc.index = index;
    tc.output_index = next_output_++;
    tc.item_id = item_id("fc", base_, fc_n_++);
    tc.call_id = std::string(call_id);
    tc.name = std::string(name);
    item_event("response.output_item.added", tc.output_index,
               function_call_item(tc.item_id, tc.call_id, tc.name, {}, "in_progress"));
    tools_.push_back(std::move(tc));
    return &tools_.back();
  }

  // Tool calls stay open together (their arguments may interleave) until other content or
  // the end; they close in the order they opened, which is their output order.
  void close_tools() {
    for (auto& tc : tools_) {
      std::string_view args = final_args(tc.args);
      begin("response.function_call_arguments.done");
      out += ",\"item_id\":";
      append_json_string(out, tc.item_id);
      out += ",\"output_index\":" + std::to_string(tc.output_index) + ",\"name\":";
      append_json_string(out, tc.name);
      out += ",\"arguments\":";
      append_json_string(out, args);
      end();
      json::object item = function_call_item(tc.item_id, tc.call_id, tc.name, args, "completed");
      item_event("response.output_item.done", tc.output_index, item);
      output_.push_back(std::move(item));
    }
    tools_.clear();
  }

  std::string id_, base_, model_;
  int64_t created_ = 0;
  int64_t seq_ = 0;
  bool started_ = false, done_ = false, passthrough_ = false;
  Open open_ = Open::none;
  int open_index_ = 0;
  std::string open_id_, text_, signature_;
  bool summary_part_ = false;
  std::vector<ToolCall> tools_;
  json::array output_;  // closed items, in output order
  int next_output_ = 0;
  int msg_n_ = 0, rs_n_ = 0, fc_n_ = 0;
  FinishReason finish_ = FinishReason::unset;
  Usage usage_;
};

}  // namespace

std::string encode_response(const ChatResult& result) {
  std::string id = responses_id(result.id);
  std::string_view base = std::string_view(id).substr(5);
  Status st = status_for(result.finish);
  std::string_view msg_status = result.finish == FinishReason::length ? "incomplete" : "completed";
  json::array output;
  int msg_n = 0, rs_n = 0, fc_n = 0;
  bool last_is_message = false;
  auto message = [&]() -> json::object& {
    if (!last_is_message) {
      output.push_back(message_item(item_id("msg", base, msg_n++), msg_status, false, {}));
      last_is_message = true;
    }
    return output.back().get_object();
  };
  for (const Part& p : result.parts) {
    switch (p.kind) {
      case Part::Kind::text: {
        auto& content = message()["content"].get_array();
        if (content.empty() || str_or_empty(content.back().get_object().if_contains("type")) !=
                                   "output_text")
          content.push_back(output_text_part({}));
        content.back().get_object()["text"].get_string().append(p.text);
        break;
      }
      case Part::Kind::thinking:
        output.push_back(reasoning_item(item_id("rs", base, rs_n++), p.text, p.signature));
        last_is_message = false;
        break;
      case Part::Kind::redacted_thinking:
        output.push_back(reasoning_item(item_id("rs", base, rs_n++), {}, p.data));
        last_is_message = false;
        break;
      case Part::Kind::tool_call:
        output.push_back(function_call_item(item_id("fc", base, fc_n++), p.id, p.name,
                                            final_args(p.arguments), "completed"));
        last_is_message = false;
        break;
      default:
        break;  // images, documents and tool results are not assistant output
    }
  }
  if (!result.refusal.empty())
    message()["content"].get_array().push_back(
        json::object{{"type", "refusal"}, {"refusal", result.refusal}});
  int64_t created = result.created > 0 ? result.created : static_cast<int64_t>(std::time(nullptr));
  return json::serialize(response_object(id, created, result.model, st.status, st.reason,
                                         std::move(output), result.usage, nullptr));
}

std::unique_ptr<StreamEncoder> make_stream_encoder(const InboundInfo& info) {
  return std::make_unique<Encoder>(info);
}

}  // namespace torii::responses_output
