#include "providers/hive.h"

#include <charconv>
#include <ctime>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/json_access.h"
#include "core/path_segment.h"
#include "providers/no_chat.h"

namespace torii {
namespace json = boost::json;

namespace {

using jsonx::arr_at;
using jsonx::obj_at;
using jsonx::str_at;

constexpr std::string_view kKind = "hive";

// Appends model path `model` ("black-forest-labs/flux-schnell"): each segment percent-encoded
// but for RFC 3986's unreserved characters. False for an empty, "." or ".." segment.
bool append_model_path(std::string& out, std::string_view model) {
  while (true) {
    const std::size_t slash = model.find('/');
    const std::string_view seg = model.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") return false;
    out += '/';
    append_path_segment(out, seg);
    if (slash == std::string_view::npos) return true;
    model.remove_prefix(slash + 1);
  }
}

// "WxH" -> {W, H}; nullopt when malformed.
std::optional<std::pair<int64_t, int64_t>> parse_size(std::string_view s) {
  const std::size_t x = s.find('x');
  if (x == std::string_view::npos) return std::nullopt;
  int64_t w = 0, h = 0;
  auto a = std::from_chars(s.data(), s.data() + x, w);
  auto b = std::from_chars(s.data() + x + 1, s.data() + s.size(), h);
  if (a.ec != std::errc() || a.ptr != s.data() + x || b.ec != std::errc() ||
      b.ptr != s.data() + s.size() || w <= 0 || h <= 0)
    return std::nullopt;
  return std::pair{w, h};
}

// The message of a Hive error body ({"message"}, {"error":"..."|{"message"}}, {"detail"}); else
// the body itself.
std::string error_message(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    if (auto m = str_at(o, "message"); !m.empty()) return upstream_excerpt(m);
    if (auto m = str_at(o, "error"); !m.empty()) return upstream_excerpt(m);
    if (const json::object* e = obj_at(o, "error"))
      if (auto m = str_at(*e, "message"); !m.empty()) return upstream_excerpt(m);
    if (auto m = str_at(o, "detail"); !m.empty()) return upstream_excerpt(m);
  }
  return upstream_excerpt(body);
}

class Hive final : public NoChatProvider {
 public:
  Hive(const ProviderConfig& c, Endpoint ep)
      : name_(c.name), endpoint_(std::move(ep)), models_(c.models) {
    caps_.image_generation = true;
    headers_ = "Content-Type: application/json\r\nUser-Agent: torii\r\n";
    if (!c.api_key.empty()) headers_ += "Authorization: Bearer " + c.api_key.value + "\r\n";
    for (const auto& [k, val] : c.headers) headers_ += k + ": " + val + "\r\n";
    headers_ += "Accept: application/json\r\n";
  }

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return kKind; }
  const Capabilities& capabilities() const override { return caps_; }
  const Endpoint& endpoint() const override { return endpoint_; }
  const std::vector<std::string>& models() const override { return models_; }

  Result<UpstreamRequest> encode_modality(const ModalityCall& call) const override {
    if (call.modality != Modality::image_generation)
      return ApiError::invalid_request("provider '" + name_ + "' (hive) does not serve " +
                                       std::string(modality_name(call.modality)));
    const json::value* prompt = call.body ? call.body->if_contains("prompt") : nullptr;
    if (!prompt || !prompt->is_string() || prompt->get_string().empty())
      return ApiError::invalid_request("'prompt' is required", "prompt");
    json::object input;
    input["prompt"] = prompt->get_string();
    int64_t n = 1;
    std::string output_format = "png";
    for (const auto& [key, value] : *call.body) {
      if (key == "model" || key == "prompt" || value.is_null()) continue;
      const std::string text = field_text(call, key);
      if (key == "n") {
        if (!value.is_int64() && !value.is_uint64())
          return ApiError::invalid_request("'n' must be an integer", "n");
        n = value.is_int64() ? value.get_int64() : static_cast<int64_t>(value.get_uint64());
        if (n < 1) return ApiError::invalid_request("'n' must be at least 1", "n");
      } else if (key == "size") {
        if (text == "auto") continue;
        auto size = parse_size(text);
        if (!size)
          return ApiError::invalid_request("'size' must be WIDTHxHEIGHT or auto", "size");
        input["image_size"] = json::object{{"width", size->first}, {"height", size->second}};
      } else if (key == "response_format") {
        if (text == "b64_json")
          return no_counterpart(name_, kKind, "response_format",
                                "Hive answers image URLs, not base64");
      } else if (key == "output_format") {
        if (text == "jpg") output_format = "jpeg";
        else if (text == "png" || text == "jpeg") output_format = text;
        else
          return no_counterpart(name_, kKind, "output_format", "Hive makes png or jpeg images");
      } else {
        add_ignored(*call.ignored, key);  // quality, style, user, background, ...
      }
    }
    input["num_images"] = n;
    input["output_format"] = output_format;
    UpstreamRequest r;
    r.path = endpoint_.base_path;
    if (!append_model_path(r.path, call.upstream_model))
      return ApiError::invalid_request("provider '" + name_ + "' (hive): the model '" +
                                           std::string(call.upstream_model) +
                                           "' is not a model path such as "
                                           "black-forest-labs/flux-schnell",
                                       "model");
    r.header_block = headers_;
    json::object body{{"input", std::move(input)}};
    r.body = json::serialize(body);
    return r;
  }

  Result<ModalityReply> decode_modality(const ModalityCall& call, int step,
                                        std::string_view content_type,
                                        std::string&& body) const override {
    auto bad = [&](std::string_view why) {
      return ApiError::bad_gateway("provider '" + name_ + "' returned " + std::string(why));
    };
    if (call.modality != Modality::image_generation || step != 0)
      return bad("an answer to a request it was not sent");
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return bad("a body that is not JSON");
    const json::array* output = arr_at(v.get_object(), "output");
    if (!output || output->empty()) return bad("no images (\"output\" is missing or empty)");
    std::vector<GeneratedImage> images;
    for (const auto& item : *output) {
      std::string_view url = item.is_object() ? str_at(item.get_object(), "url") : "";
      if (url.empty()) return bad("an image without a URL");
      images.push_back(GeneratedImage{std::string(url), {}, {}});
    }
    ModalityReply reply;
    reply.body = openai_images_json(images, static_cast<int64_t>(std::time(nullptr)));
    reply.usage.images = static_cast<int64_t>(images.size());
    return reply;
  }

  ApiError map_error(int status, std::string_view body, std::string_view retry_after) const override {
    return map_upstream_status(name_, status, error_message(body), retry_after);
  }

 private:
  std::string name_;
  Endpoint endpoint_;
  std::vector<std::string> models_;
  Capabilities caps_;
  std::string headers_;  // prebuilt header lines (they hold the key)
};

}  // namespace

Result<std::unique_ptr<Provider>> make_hive(const ProviderConfig& config, Endpoint endpoint) {
  return std::unique_ptr<Provider>(std::make_unique<Hive>(config, std::move(endpoint)));
}

}  // namespace torii
