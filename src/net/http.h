// The HTTP surface every module programs against. No Boost type appears here:
// handlers see a parsed Request and write through a ResponseWriter, which may
// stream (chunked) for watches and logs, or hand the connection over to a
// websocket for exec and port-forward.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth::net {

// Who sent a request. Set by the server from the client certificate (CN = name,
// O = groups) or by the bearer-token authenticator.
struct Identity {
  std::string user;
  std::vector<std::string> groups;
  bool authenticated() const { return !user.empty(); }
};

struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

// The body of a request whose route streams it (Router::HandleStreaming):
// read by the handler in pieces instead of being buffered by the server.
// Whatever the handler leaves unread is discarded (or the connection closed).
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads up to n bytes into buf; 0 once the body is complete. An error means
  // the body is truncated or malformed (peer gone, bad chunking, idle timeout).
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // The Content-Length the client declared, or -1 for a chunked body.
  virtual int64_t declared_length() const = 0;
};

struct Request {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // raw request target, path plus query
  std::string path;                               // percent-decoded path, no query
  std::multimap<std::string, std::string> query;  // decoded query parameters
  Headers headers;
  std::string body;                 // empty for streaming routes
  BodyReader* body_reader = nullptr;  // set for streaming routes only
  Identity identity;
  std::string remote_addr;

  // First value of a query parameter, or `def`.
  std::string Query(const std::string& key, const std::string& def = "") const;
  bool HasQuery(const std::string& key) const { return query.count(key) > 0; }
  std::string Header(const std::string& key) const;
};

class DuplexStream;

// Writes one response. Either Reply() once, or Start() then any number of
// Write() calls then End(). A streaming writer returns false from Write() once
// the peer has gone; handlers stop then. Start() sends a chunked body unless
// the headers carry a Content-Length: then Write() sends raw bytes, which must
// add up to that length (a large file streamed with a known size).
//
// A long-running handler (a watch waiting for events) must wake up now and then
// (a few hundred ms) to check PeerClosed(): once the client leaves or the
// server stops, PeerClosed() is true and Write() false, and the server's Stop()
// waits for the handler to return. A writer belongs to its handler's thread.
// An End() the handler forgets is sent for it; no reply at all becomes a 500.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void Reply(int code, const Headers& headers, std::string body) = 0;
  virtual bool Start(int code, const Headers& headers) = 0;  // chunked
  virtual bool Write(std::string_view chunk) = 0;            // one flushed chunk
  virtual void End() = 0;
  // True once the client closed its side (checked without blocking).
  virtual bool PeerClosed() = 0;
  // Hijacks the connection for a websocket session (RFC 6455). `protocol` is
  // the chosen subprotocol. Returns nullptr if the request was not an upgrade
  // (the handler may then still Reply()). The session must be destroyed before
  // the handler returns; the connection closes afterwards.
  class WebSocket;
  virtual std::unique_ptr<WebSocket> UpgradeWebSocket(const std::string& protocol) = 0;
  // Hijacks the connection as a raw byte stream after sending `code` (101
  // Switching Protocols) with `headers`, for upgrades the server does not
  // speak itself: a relay to another server (the API server proxying exec and
  // port-forward to a kubelet) or SPDY. Bytes the client sent after its
  // request are delivered by the first Read(). Returns nullptr if a response
  // was already started. Same lifetime rule as UpgradeWebSocket().
  virtual std::unique_ptr<DuplexStream> UpgradeRaw(int code, const Headers& headers) { return nullptr; }
};

// A full-duplex byte stream over an upgraded connection (either side). One
// thread may block in Read() while another calls Write(); Shutdown() may be
// called from any thread and makes both return false.
class DuplexStream {
 public:
  virtual ~DuplexStream() = default;
  // Blocks for the next bytes (replacing *data); false on EOF or error.
  virtual bool Read(std::string* data) = 0;
  // Writes all of data; false on error.
  virtual bool Write(std::string_view data) = 0;
  virtual void Shutdown() = 0;
};

// Messages are binary. Full duplex: one thread may block in Receive() while
// another calls SendBinary(); concurrent calls of the same method serialise.
class ResponseWriter::WebSocket {
 public:
  virtual ~WebSocket() = default;
  virtual bool SendBinary(std::string_view data) = 0;
  // Blocks for the next message; false on close or error.
  virtual bool Receive(std::string* data) = 0;
  virtual void Close() = 0;
};

using Handler = std::function<void(Request&, ResponseWriter&)>;

struct Route {
  Handler handler;
  // The handler reads the body through Request::body_reader, with no size
  // limit from the server (uploads of large blobs).
  bool stream_body = false;
};

// Path-prefix router: the longest matching prefix wins. Exact routes end
// without a trailing '*'; prefix routes are registered as "/v2/*".
class Router {
 public:
  void Handle(const std::string& pattern, Handler h);
  void HandleStreaming(const std::string& pattern, Handler h);
  // Returns the route (or handler) for path, or nullptr.
  const Route* MatchRoute(const std::string& path) const;
  const Handler* Match(const std::string& path) const;

 private:
  void Add(const std::string& pattern, Route r);
  std::map<std::string, Route> exact_;
  std::vector<std::pair<std::string, Route>> prefixes_;  // sorted longest first
};

// Percent-decoding and query parsing, exposed for tests and clients.
std::string PercentDecode(std::string_view s, bool plus_is_space);
std::string PercentEncode(std::string_view s);
std::multimap<std::string, std::string> ParseQuery(std::string_view q);

// A metav1.Status JSON document for an error (kind Status, status Failure, the
// Kubernetes reason for its code, and its causes under details).
std::string StatusJson(const Status& st);
// The same for an HTTP code and reason that may have no Code (e.g. 431).
std::string StatusJson(int http_code, std::string_view reason, std::string_view message);

}  // namespace berth::net
