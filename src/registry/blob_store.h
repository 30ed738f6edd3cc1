// Where the registry keeps bytes: content-addressed blobs (layers, configs and
// manifests alike) and the files of uploads in progress. Metadata (which
// repository links which blob, manifests, tags) is not here but in
// registry/metadata.h. FsBlobStore keeps everything under one directory; an
// S3-compatible store can implement the same interface.
//
// A blob appears whole or not at all: an upload is written to its own file and
// becomes the blob by one rename after its digest was verified and its data
// made durable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "registry/digest.h"

namespace berth::registry {

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual int64_t size() const = 0;
  // Reads up to n bytes at offset; 0 at the end.
  virtual Result<size_t> ReadAt(int64_t offset, char* buf, size_t n) = 0;
};

class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  virtual Status Append(std::string_view data) = 0;
  // Makes what was appended durable; returns the upload's size.
  virtual Result<int64_t> Flush() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // The size of a stored blob; NotFound if there is none.
  virtual Result<int64_t> Stat(const Digest& d) = 0;
  virtual Result<std::unique_ptr<BlobReader>> Open(const Digest& d) = 0;
  // Removes a blob; returns the bytes freed (0 if it was not there).
  virtual Result<int64_t> Delete(const Digest& d) = 0;
  struct Entry {
    Digest digest;
    int64_t modified_ms = 0;
  };
  // Every stored blob, for garbage collection's sweep of unrecorded files.
  virtual Result<std::vector<Entry>> List() = 0;

  // Uploads, by session id.
  virtual Status CreateUpload(const std::string& id) = 0;
  virtual Result<int64_t> UploadSize(const std::string& id) = 0;
  virtual Result<std::unique_ptr<UploadWriter>> AppendUpload(const std::string& id) = 0;
  // Cuts an upload back to `size` bytes (drops a chunk that arrived broken).
  virtual Status TruncateUpload(const std::string& id, int64_t size) = 0;
  // Hashes the whole upload with `algorithm` (for a digest algorithm the
  // session did not hash on the fly).
  virtual Result<std::string> HashUpload(const std::string& id, std::string_view algorithm) = 0;
  // Moves the (verified) upload into place as blob d; the session is gone.
  virtual Status CommitUpload(const std::string& id, const Digest& d) = 0;
  virtual Status DeleteUpload(const std::string& id) = 0;
  virtual Result<std::vector<std::string>> ListUploads() = 0;
};

// Blobs under ROOT/blobs/ALG/XX/HEX, uploads under ROOT/uploads/ID.
std::unique_ptr<BlobStore> NewFsBlobStore(const std::string& root);

}  // namespace berth::registry
