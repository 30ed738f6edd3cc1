// The node side's view of the API: a thread-safe REST client and a list+watch
// informer, over HTTPS, exactly as kubelet and kube-proxy talk to an API server.
// Nothing under node/ reads the store directly, so the same code runs embedded
// in `berth server` and alone as `berth agent` on another machine.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "net/client.h"

namespace berth::node {

class KubeClient {
 public:
  explicit KubeClient(net::ClientOptions opts);
  ~KubeClient();

  // Paths are API paths ("/api/v1/namespaces/default/pods/x"). A non-2xx answer
  // becomes a Status with the code of the server's metav1.Status reason.
  Result<Json> Get(const std::string& path);
  Result<Json> Create(const std::string& collection_path, const Json& obj);
  Result<Json> Update(const std::string& path, const Json& obj);
  // A JSON merge patch (RFC 7386).
  Result<Json> MergePatch(const std::string& path, const Json& patch);
  Status Delete(const std::string& path, const std::string& query = "");
  // Raw request for callers that need the body as is (logs, metrics).
  Result<net::ClientResponse> Raw(const std::string& method, const std::string& target,
                                  const std::string& body = "", const std::string& content_type = "");

  const net::ClientOptions& options() const { return opts_; }

 private:
  friend class Informer;
  std::unique_ptr<net::HttpsClient> Take();
  void Give(std::unique_ptr<net::HttpsClient> c);

  net::ClientOptions opts_;
  std::mutex mu_;
  std::vector<std::unique_ptr<net::HttpsClient>> idle_;
};

// Keeps a cache of one collection ("/api/v1/pods" plus a query such as
// "fieldSelector=spec.nodeName%3Dnode1") by listing it and then watching from
// the list's resourceVersion; re-lists after any watch error (410 included).
// The handler runs on the informer's thread, in order, with the cache already
// updated; on a re-list it sees ADDED/MODIFIED for what is there and DELETED for
// what vanished, so consumers stay level-triggered.
class Informer {
 public:
  using Handler = std::function<void(const std::string& type, const Json& obj)>;
  Informer(KubeClient* client, std::string collection_path, std::string query, Handler h);
  ~Informer();
  void Start();
  void Stop();
  // True once the first list has been delivered.
  bool Synced() const { return synced_; }
  // Copies of cached objects; key is "ns/name" or "name".
  std::vector<Json> List() const;
  bool Get(const std::string& key, Json* out) const;

 private:
  void Run();
  bool ListOnce(std::string* rv);
  void Deliver(const std::string& type, const Json& obj);

  KubeClient* client_;
  std::string path_, query_;
  Handler handler_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Json>> cache_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  std::mutex stream_mu_;
  net::HttpsClient* stream_ = nullptr;  // the watch connection, closed by Stop()
};

std::string ObjectKey(const Json& obj);  // "ns/name" or "name"

}  // namespace berth::node
