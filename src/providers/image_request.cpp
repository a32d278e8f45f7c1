#include "providers/image_request.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json/object.hpp>

#include "providers/provider.h"

namespace torii {

namespace {

constexpr int kMaxSide = 16384;

// A positive decimal integer filling `s`, or -1.
int parse_int(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return -1;
  return v;
}

// The fields read_image_ask maps (plus "model", which the gateway resolves).
constexpr std::string_view kMapped[] = {"model", "prompt", "n", "size", "response_format",
                                        "stream"};

}  // namespace

Result<std::optional<ImageSize>> parse_image_size(std::string_view text) {
  if (text.empty() || text == "auto") return std::optional<ImageSize>{};
  const std::size_t x = text.find('x');
  const int w = x == std::string_view::npos ? -1 : parse_int(text.substr(0, x));
  const int h = x == std::string_view::npos ? -1 : parse_int(text.substr(x + 1));
  if (w < 1 || h < 1 || w > kMaxSide || h > kMaxSide)
    return ApiError::invalid_request("'size' must be \"auto\" or WIDTHxHEIGHT in pixels, got '" +
                                         upstream_excerpt(text, 40) + "'",
                                     "size");
  return std::optional<ImageSize>(ImageSize{w, h});
}

std::string_view nearest_aspect_ratio(ImageSize size, std::span<const std::string_view> ratios) {
  const double want = std::log(static_cast<double>(size.width) / size.height);
  std::string_view best;
  double best_gap = std::numeric_limits<double>::infinity();
  for (std::string_view r : ratios) {
    const std::size_t colon = r.find(':');
    const int w = parse_int(r.substr(0, colon));
    const int h = colon == std::string_view::npos ? -1 : parse_int(r.substr(colon + 1));
    if (w < 1 || h < 1) continue;
    const double gap = std::fabs(std::log(static_cast<double>(w) / h) - want);
    if (gap < best_gap) {
      best_gap = gap;
      best = r;
    }
  }
  return best;
}

Result<ImageAsk> read_image_ask(const ModalityCall& call, std::string_view provider,
                                std::string_view kind, int max_n, std::string_view n_why) {
  ImageAsk ask;
  ask.prompt = field_text(call, "prompt");
  if (ask.prompt.empty())
    return ApiError::invalid_request("'prompt' is required", "prompt");
  if (std::string n = field_text(call, "n"); !n.empty()) {
    ask.n = parse_int(n);
    if (ask.n < 1) return ApiError::invalid_request("'n' must be a positive integer", "n");
    if (ask.n > max_n) return no_counterpart(provider, kind, "n", n_why);
  }
  auto size = parse_image_size(field_text(call, "size"));
  if (!size) return size.error();
  ask.size = *size;
  const std::string format = field_text(call, "response_format");
  if (format == "b64_json") ask.b64 = true;
  else if (!format.empty() && format != "url")
    return ApiError::invalid_request("'response_format' must be url or b64_json",
                                     "response_format");
  if (const auto* s = call.body ? call.body->if_contains("stream") : nullptr;
      s && s->is_bool() && s->get_bool())
    return no_counterpart(provider, kind, "stream", "it makes whole images only");
  if (call.body && call.ignored) {
    for (const auto& kv : *call.body) {
      std::string_view k(kv.key().data(), kv.key().size());
      bool mapped = false;
      for (std::string_view m : kMapped) mapped = mapped || m == k;
      if (!mapped && !kv.value().is_null()) add_ignored(*call.ignored, k);
    }
  }
  return ask;
}

}  // namespace torii
