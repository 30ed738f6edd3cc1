// Parsing of scraped metric exposition: the Prometheus text format 0.0.4 and
// OpenMetrics 1.0 text.
//
// Two ways in. ExpositionParser walks a body one entry at a time without
// building label sets, so a scrape loop can key a series cache by the raw
// series text and only materialise Labels for series it has not seen.
// ParseExposition runs the same parser to the end and collects everything.
//
// Both report malformed input as an Invalid status whose message begins with
// "line N: ". Neither throws. The body must outlive the parser (entries are
// views into it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "monitor/labels.h"

namespace berth::monitor::scrape {

enum class ExpositionFormat { kText, kOpenMetrics };

// application/openmetrics-text (any version) selects OpenMetrics; anything
// else, including an empty or missing Content-Type, is the text format.
ExpositionFormat FormatForContentType(std::string_view content_type);

// kUnknown is both the text format's "untyped" and OpenMetrics' "unknown".
enum class MetricType {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kSummary,
  kGaugeHistogram,
  kInfo,
  kStateset,
};
// The OpenMetrics spelling ("unknown" for kUnknown).
std::string_view MetricTypeName(MetricType t);

struct Exemplar {
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct ParseOptions {
  // Leave out OpenMetrics `<family>_created` samples of counters, histograms
  // and summaries (for callers that take creation times from elsewhere or do
  // not want them as series).
  bool skip_created_series = false;
};

// A streaming parser. Typical use:
//   ExpositionParser p(body, FormatForContentType(ct));
//   for (;;) {
//     auto e = p.Next();
//     if (!e.ok()) return e.status();
//     if (*e == ExpositionParser::Entry::kEnd) break;
//     if (*e == ExpositionParser::Entry::kSample) use(p.series(), p.value());
//   }
// After an error, Next keeps returning that error.
class ExpositionParser {
 public:
  enum class Entry { kEnd, kSample, kHelp, kType, kUnit };

  ExpositionParser(std::string_view body, ExpositionFormat format, ParseOptions options = {});

  Result<Entry> Next();

  // A hint for the next sample lines: the series they probably start with,
  // as series() returned it for a well-formed line of an earlier body in the
  // same format (a scrape cache's key). A line that starts with it followed
  // by a blank has that series, so its label set is not parsed again:
  // series() is the same text, and labels() parses it only when asked.
  // Empty: no hint. The view must outlive the next call to Next().
  void ExpectSeries(std::string_view series) { expect_ = series; }

  // The 1-based line of the entry Next last returned.
  int line() const { return entry_line_; }

  // --- after kSample ---
  // The series exactly as written (`name{a="b"}`, `{"x.y",a="b"}`), without
  // surrounding blanks: stable across scrapes of an unchanged target, so it
  // makes a cheap cache key.
  std::string_view series() const { return series_; }
  // The metric name, unescaped.
  std::string metric_name() const;
  // The full label set, __name__ included. Labels with empty values are
  // dropped, as everywhere in the monitor.
  Labels labels() const;
  double value() const { return value_; }
  // Milliseconds; OpenMetrics' float seconds are rounded to the nearest ms.
  std::optional<int64_t> timestamp() const { return timestamp_; }
  bool has_exemplar() const { return has_exemplar_; }
  Exemplar exemplar() const;

  // --- after kHelp, kType or kUnit ---
  // The family name the line is about, unescaped.
  std::string metadata_name() const;
  MetricType type() const { return type_; }  // kType
  std::string help() const;                  // kHelp, unescaped
  std::string unit() const;                  // kUnit
  // The same without allocating when nothing is escaped: a view into the
  // body, or into *buf (overwritten) when escapes had to be resolved.
  std::string_view metadata_name(std::string* buf) const;
  std::string_view help(std::string* buf) const;
  std::string_view unit_view() const { return meta_text_.s; }

 private:
  // A piece of the body; `escaped` when it holds backslash escapes that must
  // be resolved before use. Kept as views so Next allocates nothing.
  struct Piece {
    std::string_view s;
    bool escaped = false;
  };
  struct LabelPiece {
    Piece name, value;
  };

  Status Fail(std::string msg);
  Status ParseLine(std::string_view l, Entry* out);
  Status ParseComment(std::string_view l, size_t i, Entry* out);
  Status ParseSample(std::string_view l, size_t i);
  bool MatchesExpected(std::string_view l, size_t i) const;
  Status ParseLabelSet(std::string_view l, size_t* i, bool allow_name, Piece* name,
                       std::vector<LabelPiece>* out);
  Status ParseString(std::string_view l, size_t* i, Piece* out);
  Status ParseName(std::string_view l, size_t* i, bool metric, Piece* out, const char* what);
  Status ParseValue(std::string_view tok, double* out, const char* what);
  Status ParseTimestamp(std::string_view tok, int64_t* out);
  Status ParseExemplar(std::string_view l, size_t i);
  bool SkipCreated() const;
  static Labels BuildLabels(const Piece* name, const std::vector<LabelPiece>& ls);

  std::string_view body_;
  size_t pos_ = 0;
  int line_no_ = 0;
  int entry_line_ = 0;
  ExpositionFormat format_;
  ParseOptions options_;
  bool saw_eof_ = false;
  bool done_ = false;
  Status error_;

  // The family of the last TYPE line, for _created handling.
  std::string cur_family_;
  MetricType cur_type_ = MetricType::kUnknown;

  std::string_view expect_;
  std::string_view series_;
  Piece name_;
  std::vector<LabelPiece> labels_;
  bool labels_skipped_ = false;  // series_ matched expect_: labels_ not filled
  double value_ = 0;
  std::optional<int64_t> timestamp_;
  bool has_exemplar_ = false;
  std::vector<LabelPiece> ex_labels_;
  double ex_value_ = 0;
  std::optional<int64_t> ex_timestamp_;

  Piece meta_name_;
  Piece meta_text_;
  MetricType type_ = MetricType::kUnknown;
};

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kUnknown;
  std::string help;
  std::string unit;
};

struct ScrapedSample {
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
  std::optional<Exemplar> exemplar;
  // Index into ParsedScrape::families of the family the sample belongs to
  // (by name, allowing the type's suffixes such as _bucket or _total); -1
  // when no HELP/TYPE/UNIT line named it.
  int family = -1;
};

struct ParsedScrape {
  ExpositionFormat format = ExpositionFormat::kText;
  std::vector<MetricFamily> families;  // in order of first mention
  std::vector<ScrapedSample> samples;  // in input order
};

Result<ParsedScrape> ParseExposition(std::string_view body, std::string_view content_type,
                                     ParseOptions options = {});

}  // namespace berth::monitor::scrape
