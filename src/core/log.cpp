#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/time.h"

namespace berth::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
const char* Name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}
}  // namespace

void SetLevel(Level l) { g_level = static_cast<int>(l); }
bool Enabled(Level l) { return static_cast<int>(l) >= g_level.load(); }

void Write(Level l, std::string_view msg, const std::string& fields) {
  if (!Enabled(l)) return;
  std::string line = FormatRFC3339Micro(NowMicros());
  line += ' ';
  line += Name(l);
  line += " msg=\"";
  line += msg;
  line += '"';
  if (!fields.empty()) line += fields;
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void Fields::Append(std::string_view key, const std::string& value) {
  s_ += ' ';
  s_ += key;
  s_ += '=';
  bool quote = value.empty() || value.find_first_of(" \"=\t\n") != std::string::npos;
  if (!quote) {
    s_ += value;
    return;
  }
  s_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') s_ += '\\';
    if (c == '\n') {
      s_ += "\\n";
      continue;
    }
    s_ += c;
  }
  s_ += '"';
}

}  // namespace berth::log
