#include "providers/leonardo.h"

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

class Leonardo final : public ImageJobProvider {
 public:
  Leonardo(const ProviderConfig& c, Endpoint ep, std::chrono::milliseconds poll)
      : ImageJobProvider(c, std::move(ep), "leonardo", poll) {}

  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality != Modality::image_generation) return Provider::encode_modality(call);
    auto ask = read_image_ask(call, name_, kind_, kLeonardoMaxImages,
                              "Leonardo makes 1 to 8 images per generation");
    if (!ask) return ask.error();
    if (ask->b64)
      return no_counterpart(name_, kind_, "response_format",
                            "Leonardo answers image URLs only (use url)");
    std::string body = R"({"prompt":)";
    append_json_string(body, ask->prompt);
    body += R"(,"modelId":)";
    append_json_string(body, call.upstream_model);
    body += R"(,"num_images":)";
    append_json_int(body, ask->n);
    if (ask->size) {
      body += R"(,"width":)";
      append_json_int(body, ask->size->width);
      body += R"(,"height":)";
      append_json_int(body, ask->size->height);
    }
    body += '}';
    return post(endpoint_.base_path + "/generations", std::move(body));
  }

  // Step 0: the job's id; later steps: the generation, PENDING until COMPLETE or FAILED.
  Result<ModalityReply> decode_modality(const ModalityCall& call, int step, std::string_view,
                                        std::string&& body) const override {
    if (call.modality != Modality::image_generation)
      return Provider::decode_modality(call, step, {}, std::move(body));
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return bad_answer("a body that is not a JSON object");
    const json::object& root = v.get_object();
    if (std::string_view err = str_at(root, "error"); !err.empty())
      return ApiError::bad_gateway("provider '" + name_ + "' (leonardo) failed: " +
                                   upstream_excerpt(err, 300));
    if (step == 0) {
      const json::object* job = obj_at(root, "sdGenerationJob");
      std::string_view id = job ? str_at(*job, "generationId") : std::string_view{};
      if (id.empty()) return bad_answer("no sdGenerationJob.generationId");
      return poll(generation_path(id), step);
    }
    const json::object* gen = obj_at(root, "generations_by_pk");
    if (!gen) return bad_answer("no generation (generations_by_pk is null)");
    const std::string_view status = str_at(*gen, "status");
    if (status == "FAILED")
      return ApiError::bad_gateway("provider '" + name_ + "' (leonardo): the generation failed");
    if (status != "COMPLETE") {
      std::string_view id = str_at(*gen, "id");
      if (id.empty()) return bad_answer("a pending generation with no id");
      return poll(generation_path(id), step);
    }
    std::vector<GeneratedImage> images;
    if (const json::array* list = arr_at(*gen, "generated_images"))
      for (const json::value& x : *list) {
        const json::object* o = x.if_object();
        std::string_view url = o ? str_at(*o, "url") : std::string_view{};
        if (url.empty()) return bad_answer("a generated image with no url");
        images.emplace_back().url = url;
      }
    if (images.empty()) return bad_answer("a COMPLETE generation with no images");
    ModalityReply reply;
    reply.body = openai_images_json(images, static_cast<int64_t>(std::time(nullptr)));
    reply.usage.images = static_cast<int64_t>(images.size());
    return reply;
  }

  ApiError map_error(int status, std::string_view body,
                     std::string_view retry_after) const override {
    return map_leonardo_error(name_, status, body, retry_after);
  }

 private:
  std::string generation_path(std::string_view id) const {
    return endpoint_.base_path + "/generations/" + path_segment(id);
  }
};

}  // namespace

ApiError map_leonardo_error(std::string_view provider, int status, std::string_view body,
                            std::string_view retry_after) {
  std::string msg;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) msg = str_at(v.get_object(), "error");
  msg = msg.empty() ? upstream_excerpt(body, 200) : upstream_excerpt(msg);
  // A model it does not know is a 4xx validation error here; a 404 is a job that vanished (or
  // a wrong base_url): the gateway's problem, not the client's model.
  if (status == 404)
    return ApiError::bad_gateway("provider '" + std::string(provider) +
                                 "' (leonardo) answered 404: " + msg);
  return map_upstream_status(provider, status, msg, retry_after);
}

Result<std::unique_ptr<Provider>> make_leonardo(const ProviderConfig& config, Endpoint endpoint) {
  if (config.api_key.empty())
    return ApiError::invalid_request("provider '" + config.name +
                                         "' (leonardo): api_key is required", "api_key");
  auto poll = image_job_poll_interval(config, "leonardo");
  if (!poll) return poll.error();
  return std::unique_ptr<Provider>(
      std::make_unique<Leonardo>(config, std::move(endpoint), *poll));
}

}  // namespace torii
