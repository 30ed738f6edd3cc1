// `berth server`: composes every module into one process on one HTTPS port.
#pragma once

#include <string>

namespace berth {

struct ServerConfig {
  std::string data_dir = "/var/lib/berth";
  std::string bind = "0.0.0.0";
  int port = 6443;
  std::string log_level = "info";
  // Host name or IP written into the kubeconfig's server URL.
  std::string advertise = "127.0.0.1";
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunServer(const ServerConfig& cfg);

}  // namespace berth
