// Prometheus remote write 1.0: a snappy-compressed (block format) protobuf
// prometheus.WriteRequest, as Prometheus, Grafana Agent and vmagent send it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "monitor/storage.h"

namespace berth::monitor {

struct RemoteWriteStats {
  int64_t series = 0;
  int64_t samples = 0;
};

// Decodes the request into series. BadRequest for a body that is not snappy,
// not a WriteRequest, or holds a series with no labels, an empty or duplicate
// label name, or a native histogram that is not valid (unknown schema, spans
// that do not match the buckets, negative counts).
Result<std::vector<SeriesSamples>> DecodeRemoteWrite(std::string_view body);

// Decodes and appends every sample in one batch: all of the request is
// stored, or (on any rejected sample, e.g. out of order) none of it.
Status ReceiveRemoteWrite(std::string_view body, Storage* storage,
                          RemoteWriteStats* stats = nullptr);

// The inverse of DecodeRemoteWrite (tests, and a remote-write sender).
std::string EncodeRemoteWrite(const std::vector<SeriesSamples>& series);

}  // namespace berth::monitor
