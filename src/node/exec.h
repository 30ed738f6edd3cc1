// kubectl exec on the kubelet side: one process started in a running
// container through the OCI runtime's `exec`, its stdio carried over a
// websocket in Kubernetes' channel protocol (v4/v5.channel.k8s.io). Every
// binary message starts with a channel byte:
//
//   0 stdin (client→server)     1 stdout    2 stderr
//   3 the final metav1.Status, then the session closes (exit code as
//     reason NonZeroExitCode with an ExitCode cause)
//   4 terminal resize {"Width":W,"Height":H} (client→server)
//   255 (v5 only) close of a channel: [255, 0] = stdin EOF
//
// With a tty the process gets a pseudo-terminal: the runtime creates it and
// hands the master over a console socket (`--console-socket`), so resizes
// are TIOCSWINSZ on that master and stdout carries the terminal's output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.h"

namespace berth::node {

struct ExecOptions {
  std::vector<std::string> argv;     // the runtime's exec argv (Runtime::ExecArgv)
  std::vector<std::string> command;  // the command alone, for messages
  bool want_stdin = false, want_stdout = true, want_stderr = true, tty = false;
  // Where the tty console socket is created (a short path: sun_path limit).
  std::string socket_dir = "/run/berth/exec";
};

// Runs the process and serves the session on `ws` until the process has
// exited and its output is drained; sends the final status and closes the
// websocket. If the client goes away first, the process is killed.
void RunExecSession(net::ResponseWriter::WebSocket* ws, const ExecOptions& opts, bool v5);

// The channel protocol, exposed for tests.
namespace channel {
constexpr uint8_t kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4, kClose = 255;
std::string Frame(uint8_t ch, std::string_view data);
// The final status: Success for 0, else NonZeroExitCode with an ExitCode cause.
std::string ExitStatus(int exit_code, const std::vector<std::string>& command);
// A failure (e.g. the process could not be started) as a metav1.Status.
std::string ErrorStatus(std::string_view message);
bool ParseResize(std::string_view json, uint16_t* width, uint16_t* height);
// The subprotocol to accept from a Sec-WebSocket-Protocol offer:
// "v5.channel.k8s.io" or "v4.channel.k8s.io"; "" if neither is offered.
std::string Negotiate(std::string_view offered);
}  // namespace channel

}  // namespace berth::node
