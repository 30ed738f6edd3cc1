// Kubernetes resource quantities ("100m", "1Gi", "2e3", "0.5"), as
// k8s.io/apimachinery/pkg/api/resource parses, compares and prints them.
//
// Values are held exactly in units of 10^-9 (the apimachinery precision limit;
// finer input rounds up, as the apiserver does) in a 128-bit integer, which
// covers every magnitude the suffixes can express up to about 10^29.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth {

class Quantity {
 public:
  enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

  Quantity() = default;
  // Accepts <sign?><digits>[.<digits>]<suffix?>; fails with the apiserver's
  // "quantities must match the regular expression ..." message.
  static Result<Quantity> Parse(std::string_view s);
  static Quantity FromInt(int64_t v, Format f = Format::kDecimalSI);

  // The canonical form a real cluster stores and prints ("1500m", "2k", "1Gi").
  std::string ToString() const;
  int Compare(const Quantity& o) const;
  bool IsZero() const { return nanos_ == 0; }
  bool IsNegative() const { return nanos_ < 0; }
  // Value rounded up to an integer, and in thousandths rounded up (as
  // Quantity.Value / MilliValue do).
  int64_t Value() const;
  int64_t MilliValue() const;
  Format format() const { return format_; }

  bool operator==(const Quantity& o) const { return Compare(o) == 0; }
  bool operator<(const Quantity& o) const { return Compare(o) < 0; }
  bool operator<=(const Quantity& o) const { return Compare(o) <= 0; }

 private:
  __int128 nanos_ = 0;
  Format format_ = Format::kDecimalSI;
};

// The error detail the apiserver gives for an unparseable quantity.
extern const char kQuantityFormatError[];

}  // namespace berth
