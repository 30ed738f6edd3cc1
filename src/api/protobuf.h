// Decoding of Kubernetes protobuf request bodies into the JSON object a JSON
// client would have sent.
//
// kubectl 1.32 and later POST `kubectl create <generator>` objects (namespace,
// configmap, secret, deployment, service, job, cronjob, ...) with
// `Content-Type: application/vnd.kubernetes.protobuf` and do not fall back to
// JSON on 415, so the server must understand them. Everything else in Berth
// works on JSON, so the body is translated once at the edge.
//
// Wire layout: "k8s\0" + runtime.Unknown{1: TypeMeta{1: apiVersion, 2: kind},
// 2: raw, 3: contentEncoding, 4: contentType}; `raw` is the object's own message
// (k8s.io/api generated.proto). The decoder is schema-driven from hand-written
// tables that cover the kinds kubectl's create generators produce; fields the
// tables do not know are skipped, exactly as unknown JSON fields would be with
// fieldValidation=Ignore.
#pragma once

#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth {

// The media type kubectl uses for protobuf bodies.
inline constexpr std::string_view kProtobufContentType = "application/vnd.kubernetes.protobuf";

// Decodes a complete protobuf request body. The result has "apiVersion" and
// "kind" from the envelope plus the object's fields under their JSON names, with
// zero values dropped wherever Go's encoding/json would omit them (omitempty), so
// it matches what the same client would have sent as JSON.
//
// Errors: BadRequest for malformed input (bad magic, truncated or over-long
// varints, lengths past the end, wrong or unknown wire types, nesting deeper than
// the schema allows, invalid UTF-8 in strings, out-of-range timestamps);
// UnsupportedMediaType for a well-formed envelope whose kind has no schema or
// whose contentEncoding is set.
Result<Json> DecodeKubernetesProtobuf(std::string_view body);

// "apiVersion/kind" pairs (e.g. "apps/v1/Deployment") the decoder has schemas
// for; exposed for tests and for discovery/diagnostics.
std::vector<std::string_view> ProtobufDecodableKinds();

namespace internal {
// Verifies the hand-written schema tables: every referenced message exists, no
// field number or JSON name repeats within a message. For tests.
Status ProtobufSchemaSelfCheck();
}  // namespace internal

}  // namespace berth
