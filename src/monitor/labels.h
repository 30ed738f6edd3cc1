// Label sets and label matchers: the data model shared by scraping, the TSDB,
// PromQL and the HTTP API. A series is identified by its sorted label set;
// the metric name is the label `__name__`.
#pragma once

#include <atomic>
#include <cstdint>
#include <iterator>
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

// One label of a Labels: views into the set's buffer, valid while the set
// (or any copy of it) lives.
struct LabelView {
  std::string_view name;
  std::string_view value;
  operator Label() const { return {std::string(name), std::string(value)}; }
  friend bool operator==(const LabelView&, const LabelView&) = default;
  friend auto operator<=>(const LabelView&, const LabelView&) = default;
};

// An immutable, name-sorted label set without empty values.
//
// The labels are packed into one shared, reference-counted buffer (each
// name and value a length and its bytes), so a series' labels cost one
// allocation of about their text's size, and a copy (the scrape cache's, the
// head's, every query result's) costs a reference count. The object itself
// is one pointer, null when the set is empty.
class Labels {
  // The shared buffer: this header, then for each label the varint lengths
  // and bytes of its name and value.
  struct Rep {
    std::atomic<uint64_t> hash{0};  // 0 until computed
    std::atomic<uint32_t> refs{1};
    uint32_t n = 0;    // labels
    uint32_t len = 0;  // bytes after the header
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  };

 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = LabelView;
    using difference_type = std::ptrdiff_t;
    using reference = LabelView;
    using pointer = const LabelView*;

    Iterator() = default;
    LabelView operator*() const { return cur_; }
    const LabelView* operator->() const { return &cur_; }
    Iterator& operator++() {
      p_ = next_;
      Load();
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.p_ == b.p_; }

   private:
    friend class Labels;
    Iterator(const char* p, const char* end) : p_(p), end_(end) { Load(); }
    static const char* ReadLen(const char* p, size_t* n) {
      size_t v = 0;
      for (int shift = 0;; shift += 7) {
        unsigned char b = static_cast<unsigned char>(*p++);
        v |= static_cast<size_t>(b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      *n = v;
      return p;
    }
    void Load() {
      if (p_ == end_) return;
      size_t n;
      const char* q = ReadLen(p_, &n);
      cur_.name = {q, n};
      q = ReadLen(q + n, &n);
      cur_.value = {q, n};
      next_ = q + n;
    }
    const char* p_ = nullptr;
    const char* end_ = nullptr;
    const char* next_ = nullptr;
    LabelView cur_;
  };
  using iterator = Iterator;
  using const_iterator = Iterator;
  using value_type = LabelView;

  Labels() = default;
  Labels(const Labels& o) : p_(o.p_) { Ref(p_); }
  Labels(Labels&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  Labels& operator=(const Labels& o) {
    Ref(o.p_);
    Unref(p_);
    p_ = o.p_;
    return *this;
  }
  Labels& operator=(Labels&& o) noexcept {
    if (this != &o) {
      Unref(p_);
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  ~Labels() { Unref(p_); }

  // Sorts by name; drops labels with empty values (as Prometheus does). On a
  // duplicate name the last one wins.
  explicit Labels(std::vector<Label> ls);
  Labels(std::initializer_list<Label> ls) : Labels(std::vector<Label>(ls)) {}

  // The value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view Name() const { return Get(kMetricName); }

  size_t size() const { return p_ ? p_->n : 0; }
  bool empty() const { return p_ == nullptr; }
  Iterator begin() const { return p_ ? Iterator(p_->data(), p_->data() + p_->len) : Iterator(); }
  Iterator end() const {
    const char* e = p_ ? p_->data() + p_->len : nullptr;
    return Iterator(e, e);
  }
  // The i-th label in name order; walks the set, so O(i).
  LabelView operator[](size_t i) const;
  std::vector<Label> ToVector() const;

  // A 64-bit hash of the whole set (stable within a process run). Computed
  // once per set and kept in the shared buffer: series are looked up by it
  // on every append.
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

  // The packed encoding's bytes. Equal sets have equal bytes, so they serve
  // as a map key.
  std::string_view Bytes() const { return p_ ? std::string_view(p_->data(), p_->len) : ""; }

  friend bool operator==(const Labels& a, const Labels& b) {
    return a.p_ == b.p_ || a.Bytes() == b.Bytes();
  }
  friend bool operator<(const Labels& a, const Labels& b) { return Compare(a, b) < 0; }
  // Prometheus's order: label by label, names then values; shorter first.
  static int Compare(const Labels& a, const Labels& b);

 private:
  // Packs labels already sorted, unique and without empty values.
  template <class Range>
  static Labels Pack(const Range& sorted);
  template <class Pred>
  Labels Filter(Pred keep) const;
  static void Ref(Rep* r) {
    if (r) r->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void Unref(Rep* r) {
    if (r && r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) Free(r);
  }
  static void Free(Rep* r);

  Rep* p_ = nullptr;
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
