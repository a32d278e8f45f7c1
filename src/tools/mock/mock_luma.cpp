// Luma's Dream Machine image generations, as the mock plays them (asynchronous jobs, MockJobs):
//   POST /dream-machine/v1/generations/image {"prompt","model"?,"aspect_ratio"?} → a
//        Generation {"id","generation_type":"image","state":"queued","failure_reason":null,
//        "created_at","assets":null,"model","request":{...}}
//   GET  /dream-machine/v1/generations/{id} → the Generation: "dreaming" for the knob `polls`
//        polls, then "completed" with assets.image (or "failed" with failure_reason, with the
//        knob blocked=1 on the POST). An unknown id is a 404.
// `Authorization: Bearer <key>` is required. Errors are FastAPI's {"detail": "..."}, and
// validation errors {"detail":[{"type","loc","msg","input"}]} with status 422.
#include <span>

#include <boost/json.hpp>

#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kCreate = "/dream-machine/v1/generations/image";
constexpr std::string_view kPoll = "/dream-machine/v1/generations/";
constexpr std::string_view kRatios[] = {"1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"};
constexpr std::string_view kModels[] = {"photon-1", "photon-flash-1"};

MockAnswer detail(int status, std::string_view message) {
  return MockAnswer::json(json::serialize(json::object{{"detail", message}}), status);
}

// A 422 as FastAPI writes it for one field of the body.
MockAnswer invalid(std::string_view field, std::string_view msg, const json::value& input) {
  json::object e{{"type", "value_error"},
                 {"loc", json::array{"body", field}},
                 {"msg", msg},
                 {"input", input}};
  return MockAnswer::json(json::serialize(json::object{{"detail", json::array{std::move(e)}}}),
                          422);
}

bool one_of(const json::value* v, std::span<const std::string_view> allowed) {
  if (!v || !v->is_string()) return false;
  for (std::string_view a : allowed)
    if (v->get_string() == a) return true;
  return false;
}

class Luma final : public MockEndpoint {
 public:
  std::string_view name() const override { return "luma"; }
  bool matches(std::string_view method, std::string_view path) const override {
    if (method == "POST") return path == kCreate;
    return method == "GET" && path.size() > kPoll.size() && path.starts_with(kPoll) &&
           path.find('/', kPoll.size()) == std::string_view::npos;
  }
  MockAnswer error(const ApiError& e) const override {
    MockAnswer a = detail(e.status, e.message);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs& knobs, MockJobs& jobs) const override {
    if (!req.header("authorization").starts_with("Bearer ") ||
        req.header("authorization").size() <= 7)
      return detail(401, "Invalid API key");
    if (req.method == "GET") return poll(req.path.substr(kPoll.size()), jobs);
    json::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object()) return detail(400, "JSON decode error");
    const json::object& o = doc.get_object();
    const json::value* prompt = o.if_contains("prompt");
    if (!prompt || !prompt->is_string() || prompt->get_string().empty())
      return invalid("prompt", "Field required", prompt ? *prompt : json::value());
    const json::value* model = o.if_contains("model");
    if (model && !one_of(model, kModels))
      return invalid("model", "Input should be 'photon-1' or 'photon-flash-1'", *model);
    const json::value* ratio = o.if_contains("aspect_ratio");
    if (ratio && !one_of(ratio, kRatios))
      return invalid("aspect_ratio",
                     "Input should be '1:1', '3:4', '4:3', '9:16', '16:9', '9:21' or '21:9'",
                     *ratio);
    json::object request{{"generation_type", "image"},
                         {"prompt", *prompt},
                         {"model", model ? *model : json::value("photon-1")},
                         {"aspect_ratio", ratio ? *ratio : json::value("16:9")}};
    json::object job{{"vendor", "luma"}, {"request", request}, {"failed", knobs.blocked != 0}};
    const std::string id = jobs.create(json::serialize(job), knobs.polls);
    return MockAnswer::json(json::serialize(generation(id, "queued", request)), 201);
  }

 private:
  static json::object generation(std::string_view id, std::string_view state,
                                 const json::object& request) {
    return json::object{{"id", id},
                        {"generation_type", "image"},
                        {"state", state},
                        {"failure_reason", nullptr},
                        {"created_at", "2025-01-01T00:00:00.000000Z"},
                        {"assets", nullptr},
                        {"model", request.at("model")},
                        {"request", request}};
  }

  static MockAnswer poll(std::string_view id, MockJobs& jobs) {
    auto p = jobs.poll(id);
    json::value job;
    if (p && p->done) job = json::parse(p->payload);
    if (!p || (p->done && job.as_object().at("vendor").as_string() != "luma"))
      return detail(404, "Generation not found");
    if (!p->done) {
      // A pending poll knows no request: the fields it would echo are left out.
      return MockAnswer::json(json::serialize(json::object{{"id", id},
                                                           {"generation_type", "image"},
                                                           {"state", "dreaming"},
                                                           {"failure_reason", nullptr},
                                                           {"assets", nullptr}}));
    }
    const json::object& j = job.as_object();
    const bool failed = j.at("failed").as_bool();
    json::object gen = generation(id, failed ? "failed" : "completed", j.at("request").as_object());
    if (failed)
      gen["failure_reason"] = "mock: the prompt was moderated (knob blocked)";
    else
      gen["assets"] = json::object{
          {"image", "https://images.mock.invalid/luma/" + std::string(id) + ".jpg"}};
    return MockAnswer::json(json::serialize(gen));
  }
};

}  // namespace

const MockEndpoint& mock_luma() {
  static const Luma e;
  return e;
}

}  // namespace torii
