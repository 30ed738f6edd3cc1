// Runs a helper program (a CNI plugin, nft, ip) to completion: argv, an
// explicit environment, bytes on stdin, stdout and stderr captured. The child
// inherits no descriptor but the three pipes, so plugins cannot hold our
// sockets or lock files open.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace berth::node::network {

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

}  // namespace berth::node::network
