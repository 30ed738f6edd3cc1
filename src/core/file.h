// Small file-system helpers shared by every module that persists files (PKI,
// registry blobs, configuration). Writes are atomic: a crash leaves either the
// old content or the new one, never a torn file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace berth {

// Reads a whole file. NotFound if it does not exist.
Result<std::string> ReadFile(const std::string& path);

// Writes `data` to a temp file in the same directory with `mode`, fsyncs it,
// renames it over `path` and fsyncs the directory.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// The same rename dance; without `durable` nothing is fsynced, so the file is
// whole or absent after a crash of the process, though not of the machine.
// For state that does not outlive a reboot anyway (pod network records).
Status WriteFileReplace(const std::string& path, std::string_view data, mode_t mode, bool durable);

bool FileExists(const std::string& path);

// mkdir -p with `mode` for every directory it creates.
Status MakeDirs(const std::string& path, mode_t mode = 0755);

}  // namespace berth
