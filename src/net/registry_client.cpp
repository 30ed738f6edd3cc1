#include "net/registry_client.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/json.h"

namespace berth::net {

std::string Url::Origin() const { return (https ? "https://" : "http://") + host + ":" + std::to_string(port); }

Result<Url> ParseUrl(const std::string& s) {
  Url u;
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    u.https = false;
    u.port = 80;
    rest = s.substr(7);
  } else {
    return BadRequest("not an http(s) URL: \"" + s + "\"");
  }
  auto slash = rest.find_first_of("/?");
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return BadRequest("bad URL host in \"" + s + "\"");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') u.port = std::atoi(hostport.c_str() + close + 2);
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) u.port = std::atoi(hostport.c_str() + colon + 1);
  }
  if (u.host.empty() || u.port <= 0 || u.port > 65535) return BadRequest("bad URL host in \"" + s + "\"");
  return u;
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void ParseChallenge(const std::string& h, std::string* scheme, std::map<std::string, std::string>* params) {
  size_t i = 0;
  while (i < h.size() && h[i] == ' ') ++i;
  size_t sp = h.find(' ', i);
  *scheme = h.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
  for (auto& c : *scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (sp == std::string::npos) return;
  i = sp + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    size_t eq = h.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = h.substr(i, eq - i);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      ++i;
    } else {
      size_t end = h.find(',', i);
      value = h.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? h.size() : end;
    }
    (*params)[key] = value;
  }
}

std::string RegistryErrorMessage(const std::string& body, std::string* code) {
  auto j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) {
    return "";
  }
  const Json& e = j["errors"][0];
  if (code && e.contains("code") && e["code"].is_string()) *code = e["code"].get<std::string>();
  return e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
}

struct RegistryClient::Impl {
  RegistryClientOptions opts;
  Url base;
  std::map<std::string, std::string> auth_by_scope;  // scope -> Authorization value
  std::string basic;                                 // "Basic ..." when credentials were given
  std::map<std::string, std::unique_ptr<HttpsClient>> clients;

  HttpsClient& ClientFor(const Url& u) {
    auto& c = clients[u.Origin()];
    if (!c) {
      ClientOptions o;
      o.host = u.host;
      o.port = u.port;
      o.plain_http = !u.https;
      // The configured CA is for the registry's host (a private registry such
      // as Berth's own); token services and blob storage elsewhere use the
      // system roots only.
      if (u.host == base.host) o.ca_file = opts.ca_file;
      o.system_roots_too = true;
      o.max_body_bytes = opts.max_body_bytes;
      c = std::make_unique<HttpsClient>(o);
    }
    return *c;
  }

  Result<ClientResponse> Send(const std::string& method, const Url& u, Headers h, const std::string& body,
                              const HttpsClient::ChunkCallback& on_chunk) {
    // Omit the default port from Host: pre-signed storage URLs sign it.
    if ((u.https && u.port == 443) || (!u.https && u.port == 80)) h["Host"] = u.host;
    HttpsClient& c = ClientFor(u);
    auto res = on_chunk ? c.Stream(method, u.target, h, body, on_chunk) : c.Do(method, u.target, h, body);
    if (!res.ok()) {
      return Status(Code::kUnavailable, "registry unreachable: " + u.Origin() + ": " + res.status().message());
    }
    return res;
  }

  Result<Url> Resolve(const std::string& target) const {
    if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) return ParseUrl(target);
    Url u = base;
    u.target = target;
    return u;
  }

  Headers WithAuth(Headers h, const std::string& scope) const {
    auto it = auth_by_scope.find(scope);
    if (it != auth_by_scope.end()) {
      h["Authorization"] = it->second;
    } else if (!opts.auth.token.empty()) {
      h["Authorization"] = "Bearer " + opts.auth.token;
    }
    return h;
  }

  // Answers a 401 challenge for `scope`; leaves the header to use next in auth_by_scope.
  Status Authenticate(const std::string& challenge, const std::string& scope) {
    std::string scheme;
    std::map<std::string, std::string> params;
    ParseChallenge(challenge, &scheme, &params);
    if (scheme == "basic") {
      if (basic.empty()) return Status(Code::kUnauthorized, "the registry requires credentials");
      auth_by_scope[scope] = basic;
      return Status::Ok();
    }
    if (scheme != "bearer") return Status(Code::kUnauthorized, "registry asks for unsupported authentication \"" + scheme + "\"");
    auto realm = params.find("realm");
    if (realm == params.end()) return Status(Code::kUnauthorized, "registry's Bearer challenge has no realm");
    BERTH_ASSIGN_OR_RETURN(Url tu, ParseUrl(realm->second));
    std::string want = !scope.empty() ? scope : (params.count("scope") ? params["scope"] : "");
    std::string query;
    if (params.count("service")) query += "service=" + UrlEncode(params["service"]);
    if (!want.empty()) query += std::string(query.empty() ? "" : "&") + "scope=" + UrlEncode(want);
    if (!query.empty()) tu.target += (tu.target.find('?') == std::string::npos ? "?" : "&") + query;
    Headers h;
    if (!basic.empty()) h["Authorization"] = basic;
    BERTH_ASSIGN_OR_RETURN(ClientResponse res, Send("GET", tu, h, "", nullptr));
    if (res.status == 401 || res.status == 403) {
      std::string msg = RegistryErrorMessage(res.body);
      return Status(Code::kUnauthorized, (basic.empty() ? std::string("the token service requires credentials")
                                                        : "the token service rejected the credentials for " +
                                                              opts.auth.username) +
                                             (msg.empty() ? "" : ": " + msg));
    }
    if (res.status != 200) {
      return Status(Code::kUnavailable, "token service " + tu.Origin() + " answered HTTP " + std::to_string(res.status));
    }
    auto j = Json::parse(res.body, nullptr, false);
    std::string token;
    if (j.is_object()) {
      for (const char* k : {"token", "access_token"}) {
        if (j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty()) {
          token = j[k].get<std::string>();
          break;
        }
      }
    }
    if (token.empty()) return Status(Code::kUnavailable, "token service " + tu.Origin() + " returned no token");
    auth_by_scope[scope] = "Bearer " + token;
    return Status::Ok();
  }

  Result<ClientResponse> Request(const std::string& method, const std::string& target, const std::string& scope,
                                 const Headers& headers, const std::string& body,
                                 const HttpsClient::ChunkCallback& on_chunk) {
    BERTH_ASSIGN_OR_RETURN(Url u, Resolve(target));
    for (int attempt = 0;; ++attempt) {
      BERTH_ASSIGN_OR_RETURN(ClientResponse res, Send(method, u, WithAuth(headers, scope), body, on_chunk));
      if (res.status != 401 || attempt > 0) return res;
      std::string challenge = res.Header("WWW-Authenticate");
      if (challenge.empty()) return res;
      std::string before = WithAuth({}, scope)["Authorization"];
      BERTH_RETURN_IF_ERROR(Authenticate(challenge, scope));
      if (WithAuth({}, scope)["Authorization"] == before) return res;  // nothing new to try
    }
  }
};

RegistryClient::RegistryClient() : impl_(std::make_unique<Impl>()) {}
RegistryClient::~RegistryClient() = default;

Result<std::unique_ptr<RegistryClient>> RegistryClient::Create(const RegistryClientOptions& opts) {
  std::unique_ptr<RegistryClient> c(new RegistryClient());
  c->impl_->opts = opts;
  BERTH_ASSIGN_OR_RETURN(c->impl_->base, ParseUrl(opts.url));
  c->impl_->base.target = "/";
  if (!opts.auth.username.empty())
    c->impl_->basic = "Basic " + Base64Encode(opts.auth.username + ":" + opts.auth.password);
  return c;
}

Result<ClientResponse> RegistryClient::Do(const std::string& method, const std::string& target,
                                          const std::string& scope, const Headers& headers, const std::string& body) {
  return impl_->Request(method, target, scope, headers, body, nullptr);
}

Result<ClientResponse> RegistryClient::Stream(const std::string& target, const std::string& scope,
                                              const HttpsClient::ChunkCallback& on_chunk) {
  BERTH_ASSIGN_OR_RETURN(ClientResponse res, impl_->Request("GET", target, scope, {}, "", on_chunk));
  BERTH_ASSIGN_OR_RETURN(Url u, impl_->Resolve(target));
  for (int hops = 0; res.status >= 300 && res.status < 400 && res.status != 304; ++hops) {
    std::string loc = res.Header("Location");
    if (loc.empty() || hops >= 5)
      return Status(Code::kUnavailable, target + ": bad redirect (HTTP " + std::to_string(res.status) + ")");
    Url next;
    if (loc[0] == '/') {
      next = u;
      next.target = loc;
    } else {
      BERTH_ASSIGN_OR_RETURN(next, ParseUrl(loc));
    }
    bool same_origin = next.Origin() == impl_->base.Origin();
    BERTH_ASSIGN_OR_RETURN(res, impl_->Send("GET", next, same_origin ? impl_->WithAuth({}, scope) : Headers{}, "", on_chunk));
    u = next;
  }
  return res;
}

const Url& RegistryClient::base() const { return impl_->base; }
const RegistryClientOptions& RegistryClient::options() const { return impl_->opts; }

}  // namespace berth::net
