// Label sets and label matchers: the data model shared by scraping, the TSDB,
// PromQL and the HTTP API. A series is identified by its sorted label set;
// the metric name is the label `__name__`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace re2 {
class RE2;
}

namespace berth::monitor {

inline constexpr std::string_view kMetricName = "__name__";

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

// An immutable-by-convention, name-sorted label set without empty values.
class Labels {
 public:
  Labels() = default;
  Labels(const Labels& o) : p_(o.p_), hash_(o.hash_.load(std::memory_order_relaxed)) {}
  Labels(Labels&& o) noexcept
      : p_(std::move(o.p_)), hash_(o.hash_.exchange(0, std::memory_order_relaxed)) {}
  Labels& operator=(const Labels& o) {
    p_ = o.p_;
    hash_.store(o.hash_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    return *this;
  }
  Labels& operator=(Labels&& o) noexcept {
    p_ = std::move(o.p_);
    hash_.store(o.hash_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    return *this;
  }
  // Sorts by name; drops labels with empty values (as Prometheus does). On a
  // duplicate name the last one wins.
  explicit Labels(std::vector<Label> ls);
  Labels(std::initializer_list<Label> ls) : Labels(std::vector<Label>(ls)) {}

  // The value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view Name() const { return Get(kMetricName); }

  size_t size() const { return vec().size(); }
  bool empty() const { return p_ == nullptr; }
  auto begin() const { return vec().begin(); }
  auto end() const { return vec().end(); }
  const Label& operator[](size_t i) const { return vec()[i]; }
  const std::vector<Label>& vec() const { return p_ ? *p_ : Empty(); }

  // A 64-bit hash of the whole set (stable within a process run). Computed
  // once per object: series are looked up by it on every append.
  uint64_t Hash() const;
  // Hash over only the given names (on) or all but them (ignoring/without);
  // `names` need not be sorted. __name__ is excluded when without==true.
  uint64_t HashFor(const std::vector<std::string>& names, bool without) const;

  // Copies: with one label set/removed, without __name__, keeping only names,
  // or dropping names.
  Labels With(std::string_view name, std::string_view value) const;
  Labels Without(std::string_view name) const;
  // Without the name and the labels that describe it (Prometheus 3's
  // __type__ and __unit__), as operations that change a value's meaning do.
  Labels WithoutName() const;
  Labels Keep(const std::vector<std::string>& names) const;
  Labels Drop(const std::vector<std::string>& names) const;

  // Prometheus's Labels.String(): {__name__="x", a="b"}, values Go-quoted.
  std::string String() const;
  // The exposition/PromQL form: x{a="b"} (String() when the name needs quoting).
  std::string MetricString() const;

  friend bool operator==(const Labels& a, const Labels& b) {
    return a.p_ == b.p_ || a.vec() == b.vec();
  }
  friend bool operator<(const Labels& a, const Labels& b) { return Compare(a, b) < 0; }
  // Prometheus's order: label by label, names then values; shorter first.
  static int Compare(const Labels& a, const Labels& b);

 private:
  // Takes labels already sorted, unique and without empty values.
  static Labels Sorted(std::vector<Label> ls) {
    Labels out;
    out.Adopt(std::move(ls));
    return out;
  }
  void Adopt(std::vector<Label> sorted);
  template <class Pred>
  Labels Filter(Pred keep) const;
  static const std::vector<Label>& Empty();

  // Immutable and shared between copies: a copy of a label set (the scrape
  // cache's, the head's, every query result's) costs a reference count, not
  // a copy of its strings. Null when empty.
  std::shared_ptr<const std::vector<Label>> p_;
  // 0 until computed. Labels are not changed after construction, so the
  // cache never goes out of date; atomic because const objects are shared
  // between threads.
  mutable std::atomic<uint64_t> hash_{0};
};

// True for [a-zA-Z_][a-zA-Z0-9_]* (the classic, legacy-valid names).
bool IsValidLabelName(std::string_view s);
bool IsValidMetricName(std::string_view s);  // also allows ':'

class Matcher {
 public:
  enum class Op { kEq, kNeq, kRe, kNre };
  // Compiles the regular expression (RE2 syntax, fully anchored, "." matches
  // newlines like Prometheus). A bad expression is an Invalid status whose
  // message is RE2's.
  static Result<Matcher> Make(Op op, std::string name, std::string value);

  Op op() const { return op_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  bool Matches(std::string_view v) const;
  // True when the matcher matches the empty string (so series without the
  // label match too).
  bool MatchesEmpty() const { return Matches(""); }
  // `name="value"`, `name=~"re"` ...
  std::string String() const;

 private:
  Op op_ = Op::kEq;
  std::string name_, value_;
  std::shared_ptr<const re2::RE2> re_;
};

// Whether a label set satisfies every matcher (absent labels read as "").
bool MatchesAll(const Labels& ls, const std::vector<Matcher>& ms);

// Go's strconv.Quote: the quoting Prometheus's error texts use.
std::string QuoteString(std::string_view v);

// Escapes a label value the way the exposition format and PromQL print it.
std::string EscapeLabelValue(std::string_view v);

}  // namespace berth::monitor
