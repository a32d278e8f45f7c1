// The prompt library's config (`prompts:`, the routes' `prompts:`), the placement of rendered
// texts in each inbound format (src/prompts/inject.h), and the policy as a snapshot installs it.
#include "prompts/prompt_policy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/anthropic_messages.h"
#include "api/inbound.h"
#include "config/snapshot.h"
#include "prompts/inject.h"
#include "prompts/template.h"

namespace torii {
namespace {
namespace json = boost::json;

const char* kBase = R"(
providers:
  - {name: local, kind: openai-compatible, base_url: "http://127.0.0.1:9999/v1", models: [m1]}
egress: {allow_networks: [127.0.0.0/8]}
)";

std::string load_error(const std::string& yaml) {
  auto r = parse_config(std::string(kBase) + yaml, "t.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r ? std::string() : r.error().message;
}

const char* kLibrary = R"(
prompts:
  templates:
    - id: summarize
      text: "Summarize for the {{consumer.metadata.team}} team: {{vars.text}}"
    - id: rules
      role: system
      text: "House rules for {{consumer.id}}."
  contexts:
    - id: concise
      system: "Answer in at most three sentences."
    - id: formal
      system: "Be formal."
      pre: [{role: user, content: "Who are you?"}, {role: assistant, content: "An assistant."}]
      post: [{role: user, content: "Reply in French."}]
    - id: unused
      post: [{role: user, content: "unused"}]
routes:
  - name: chat
    targets: [local/m1]
    prompts: {context: concise, contexts: [formal], templates: [summarize, rules]}
  - name: picky
    targets: [local/m1]
    prompts: {contexts: [formal]}
  - name: plain
    targets: [local/m1]
)";

TEST(PromptsConfig, Loads) {
  auto r = parse_config(std::string(kBase) + kLibrary, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  ASSERT_EQ(c.prompts.templates.size(), 2u);
  EXPECT_EQ(c.prompts.templates[0].role, PromptRole::user);
  EXPECT_EQ(c.prompts.templates[1].role, PromptRole::system);
  ASSERT_EQ(c.prompts.contexts.size(), 3u);
  ASSERT_EQ(c.prompts.contexts[1].pre.size(), 2u);
  EXPECT_EQ(c.prompts.contexts[1].pre[1].role, PromptRole::assistant);
  EXPECT_EQ(c.prompts.contexts[1].post[0].content, "Reply in French.");
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_TRUE(c.routes[0].prompts.enabled);
  EXPECT_EQ(c.routes[0].prompts.context, "concise");
  EXPECT_EQ(c.routes[0].prompts.templates, (std::vector<std::string>{"summarize", "rules"}));
  EXPECT_FALSE(c.routes[2].prompts.enabled);
  EXPECT_TRUE(prompts_configured(c));
  auto plain = parse_config(std::string(kBase) + "routes: [{name: x, targets: [local/m1]}]\n",
                            "t.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(prompts_configured(*plain));
}

TEST(PromptsConfig, Errors) {
  EXPECT_NE(load_error("prompts: {templates: [{id: 'a b', text: x}]}\n")
                .find("prompts.templates[0].id: must be at most 64 letters"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {templates: [{id: " + std::string(65, 'a') + ", text: x}]}\n")
                .find("must be at most 64"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {templates: [{id: a, text: x}, {id: a, text: y}]}\n")
                .find("prompts.templates[1].id: duplicate id 'a'"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {templates: [{id: a}]}\n")
                .find("prompts.templates[0].text: is required"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {templates: [{id: a, text: 'x {{vars.y'}]}\n")
                .find("prompts.templates[0].text: unterminated placeholder"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {templates: [{id: a, text: 'x {{user.y}}'}]}\n")
                .find("unknown placeholder 'user'"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {templates: [{id: a, role: assistant, text: x}]}\n")
                .find("role: must be user or system"),
            std::string::npos);
  // Unquoted, a text that starts with {{ is a YAML flow mapping.
  EXPECT_NE(load_error("prompts:\n  templates:\n    - id: a\n      text: {{vars.x}}\n")
                .find("quote a text that starts with {{"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {contexts: [{id: c}]}\n")
                .find("a context needs system, pre or post"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {contexts: [{id: c, pre: [{role: system, content: x}]}]}\n")
                .find("prompts.contexts[0].pre[0].role: must be user or assistant"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {contexts: [{id: c, post: [{role: user}]}]}\n")
                .find("prompts.contexts[0].post[0].content: is required"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {contexts: [{id: c, system: '{{consumer.x}}'}]}\n")
                .find("prompts.contexts[0].system"),
            std::string::npos);
  EXPECT_NE(load_error("prompts: {contexts: [{id: c, system: x, extra: 1}]}\n")
                .find("prompts.contexts[0].extra: unknown key"),
            std::string::npos);
  // Route references are checked once everything is read.
  const std::string refs = load_error(
      "prompts: {contexts: [{id: c, system: x}], templates: [{id: t, text: x}]}\n"
      "routes: [{name: r, targets: [local/m1], prompts: {context: nope, contexts: [c, gone], "
      "templates: [t, missing]}}]\n");
  EXPECT_NE(refs.find("routes[0].prompts.context: names no prompt context 'nope'"),
            std::string::npos) << refs;
  EXPECT_NE(refs.find("routes[0].prompts.contexts[1]: names no prompt context 'gone'"),
            std::string::npos) << refs;
  EXPECT_NE(refs.find("routes[0].prompts.templates[1]: names no prompt template 'missing'"),
            std::string::npos) << refs;
  EXPECT_NE(load_error("routes: [{name: r, targets: [local/m1], prompts: {templat: [t]}}]\n")
                .find("did you mean templates?"),
            std::string::npos);
  EXPECT_NE(load_error("promts: {}\n").find("did you mean prompts?"), std::string::npos);
}

// ---- inject: where the texts go -------------------------------------------------------------

prompts::Rendered full(bool template_is_system = false) {
  prompts::Rendered r;
  r.system = "SYS";
  r.pre = {{PromptRole::user, "PRE-U"}, {PromptRole::assistant, "PRE-A"}};
  r.post = {{PromptRole::user, "POST"}};
  r.last = prompts::RenderedMessage{template_is_system ? PromptRole::system : PromptRole::user,
                                    "TPL"};
  return r;
}

json::object injected(InboundApi api, std::string_view body, const prompts::Rendered& r) {
  json::object o = json::parse(body).as_object();
  auto res = prompts::inject(api, o, r);
  if (!res) throw std::runtime_error(res.error().message);
  return o;
}

json::value j(std::string_view text) { return json::parse(text); }

TEST(PromptInject, OpenAiChat) {
  // No system message: one is added first.
  auto o = injected(InboundApi::openai_chat,
                    R"({"messages":[{"role":"user","content":"Q"}]})", full());
  EXPECT_EQ(o.at("messages"), j(R"([{"role":"system","content":"SYS"},
      {"role":"user","content":"PRE-U"},{"role":"assistant","content":"PRE-A"},
      {"role":"user","content":"Q"},{"role":"user","content":"TPL"},
      {"role":"user","content":"POST"}])"));
  // The client's system message: joined with a blank line; pre after it.
  o = injected(InboundApi::openai_chat,
               R"({"messages":[{"role":"system","content":"MINE"},{"role":"user","content":"Q"}]})",
               full(true));
  EXPECT_EQ(o.at("messages"), j(R"([{"role":"system","content":"SYS\n\nMINE"},
      {"role":"user","content":"PRE-U"},{"role":"assistant","content":"PRE-A"},
      {"role":"user","content":"Q"},{"role":"system","content":"TPL"},
      {"role":"user","content":"POST"}])"));
  // developer counts as system; a list of parts gets a text part of its own.
  prompts::Rendered sys_only;
  sys_only.system = "SYS";
  o = injected(InboundApi::openai_chat,
               R"({"messages":[{"role":"developer","content":[{"type":"text","text":"MINE"}]},
                   {"role":"user","content":"Q"}]})", sys_only);
  EXPECT_EQ(o.at("messages").at(0), j(R"({"role":"developer","content":[
      {"type":"text","text":"SYS"},{"type":"text","text":"MINE"}]})"));
  EXPECT_EQ(o.at("messages").as_array().size(), 2u);
  // An empty conversation takes the template alone.
  prompts::Rendered tpl;
  tpl.last = prompts::RenderedMessage{PromptRole::user, "TPL"};
  o = injected(InboundApi::openai_chat, R"({"messages":[]})", tpl);
  EXPECT_EQ(o.at("messages"), j(R"([{"role":"user","content":"TPL"}])"));
  // A system message alone is something to send.
  json::object empty = json::parse(R"({"messages":[]})").as_object();
  ASSERT_TRUE(prompts::inject(InboundApi::openai_chat, empty, sys_only).ok());
  EXPECT_EQ(empty.at("messages"), j(R"([{"role":"system","content":"SYS"}])"));
  // Nothing to send is an error (Anthropic: a system template goes to `system`).
  json::object none = json::parse(R"({"messages":[]})").as_object();
  prompts::Rendered sys_tpl;
  sys_tpl.last = prompts::RenderedMessage{PromptRole::system, "S"};
  auto bad = prompts::inject(InboundApi::anthropic_messages, none, sys_tpl);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "messages");
}

TEST(PromptInject, AnthropicMessages) {
  auto o = injected(InboundApi::anthropic_messages,
                    R"({"system":"MINE","messages":[{"role":"user","content":"Q"}]})", full());
  EXPECT_EQ(o.at("system"), j(R"("SYS\n\nMINE")"));
  EXPECT_EQ(o.at("messages"), j(R"([{"role":"user","content":"PRE-U"},
      {"role":"assistant","content":"PRE-A"},{"role":"user","content":"Q"},
      {"role":"user","content":"TPL"},{"role":"user","content":"POST"}])"));
  // No system: the context's; a system template joins the system text, after it.
  o = injected(InboundApi::anthropic_messages, R"({"messages":[{"role":"user","content":"Q"}]})",
               full(true));
  EXPECT_EQ(o.at("system"), j(R"("SYS\n\nTPL")"));
  EXPECT_EQ(o.at("messages").as_array().size(), 4u);
  // System blocks: a block of its own first (and the system template one last).
  o = injected(InboundApi::anthropic_count_tokens,
               R"({"system":[{"type":"text","text":"MINE","cache_control":{"type":"ephemeral"}}],
                   "messages":[{"role":"user","content":"Q"}]})", full(true));
  EXPECT_EQ(o.at("system"), j(R"([{"type":"text","text":"SYS"},
      {"type":"text","text":"MINE","cache_control":{"type":"ephemeral"}},
      {"type":"text","text":"TPL"}])"));
}

TEST(PromptInject, OpenAiResponses) {
  // A string input becomes a one-item list.
  auto o = injected(InboundApi::openai_responses, R"({"input":"Q","instructions":"MINE"})", full());
  EXPECT_EQ(o.at("instructions"), j(R"("SYS\n\nMINE")"));
  EXPECT_EQ(o.at("input"), j(R"([{"role":"user","content":"PRE-U"},
      {"role":"assistant","content":"PRE-A"},{"role":"user","content":"Q"},
      {"role":"user","content":"TPL"},{"role":"user","content":"POST"}])"));
  // A list stays a list; no instructions: the context's.
  o = injected(InboundApi::openai_responses,
               R"({"input":[{"type":"message","role":"user",
                   "content":[{"type":"input_text","text":"Q"}]}]})",
               full(true));
  EXPECT_EQ(o.at("instructions"), j(R"("SYS")"));
  const auto& in = o.at("input").as_array();
  ASSERT_EQ(in.size(), 5u);
  EXPECT_EQ(in[2].at("type"), j(R"("message")"));
  EXPECT_EQ(in[3], j(R"({"role":"system","content":"TPL"})"));
  // No input at all: the template is the input.
  prompts::Rendered tpl;
  tpl.last = prompts::RenderedMessage{PromptRole::user, "TPL"};
  o = injected(InboundApi::openai_responses, R"({"model":"m"})", tpl);
  EXPECT_EQ(o.at("input"), j(R"([{"role":"user","content":"TPL"}])"));
  EXPECT_FALSE(o.contains("instructions"));
}

TEST(PromptInject, Completions) {
  auto o = injected(InboundApi::openai_completions, R"({"prompt":"Q"})", full());
  EXPECT_EQ(o.at("prompt"), j(R"("SYS\n\nPRE-U\n\nPRE-A\n\nQ\n\nTPL\n\nPOST")"));
  o = injected(InboundApi::openai_completions, R"({"prompt":["Q1","Q2"]})", full());
  EXPECT_EQ(o.at("prompt"), j(R"(["SYS\n\nPRE-U\n\nPRE-A\n\nQ1\n\nTPL\n\nPOST",
      "SYS\n\nPRE-U\n\nPRE-A\n\nQ2\n\nTPL\n\nPOST"])"));
  prompts::Rendered tpl;
  tpl.last = prompts::RenderedMessage{PromptRole::user, "TPL"};
  o = injected(InboundApi::openai_completions, R"({"model":"m"})", tpl);
  EXPECT_EQ(o.at("prompt"), j(R"("TPL")"));
  json::object ids = json::parse(R"({"prompt":[1,2,3]})").as_object();
  auto r = prompts::inject(InboundApi::openai_completions, ids, tpl);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "prompt");
  EXPECT_EQ(ids.at("prompt"), j("[1,2,3]"));
}

// ---- the policy in a snapshot -----------------------------------------------------------------

class PromptPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = parse_config(std::string(kBase) + kLibrary, "t.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    auto s = build_snapshot(std::move(*cfg), "http://127.0.0.1:7777");
    ASSERT_TRUE(s.ok()) << s.error().message;
    snap_ = *s;
    for (const auto& p : snap_->policies)
      if (p->name() == "prompts") policy_ = p.get();
    ASSERT_NE(policy_, nullptr);
    ASSERT_NE(snap_->prompts, nullptr);
  }

  // Runs the policy on an OpenAI chat body for `model`; returns its verdict.
  Verdict run(RequestContext& ctx, std::string_view body,
              InboundApi api = InboundApi::openai_chat) {
    ctx.snapshot = snap_;
    ctx.api = api;
    ctx.codec = api == InboundApi::openai_chat ? &openai_chat_codec() : &anthropic_messages_codec();
    auto info = ctx.codec->parse(body, ctx.request);
    if (!info) throw std::runtime_error(info.error().message);
    ctx.model = info->model;
    ctx.route = snap_->resolve(ctx.model, nullptr, scratch_);
    if (!ctx.route) throw std::runtime_error("no route " + ctx.model);
    ctx.principal.id = "alice";
    ctx.principal.metadata = &metadata_;
    Verdict v;
    EXPECT_TRUE(policy_->on_request_now(ctx, v));
    return v;
  }

  std::shared_ptr<const Snapshot> snap_;
  Policy* policy_ = nullptr;
  Route scratch_;
  std::map<std::string, std::string> metadata_{{"team", "search"}};
};

TEST_F(PromptPolicyTest, InstalledAfterTheAuditPolicy) {
  // No auth, no quotas here: the audit policy (first), then this one.
  ASSERT_EQ(snap_->policies.size(), 2u);
  EXPECT_EQ(snap_->policies[1]->name(), "prompts");
}

TEST_F(PromptPolicyTest, DefaultContext) {
  RequestContext ctx;
  Verdict v = run(ctx, R"({"model":"chat","messages":[{"role":"user","content":"Q"}]})");
  ASSERT_TRUE(v.is_next()) << v.error().message;
  EXPECT_TRUE(ctx.request_edited);
  EXPECT_EQ(ctx.request.at("messages"), j(R"([{"role":"system",
      "content":"Answer in at most three sentences."},{"role":"user","content":"Q"}])"));
}

TEST_F(PromptPolicyTest, PickTemplateWithVariablesAndMetadata) {
  RequestContext ctx;
  Verdict v = run(ctx, R"({"model":"chat","messages":[],"torii":{"context":"formal",
      "template":"summarize","variables":{"text":"the report"}}})");
  ASSERT_TRUE(v.is_next()) << v.error().message;
  EXPECT_FALSE(ctx.request.contains("torii"));
  EXPECT_EQ(ctx.request.at("messages"), j(R"([{"role":"system","content":"Be formal."},
      {"role":"user","content":"Who are you?"},{"role":"assistant","content":"An assistant."},
      {"role":"user","content":"Summarize for the search team: the report"},
      {"role":"user","content":"Reply in French."}])"));
}

TEST_F(PromptPolicyTest, NamingTheDefaultContextIsAllowed) {
  RequestContext ctx;
  Verdict v = run(ctx, R"({"model":"chat","messages":[{"role":"user","content":"Q"}],
      "torii":{"context":"concise"}})");
  ASSERT_TRUE(v.is_next()) << v.error().message;
  EXPECT_EQ(ctx.request.at("messages").as_array().size(), 2u);
}

TEST_F(PromptPolicyTest, Refusals) {
  struct Case {
    const char* model;
    const char* torii;
    const char* code;
    const char* param;
    const char* says;
  };
  for (const Case& c : {
           Case{"chat", R"({"context":"unused"})", "prompt_not_allowed", "torii.context",
                "prompt context 'unused' is not available on route 'chat'"},
           Case{"chat", R"({"context":"ghost"})", "prompt_not_allowed", "torii.context", "'ghost'"},
           Case{"picky", R"({"template":"summarize"})", "prompt_not_allowed", "torii.template",
                "prompt template 'summarize' is not available on route 'picky'"},
           Case{"plain", R"({})", "prompt_not_allowed", "torii", "route 'plain' takes no prompt"},
           Case{"chat", R"("formal")", "invalid_torii_field", "torii", "must be an object"},
           Case{"chat", R"({"contxt":"formal"})", "invalid_torii_field", "torii.contxt", "unknown"},
           Case{"chat", R"({"context":7})", "invalid_torii_field", "torii.context", "string"},
           Case{"chat", R"({"template":""})", "invalid_torii_field", "torii.template", "string"},
           Case{"chat", R"({"variables":[1]})", "invalid_torii_field", "torii.variables", "object"},
           Case{"chat", R"({"template":"summarize"})", "prompt_variable_missing",
                "torii.variables.text", "prompt template 'summarize': {{vars.text}} has no value"},
       }) {
    RequestContext ctx;
    const std::string body = std::string(R"({"model":")") + c.model +
                             R"(","messages":[{"role":"user","content":"Q"}],"torii":)" + c.torii +
                             "}";
    Verdict v = run(ctx, body);
    ASSERT_EQ(v.kind(), Verdict::Kind::reject) << body;
    EXPECT_EQ(v.error().status, 400) << body;
    EXPECT_EQ(v.error().code, c.code) << body;
    EXPECT_EQ(v.error().param, c.param) << body;
    EXPECT_NE(v.error().message.find(c.says), std::string::npos) << v.error().message;
    EXPECT_FALSE(ctx.request_edited) << body;  // refused before any edit
  }
}

TEST_F(PromptPolicyTest, MissingConsumerValue) {
  RequestContext ctx;
  metadata_.clear();
  Verdict v = run(ctx, R"({"model":"chat","messages":[{"role":"user","content":"Q"}],
      "torii":{"template":"summarize","variables":{"text":"t"}}})");
  ASSERT_EQ(v.kind(), Verdict::Kind::reject);
  EXPECT_EQ(v.error().code, "prompt_variable_missing");
  EXPECT_EQ(v.error().param, "consumer.metadata.team");
}

TEST_F(PromptPolicyTest, RouteWithoutPromptsUntouched) {
  RequestContext ctx;
  Verdict v = run(ctx, R"({"model":"plain","messages":[{"role":"user","content":"Q"}]})");
  ASSERT_TRUE(v.is_next());
  EXPECT_FALSE(ctx.request_edited);
  // A route with prompts but nothing chosen and no default: untouched too.
  RequestContext ctx2;
  v = run(ctx2, R"({"model":"picky","messages":[{"role":"user","content":"Q"}]})");
  ASSERT_TRUE(v.is_next());
  EXPECT_FALSE(ctx2.request_edited);
  // ...and a bare `torii` there is stripped (an edit).
  RequestContext ctx3;
  v = run(ctx3, R"({"model":"picky","messages":[{"role":"user","content":"Q"}],"torii":{}})");
  ASSERT_TRUE(v.is_next());
  EXPECT_TRUE(ctx3.request_edited);
  EXPECT_FALSE(ctx3.request.contains("torii"));
  // The other members keep the client's order.
  RequestContext ctx4;
  v = run(ctx4, R"({"torii":{},"model":"picky","messages":[{"role":"user","content":"Q"}],
      "max_tokens":5,"temperature":0})");
  ASSERT_TRUE(v.is_next());
  std::vector<std::string> keys;
  for (const auto& kv : ctx4.request) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "messages", "max_tokens", "temperature"}));
}

TEST_F(PromptPolicyTest, AnthropicSystemTemplate) {
  RequestContext ctx;
  Verdict v = run(ctx, R"({"model":"chat","max_tokens":16,"system":"MINE",
      "messages":[{"role":"user","content":"Q"}],"torii":{"template":"rules"}})",
                  InboundApi::anthropic_messages);
  ASSERT_TRUE(v.is_next()) << v.error().message;
  EXPECT_EQ(ctx.request.at("system"),
            j(R"("Answer in at most three sentences.\n\nMINE\n\nHouse rules for alice.")"));
  EXPECT_EQ(ctx.request.at("messages").as_array().size(), 1u);
}

TEST_F(PromptPolicyTest, LibraryTemplateForOtherPolicies) {
  json::object vars = json::parse(R"({"text":"judge me"})").as_object();
  std::map<std::string, std::string> md{{"team", "ops"}};
  prompts::RenderInput in;
  in.variables = &vars;
  in.metadata = &md;
  auto r = prompts::render_library_template(*snap_, "summarize", in);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "Summarize for the ops team: judge me");
  auto missing = prompts::render_library_template(*snap_, "nope", in);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().status, 404);
}

TEST(PromptPolicySnapshot, NotInstalledWithoutPromptConfig) {
  auto cfg = parse_config(std::string(kBase) + "routes: [{name: r, targets: [local/m1]}]\n", "t");
  ASSERT_TRUE(cfg.ok());
  auto s = build_snapshot(std::move(*cfg), "http://127.0.0.1:7777");
  ASSERT_TRUE(s.ok());
  for (const auto& p : (*s)->policies) EXPECT_NE(p->name(), "prompts");
  EXPECT_EQ((*s)->prompts, nullptr);
}

TEST(PromptCodecs, EmptyConversationOnlyWithATemplate) {
  json::object raw;
  EXPECT_FALSE(openai_chat_codec().parse(R"({"model":"m","messages":[]})", raw).ok());
  EXPECT_TRUE(openai_chat_codec()
                  .parse(R"({"model":"m","messages":[],"torii":{"template":"t"}})", raw)
                  .ok());
  EXPECT_FALSE(anthropic_messages_codec()
                   .parse(R"({"model":"m","max_tokens":1,"messages":[]})", raw)
                   .ok());
  EXPECT_TRUE(anthropic_messages_codec()
                  .parse(R"({"model":"m","max_tokens":1,"messages":[],"torii":{"template":"t"}})",
                         raw)
                  .ok());
  EXPECT_FALSE(openai_completions_codec().parse(R"({"model":"m"})", raw).ok());
  EXPECT_TRUE(
      openai_completions_codec().parse(R"({"model":"m","torii":{"template":"t"}})", raw).ok());
  // A context alone does not make an empty conversation acceptable.
  EXPECT_FALSE(openai_chat_codec()
                   .parse(R"({"model":"m","messages":[],"torii":{"context":"c"}})", raw)
                   .ok());
}

}  // namespace
}  // namespace torii
