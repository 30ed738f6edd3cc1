// Helpers shared by the store tests: a temp directory removed on scope exit.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace berth::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-store-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p) path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    if (path_.empty()) return;
    std::filesystem::remove_all(path_, ec);
    // A store opened at the directory's own path keeps its lock file beside it.
    std::filesystem::remove(path_ + ".lock", ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace berth::store::testing
