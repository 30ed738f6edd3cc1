// Structured logging: one line per event, `time level msg key=value ...`.
// Thread-safe; writes to stderr. Level is set once at start-up.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace berth::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level l);
bool Enabled(Level l);
void Write(Level l, std::string_view msg, const std::string& fields);

// Builds the key=value tail. Values with spaces or quotes are quoted.
class Fields {
 public:
  template <class T>
  Fields& operator()(std::string_view key, const T& value) {
    std::ostringstream os;
    os << value;
    Append(key, os.str());
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  void Append(std::string_view key, const std::string& value);
  std::string s_;
};

inline void Info(std::string_view msg, const Fields& f = {}) { Write(Level::kInfo, msg, f.str()); }
inline void Warn(std::string_view msg, const Fields& f = {}) { Write(Level::kWarn, msg, f.str()); }
inline void Error(std::string_view msg, const Fields& f = {}) { Write(Level::kError, msg, f.str()); }
inline void Debug(std::string_view msg, const Fields& f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, f.str());
}

}  // namespace berth::log
