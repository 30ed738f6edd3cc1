// Postings: ascending lists of series refs, and the in-memory inverted index
// (label name -> value -> refs) that resolves label matchers to series.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/labels.h"

namespace berth::monitor::tsdb {

using Postings = std::vector<uint64_t>;  // ascending, unique

Postings Intersect(const Postings& a, const Postings& b);
Postings Subtract(const Postings& a, const Postings& b);  // a \ b
Postings Union(std::vector<const Postings*> lists);

// Thread-safe. Series are added once and deleted once; refs of new series
// are usually larger than all present ones, so adds are appends.
class MemPostings {
 public:
  void Add(uint64_t ref, const Labels& ls);
  void Delete(uint64_t ref, const Labels& ls);

  // The refs of series satisfying every matcher, with Prometheus's
  // semantics: a label that is absent reads as "", so a matcher that matches
  // "" (a="", a!="x", a=~".*", a!~"x.+") also selects series without `a`.
  // No matchers selects every series.
  Postings Select(const std::vector<Matcher>& matchers) const;

  // Calls fn(name) for each label name / fn(value, refs) for each value of
  // `name`, in sorted order, under the index's read lock (fn must not call
  // back into the index).
  void ForEachName(const std::function<void(const std::string&)>& fn) const;
  void ForEachValue(std::string_view name,
                    const std::function<void(const std::string&, const Postings&)>& fn) const;
  // Every series ref.
  Postings All() const;

 private:
  // Refs of series whose value of m.name() satisfies `want`; the lock is held.
  Postings UnionWhere(const Matcher& m, bool want) const;

  mutable std::shared_mutex mu_;
  std::map<std::string, std::map<std::string, Postings, std::less<>>, std::less<>> index_;
  Postings all_;
};

}  // namespace berth::monitor::tsdb
