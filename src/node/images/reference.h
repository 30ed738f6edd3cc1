// Image references, parsed and normalised the way docker and containerd do:
//
//   busybox                      -> docker.io/library/busybox:latest
//   foo/bar:1                    -> docker.io/foo/bar:1
//   localhost:5000/x             -> localhost:5000/x:latest
//   host.example/a/b@sha256:...  -> host.example/a/b@sha256:...   (no tag implied)
//   name:tag@sha256:...          -> both kept; the digest is what gets pulled
//
// The first path component is a registry host when it contains '.' or ':' or is
// "localhost"; otherwise the image lives on docker.io, whose one-component
// names get the "library/" prefix. Repository components must be lower case.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace berth::images {

struct Reference {
  std::string domain;      // "docker.io", "localhost:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest"; empty when only a digest was given
  std::string digest;      // "sha256:<64 hex>" or empty

  // The canonical form: domain/repository[:tag][@digest].
  std::string String() const;
  // domain/repository.
  std::string Name() const { return domain + "/" + repository; }
  // The short form docker prints: "busybox:latest", "foo/bar:1",
  // "localhost:5000/x:latest".
  std::string Familiar() const;
  // What a registry's manifest endpoint is asked for: the digest if any, else the tag.
  std::string TagOrDigest() const { return digest.empty() ? tag : digest; }
};

// Parses and normalises `ref`. Errors are kInvalid with a message naming the
// offending part (empty reference, upper-case repository, bad tag, bad digest,
// bad host).
Result<Reference> ParseReference(std::string_view ref);

// True for "sha256:<64 lower-case hex>" (the only digest algorithm Berth accepts).
bool IsValidDigest(std::string_view digest);

}  // namespace berth::images
