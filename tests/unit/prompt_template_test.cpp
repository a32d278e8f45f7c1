// Prompt templates (src/prompts/template.h): the parser (placeholders, load errors) and the
// renderer (every root, missing values, numbers, arrays, no recursive expansion, UTF-8).
#include "prompts/template.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace torii::prompts {
namespace {
namespace json = boost::json;

Template parsed(std::string_view text) {
  auto t = Template::parse(text);
  if (!t) throw std::runtime_error(t.error().message);
  return std::move(*t);
}

std::string parse_error(std::string_view text) {
  auto t = Template::parse(text);
  EXPECT_FALSE(t.ok()) << "parsed: " << text;
  return t ? std::string() : t.error().message;
}

json::object body(std::string_view text) { return json::parse(text).as_object(); }

TEST(PromptTemplate, ParsesLiteralsAndPlaceholders) {
  Template t = parsed("Hi {{consumer.id}}, about {{ body.topic }}: {{vars.text}} ({{model}} on "
                      "{{route}}) for {{consumer.metadata.team}}");
  ASSERT_EQ(t.placeholders().size(), 6u);
  using R = Template::Root;
  EXPECT_EQ(t.placeholders()[0].root, R::consumer_id);
  EXPECT_EQ(t.placeholders()[1].root, R::body);
  EXPECT_EQ(t.placeholders()[1].name, "body.topic");  // spaces inside the braces dropped
  EXPECT_EQ(t.placeholders()[1].path, std::vector<std::string>{"topic"});
  EXPECT_EQ(t.placeholders()[2].root, R::vars);
  EXPECT_EQ(t.placeholders()[3].root, R::model);
  EXPECT_EQ(t.placeholders()[4].root, R::route);
  EXPECT_EQ(t.placeholders()[5].root, R::consumer_metadata);
  EXPECT_EQ(t.placeholders()[5].path, std::vector<std::string>{"team"});
}

TEST(PromptTemplate, PlainTextAndLoneBraces) {
  Template t = parsed("no placeholders } { here }} either");
  EXPECT_TRUE(t.placeholders().empty());
  auto r = t.render({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "no placeholders } { here }} either");
  EXPECT_TRUE(parsed("").empty());
  EXPECT_EQ(*parsed("").render({}), "");
}

TEST(PromptTemplate, MetadataKeysKeepTheirDots) {
  Template t = parsed("{{consumer.metadata.org.unit}}");
  ASSERT_EQ(t.placeholders().size(), 1u);
  EXPECT_EQ(t.placeholders()[0].path, std::vector<std::string>{"org.unit"});
  std::map<std::string, std::string> md{{"org.unit", "R&D"}};
  RenderInput in;
  in.metadata = &md;
  EXPECT_EQ(*t.render(in), "R&D");
}

TEST(PromptTemplate, UnterminatedIsALoadError) {
  EXPECT_NE(parse_error("Summarize {{vars.text").find("unterminated placeholder '{{vars.text'"),
            std::string::npos);
  EXPECT_NE(parse_error("a {{model}} b {{").find("unterminated"), std::string::npos);
  // A long unterminated tail is quoted in part only.
  const std::string msg = parse_error("{{" + std::string(500, 'x'));
  EXPECT_LT(msg.size(), 200u);
}

TEST(PromptTemplate, UnknownRootIsALoadError) {
  const std::string msg = parse_error("Hello {{user.name}}");
  EXPECT_NE(msg.find("unknown placeholder 'user'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("body, vars, consumer, model, route"), std::string::npos) << msg;
  EXPECT_NE(parse_error("{{text}}").find("unknown placeholder 'text'"), std::string::npos);
}

TEST(PromptTemplate, MalformedPlaceholders) {
  EXPECT_NE(parse_error("{{}}").find("empty placeholder"), std::string::npos);
  EXPECT_NE(parse_error("{{   }}").find("empty placeholder"), std::string::npos);
  EXPECT_NE(parse_error("{{body}}").find("name a field"), std::string::npos);
  EXPECT_NE(parse_error("{{vars}}").find("name a field"), std::string::npos);
  EXPECT_NE(parse_error("{{vars..x}}").find("empty name between dots"), std::string::npos);
  EXPECT_NE(parse_error("{{vars.x.}}").find("empty name between dots"), std::string::npos);
  EXPECT_NE(parse_error("{{vars.my var}}").find("without spaces"), std::string::npos);
  EXPECT_NE(parse_error("{{{vars.x}}}").find("without spaces or braces"), std::string::npos);
  EXPECT_NE(parse_error("{{consumer}}").find("{{consumer.id}}"), std::string::npos);
  EXPECT_NE(parse_error("{{consumer.name}}").find("{{consumer.id}}"), std::string::npos);
  EXPECT_NE(parse_error("{{consumer.metadata}}").find("{{consumer.id}}"), std::string::npos);
  EXPECT_NE(parse_error("{{model.name}}").find("has no fields"), std::string::npos);
  EXPECT_NE(parse_error("{{route.x}}").find("has no fields"), std::string::npos);
}

TEST(PromptTemplate, RendersEveryRoot) {
  Template t = parsed("[{{body.model}}|{{vars.text}}|{{consumer.id}}|{{consumer.metadata.team}}|"
                      "{{model}}|{{route}}]");
  json::object b = body(R"({"model":"chat","torii":{"variables":{"text":"the text"}}})");
  std::map<std::string, std::string> md{{"team", "search"}};
  RenderInput in;
  in.body = &b;
  in.variables = &b.at("torii").as_object().at("variables").as_object();
  in.consumer_id = "alice";
  in.metadata = &md;
  in.model = "chat";
  in.route = "chat-route";
  auto r = t.render(in);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "[chat|the text|alice|search|chat|chat-route]");
}

TEST(PromptTemplate, NumbersAndArrayIndexes) {
  json::object b = body(R"({"max_tokens":256,"temperature":0.7,"big":18446744073709551615,
      "neg":-3,"messages":[{"role":"user","content":"first"},{"role":"user","content":"second"}],
      "grid":[[1,2],[3,4]]})");
  RenderInput in;
  in.body = &b;
  auto render = [&](std::string_view text) {
    auto r = parsed(text).render(in);
    return r ? *r : "ERROR: " + r.error().message;
  };
  EXPECT_EQ(render("{{body.max_tokens}}"), "256");
  EXPECT_EQ(render("{{body.temperature}}"), "0.7");  // shortest form, not 7E-1
  EXPECT_EQ(render("{{body.big}}"), "18446744073709551615");
  EXPECT_EQ(render("{{body.neg}}"), "-3");
  EXPECT_EQ(render("{{body.messages.0.content}} / {{body.messages.1.content}}"), "first / second");
  EXPECT_EQ(render("{{body.grid.1.0}}"), "3");
  // Out of range, not a number, an index into an object: nothing.
  for (const char* bad : {"{{body.messages.2.content}}", "{{body.messages.x.content}}",
                          "{{body.messages.-1.content}}", "{{body.max_tokens.0}}",
                          "{{body.messages.01x}}"})
    EXPECT_EQ(render(bad).rfind("ERROR", 0), 0u) << bad;
}

TEST(PromptTemplate, MissingValuesAre400sNamingThem) {
  json::object b = body(R"({"flag":true,"obj":{"a":1},"list":[1],"nothing":null,
      "torii":{"variables":{"n":null}}})");
  RenderInput in;
  in.body = &b;
  in.variables = &b.at("torii").as_object().at("variables").as_object();
  struct Case {
    const char* text;
    const char* param;
  };
  for (const Case& c : {Case{"{{vars.text}}", "torii.variables.text"},
                        Case{"{{vars.n}}", "torii.variables.n"},
                        Case{"{{vars.a.b}}", "torii.variables.a.b"},
                        Case{"{{body.flag}}", "flag"},
                        Case{"{{body.obj}}", "obj"},
                        Case{"{{body.list}}", "list"},
                        Case{"{{body.nothing}}", "nothing"},
                        Case{"{{body.obj.b}}", "obj.b"},
                        Case{"{{consumer.id}}", "consumer.id"},
                        Case{"{{consumer.metadata.team}}", "consumer.metadata.team"},
                        Case{"{{model}}", "model"},
                        Case{"{{route}}", "route"}}) {
    auto r = parsed(std::string("before ") + c.text + " after").render(in);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().status, 400) << c.text;
    EXPECT_EQ(r.error().code, "prompt_variable_missing") << c.text;
    EXPECT_EQ(r.error().param, c.param) << c.text;
    EXPECT_NE(r.error().message.find(c.text), std::string::npos) << r.error().message;
  }
  // Without any variables at all.
  RenderInput none;
  auto r = parsed("{{vars.text}}").render(none);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, "torii.variables.text");
  // Empty metadata map: the key is missing.
  std::map<std::string, std::string> md;
  none.metadata = &md;
  EXPECT_FALSE(parsed("{{consumer.metadata.team}}").render(none).ok());
  // An empty string is a value.
  json::object e = body(R"({"s":""})");
  none.body = &e;
  EXPECT_EQ(*parsed("<{{body.s}}>").render(none), "<>");
}

TEST(PromptTemplate, ValuesAreNotExpandedAgain) {
  json::object b = body(R"({"torii":{"variables":{"text":"{{consumer.id}} and {{vars.text}}"}}})");
  RenderInput in;
  in.body = &b;
  in.variables = &b.at("torii").as_object().at("variables").as_object();
  in.consumer_id = "alice";
  std::map<std::string, std::string> md{{"team", "{{model}}"}};
  in.metadata = &md;
  in.model = "m";
  auto r = parsed("{{vars.text}} / {{consumer.metadata.team}}").render(in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "{{consumer.id}} and {{vars.text}} / {{model}}");
}

TEST(PromptTemplate, Utf8AroundAndInsidePlaceholders) {
  Template t = parsed("Résumé ✓ {{vars.texte}} — {{consumer.metadata.équipe}} 日本語");
  ASSERT_EQ(t.placeholders().size(), 2u);
  EXPECT_EQ(t.placeholders()[0].path, std::vector<std::string>{"texte"});
  json::object b = body(R"({"torii":{"variables":{"texte":"naïve 🙂"}}})");
  std::map<std::string, std::string> md{{"équipe", "Zürich"}};
  RenderInput in;
  in.variables = &b.at("torii").as_object().at("variables").as_object();
  in.metadata = &md;
  auto r = t.render(in);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "Résumé ✓ naïve 🙂 — Zürich 日本語");
  // An error quoting a long placeholder cuts it before a character, never inside one: the
  // cut falls on the second byte of 'é' here.
  const std::string msg = parse_error("{{" + std::string(57, 'a') + "é" + std::string(50, 'b'));
  EXPECT_NE(msg.find(std::string(57, 'a') + "..."), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\xC3'), std::string::npos) << msg;
}

TEST(PromptLibrary, BuildsAndFinds) {
  PromptsConfig cfg;
  cfg.templates.push_back({"summarize", PromptRole::user, "Summarize: {{vars.text}}"});
  PromptContextConfig c;
  c.id = "concise";
  c.system = "Be brief, {{consumer.id}}.";
  c.post.push_back({PromptRole::user, "Reply in French."});
  cfg.contexts.push_back(c);
  auto lib = Library::build(cfg);
  ASSERT_TRUE(lib.ok()) << lib.error().message;
  ASSERT_NE((*lib)->find_template("summarize"), nullptr);
  EXPECT_EQ((*lib)->find_template("nope"), nullptr);
  const LibraryContext* ctx = (*lib)->find_context("concise");
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(ctx->post.size(), 1u);
  EXPECT_TRUE(ctx->pre.empty());
  RenderInput in;
  in.consumer_id = "bob";
  EXPECT_EQ(*ctx->system.render(in), "Be brief, bob.");

  cfg.templates.push_back({"broken", PromptRole::user, "{{nope}}"});
  auto bad = Library::build(cfg);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("prompts.templates[broken].text"), std::string::npos);
}

}  // namespace
}  // namespace torii::prompts
