#pragma once
// A temporary directory for a test, removed with everything in it when the object goes.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace torii::test_util {

struct TempDir {
  explicit TempDir(const std::string& tag = "torii") {
    std::string tmpl = "/tmp/torii-" + tag + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // A path inside it.
  std::string operator/(const std::string& name) const {
    return (std::filesystem::path(path) / name).string();
  }
  std::string path;
};

}  // namespace torii::test_util
