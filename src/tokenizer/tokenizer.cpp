// The process-wide tables, the model -> encoding table and the estimate.
#include "tokenizer/tokenizer.h"

#include <unistd.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace torii::tokenizer {

std::string_view encoding_name(Encoding e) {
  return e == Encoding::cl100k_base ? "cl100k_base" : "o200k_base";
}

std::optional<Encoding> parse_encoding(std::string_view name) {
  if (name == "cl100k_base") return Encoding::cl100k_base;
  if (name == "o200k_base") return Encoding::o200k_base;
  return std::nullopt;
}

std::string data_dir() {
  if (const char* env = std::getenv("TORII_DATA_DIR"); env && *env) return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  fs::path dir = ec ? fs::current_path(ec) : exe.parent_path();
  // build/torii finds <repo>/data/tokenizer one level up; build/bench/torii_micro_bench two.
  fs::path d = dir;
  for (int depth = 0; depth < 3 && !d.empty(); ++depth, d = d.parent_path()) {
    const fs::path candidate = d / "data" / "tokenizer";
    if (fs::is_directory(candidate, ec)) return candidate.string();
    if (d == d.parent_path()) break;
  }
  return (dir / "data" / "tokenizer").string();
}

namespace {

struct Slot {
  std::once_flag once;
  const Bpe* bpe = nullptr;  // leaked on purpose: a preload thread may still run at exit
};

std::array<Slot, 2> slots;

}  // namespace

const Bpe* get(Encoding e) {
  Slot& slot = slots[static_cast<std::size_t>(e)];
  std::call_once(slot.once, [&slot, e] {
    std::string file = data_dir() + "/" + std::string(encoding_name(e)) + ".tiktoken";
    auto started = std::chrono::steady_clock::now();
    auto loaded = Bpe::load(e, file);
    if (!loaded) {
      log::warn("{} (token counts fall back to bytes/4; run scripts/setup.sh)",
                loaded.error().message);
      return;
    }
    slot.bpe = loaded->release();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started).count();
    log::debug("tokenizer {}: {} tokens loaded in {} ms", encoding_name(e),
               slot.bpe->vocabulary_size(), ms);
  });
  return slot.bpe;
}

void preload() {
  static std::once_flag started;
  std::call_once(started, [] {
    std::thread([] {
      auto t0 = std::chrono::steady_clock::now();
      const bool ok = get(Encoding::o200k_base) && get(Encoding::cl100k_base);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0).count();
      if (ok) log::info("tokenizer: o200k_base and cl100k_base loaded in {} ms", ms);
    }).detach();
  });
}

std::optional<Encoding> encoding_for_model(std::string_view model) {
  if (auto slash = model.rfind('/'); slash != std::string_view::npos) model.remove_prefix(slash + 1);
  // Case-insensitive prefixes (runs per request: no allocation). The prefixes are lower case.
  auto starts = [](std::string_view v, std::string_view p) {
    if (v.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if ((v[i] >= 'A' && v[i] <= 'Z' ? v[i] + ('a' - 'A') : v[i]) != p[i]) return false;
    return true;
  };
  std::string_view v = model;
  if (starts(v, "ft:")) v.remove_prefix(3);  // fine-tuned: ft:<base>:<org>:...
  // Every known prefix starts with c, g, o or t: most other models stop here.
  const char first = v.empty() ? '\0' : static_cast<char>(v[0] | 0x20);
  if (first != 'c' && first != 'g' && first != 'o' && first != 't') return std::nullopt;
  auto any_prefix = [&](std::initializer_list<std::string_view> prefixes) {
    for (auto p : prefixes) {
      if (starts(v, p)) return true;
    }
    return false;
  };
  if (any_prefix({"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o",
                  "omni-moderation"})) {
    return Encoding::o200k_base;
  }
  if (any_prefix({"gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada-002"})) {
    return Encoding::cl100k_base;
  }
  return std::nullopt;
}

std::size_t estimate(std::string_view model, std::string_view text) {
  if (auto e = encoding_for_model(model)) {
    if (const Bpe* bpe = get(*e)) return bpe->count(text);
  }
  return (text.size() + 3) / 4;
}

}  // namespace torii::tokenizer
