// A small blocking HTTPS client for tests, benchmarks and the node agent.
// One client holds at most one keep-alive connection and is thread-compatible:
// use one per thread. It verifies the server against ca_file (and the host
// name), and authenticates with a client certificate and/or a bearer token.
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
  std::string cert_file;     // optional client certificate (PEM)
  std::string key_file;      // its key
  std::string bearer_token;  // sent as Authorization: Bearer unless a header overrides it
  std::string server_name;   // name checked against the certificate; default `host`
  bool insecure_skip_verify = false;
  size_t max_body_bytes = 256 << 20;
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

  // Drops the keep-alive connection.
  void Close();
  // TCP connections opened so far (tests use it to observe keep-alive).
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::net
