// A small blocking HTTPS client for tests, benchmarks and the node agent.
// One client holds at most one keep-alive connection and is thread-compatible:
// use one per thread. It verifies the server against ca_file (and the host
// name), and authenticates with a client certificate and/or a bearer token.
// With ClientOptions::plain_http it speaks plain HTTP/1.1 instead.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "net/http.h"

namespace berth::net {

struct ClientOptions {
  std::string host = "127.0.0.1";
  int port = 6443;
  std::string ca_file;       // PEM CA bundle; empty = system roots
  bool system_roots_too = false;  // trust the system roots besides ca_file
  std::string cert_file;     // optional client certificate (PEM)
  std::string key_file;      // its key
  std::string bearer_token;  // sent as Authorization: Bearer unless a header overrides it
  std::string server_name;   // name checked against the certificate; default `host`
  bool insecure_skip_verify = false;
  size_t max_body_bytes = 256 << 20;
  // Speak plain HTTP instead of TLS (the TLS fields above are then ignored).
  // For peers the caller explicitly trusts the path to, such as a registry
  // marked insecure or a loopback test server.
  bool plain_http = false;
  // Gives up a TCP connect after this long (0: the system's own timeout,
  // minutes for an address that never answers). Reads are bounded by the
  // caller with Interrupt().
  int connect_timeout_ms = 0;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  std::string Header(const std::string& key) const {
    auto it = headers.find(key);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpsClient {
 public:
  explicit HttpsClient(ClientOptions opts);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request and reads the whole response. A request on a reused
  // connection that the server had already closed is retried once on a new one.
  Result<ClientResponse> Do(const std::string& method, const std::string& target,
                            const Headers& headers = {}, const std::string& body = "");

  // Called with each piece of a streamed body; return false to stop reading
  // (the connection is then dropped).
  using ChunkCallback = std::function<bool(std::string_view)>;

  // Sends a request and delivers a 2xx body as it arrives: once per HTTP chunk
  // for chunked responses, once per read otherwise. Non-2xx bodies are returned
  // whole in the response instead. The response carries status and headers.
  Result<ClientResponse> Stream(const std::string& method, const std::string& target,
                                const Headers& headers, const std::string& body,
                                const ChunkCallback& on_chunk);
  // Stream() split into '\n'-terminated lines (without the '\n'), as watch
  // events arrive. A trailing partial line is delivered at the end.
  Result<ClientResponse> StreamLines(const std::string& method, const std::string& target,
                                     const Headers& headers, const ChunkCallback& on_line);

  // Sends an upgrade request (websocket, SPDY) on a fresh connection. On 101
  // the connection becomes `stream` (bytes the server sent after its 101
  // included); otherwise the response is read whole and `stream` is null.
  // The stream borrows the client's I/O context: destroy it before the client.
  struct Upgraded {
    ClientResponse response;
    std::unique_ptr<DuplexStream> stream;
  };
  Result<Upgraded> Upgrade(const std::string& method, const std::string& target, const Headers& headers);

  // Drops the keep-alive connection.
  void Close();
  // The one thread-safe call: shuts the current connection's socket down so a
  // request blocked in another thread (a long watch) returns with an error.
  void Interrupt();
  // TCP connections opened so far (tests use it to observe keep-alive).
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::net
