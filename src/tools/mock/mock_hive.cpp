// Hive's V3 image generation, as the mock plays it (synchronous; Bearer key, else 401):
//   POST /api/v3/{model path}  {"input":{"prompt","num_images"?,"image_size":{"width","height"}?,
//        "output_format"? png|jpeg,...}}
//   -> {"id","model","version","input":<as sent>,"output":[{"url"}...]}, num_images URLs.
// Errors: {"status_code","message"}.
#include <atomic>

#include <boost/json.hpp>

#include "tools/mock/mock_endpoint.h"

namespace torii {
namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "/api/v3/";

std::string quoted(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  out += '"';
  return out;
}

MockAnswer hive_error(int status, std::string_view message) {
  MockAnswer a;
  a.status = status;
  a.body = "{\"status_code\":" + std::to_string(status) + ",\"message\":" + quoted(message) + "}";
  return a;
}

std::atomic<std::int64_t> next_image{0}, next_task{0};

// A positive integer, or -1.
std::int64_t positive(const json::value* v) {
  if (!v) return -1;
  if (v->is_int64() && v->get_int64() > 0) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() > 0) return static_cast<std::int64_t>(v->get_uint64());
  return -1;
}

class HiveImages final : public MockEndpoint {
 public:
  std::string_view name() const override { return "hive-images"; }
  bool matches(std::string_view method, std::string_view path) const override {
    return method == "POST" && path.starts_with(kPrefix) && path.size() > kPrefix.size() &&
           !path.ends_with("/chat/completions");
  }
  MockAnswer error(const ApiError& e) const override {
    MockAnswer a = hive_error(e.status, e.message);
    if (!e.retry_after.empty()) a.headers.emplace_back("retry-after", e.retry_after);
    return a;
  }
  MockAnswer answer(const MockRequest& req, const MockKnobs&, MockJobs&) const override {
    std::string_view auth = req.header("authorization");
    if (!auth.starts_with("Bearer ") || auth.size() == 7)
      return hive_error(401, "missing or invalid API key (Authorization: Bearer <key>)");
    json::error_code ec;
    json::value doc = json::parse(req.body, ec);
    if (ec || !doc.is_object()) return hive_error(400, "the body must be a JSON object");
    const json::value* input = doc.get_object().if_contains("input");
    if (!input || !input->is_object()) return hive_error(400, "'input' must be an object");
    const json::object& in = input->get_object();
    const json::value* prompt = in.if_contains("prompt");
    if (!prompt || !prompt->is_string() || prompt->get_string().empty())
      return hive_error(400, "'input.prompt' is required");
    std::int64_t n = 1;
    if (const json::value* v = in.if_contains("num_images")) {
      n = positive(v);
      if (n < 1) return hive_error(400, "'input.num_images' must be a positive integer");
      if (n > 100) return hive_error(400, "mock: 'input.num_images' above 100");
    }
    if (const json::value* size = in.if_contains("image_size")) {
      if (!size->is_object() || positive(size->get_object().if_contains("width")) < 0 ||
          positive(size->get_object().if_contains("height")) < 0)
        return hive_error(400, "'input.image_size' must be {\"width\",\"height\"} in pixels");
    }
    std::string format = "png";
    if (const json::value* f = in.if_contains("output_format")) {
      if (!f->is_string() || (f->get_string() != "png" && f->get_string() != "jpeg"))
        return hive_error(400, "'input.output_format' must be png or jpeg");
      format = f->get_string();
    }
    const std::string_view model = req.path.substr(kPrefix.size());
    std::string out = "{\"id\":\"hive-task-" + std::to_string(++next_task) +
                      "\",\"model\":" + quoted(model) + ",\"version\":\"1\",\"input\":" +
                      json::serialize(*input) + ",\"output\":[";
    for (std::int64_t i = 0; i < n; ++i) {
      if (i) out += ',';
      out += "{\"url\":\"https://images.mock.invalid/hive-" + std::to_string(++next_image) + "." +
             (format == "jpeg" ? "jpg" : "png") + "\"}";
    }
    out += "]}";
    return MockAnswer::json(std::move(out));
  }
};

}  // namespace

const MockEndpoint& mock_hive_images() {
  static const HiveImages e;
  return e;
}

}  // namespace torii
