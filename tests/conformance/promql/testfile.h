// The Prometheus PromQL test-script format (the *.test files under testdata/,
// see testdata/FORMAT.md): parsing into commands, and loading a `load` block
// into a monitor::Storage. Nothing here depends on the PromQL parser or engine,
// so the file-format handling can be built and checked on its own
// (testfile_check.cpp) while those are still being written.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "monitor/labels.h"
#include "monitor/storage.h"
#include "monitor/tsdb/head.h"

namespace berth::monitor::conformance {

// A native histogram literal `{{schema:1 sum:3 count:22 buckets:[5 10 7]}}`,
// as written (for messages) and as parsed.
struct HistogramLiteral {
  std::string text;                                  // as written, for messages
  std::map<std::string, double> scalars;             // schema, sum, count, z_bucket, offset, ...
  std::map<std::string, std::vector<double>> lists;  // buckets, n_buckets, custom_values
  std::string counter_reset_hint;                    // "" when not given
};

// One element of an expanded point sequence. For `@st` lines v holds a start
// timestamp offset in milliseconds.
struct SeqValue {
  enum class Kind { kFloat, kOmitted, kStale, kHistogram };
  Kind kind = Kind::kFloat;
  double v = 0;
  std::shared_ptr<const HistogramLiteral> h;  // kHistogram: the literal (of the base)
  HistogramPtr fh;                            // kHistogram: the value at this point
  // Whether the literal gave a counter_reset_hint (then results must match it).
  bool HintSet() const { return h && !h->counter_reset_hint.empty(); }
};

// The histogram a literal describes.
FloatHistogram ToFloatHistogram(const HistogramLiteral& lit);

// Expands a point sequence ("0+10x3 _ stale {{count:1}}x2"). With
// `durations`, values are Prometheus durations ("-30s-1mx2"), as on the
// `series@st` start-timestamp lines.
Result<std::vector<SeqValue>> ParseSequence(std::string_view s, bool durations = false);

// `name{l="v",...}` / `{l="v"}` / `{"utf8.name", "l"="v"}` into a label set.
// Returns the label set and the number of bytes consumed.
Result<std::pair<Labels, size_t>> ParseSeriesSelector(std::string_view s);

// A Prometheus duration: "1h30m", "10s53ms", "0" (units y w d h m s ms).
Result<int64_t> ParseDurationMs(std::string_view s);

struct SeriesDef {
  int line = 0;
  Labels labels;
  bool start_timestamps = false;  // a `series@st` line: start-timestamp offsets
  std::vector<SeqValue> values;
};

struct LoadCmd {
  int line = 0;
  int64_t interval_ms = 0;
  bool with_nhcb = false;  // load_with_nhcb: classic histograms also as NHCB series
  std::vector<SeriesDef> series;
};

struct ClearCmd {
  int line = 0;
};

enum class ExpectKind { kFail, kWarn, kNoWarn, kInfo, kNoInfo, kOrdered };

struct Expectation {
  ExpectKind kind = ExpectKind::kFail;
  enum class Match { kAny, kMsg, kRegex } match = Match::kAny;
  std::string text;  // the message or pattern
  // Exact text for kMsg, unanchored RE2 search for kRegex (Go's MatchString).
  bool Matches(std::string_view s) const;
};

struct ExpectedSeries {
  int line = 0;
  Labels labels;
  std::vector<SeqValue> values;
};

struct EvalCmd {
  int line = 0;
  std::string expr;
  bool is_range = false;
  // Instant: start == end == the evaluation time, step 0.
  int64_t start_ms = 0, end_ms = 0, step_ms = 0;

  // The old `eval_fail` / `eval_warn` / `eval_info` / `eval_ordered` spellings.
  bool legacy_fail = false, legacy_warn = false, legacy_info = false, legacy_ordered = false;
  std::optional<std::string> legacy_fail_message;  // expected_fail_message
  std::optional<std::string> legacy_fail_regexp;   // expected_fail_regexp
  std::vector<Expectation> expects;

  // `expect range vector from A to B step S` on an instant query: the result
  // is a range vector whose points lie on that grid.
  bool expect_range_vector = false;
  int64_t rv_start_ms = 0, rv_end_ms = 0, rv_step_ms = 0;
  std::optional<std::string> expect_string;
  std::optional<SeqValue> expect_scalar;
  std::vector<ExpectedSeries> series;

  // Set when a line of this case could not be understood; the case then
  // counts as failed with this reason instead of being run.
  std::string broken;

  bool IsFail() const;
  bool IsOrdered() const;
  bool HasExpect(ExpectKind k) const;
  // An expected value is a native histogram.
  bool ExpectsHistogram() const;
  // The reference skips its range-mode cross-check for these.
  bool ExcludeFromRangeCheck() const { return expect_range_vector || expect_string.has_value(); }
};

using Command = std::variant<LoadCmd, ClearCmd, EvalCmd>;

struct TestFile {
  std::string name;
  std::vector<Command> cmds;
  // "line N: why: text" for every line that could not be understood.
  std::vector<std::string> problems;
};

// Parses a whole file. Never fails as a whole: bad lines become problems (and
// mark the eval they belong to as broken) so one odd line costs one case.
TestFile ParseTestFile(std::string name, std::string_view text);

// What a load put into the storage, and which series it could not put there.
struct LoadStats {
  int64_t series = 0;
  int64_t samples = 0;     // floats and staleness markers appended
  int64_t histograms = 0;  // native histogram samples appended (NHCB included)
  // Series with start timestamps (`series@st` lines).
  std::vector<Labels> start_ts_series;
};

// Appends the load's samples (sample i at i*interval) in one batch: floats,
// staleness markers, native histograms, and for load_with_nhcb the classic
// histograms converted to native histograms with custom buckets. Start
// timestamps are only reported in `stats`.
Status LoadInto(const LoadCmd& load, Storage& storage, LoadStats* stats);

// The storage the cases load into: the real TSDB head, in memory (no WAL, no
// housekeeping, no retention, since the files use times around the epoch).
std::unique_ptr<tsdb::Head> NewMemoryHead();

// For load_with_nhcb: the native-histogram series a classic histogram series
// (`x_bucket{le=..}`, `x_count`, `x_sum`) is converted into, if it is one.
std::optional<Labels> NhcbSeriesFor(const Labels& ls);

// Formats a value the way the test files write it (Inf, -Inf, NaN, %g).
std::string FormatValue(double v);
std::string FormatSeq(const std::vector<SeqValue>& vs, size_t max_items = 12);

// The --parse-only mode shared by the runner and testfile_check: parses every
// *.test file in dir (or only `only_file`), loads each file's data into a
// TestStorage, prints per-file counts and every line not understood. Returns
// the process exit code (0 when every line was understood).
int RunParseOnly(const std::string& dir, const std::string& only_file, bool verbose);

// The *.test files of dir, sorted by name.
Result<std::vector<std::string>> ListTestFiles(const std::string& dir);
Result<std::string> ReadFile(const std::string& path);

}  // namespace berth::monitor::conformance
