// The part of Go's text/template that Prometheus alert labels and
// annotations use, with Prometheus's template functions. A template is parsed
// once (Parse reports unknown functions and syntax errors, as promtool does)
// and executed per alert.
//
// Supported: text and {{ actions }} with {{- -}} trimming and {{/* comments */}};
// pipelines (`a | f x`); fields (.Labels.x, .Value, .ExternalLabels.x,
// .ExternalURL, on query samples .Labels/.Value); variables ($labels,
// $value, $externalLabels, $externalURL, `$x := ...`, `$x = ...`); literals
// (strings, raw strings, numbers, true/false/nil); parenthesised pipelines;
// if/else if/else/end, range (over query results and label maps) and
// with. Functions: Prometheus's humanize, humanize1024, humanizeDuration,
// humanizePercentage, humanizeTimestamp, query, first, label, value,
// strvalue, sortByLabel, title, toUpper, toLower, match, reReplaceAll,
// safeHtml, stripPort, stripDomain, externalURL, pathPrefix, graphLink,
// tableLink, parseDuration, toTime; Go's builtins and, or, not, eq, ne, lt,
// le, gt, ge, len, index, print, printf, println, urlquery.
//
// Departures from Go: comparisons accept an int and a float together
// (Go refuses `gt $value 80`); strings are compared bytewise and
// toUpper/toLower/title change ASCII letters only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "monitor/labels.h"

namespace berth::monitor::rules {

// One element of a `query` result: Prometheus's template `sample`.
struct TemplateSample {
  Labels labels;  // __name__ included when the series has one
  double value = 0;
};

// Runs a PromQL query for the `query` function (at the evaluation time).
using TemplateQueryFunc =
    std::function<Result<std::vector<TemplateSample>>(const std::string& query)>;

// The data an alert template sees: `.` and the $-variables defined from it.
struct TemplateData {
  Labels labels;             // .Labels, $labels: the alert's series labels
  Labels external_labels;    // .ExternalLabels, $externalLabels
  std::string external_url;  // .ExternalURL, $externalURL
  double value = 0;          // .Value, $value
};

struct TemplateNode;

class Template {
 public:
  // `name` appears in error texts ("template: NAME:1: ..."); Prometheus uses
  // "__alert_" + the alert name.
  static Result<Template> Parse(std::string_view text, std::string_view name = "__alert_");

  // Expands the template; `query` may be empty (then `query` fails). The
  // error is Go's kind of text: "template: NAME:1:3: executing ...".
  Result<std::string> Execute(const TemplateData& data, const TemplateQueryFunc& query = {}) const;

  // True when the text has no actions, so Execute would return it as is.
  bool IsPlainText() const { return plain_; }

 private:
  std::shared_ptr<const TemplateNode> root_;
  std::string name_;
  bool plain_ = true;
};

// Prometheus's humanize family: values as Prometheus renders them in alerts.
std::string Humanize(double v);             // 1234567 -> "1.235M", 0.001 -> "1m"
std::string Humanize1024(double v);         // 1048576 -> "1Mi"
std::string HumanizeDuration(double secs);  // 3661 -> "1h 1m 1s", 0.5 -> "500ms"
std::string HumanizePercentage(double v);   // 0.1234 -> "12.34%"
// A millisecond time in UTC as Go prints it: date, `date_time_sep`, time with
// the fraction's trailing zeros dropped, then `suffix` ("Z" for JSON,
// " +0000 UTC" for time.Time.String()).
std::string FormatMillisUtc(int64_t ms, char date_time_sep, std::string_view suffix);
std::string HumanizeTimestamp(
    double secs);  // 1435065584.128 -> "2015-06-23 13:19:44.128 +0000 UTC"

// Go's fmt renderings of a float64: %v (strconv 'g', shortest), %.Ng, and
// strconv.FormatFloat(v, 'e', -1, 64) (the API's alert "value").
std::string GoFormatV(double v);
std::string GoFormatG(double v, int precision);
std::string GoFormatEShortest(double v);

}  // namespace berth::monitor::rules
