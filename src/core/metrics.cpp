#include "core/metrics.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

namespace berth::metrics {
namespace {

struct Histogram {
  std::vector<uint64_t> counts;  // per bucket, non-cumulative
  double sum = 0;
  uint64_t count = 0;
};

struct Family {
  Type type = Type::kCounter;
  std::string help;
  std::vector<double> buckets;
  std::map<std::string, double> values;
  std::map<std::string, Histogram> hists;
  std::function<double()> fn;
};

std::mutex& Mu() {
  static std::mutex m;
  return m;
}
std::map<std::string, Family>& Families() {
  static auto* f = new std::map<std::string, Family>();
  return *f;
}

std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

std::string Join(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return "{" + labels + "," + extra + "}";
}

}  // namespace

void Describe(const std::string& name, Type type, const std::string& help,
              std::vector<double> buckets) {
  std::lock_guard<std::mutex> l(Mu());
  Family& f = Families()[name];
  f.type = type;
  f.help = help;
  if (type == Type::kHistogram && buckets.empty())
    buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  f.buckets = std::move(buckets);
}

void Add(const std::string& name, const std::string& labels, double delta) {
  std::lock_guard<std::mutex> l(Mu());
  Families()[name].values[labels] += delta;
}

void Set(const std::string& name, const std::string& labels, double value) {
  std::lock_guard<std::mutex> l(Mu());
  Families()[name].values[labels] = value;
}

void Observe(const std::string& name, const std::string& labels, double value) {
  std::lock_guard<std::mutex> l(Mu());
  Family& f = Families()[name];
  Histogram& h = f.hists[labels];
  if (h.counts.size() != f.buckets.size() + 1) h.counts.assign(f.buckets.size() + 1, 0);
  size_t i = 0;
  while (i < f.buckets.size() && value > f.buckets[i]) ++i;
  h.counts[i]++;
  h.sum += value;
  h.count++;
}

void GaugeFunc(const std::string& name, const std::string& help, std::function<double()> fn) {
  std::lock_guard<std::mutex> l(Mu());
  Family& f = Families()[name];
  f.type = Type::kGauge;
  f.help = help;
  f.fn = std::move(fn);
}

std::string Render() {
  // Gauge callbacks may take their own locks, so evaluate them outside ours.
  std::map<std::string, std::function<double()>> fns;
  {
    std::lock_guard<std::mutex> l(Mu());
    for (auto& [n, f] : Families())
      if (f.fn) fns[n] = f.fn;
  }
  std::map<std::string, double> fnvals;
  for (auto& [n, fn] : fns) fnvals[n] = fn();

  std::lock_guard<std::mutex> l(Mu());
  std::string out;
  for (auto& [name, f] : Families()) {
    const char* t = f.type == Type::kCounter ? "counter" : f.type == Type::kGauge ? "gauge" : "histogram";
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + t + "\n";
    if (f.fn) out += name + " " + Num(fnvals[name]) + "\n";
    for (auto& [labels, v] : f.values)
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + Num(v) + "\n";
    for (auto& [labels, h] : f.hists) {
      uint64_t cum = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cum += h.counts[i];
        out += name + "_bucket" + Join(labels, "le=\"" + Num(f.buckets[i]) + "\"") + " " +
               Num(static_cast<double>(cum)) + "\n";
      }
      out += name + "_bucket" + Join(labels, "le=\"+Inf\"") + " " + Num(static_cast<double>(h.count)) + "\n";
      std::string lb = labels.empty() ? "" : "{" + labels + "}";
      out += name + "_sum" + lb + " " + Num(h.sum) + "\n";
      out += name + "_count" + lb + " " + Num(static_cast<double>(h.count)) + "\n";
    }
  }
  return out;
}

std::string EscapeLabel(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

}  // namespace berth::metrics
