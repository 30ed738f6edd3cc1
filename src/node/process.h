// Child processes of the node side. RunProcess runs a helper program (crun,
// a CNI plugin, nft, ip) to completion: argv, an
// explicit environment, bytes on stdin, stdout and stderr captured. The child
// inherits no descriptor but the three pipes, so plugins cannot hold our
// sockets or lock files open.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::node {

struct ProcessResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;
  std::string err;
};

// Internal if the program cannot be started or the timeout passes (the child
// is then killed); otherwise the exit code is in the result, not the Status.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env, const std::string& input,
                                 int timeout_ms = 30000);

// RunProcess with the caller's environment; a non-zero exit becomes Internal
// carrying stderr.
Status RunChecked(const std::vector<std::string>& argv, const std::string& input = "");
// RunProcess with the caller's environment.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& input = "",
                                 int timeout_ms = 30000);
std::vector<std::string> CurrentEnvironment();

// The server is a child subreaper (PID 1 here is not an init), so processes
// orphaned below it -- e.g. the runtime's helpers when `crun exec` ends early,
// one of which lives in a container's PID namespace and keeps it from dying --
// are re-parented to it and must be reaped. Children that their spawner waits
// for itself are tracked, so the orphan reaper leaves them alone: spawn with
// the lock of SpawnLock() held and TrackChild() the pid before releasing it;
// UntrackChild() once waitpid() returned it.
std::unique_lock<std::mutex> SpawnLock();
void TrackChild(pid_t pid);
void UntrackChild(pid_t pid);
// Starts (once per process) a thread that reaps zombie children nobody tracks.
void StartOrphanReaper();

}  // namespace berth::node
