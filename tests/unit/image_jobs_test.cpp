// The asynchronous image providers (Leonardo, Luma) and the image request helpers: the create
// request, each polling step, done and failed jobs, refused and ignored fields, errors in each
// vendor's shape, the poll interval option; then the whole job run against the mock.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "providers/image_jobs.h"
#include "providers/image_request.h"
#include "providers/leonardo.h"
#include "providers/luma.h"
#include "providers/registry.h"
#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace {
namespace json = boost::json;

constexpr std::string_view kKey = "sk-image-secret";

ProviderConfig config(std::string kind, std::map<std::string, std::string> options = {}) {
  ProviderConfig c;
  c.name = kind == "leonardo" ? "leo" : "lu";
  c.kind = std::move(kind);
  c.api_key.value = std::string(kKey);
  c.options = std::move(options);
  return c;
}

Endpoint endpoint(std::string base_path) {
  Endpoint e;
  e.tls = true;
  e.host = "api.example.test";
  e.port = 443;
  e.base_path = std::move(base_path);
  return e;
}

std::unique_ptr<Provider> leonardo(std::map<std::string, std::string> options = {}) {
  auto p = make_leonardo(config("leonardo", std::move(options)), endpoint("/api/rest/v1"));
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

std::unique_ptr<Provider> luma(std::map<std::string, std::string> options = {}) {
  auto p = make_luma(config("luma", std::move(options)), endpoint("/dream-machine/v1"));
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

struct Call {
  json::object body;
  std::vector<std::string> ignored;
  ModalityCall call;
  Call(std::string_view body_json, std::string_view model)
      : body(json::parse(body_json).as_object()) {
    call.modality = Modality::image_generation;
    call.body = &body;
    call.upstream_model = model;
    call.ignored = &ignored;
  }
  Call(const Call&) = delete;
};

Headers header_lines(std::string_view block) {
  Headers out;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return out;
}

MockAnswer to_mock(const UpstreamRequest& r, MockJobs& jobs, const MockKnobs& knobs = {},
                   std::optional<Headers> headers = std::nullopt) {
  const Headers h = headers ? *headers : header_lines(r.header_block);
  for (const MockEndpoint* ep : mock_endpoints()) {
    if (!ep->matches(r.method, r.path)) continue;
    const MockRequest req{r.method, r.path, r.path, h, r.body};
    return ep->answer(req, knobs, jobs);
  }
  throw std::runtime_error("no mock endpoint for " + r.method + " " + r.path);
}

// Runs a whole job against the mock: the create, then each poll the replies ask for.
struct JobRun {
  Result<ModalityReply> reply = ApiError::internal("not run");
  int requests = 0;
  std::vector<std::string> methods;
};
JobRun run_job(const Provider& p, const ModalityCall& call, MockKnobs knobs = {}) {
  JobRun out;
  MockJobs jobs;
  auto rq = p.encode_modality(call);
  if (!rq) {
    out.reply = rq.error();
    return out;
  }
  UpstreamRequest next = std::move(*rq);
  for (int step = 0; step < 50; ++step) {
    ++out.requests;
    out.methods.push_back(next.method);
    MockAnswer a = to_mock(next, jobs, knobs);
    if (a.status < 200 || a.status >= 300) {
      out.reply = p.map_error(a.status, a.body, "");
      return out;
    }
    out.reply = p.decode_modality(call, step, a.content_type, std::move(a.body));
    if (!out.reply || !out.reply->next) return out;
    next = std::move(*out.reply->next);
  }
  out.reply = ApiError::internal("too many steps");
  return out;
}

// --- the request helpers ---------------------------------------------------------------------

TEST(ImageRequest, ParsesSizes) {
  auto s = parse_image_size("1024x1792");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->width, 1024);
  EXPECT_EQ((*s)->height, 1792);
  EXPECT_FALSE(parse_image_size("auto")->has_value());
  EXPECT_FALSE(parse_image_size("")->has_value());
  for (const char* bad :
       {"1024", "x1024", "1024x", "-1x5", "10x0", "1e3x5", "99999x10", "1024X1024"}) {
    auto r = parse_image_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().param, "size");
  }
}

TEST(ImageRequest, NearestAspectRatioIsSymmetric) {
  EXPECT_EQ(nearest_aspect_ratio({1000, 1000}, kLumaAspectRatios), "1:1");
  EXPECT_EQ(nearest_aspect_ratio({2100, 900}, kLumaAspectRatios), "21:9");
  EXPECT_EQ(nearest_aspect_ratio({900, 2100}, kLumaAspectRatios), "9:21");
  EXPECT_EQ(nearest_aspect_ratio({1792, 1024}, kLumaAspectRatios), "16:9");
  EXPECT_EQ(nearest_aspect_ratio({1024, 1536}, kLumaAspectRatios), "3:4");
  const std::string_view none[] = {"bad", "1:0"};
  EXPECT_EQ(nearest_aspect_ratio({1, 1}, none), "");
}

// --- Leonardo --------------------------------------------------------------------------------

TEST(Leonardo, RegistryRowAndCapabilities) {
  const ProviderKind* k = find_provider_kind("leonardo");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->default_base_url, "https://cloud.leonardo.ai/api/rest/v1");
  EXPECT_TRUE(k->key_required);
  EXPECT_TRUE(k->reads("options"));
  EXPECT_FALSE(k->reads("api_version"));
  auto p = leonardo();
  EXPECT_EQ(p->kind(), "leonardo");
  EXPECT_TRUE(p->capabilities().supports(Modality::image_generation));
  EXPECT_FALSE(p->capabilities().chat);
  EXPECT_FALSE(p->capabilities().embeddings);
  EXPECT_FALSE(p->capabilities().image_edit);
}

TEST(Leonardo, EncodesTheCreateRequest) {
  auto p = leonardo();
  Call c(R"({"prompt":"a castle","n":3,"size":"1024x768","quality":"hd","user":"u"})",
         "b24e16ff-06e3-43eb-8d33-4416c2d75876");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/api/rest/v1/generations");
  EXPECT_EQ(r->body, R"({"prompt":"a castle","modelId":"b24e16ff-06e3-43eb-8d33-4416c2d75876",)"
                     R"("num_images":3,"width":1024,"height":768})");
  const Headers h = header_lines(r->header_block);
  EXPECT_EQ(find_header(h, "authorization"), "Bearer " + std::string(kKey));
  EXPECT_EQ(find_header(h, "content-type"), "application/json");
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"quality", "user"}));

  Call bare(R"({"prompt":"a castle"})", "m");
  r = p->encode_modality(bare.call);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, R"({"prompt":"a castle","modelId":"m","num_images":1})");
}

TEST(Leonardo, RefusesWhatItCannotDo) {
  auto p = leonardo();
  struct Case {
    const char* body;
    const char* param;
    bool no_counterpart;  // Leonardo's limit (the message names the provider), not a bad shape
  } cases[] = {
      {R"({"prompt":"x","n":9})", "n", true},
      {R"({"prompt":"x","response_format":"b64_json"})", "response_format", true},
      {R"({"prompt":"x","stream":true})", "stream", true},
      {R"({"prompt":"x","size":"big"})", "size", false},
  };
  for (const Case& k : cases) {
    Call c(k.body, "m");
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r) << k.body;
    EXPECT_EQ(r.error().status, 400) << k.body;
    EXPECT_EQ(r.error().param, k.param) << k.body;
    if (k.no_counterpart) {
      EXPECT_NE(r.error().message.find("'leo'"), std::string::npos) << r.error().message;
    }
  }
  ModalityCall other;
  other.modality = Modality::embeddings;
  EXPECT_FALSE(p->encode_modality(other));
}

TEST(Leonardo, PollsUntilComplete) {
  auto p = leonardo({{"poll_ms", "40"}});
  Call c(R"({"prompt":"x","n":2})", "m");
  auto r = p->decode_modality(
      c.call, 0, "application/json",
      R"({"sdGenerationJob":{"generationId":"gen 1/a","apiCreditCost":16}})");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->next);
  EXPECT_EQ(r->next->method, "GET");
  EXPECT_EQ(r->next->path, "/api/rest/v1/generations/gen%201%2Fa");
  EXPECT_TRUE(r->next->body.empty());
  EXPECT_EQ(find_header(header_lines(r->next->header_block), "authorization"),
            "Bearer " + std::string(kKey));
  EXPECT_EQ(r->poll_after, std::chrono::milliseconds(40));

  r = p->decode_modality(c.call, 1, "application/json",
                         R"({"generations_by_pk":{"id":"g1","status":"PENDING",
                             "generated_images":[]}})");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->next);
  EXPECT_EQ(r->next->path, "/api/rest/v1/generations/g1");

  r = p->decode_modality(c.call, 2, "application/json",
                         R"({"generations_by_pk":{"id":"g1","status":"COMPLETE",
                             "generated_images":[{"url":"https://cdn.example/1.jpg","nsfw":false},
                                                 {"url":"https://cdn.example/2.jpg"}]}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->next);
  EXPECT_EQ(r->usage.images, 2);
  json::value v = json::parse(r->body);
  ASSERT_EQ(v.at("data").as_array().size(), 2u);
  EXPECT_EQ(v.at("data").at(0).at("url"), "https://cdn.example/1.jpg");
  EXPECT_EQ(v.at("data").at(1).at("url"), "https://cdn.example/2.jpg");
}

TEST(Leonardo, FailedAndUndecodableAnswersAre502s) {
  auto p = leonardo();
  Call c(R"({"prompt":"x"})", "m");
  struct Case {
    int step;
    const char* body;
  } cases[] = {
      {0, "nope"},
      {0, R"({"sdGenerationJob":{}})"},
      {0, R"({"error":"quota exhausted","path":"$","code":"unexpected"})"},
      {1, R"({"generations_by_pk":null})"},
      {1, R"({"generations_by_pk":{"id":"g","status":"FAILED","generated_images":[]}})"},
      {1, R"({"generations_by_pk":{"id":"g","status":"COMPLETE","generated_images":[]}})"},
      {1, R"({"generations_by_pk":{"id":"g","status":"COMPLETE","generated_images":[{}]}})"},
      {1, R"({"generations_by_pk":{"status":"PENDING"}})"},
  };
  for (const Case& k : cases) {
    auto r = p->decode_modality(c.call, k.step, "application/json", k.body);
    ASSERT_FALSE(r) << k.body;
    EXPECT_EQ(r.error().status, 502) << k.body;
    EXPECT_NE(r.error().message.find("'leo'"), std::string::npos) << r.error().message;
  }
}

TEST(Leonardo, GivesUpAfterTenMinutesOfPolls) {
  auto p = leonardo({{"poll_ms", "60000"}});
  Call c(R"({"prompt":"x"})", "m");
  const char* pending = R"({"generations_by_pk":{"id":"g","status":"PENDING"}})";
  auto r = p->decode_modality(c.call, 9, "application/json", pending);
  ASSERT_TRUE(r) << r.error().message;
  r = p->decode_modality(c.call, 10, "application/json", pending);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 504);
}

TEST(Leonardo, MapsHasuraErrors) {
  auto p = leonardo();
  ApiError e = p->map_error(400, R"({"error":"width must be a multiple of 8","path":"$",)"
                                 R"("code":"validation-failed"})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("width must be a multiple of 8"), std::string::npos);
  e = p->map_error(429, R"({"error":"rate limited","path":"$","code":"unexpected"})", "3");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after, "3");
  e = p->map_error(401, R"({"error":"Authentication hook unauthorized this request"})", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.message.find(kKey), std::string::npos);
}

TEST(Leonardo, OptionsAreCheckedAndChatIsRefused) {
  EXPECT_EQ(image_job_poll_interval(config("leonardo"), "leonardo").value(),
            kDefaultPollInterval);
  for (const char* bad : {"0", "60001", "fast", "", "10ms"}) {
    auto p = make_leonardo(config("leonardo", {{"poll_ms", bad}}), endpoint(""));
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().param, "options.poll_ms");
  }
  auto p = make_leonardo(config("leonardo", {{"alchemy", "true"}}), endpoint(""));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().param, "options.alchemy");
  ProviderConfig keyless = config("leonardo");
  keyless.api_key.value.clear();
  EXPECT_FALSE(make_leonardo(keyless, endpoint("")));

  auto l = leonardo();
  ChatRequest rq;
  std::vector<std::string> ignored;
  ChatCall call;
  call.request = &rq;
  call.ignored = &ignored;
  auto chat = l->encode_chat(call);
  ASSERT_FALSE(chat);
  EXPECT_EQ(chat.error().status, 400);
  EXPECT_NE(chat.error().message.find("no chat"), std::string::npos);
  EXPECT_FALSE(l->decode_chat("{}", false));
  struct NullSink final : StreamSink {
    void event(const StreamEvent&) override {}
    void raw(std::string_view, std::string_view, bool) override {}
  } sink;
  Usage usage;
  bool done = false;
  EXPECT_FALSE(l->stream_decoder(false)->feed("data: {}\n\n", sink, usage, done));
}

TEST(Leonardo, RunsAJobAgainstTheMock) {
  auto p = leonardo({{"poll_ms", "1"}});
  Call c(R"({"prompt":"a castle","n":2,"size":"512x512"})", "m");
  MockKnobs knobs;
  knobs.polls = 3;
  JobRun run = run_job(*p, c.call, knobs);
  ASSERT_TRUE(run.reply) << run.reply.error().message;
  EXPECT_EQ(run.requests, 5);  // the create, 3 pending polls, the complete one
  EXPECT_EQ(run.methods, (std::vector<std::string>{"POST", "GET", "GET", "GET", "GET"}));
  json::value v = json::parse(run.reply->body);
  ASSERT_EQ(v.at("data").as_array().size(), 2u);
  EXPECT_TRUE(v.at("data").at(0).at("url").as_string().starts_with(
      "https://images.mock.invalid/leonardo/"));
  EXPECT_EQ(run.reply->usage.images, 2);

  knobs.blocked = 1;  // the mock fails the job
  run = run_job(*p, c.call, knobs);
  ASSERT_FALSE(run.reply);
  EXPECT_EQ(run.reply.error().status, 502);

  MockJobs jobs;
  Call bad(R"({"prompt":"x","size":"1000x500"})", "m");  // not multiples of 8
  auto rq = p->encode_modality(bad.call);
  ASSERT_TRUE(rq);
  MockAnswer a = to_mock(*rq, jobs);
  EXPECT_EQ(a.status, 400);
  ApiError e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 400);
  a = to_mock(*rq, jobs, {}, Headers{{"content-type", "application/json"}});
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(json::parse(a.body).at("code"), "access-denied");
  UpstreamRequest unknown;
  unknown.method = "GET";
  unknown.path = "/api/rest/v1/generations/job-999";
  unknown.header_block = rq->header_block;
  a = to_mock(unknown, jobs);
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(json::parse(a.body).at("path"), "$");
  e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 502);  // the job vanished: not the client's model
  EXPECT_NE(e.message.find("generation not found"), std::string::npos);
}

// --- Luma ------------------------------------------------------------------------------------

TEST(Luma, RegistryRowAndCapabilities) {
  const ProviderKind* k = find_provider_kind("luma");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->default_base_url, "https://api.lumalabs.ai/dream-machine/v1");
  EXPECT_TRUE(k->key_required);
  EXPECT_TRUE(k->reads("options"));
  auto p = luma();
  EXPECT_EQ(p->kind(), "luma");
  EXPECT_TRUE(p->capabilities().image_generation);
  EXPECT_FALSE(p->capabilities().chat);
}

TEST(Luma, EncodesTheCreateRequest) {
  auto p = luma();
  Call c(R"({"prompt":"a dune at dawn","size":"1792x1024","style":"natural","n":1})",
         "photon-1");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/dream-machine/v1/generations/image");
  EXPECT_EQ(r->body, R"({"prompt":"a dune at dawn","model":"photon-1","aspect_ratio":"16:9"})");
  EXPECT_EQ(find_header(header_lines(r->header_block), "authorization"),
            "Bearer " + std::string(kKey));
  EXPECT_EQ(c.ignored, std::vector<std::string>{"style"});
}

TEST(Luma, RefusesMoreThanOneImageAndBase64) {
  auto p = luma();
  for (const auto& [body, param] : {std::pair{R"({"prompt":"x","n":2})", "n"},
                                    std::pair{R"({"prompt":"x","response_format":"b64_json"})",
                                              "response_format"}}) {
    Call c(body, "photon-1");
    auto r = p->encode_modality(c.call);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, param);
    EXPECT_NE(r.error().message.find("'lu'"), std::string::npos);
  }
}

TEST(Luma, EveryAnswerIsAGeneration) {
  auto p = luma({{"poll_ms", "25"}});
  Call c(R"({"prompt":"x"})", "photon-1");
  auto r = p->decode_modality(c.call, 0, "application/json",
                              R"({"id":"abc-1","generation_type":"image","state":"queued",
                                  "failure_reason":null,"assets":null})");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->next);
  EXPECT_EQ(r->next->method, "GET");
  EXPECT_EQ(r->next->path, "/dream-machine/v1/generations/abc-1");
  EXPECT_EQ(r->poll_after, std::chrono::milliseconds(25));
  r = p->decode_modality(c.call, 1, "application/json", R"({"id":"abc-1","state":"dreaming"})");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->next);
  r = p->decode_modality(c.call, 2, "application/json",
                         R"({"id":"abc-1","state":"completed",
                             "assets":{"image":"https://storage.example/abc-1.jpg"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->next);
  EXPECT_EQ(r->usage.images, 1);
  json::value v = json::parse(r->body);
  ASSERT_EQ(v.at("data").as_array().size(), 1u);
  EXPECT_EQ(v.at("data").at(0).at("url"), "https://storage.example/abc-1.jpg");

  // A create answered already completed needs no poll.
  r = p->decode_modality(c.call, 0, "application/json",
                         R"({"id":"z","state":"completed","assets":{"image":"https://s/z.jpg"}})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->next);
}

TEST(Luma, FailedAndUndecodableAnswersAre502s) {
  auto p = luma();
  Call c(R"({"prompt":"x"})", "photon-1");
  auto r = p->decode_modality(c.call, 1, "application/json",
                              R"({"id":"a","state":"failed","failure_reason":"prompt moderated"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 502);
  EXPECT_NE(r.error().message.find("prompt moderated"), std::string::npos);
  EXPECT_NE(r.error().message.find("'lu'"), std::string::npos);
  for (const char* body : {"<html>", R"({"id":"a"})", R"({"state":"queued"})",
                           R"({"id":"a","state":"completed","assets":{}})",
                           R"({"id":"a","state":"completed"})"}) {
    r = p->decode_modality(c.call, 1, "application/json", body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().status, 502) << body;
  }
}

TEST(Luma, MapsFastApiErrors) {
  auto p = luma();
  ApiError e = p->map_error(
      422, R"({"detail":[{"type":"literal_error","loc":["body","aspect_ratio"],
               "msg":"Input should be '1:1'","input":"2:1"}]})", "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("body.aspect_ratio: Input should be '1:1'"), std::string::npos)
      << e.message;
  e = p->map_error(400, R"({"detail":"Insufficient credits"})", "");
  EXPECT_NE(e.message.find("Insufficient credits"), std::string::npos);
  e = p->map_error(503, "<html>busy</html>", "");
  EXPECT_EQ(e.status, 502);
  EXPECT_TRUE(e.retryable);
}

TEST(Luma, RunsAJobAgainstTheMock) {
  auto p = luma({{"poll_ms", "1"}});
  Call c(R"({"prompt":"a dune","size":"1024x1024"})", "photon-flash-1");
  MockKnobs knobs;
  knobs.polls = 2;
  JobRun run = run_job(*p, c.call, knobs);
  ASSERT_TRUE(run.reply) << run.reply.error().message;
  EXPECT_EQ(run.requests, 4);  // the create, 2 pending polls, the completed one
  json::value v = json::parse(run.reply->body);
  ASSERT_EQ(v.at("data").as_array().size(), 1u);
  EXPECT_TRUE(v.at("data").at(0).at("url").as_string().starts_with(
      "https://images.mock.invalid/luma/"));

  knobs.polls = 0;
  knobs.blocked = 1;
  run = run_job(*p, c.call, knobs);
  ASSERT_FALSE(run.reply);
  EXPECT_EQ(run.reply.error().status, 502);
  EXPECT_NE(run.reply.error().message.find("moderated"), std::string::npos);

  MockJobs jobs;
  auto rq = p->encode_modality(c.call);
  ASSERT_TRUE(rq);
  UpstreamRequest bad = *rq;
  bad.body = R"({"prompt":"x","model":"photon-1","aspect_ratio":"2:1"})";
  MockAnswer a = to_mock(bad, jobs);
  EXPECT_EQ(a.status, 422);
  ApiError e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("aspect_ratio"), std::string::npos);
  a = to_mock(*rq, jobs, {}, Headers{});
  EXPECT_EQ(a.status, 401);
  UpstreamRequest unknown;
  unknown.method = "GET";
  unknown.path = "/dream-machine/v1/generations/job-404";
  unknown.header_block = rq->header_block;
  a = to_mock(unknown, jobs);
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(json::parse(a.body).at("detail"), "Generation not found");
  e = p->map_error(a.status, a.body, "");
  EXPECT_EQ(e.status, 502);
  EXPECT_FALSE(e.retryable);
}

}  // namespace
}  // namespace torii
