// The HTTPS server: TLS 1.2+ only, HTTP/1.1 keep-alive, one thread per
// connection (watches and log streams hold theirs), client-certificate and
// bearer-token authentication before any handler runs.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "net/http.h"

namespace berth::net {

struct ServerOptions {
  std::string bind = "0.0.0.0";
  int port = 6443;                          // 0 picks a free port; see HttpsServer::port()
  std::string cert_file;                    // PEM serving certificate (chain)
  std::string key_file;                     // PEM private key
  std::string client_ca_file;               // PEM CA that signs client certificates
  size_t max_body_bytes = 3 * 1024 * 1024;  // larger bodies get 413
  size_t max_header_bytes = 64 * 1024;
  int idle_timeout_seconds = 120;
  // Paths answered without authentication (none by default).
  std::vector<std::string> anonymous_paths;
};

// Checks a bearer token; returns the identity or nullopt.
using TokenAuthenticator = std::function<std::optional<Identity>(const std::string& token)>;

class HttpsServer {
 public:
  HttpsServer(ServerOptions opts, Router router, TokenAuthenticator tokens);
  ~HttpsServer();
  // Binds and starts accepting; returns once the port is listening.
  Status Start();
  // Stops accepting, closes every connection, joins every thread.
  void Stop();
  int port() const;
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::net
