// A TSDB head that keeps everything in memory (no WAL, no housekeeping, no
// retention), for the unit tests and the PromQL conformance runner, which need
// storage but test nothing about persistence.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "monitor/tsdb/head.h"

namespace berth::testing {

// Exits with a message when the head cannot be opened: without storage no
// test could run, and there is nothing more specific to report.
inline std::unique_ptr<monitor::tsdb::Head> NewMemoryHead() {
  monitor::tsdb::Options o;
  o.wal = false;
  o.retention_ms = 0;
  o.housekeeping_interval_ms = 0;
  auto h = monitor::tsdb::Head::Open(o);
  if (!h.ok()) {
    std::fprintf(stderr, "cannot open an in-memory TSDB head: %s\n", h.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(*h);
}

}  // namespace berth::testing
