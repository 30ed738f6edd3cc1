#include "monitor/tsdb/postings.h"

#include <algorithm>
#include <mutex>

namespace berth::monitor::tsdb {
namespace {

void Insert(Postings& p, uint64_t ref) {
  if (p.empty() || p.back() < ref) {
    p.push_back(ref);
    return;
  }
  // Two series created concurrently may register out of ref order.
  auto it = std::lower_bound(p.begin(), p.end(), ref);
  if (it == p.end() || *it != ref) p.insert(it, ref);
}

void Erase(Postings& p, uint64_t ref) {
  auto it = std::lower_bound(p.begin(), p.end(), ref);
  if (it != p.end() && *it == ref) p.erase(it);
}

}  // namespace

Postings Intersect(const Postings& a, const Postings& b) {
  const Postings& small = a.size() <= b.size() ? a : b;
  const Postings& big = a.size() <= b.size() ? b : a;
  Postings out;
  out.reserve(small.size());
  if (small.size() * 16 < big.size()) {
    // Galloping via binary search pays off when one side is much shorter.
    auto lo = big.begin();
    for (uint64_t r : small) {
      lo = std::lower_bound(lo, big.end(), r);
      if (lo == big.end()) break;
      if (*lo == r) out.push_back(r);
    }
    return out;
  }
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Postings Subtract(const Postings& a, const Postings& b) {
  Postings out;
  out.reserve(a.size());
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Postings Union(std::vector<const Postings*> lists) {
  std::erase_if(lists, [](const Postings* p) { return p->empty(); });
  if (lists.empty()) return {};
  if (lists.size() == 1) return *lists[0];
  size_t total = 0;
  for (const Postings* p : lists) total += p->size();
  Postings out;
  out.reserve(total);
  for (const Postings* p : lists) out.insert(out.end(), p->begin(), p->end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void MemPostings::Add(uint64_t ref, const Labels& ls) {
  std::unique_lock lk(mu_);
  for (LabelView l : ls) {
    auto n = index_.find(l.name);
    if (n == index_.end()) n = index_.try_emplace(std::string(l.name)).first;
    auto v = n->second.find(l.value);
    if (v == n->second.end()) v = n->second.try_emplace(std::string(l.value)).first;
    Insert(v->second, ref);
  }
  Insert(all_, ref);
}

void MemPostings::Delete(uint64_t ref, const Labels& ls) {
  std::unique_lock lk(mu_);
  for (LabelView l : ls) {
    auto n = index_.find(l.name);
    if (n == index_.end()) continue;
    auto v = n->second.find(l.value);
    if (v == n->second.end()) continue;
    Erase(v->second, ref);
    if (v->second.empty()) n->second.erase(v);
    if (n->second.empty()) index_.erase(n);
  }
  Erase(all_, ref);
}

Postings MemPostings::UnionWhere(const Matcher& m, bool want) const {
  auto n = index_.find(m.name());
  if (n == index_.end()) return {};
  std::vector<const Postings*> lists;
  for (const auto& [value, refs] : n->second)
    if (m.Matches(value) == want) lists.push_back(&refs);
  return Union(std::move(lists));
}

Postings MemPostings::Select(const std::vector<Matcher>& matchers) const {
  std::shared_lock lk(mu_);
  std::vector<Postings> include, exclude;
  for (const Matcher& m : matchers) {
    if (!m.MatchesEmpty()) {
      // Only series carrying a matching value qualify.
      if (m.op() == Matcher::Op::kEq) {
        Postings p;
        if (auto n = index_.find(m.name()); n != index_.end()) {
          if (auto v = n->second.find(m.value()); v != n->second.end()) p = v->second;
        }
        if (p.empty()) return {};
        include.push_back(std::move(p));
      } else {
        Postings p = UnionWhere(m, true);
        if (p.empty()) return {};
        include.push_back(std::move(p));
      }
    } else if (m.op() == Matcher::Op::kNeq) {
      // Everything but the one value (absent labels included).
      if (auto n = index_.find(m.name()); n != index_.end()) {
        if (auto v = n->second.find(m.value()); v != n->second.end()) exclude.push_back(v->second);
      }
    } else {
      // Everything but the series whose value fails the matcher; for a=""
      // that is every series that has `a` at all.
      Postings p = UnionWhere(m, false);
      if (!p.empty()) exclude.push_back(std::move(p));
    }
  }
  Postings out;
  if (include.empty()) {
    out = all_;
  } else {
    std::sort(include.begin(), include.end(),
              [](const Postings& a, const Postings& b) { return a.size() < b.size(); });
    out = std::move(include[0]);
    for (size_t i = 1; i < include.size() && !out.empty(); ++i) out = Intersect(out, include[i]);
  }
  for (const Postings& e : exclude) {
    if (out.empty()) break;
    out = Subtract(out, e);
  }
  return out;
}

void MemPostings::ForEachName(const std::function<void(const std::string&)>& fn) const {
  std::shared_lock lk(mu_);
  for (const auto& [name, values] : index_) fn(name);
}

void MemPostings::ForEachValue(
    std::string_view name,
    const std::function<void(const std::string&, const Postings&)>& fn) const {
  std::shared_lock lk(mu_);
  auto n = index_.find(name);
  if (n == index_.end()) return;
  for (const auto& [value, refs] : n->second) fn(value, refs);
}

Postings MemPostings::All() const {
  std::shared_lock lk(mu_);
  return all_;
}

}  // namespace berth::monitor::tsdb
