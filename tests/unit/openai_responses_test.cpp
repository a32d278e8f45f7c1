// The OpenAI Responses inbound codec: request fixtures shaped as in OpenAI's API reference
// (input items, function tools, text.format, reasoning), the Response object, and the SSE event
// sequence checked the way the official SDK accumulates it.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/inbound.h"
#include "api/openai_responses.h"

namespace torii {
namespace {
namespace json = boost::json;

const InboundCodec& codec() { return openai_responses_codec(); }

Result<InboundInfo> parse(std::string_view body, json::object& raw) {
  return codec().parse(body, raw);
}

ChatRequest decode_ok(std::string_view body) {
  json::object raw;
  auto info = parse(body, raw);
  EXPECT_TRUE(info.ok()) << (info.ok() ? "" : info.error().message);
  ChatRequest req;
  auto r = codec().to_canonical(raw, req);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return req;
}

ApiError decode_error(std::string_view body) {
  json::object raw;
  auto info = parse(body, raw);
  if (!info.ok()) return info.error();
  ChatRequest req;
  auto r = codec().to_canonical(raw, req);
  EXPECT_FALSE(r.ok()) << "expected an error for " << body;
  return r.ok() ? ApiError{} : r.error();
}

TEST(OpenAiResponsesParse, RequiresModelAndTypes) {
  json::object raw;
  auto r = parse(R"({"input":"hi"})", raw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().param, "model");
  EXPECT_EQ(parse(R"({"model":"m","input":5})", raw).error().param, "input");
  EXPECT_EQ(parse(R"({"model":"m","input":"x","stream":"yes"})", raw).error().param, "stream");
  EXPECT_EQ(parse(R"({"model":"m","input":"x","max_output_tokens":1.5})", raw).error().param,
            "max_output_tokens");
  EXPECT_EQ(parse("{not json", raw).error().status, 400);
  EXPECT_EQ(parse("", raw).error().status, 400);
  EXPECT_EQ(parse("[1]", raw).error().status, 400);
}

TEST(OpenAiResponsesParse, InfoAlwaysWantsUsage) {
  json::object raw;
  auto r = parse(R"({"model":"mock/mock-1","input":"hi","stream":true})", raw);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "mock/mock-1");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);  // response.completed always carries usage
  EXPECT_EQ(codec().format(), WireFormat::openai_responses);
}

TEST(OpenAiResponsesDecode, StringInputAndInstructions) {
  auto req = decode_ok(
      R"({"model":"gpt-4.1","instructions":"Talk like a pirate.","input":"Are semicolons optional?",
          "max_output_tokens":200,"temperature":0.5,"top_p":0.9,"user":"u-1","store":true,
          "metadata":{"k":"v"},"truncation":"auto"})");
  ASSERT_EQ(req.messages.size(), 2u);
  EXPECT_EQ(req.messages[0].role, Role::system);
  EXPECT_EQ(req.messages[0].parts[0].text, "Talk like a pirate.");
  EXPECT_EQ(req.messages[1].role, Role::user);
  EXPECT_EQ(req.messages[1].parts[0].text, "Are semicolons optional?");
  EXPECT_EQ(req.max_tokens, 200);
  EXPECT_EQ(req.temperature, 0.5);
  EXPECT_EQ(req.top_p, 0.9);
  EXPECT_EQ(req.user, "u-1");
  EXPECT_EQ(req.model, "gpt-4.1");
  // Hints without counterpart are named for x-torii-ignored-params.
  auto has = [&](std::string_view f) {
    return std::find(req.unknown_fields.begin(), req.unknown_fields.end(), f) !=
           req.unknown_fields.end();
  };
  EXPECT_TRUE(has("store"));
  EXPECT_TRUE(has("metadata"));
  EXPECT_TRUE(has("truncation"));
  EXPECT_FALSE(has("user"));
}

// A multi-turn tool conversation as the Responses docs show it: the model's function_call
// item, the client's function_call_output, images, reasoning carried back.
TEST(OpenAiResponsesDecode, InputItemsToolTurnImagesReasoning) {
  auto req = decode_ok(R"({
    "model":"o4-mini",
    "input":[
      {"role":"developer","content":"Be terse."},
      {"role":"user","content":[
        {"type":"input_text","text":"What is in this image, and the weather in Paris?"},
        {"type":"input_image","image_url":"https://example.com/cat.png","detail":"low"},
        {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo="},
        {"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}]},
      {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Need weather."}],
       "encrypted_content":"gAAAA-sig"},
      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking."}]},
      {"type":"function_call","id":"fc_1","call_id":"call_123","name":"get_weather",
       "arguments":"{\"city\":\"Paris\"}"},
      {"type":"function_call","call_id":"call_124","name":"get_time","arguments":""},
      {"type":"function_call_output","call_id":"call_123","output":"18C"},
      {"type":"function_call_output","call_id":"call_124",
       "output":[{"type":"input_text","text":"noon"}]}
    ],
    "tools":[{"type":"function","name":"get_weather","description":"Weather by city",
              "parameters":{"type":"object","properties":{"city":{"type":"string"}}},
              "strict":true}],
    "tool_choice":{"type":"function","name":"get_weather"},
    "parallel_tool_calls":false,
    "reasoning":{"effort":"high","summary":"auto"},
    "text":{"format":{"type":"json_schema","name":"answer","strict":true,
                      "schema":{"type":"object"}},"verbosity":"low"}
  })");
  ASSERT_EQ(req.messages.size(), 4u);
  EXPECT_EQ(req.messages[0].role, Role::system);  // developer → system
  const auto& user = req.messages[1];
  ASSERT_EQ(user.parts.size(), 4u);
  EXPECT_EQ(user.parts[1].kind, Part::Kind::image);
  EXPECT_EQ(user.parts[1].url, "https://example.com/cat.png");
  EXPECT_EQ(user.parts[1].detail, "low");
  EXPECT_EQ(user.parts[2].media_type, "image/png");
  EXPECT_EQ(user.parts[2].data, "iVBORw0KGgo=");
  EXPECT_TRUE(user.parts[2].url.empty());
  EXPECT_EQ(user.parts[3].kind, Part::Kind::document);
  EXPECT_EQ(user.parts[3].media_type, "application/pdf");
  EXPECT_EQ(user.parts[3].text, "a.pdf");

  // reasoning, message and both calls form ONE assistant turn, in order.
  const auto& asst = req.messages[2];
  EXPECT_EQ(asst.role, Role::assistant);
  ASSERT_EQ(asst.parts.size(), 4u);
  EXPECT_EQ(asst.parts[0].kind, Part::Kind::thinking);
  EXPECT_EQ(asst.parts[0].text, "Need weather.");
  EXPECT_EQ(asst.parts[0].signature, "gAAAA-sig");
  EXPECT_EQ(asst.parts[1].text, "Checking.");
  EXPECT_EQ(asst.parts[2].kind, Part::Kind::tool_call);
  EXPECT_EQ(asst.parts[2].id, "call_123");
  EXPECT_EQ(asst.parts[2].name, "get_weather");
  EXPECT_EQ(asst.parts[2].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(asst.parts[3].arguments, "{}");

  const auto& tool = req.messages[3];
  EXPECT_EQ(tool.role, Role::tool);
  ASSERT_EQ(tool.parts.size(), 2u);
  EXPECT_EQ(tool.parts[0].kind, Part::Kind::tool_result);
  EXPECT_EQ(tool.parts[0].id, "call_123");
  ASSERT_EQ(tool.parts[0].content.size(), 1u);
  EXPECT_EQ(tool.parts[0].content[0].text, "18C");
  EXPECT_EQ(tool.parts[1].content[0].text, "noon");

  ASSERT_EQ(req.tools.size(), 1u);
  EXPECT_EQ(req.tools[0].name, "get_weather");
  EXPECT_EQ(req.tools[0].description, "Weather by city");
  EXPECT_TRUE(req.tools[0].parameters.is_object());
  EXPECT_EQ(req.tools[0].strict, true);
  EXPECT_EQ(req.tool_choice.mode, ToolChoice::Mode::tool);
  EXPECT_EQ(req.tool_choice.name, "get_weather");
  EXPECT_EQ(req.parallel_tool_calls, false);
  EXPECT_EQ(req.reasoning_effort, "high");
  EXPECT_EQ(req.response_format.kind, ResponseFormat::Kind::json_schema);
  EXPECT_EQ(req.response_format.name, "answer");
  EXPECT_EQ(req.response_format.strict, true);
  EXPECT_TRUE(req.response_format.schema.is_object());
  auto has = [&](std::string_view f) {
    return std::find(req.unknown_fields.begin(), req.unknown_fields.end(), f) !=
           req.unknown_fields.end();
  };
  EXPECT_TRUE(has("text.verbosity"));
  EXPECT_TRUE(has("reasoning.summary"));
}

TEST(OpenAiResponsesDecode, ReasoningWithoutTextIsRedacted) {
  auto req = decode_ok(R"({"model":"m","input":[
      {"type":"reasoning","summary":[],"encrypted_content":"opaque"},
      {"role":"user","content":"go on"}]})");
  ASSERT_EQ(req.messages.size(), 2u);
  ASSERT_EQ(req.messages[0].parts.size(), 1u);
  EXPECT_EQ(req.messages[0].parts[0].kind, Part::Kind::redacted_thinking);
  EXPECT_EQ(req.messages[0].parts[0].data, "opaque");
}

TEST(OpenAiResponsesDecode, SimpleModesAndFormats) {
  auto req = decode_ok(
      R"({"model":"m","input":[{"role":"user","content":"x"}],"tool_choice":"required",
          "text":{"format":{"type":"json_object"}},"top_logprobs":3})");
  EXPECT_EQ(req.tool_choice.mode, ToolChoice::Mode::required);
  EXPECT_EQ(req.response_format.kind, ResponseFormat::Kind::json_object);
  EXPECT_TRUE(req.logprobs);
  EXPECT_EQ(req.top_logprobs, 3);
  EXPECT_FALSE(req.stream);
  EXPECT_TRUE(req.include_usage);
}

TEST(OpenAiResponsesDecode, StatelessFeaturesAreRefused) {
  auto e = decode_error(R"({"model":"m","input":"x","previous_response_id":"resp_1"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "previous_response_id");
  EXPECT_NE(e.message.find("torii does not store responses; send the full input"),
            std::string::npos);
  EXPECT_EQ(decode_error(R"({"model":"m","input":"x","conversation":"conv_1"})").param,
            "conversation");
  EXPECT_EQ(decode_error(R"({"model":"m","input":"x","background":true})").param, "background");
  EXPECT_EQ(decode_error(R"({"model":"m","input":[{"type":"item_reference","id":"msg_1"}]})")
                .param,
            "input[0].type");
}

TEST(OpenAiResponsesDecode, UntranslatableInputsName400) {
  auto e = decode_error(R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "tools[0].type");
  EXPECT_NE(e.message.find("web_search"), std::string::npos);
  EXPECT_EQ(decode_error(R"({"model":"m","input":[{"role":"user","content":[
              {"type":"input_image","file_id":"file-1"}]}]})").param,
            "input[0].content[0].file_id");
  EXPECT_EQ(decode_error(R"({"model":"m","input":[{"type":"web_search_call","id":"w"}]})").param,
            "input[0].type");
  EXPECT_EQ(decode_error(R"({"model":"m","input":[{"role":"robot","content":"x"}]})").param,
            "input[0].role");
  EXPECT_EQ(decode_error(R"({"model":"m","input":"x","tool_choice":{"type":"file_search"}})")
                .param,
            "tool_choice.type");
  EXPECT_EQ(decode_error(R"({"model":"m","input":"x","text":{"format":{"type":"xml"}}})").param,
            "text.format.type");
  EXPECT_EQ(decode_error(R"({"model":"m","instructions":"only"})").param, "input");
  EXPECT_EQ(decode_error(R"({"model":"m","input":"x","max_output_tokens":0})").param,
            "max_output_tokens");
}

// Wrong types anywhere are a 400 with a param, never a crash or an escaping exception.
TEST(OpenAiResponsesDecode, WrongTypesAre400s) {
  const char* bodies[] = {
      R"({"model":"m","input":[1]})",
      R"({"model":"m","input":[{"role":"user","content":5}]})",
      R"({"model":"m","input":[{"role":"user","content":[7]}]})",
      R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":1}]}]})",
      R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]})",
      R"({"model":"m","input":[{"role":"user","content":[{"type":"input_file"}]}]})",
      R"({"model":"m","input":[{"role":"user","content":[{}]}]})",
      R"({"model":"m","input":[{"type":"function_call","call_id":1,"name":"f"}]})",
      R"({"model":"m","input":[{"type":"function_call_output","call_id":"c","output":3}]})",
      R"({"model":"m","input":[{"type":"message"}]})",
      R"({"model":"m","input":"x","tools":["f"]})",
      R"({"model":"m","input":"x","tools":[{"type":"function","name":""}]})",
      R"({"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":1}]})",
      R"({"model":"m","input":"x","tool_choice":3})",
      R"({"model":"m","input":"x","tool_choice":"sometimes"})",
      R"({"model":"m","input":"x","text":{"format":{"type":"json_schema"}}})",
      R"({"model":"m","input":"x","text":7})",
      R"({"model":"m","input":"x","reasoning":{"effort":3}})",
      R"({"model":"m","input":"x","max_output_tokens":18446744073709551615})",
  };
  for (const char* body : bodies) {
    auto e = decode_error(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_FALSE(e.param.empty()) << body;
  }
}

// --- answers ------------------------------------------------------------------------------

ChatResult sample_result() {
  ChatResult r;
  r.id = "chatcmpl-abc";
  r.model = "gpt-4o-mini";
  r.created = 1741476542;
  Part thinking;
  thinking.kind = Part::Kind::thinking;
  thinking.text = "The user wants weather.";
  thinking.signature = "sig-1";
  r.parts.push_back(thinking);
  r.parts.push_back(Part::make_text("Let me "));
  r.parts.push_back(Part::make_text("check."));
  Part call;
  call.kind = Part::Kind::tool_call;
  call.id = "call_1";
  call.name = "get_weather";
  call.arguments = R"({"city":"Paris"})";
  r.parts.push_back(call);
  r.finish = FinishReason::tool_calls;
  r.usage.prompt_tokens = 36;
  r.usage.completion_tokens = 87;
  r.usage.total_tokens = 123;
  r.usage.cached_tokens = 12;
  r.usage.reasoning_tokens = 40;
  return r;
}

TEST(OpenAiResponsesEncode, ResponseObjectShape) {
  json::value v = json::parse(codec().encode_result(sample_result()));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("id").as_string(), "resp_chatcmpl-abc");
  EXPECT_EQ(o.at("object").as_string(), "response");
  EXPECT_EQ(o.at("created_at").as_int64(), 1741476542);
  EXPECT_EQ(o.at("status").as_string(), "completed");
  EXPECT_TRUE(o.at("error").is_null());
  EXPECT_TRUE(o.at("incomplete_details").is_null());
  EXPECT_EQ(o.at("model").as_string(), "gpt-4o-mini");
  const auto& out = o.at("output").as_array();
  ASSERT_EQ(out.size(), 3u);
  const auto& rs = out[0].as_object();
  EXPECT_EQ(rs.at("type").as_string(), "reasoning");
  EXPECT_EQ(rs.at("id").as_string(), "rs_chatcmpl-abc");
  EXPECT_EQ(rs.at("summary").as_array()[0].as_object().at("type").as_string(), "summary_text");
  EXPECT_EQ(rs.at("summary").as_array()[0].as_object().at("text").as_string(),
            "The user wants weather.");
  EXPECT_EQ(rs.at("encrypted_content").as_string(), "sig-1");
  const auto& msg = out[1].as_object();
  EXPECT_EQ(msg.at("type").as_string(), "message");
  EXPECT_EQ(msg.at("id").as_string(), "msg_chatcmpl-abc");
  EXPECT_EQ(msg.at("role").as_string(), "assistant");
  EXPECT_EQ(msg.at("status").as_string(), "completed");
  const auto& content = msg.at("content").as_array();
  ASSERT_EQ(content.size(), 1u);  // consecutive text parts make one output_text
  EXPECT_EQ(content[0].as_object().at("type").as_string(), "output_text");
  EXPECT_EQ(content[0].as_object().at("text").as_string(), "Let me check.");
  EXPECT_TRUE(content[0].as_object().at("annotations").as_array().empty());
  const auto& fc = out[2].as_object();
  EXPECT_EQ(fc.at("type").as_string(), "function_call");
  EXPECT_EQ(fc.at("id").as_string(), "fc_chatcmpl-abc");
  EXPECT_EQ(fc.at("call_id").as_string(), "call_1");
  EXPECT_EQ(fc.at("name").as_string(), "get_weather");
  EXPECT_EQ(fc.at("arguments").as_string(), R"({"city":"Paris"})");
  EXPECT_EQ(fc.at("status").as_string(), "completed");
  const auto& u = o.at("usage").as_object();
  EXPECT_EQ(u.at("input_tokens").as_int64(), 36);
  EXPECT_EQ(u.at("input_tokens_details").as_object().at("cached_tokens").as_int64(), 12);
  EXPECT_EQ(u.at("output_tokens").as_int64(), 87);
  EXPECT_EQ(u.at("output_tokens_details").as_object().at("reasoning_tokens").as_int64(), 40);
  EXPECT_EQ(u.at("total_tokens").as_int64(), 123);
}

TEST(OpenAiResponsesEncode, IncompleteStatusesAndRefusal) {
  ChatResult r;
  r.id = "resp_keep";
  r.parts.push_back(Part::make_text("cut"));
  r.finish = FinishReason::length;
  json::value v = json::parse(codec().encode_result(r));
  EXPECT_EQ(v.at("id").as_string(), "resp_keep");
  EXPECT_EQ(v.at("status").as_string(), "incomplete");
  EXPECT_EQ(v.at("incomplete_details").at("reason").as_string(), "max_output_tokens");
  EXPECT_EQ(v.at("output").at(0).at("status").as_string(), "incomplete");
  EXPECT_TRUE(v.at("usage").is_null());  // unknown usage is not invented

  r.finish = FinishReason::content_filter;
  r.parts.clear();
  r.refusal = "I can't help with that.";
  v = json::parse(codec().encode_result(r));
  EXPECT_EQ(v.at("incomplete_details").at("reason").as_string(), "content_filter");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("type").as_string(), "refusal");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("refusal").as_string(),
            "I can't help with that.");
}

TEST(OpenAiResponsesEncode, CacheWritesAreKept) {
  ChatResult r;
  r.parts.push_back(Part::make_text("x"));
  r.finish = FinishReason::stop;
  r.usage.prompt_tokens = 100;
  r.usage.completion_tokens = 5;
  r.usage.cache_write_tokens = 60;
  json::value v = json::parse(codec().encode_result(r));
  EXPECT_EQ(v.at("usage").at("input_tokens_details").at("cache_write_tokens").as_int64(), 60);
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 105);
  EXPECT_TRUE(v.at("id").as_string().starts_with("resp_"));  // generated when none came
  EXPECT_GT(v.at("id").as_string().size(), 10u);
}

}  // namespace
}  // namespace torii
