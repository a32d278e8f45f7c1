#include "providers/luma.h"

#include <ctime>

#include <boost/json.hpp>

#include "core/json_access.h"
#include "core/json_text.h"
#include "core/path_segment.h"
#include "providers/image_jobs.h"
#include "providers/image_request.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::arr_at;
using jsonx::obj_at;
using jsonx::str_at;

class Luma final : public ImageJobProvider {
 public:
  Luma(const ProviderConfig& c, Endpoint ep, std::chrono::milliseconds poll)
      : ImageJobProvider(c, std::move(ep), "luma", poll) {}

  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality != Modality::image_generation) return Provider::encode_modality(call);
    auto ask = read_image_ask(call, name_, kind_, 1, "Luma makes one image per generation");
    if (!ask) return ask.error();
    if (ask->b64)
      return no_counterpart(name_, kind_, "response_format",
                            "Luma answers image URLs only (use url)");
    std::string body = R"({"prompt":)";
    append_json_string(body, ask->prompt);
    body += R"(,"model":)";
    append_json_string(body, call.upstream_model);
    if (ask->size) {
      body += R"(,"aspect_ratio":)";
      append_json_string(body, nearest_aspect_ratio(*ask->size, kLumaAspectRatios));
    }
    body += '}';
    return post(endpoint_.base_path + "/generations/image", std::move(body));
  }

  // Every answer (the create's and each poll's) is a Generation: done, failed, or still queued
  // or dreaming (then polled again).
  Result<ModalityReply> decode_modality(const ModalityCall& call, int step, std::string_view,
                                        std::string&& body) const override {
    if (call.modality != Modality::image_generation)
      return Provider::decode_modality(call, step, {}, std::move(body));
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return bad_answer("a body that is not a JSON object");
    const json::object& gen = v.get_object();
    const std::string_view state = str_at(gen, "state");
    if (state == "failed") {
      std::string_view why = str_at(gen, "failure_reason");
      return ApiError::bad_gateway("provider '" + name_ + "' (luma): the generation failed" +
                                   (why.empty() ? std::string()
                                                : ": " + upstream_excerpt(why, 300)));
    }
    if (state == "completed") {
      const json::object* assets = obj_at(gen, "assets");
      std::string_view url = assets ? str_at(*assets, "image") : std::string_view{};
      if (url.empty()) return bad_answer("a completed generation with no assets.image");
      GeneratedImage image;
      image.url = url;
      ModalityReply reply;
      reply.body = openai_images_json({&image, 1}, static_cast<int64_t>(std::time(nullptr)));
      reply.usage.images = 1;
      return reply;
    }
    if (state.empty()) return bad_answer("a generation with no state");
    std::string_view id = str_at(gen, "id");
    if (id.empty()) return bad_answer("a pending generation with no id");
    return poll(endpoint_.base_path + "/generations/" + path_segment(id), step);
  }

  ApiError map_error(int status, std::string_view body,
                     std::string_view retry_after) const override {
    return map_luma_error(name_, status, body, retry_after);
  }
};

}  // namespace

ApiError map_luma_error(std::string_view provider, int status, std::string_view body,
                        std::string_view retry_after) {
  std::string msg;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    if (const json::value* d = o.if_contains("detail")) {
      if (d->is_string()) {
        msg = d->get_string();
      } else if (d->is_array()) {
        // Validation errors: [{"loc":["body","aspect_ratio"],"msg":"..."}...]
        for (const json::value& e : d->get_array()) {
          const json::object* eo = e.if_object();
          if (!eo) continue;
          if (!msg.empty()) msg += "; ";
          std::string where;
          if (const json::array* loc = arr_at(*eo, "loc"))
            for (const json::value& part : *loc) {
              if (!part.is_string()) continue;
              if (!where.empty()) where += '.';
              where += part.get_string();
            }
          if (!where.empty()) msg += where + ": ";
          msg += str_at(*eo, "msg");
        }
      }
    } else if (const json::object* err = obj_at(o, "error")) {
      msg = str_at(*err, "message");
    }
  }
  msg = msg.empty() ? upstream_excerpt(body, 200) : upstream_excerpt(msg);
  // A model it does not know is a 4xx validation error here; a 404 is a job that vanished (or
  // a wrong base_url): the gateway's problem, not the client's model.
  if (status == 404)
    return ApiError::bad_gateway("provider '" + std::string(provider) + "' (luma) answered 404: " +
                                 msg);
  return map_upstream_status(provider, status, msg, retry_after);
}

Result<std::unique_ptr<Provider>> make_luma(const ProviderConfig& config, Endpoint endpoint) {
  if (config.api_key.empty())
    return ApiError::invalid_request("provider '" + config.name + "' (luma): api_key is required",
                                     "api_key");
  auto poll = image_job_poll_interval(config, "luma");
  if (!poll) return poll.error();
  return std::unique_ptr<Provider>(std::make_unique<Luma>(config, std::move(endpoint), *poll));
}

}  // namespace torii
