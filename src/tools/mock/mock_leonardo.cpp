// Leonardo.Ai's image generations, as the mock plays them (asynchronous jobs, MockJobs):
//   POST /api/rest/v1/generations {"prompt","modelId"?,"num_images"? 1..8,"width"?,"height"?
//        (32..1536, multiples of 8)} → {"sdGenerationJob":{"generationId","apiCreditCost"}}
//   GET  /api/rest/v1/generations/{id} → {"generations_by_pk":{"id","status","prompt",
//        "modelId","imageWidth","imageHeight","generated_images":[{"id","url","nsfw"}]}}:
//        PENDING for the knob `polls` polls, then COMPLETE (FAILED with the knob blocked=1 on
//        the POST). An unknown id is a 404.
// `Authorization: Bearer <key>` is required. Errors are Hasura's {"error","path","code"}.
#include <ctime>

#include <boost/json.hpp>

#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kCreate = "/api/rest/v1/generations";
constexpr std::string_view kPoll = "/api/rest/v1/generations/";
constexpr std::string_view kDefaultModel = "b24e16ff-06e3-43eb-8d33-4416c2d75876";

std::string hasura_error(std::string_view message, std::string_view code) {
  std::string out = R"({"error":")";
  append_json_escaped(out, message);
  out += R"(","path":"$","code":")";
  append_json_escaped(out, code);
  out += "\"}";
  return out;
}

MockAnswer fail(int status, std::string_view message, std::string_view code) {
  return MockAnswer::json(hasura_error(message, code), status);
}

// A non-negative integer field in [lo, hi], the default when absent; -1 when wrong.
std::int64_t int_field(const json::object& o, std::string_view k, std::int64_t dflt,
                       std::int64_t lo, std::int64_t hi) {
  const json::value* v = o.if_contains(k);
  if (!v || v->is_null()) return dflt;
  if (!v->is_int64() || v->get_int64() < lo || v->get_int64() > hi) return -1;
  return v->get_int64();
}

class Leonardo final : public MockEndpoint {
 public:
  std::string_view name() const override { return "leonardo"; }
  bool matches(std::string_view method, std::string_view path) const override {
    if (method == "POST") return path == kCreate;
    return method == "GET" && path.size() > kPoll.size() && path.starts_with(kPoll) &&
           path.find('/', kPoll.size()) == std::string_view::npos;
  }
  MockAnswer error(const ApiError& e) const override {
    MockAnswer a = fail(e.status, e.message, e.code.empty() ? "unexpected" : e.code);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs& knobs, MockJobs& jobs) const override {
    if (!req.header("authorization").starts_with("Bearer ") ||
        req.header("authorization").size() <= 7)
      return fail(401, "Authentication hook unauthorized this request", "access-denied");
    if (req.method == "GET") return poll(req.path.substr(kPoll.size()), jobs);
    json::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object()) return fail(400, "the body must be a JSON object", "parse-failed");
    const json::object& o = doc.get_object();
    const json::value* prompt = o.if_contains("prompt");
    if (!prompt || !prompt->is_string() || prompt->get_string().empty())
      return fail(400, "expected a non-empty string for prompt", "validation-failed");
    const std::int64_t n = int_field(o, "num_images", 4, 1, 8);
    if (n < 0) return fail(400, "num_images must be 1 to 8", "validation-failed");
    std::int64_t side[2];
    const char* names[2] = {"width", "height"};
    for (int i = 0; i < 2; ++i) {
      side[i] = int_field(o, names[i], i == 0 ? 1024 : 768, 32, 1536);
      if (side[i] < 0 || side[i] % 8 != 0)
        return fail(400, std::string(names[i]) + " must be a multiple of 8 from 32 to 1536",
                    "validation-failed");
    }
    const json::value* model = o.if_contains("modelId");
    if (model && !model->is_string())
      return fail(400, "modelId must be a string", "validation-failed");
    json::object job;
    job["vendor"] = "leonardo";
    job["prompt"] = prompt->get_string();
    job["modelId"] = model ? model->get_string() : json::string(kDefaultModel);
    job["n"] = n;
    job["width"] = side[0];
    job["height"] = side[1];
    job["failed"] = knobs.blocked != 0;
    const std::string id = jobs.create(json::serialize(job), knobs.polls);
    return MockAnswer::json(R"({"sdGenerationJob":{"generationId":")" + id +
                            R"(","apiCreditCost":)" + std::to_string(8 * n) + "}}");
  }

 private:
  static MockAnswer poll(std::string_view id, MockJobs& jobs) {
    auto p = jobs.poll(id);
    json::value job;
    if (p && p->done) job = json::parse(p->payload);
    // A (done) job of another vendor is no Leonardo generation either.
    if (!p || (p->done && job.as_object().at("vendor").as_string() != "leonardo"))
      return fail(404, "generation not found", "not-found");
    json::object gen;
    gen["id"] = id;
    json::array images;
    if (!p->done) {
      gen["status"] = "PENDING";
    } else {
      json::object& j = job.as_object();
      const bool failed = j["failed"].as_bool();
      gen["status"] = failed ? "FAILED" : "COMPLETE";
      gen["prompt"] = j["prompt"];
      gen["modelId"] = j["modelId"];
      gen["imageWidth"] = j["width"];
      gen["imageHeight"] = j["height"];
      const std::int64_t n = failed ? 0 : j["n"].as_int64();
      for (std::int64_t i = 0; i < n; ++i) {
        const std::string img = std::string(id) + "-" + std::to_string(i);
        images.push_back(json::object{
            {"id", img}, {"url", "https://images.mock.invalid/leonardo/" + img + ".png"},
            {"nsfw", false}, {"likeCount", 0}});
      }
    }
    gen["generated_images"] = std::move(images);
    gen["createdAt"] = "2025-01-01T00:00:00.000Z";
    return MockAnswer::json(json::serialize(json::object{{"generations_by_pk", std::move(gen)}}));
  }
};

}  // namespace

const MockEndpoint& mock_leonardo() {
  static const Leonardo e;
  return e;
}

}  // namespace torii
