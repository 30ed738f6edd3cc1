// The Docker token service (/service/token) and the access policy behind it:
// who may pull, push or delete in which project. Registry tokens are ES256
// JWTs in the form the Docker registry token specification describes
// ("access": [{"type","name","actions"}]), signed with the registry's own key.
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <strings.h>

#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/log.h"
#include "core/strings.h"
#include "core/time.h"
#include "registry/internal.h"

namespace berth::registry {
namespace {

constexpr const char* kIssuer = "berth-registry";

std::set<std::string> RoleActions(const std::string& role) {
  if (role == "admin" || role == "maintainer") return {"pull", "push", "delete"};
  if (role == "developer") return {"pull", "push"};
  if (role == "guest") return {"pull"};
  return {};
}

bool HasGroup(const std::vector<std::string>& groups, const std::string& g) {
  for (const auto& x : groups)
    if (x == g) return true;
  return false;
}

// "repository:NAME:pull,push" → Grant (actions requested). Names may contain ':' only in a port-less
// form, so the last ':' separates the actions.
std::optional<Grant> ParseScope(const std::string& s) {
  size_t a = s.find(':');
  size_t b = s.rfind(':');
  if (a == std::string::npos || a == b) return std::nullopt;
  Grant g;
  g.type = s.substr(0, a);
  g.name = s.substr(a + 1, b - a - 1);
  for (const std::string& act : Split(s.substr(b + 1), ',')) {
    if (act == "*") {
      g.actions.insert({"pull", "push", "delete"});
    } else if (!act.empty()) {
      g.actions.insert(act);
    }
  }
  return g;
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string ProjectOf(const std::string& repo) {
  size_t slash = repo.find('/');
  return slash == std::string::npos ? "" : repo.substr(0, slash);
}

Result<Json> Registry::Impl::GetProject(const std::string& name) {
  if (name.empty()) return NotFound("no project");
  return os->Get(*project_kind, "", name);
}

bool Registry::Impl::TagImmutable(const Json& project, const std::string& tag) {
  if (tag.empty()) return false;
  const Json& spec = project.value("spec", Json::object());
  for (const Json& p : spec.value("immutableTags", Json::array()))
    if (p.is_string() && fnmatch(p.get<std::string>().c_str(), tag.c_str(), 0) == 0) return true;
  return false;
}

Result<Principal> Registry::Impl::Login(const net::Request& r) {
  Principal p;
  if (r.identity.authenticated()) {
    p.name = r.identity.user;
    p.groups = r.identity.groups;
    return p;
  }
  std::string auth = r.Header("Authorization");
  if (auth.size() < 6 || strncasecmp(auth.c_str(), "Basic ", 6) != 0) {
    if (!auth.empty()) return Status(Code::kUnauthorized, "invalid credentials");
    return p;  // anonymous
  }
  auto decoded = Base64Decode(std::string_view(auth).substr(6));
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) return Status(Code::kUnauthorized, "malformed Basic credentials");
  std::string user = decoded->substr(0, colon), password = decoded->substr(colon + 1);
  if (user.rfind("robot$", 0) == 0) {
    std::string name = user.substr(6);
    auto robot = os->Get(*robot_kind, "", name);
    if (!robot.ok()) return Status(Code::kUnauthorized, "invalid credentials");
    const Json spec = robot->value("spec", Json::object());
    if (spec.value("disabled", false)) return Status(Code::kUnauthorized, "robot account " + user + " is disabled");
    std::string expires = spec.value("expiresAt", "");
    if (!expires.empty()) {
      auto t = ParseRFC3339(expires);
      if (!t || *t <= NowSeconds()) return Status(Code::kUnauthorized, "robot account " + user + " has expired");
    }
    const Json ref = robot->value("status", Json::object()).value("secretRef", Json::object());
    auto secret = os->Get(*secret_kind, ref.value("namespace", ""), ref.value("name", ""));
    if (!secret.ok()) return Status(Code::kUnauthorized, "invalid credentials");
    auto want = Base64Decode((*secret)["data"].value("secret", ""));
    if (!want || want->empty() || !ConstantTimeEquals(*want, password))
      return Status(Code::kUnauthorized, "invalid credentials");
    p.name = user;
    p.robot = true;
    for (const Json& perm : spec.value("permissions", Json::array())) {
      std::set<std::string> acts;
      for (const Json& a : perm.value("actions", Json::array()))
        if (a.is_string()) acts.insert(a.get<std::string>());
      p.robot_permissions.emplace_back(perm.value("project", ""), std::move(acts));
    }
    return p;
  }
  // Anyone else logs in with an API bearer token as the password (static
  // tokens, service-account tokens); the user name is informational.
  auto id = authenticate ? authenticate(password) : std::nullopt;
  if (!id || !id->authenticated()) return Status(Code::kUnauthorized, "invalid credentials");
  p.name = id->user;
  p.groups = id->groups;
  return p;
}

std::set<std::string> Registry::Impl::Allowed(const Principal& p, const std::string& repo) {
  if (!ValidRepositoryName(repo)) return {};
  std::string project = ProjectOf(repo);
  bool admin = !p.robot && HasGroup(p.groups, "system:masters");
  auto proj = GetProject(project);
  if (!proj.ok()) {
    // A missing project: an administrator's push then fails with NAME_UNKNOWN
    // naming the project, instead of an unexplained denial.
    return admin ? std::set<std::string>{"pull", "push", "delete"} : std::set<std::string>{};
  }
  if (admin) return {"pull", "push", "delete"};
  std::set<std::string> out;
  const Json& spec = (*proj).value("spec", Json::object());
  if (spec.value("public", false)) out.insert("pull");
  if (p.robot) {
    for (const auto& [proj_name, acts] : p.robot_permissions)
      if (proj_name == project) out.insert(acts.begin(), acts.end());
    return out;
  }
  if (p.anonymous()) return out;
  for (const Json& m : spec.value("members", Json::array())) {
    std::string kind = m.value("kind", ""), who = m.value("name", "");
    if ((kind == "User" && who == p.name) || (kind == "Group" && HasGroup(p.groups, who))) {
      auto acts = RoleActions(m.value("role", ""));
      out.insert(acts.begin(), acts.end());
    }
  }
  return out;
}

std::string Registry::Impl::IssueToken(const Principal& p, const std::vector<Grant>& grants, int64_t* expires_in) {
  int64_t now = NowSeconds();
  Json access = Json::array();
  for (const Grant& g : grants) {
    access.push_back({{"type", g.type}, {"name", g.name}, {"actions", std::vector<std::string>(g.actions.begin(), g.actions.end())}});
  }
  Json claims = {{"iss", kIssuer}, {"sub", p.name}, {"aud", opts.service}, {"iat", now}, {"nbf", now - 5},
                 {"exp", now + opts.token_seconds}, {"jti", HexEncode(RandomBytes(12))}, {"access", access}};
  *expires_in = opts.token_seconds;
  return signer->Sign(claims, "JWT");
}

Result<std::vector<Grant>> Registry::Impl::VerifyToken(const std::string& token, std::string* subject) {
  BERTH_ASSIGN_OR_RETURN(Json claims, signer->Verify(token));
  if (subject != nullptr) *subject = claims.value("sub", "");
  if (claims.value("iss", "") != kIssuer || claims.value("aud", "") != opts.service)
    return Status(Code::kUnauthorized, "invalid token: wrong issuer or audience");
  int64_t now = NowSeconds();
  int64_t exp = claims.value("exp", int64_t{0});
  if (exp == 0 || now > exp) return Status(Code::kUnauthorized, "invalid token: expired");
  if (claims.value("nbf", int64_t{0}) > now + 60) return Status(Code::kUnauthorized, "invalid token: not valid yet");
  std::vector<Grant> out;
  for (const Json& a : claims.value("access", Json::array())) {
    Grant g;
    g.type = a.value("type", "");
    g.name = a.value("name", "");
    for (const Json& act : a.value("actions", Json::array()))
      if (act.is_string()) g.actions.insert(act.get<std::string>());
    out.push_back(std::move(g));
  }
  return out;
}

void Registry::Impl::ServeToken(net::Request& r, net::ResponseWriter& w) {
  if (r.method != "GET" && r.method != "POST") {
    ReplyError(w, 405, "UNSUPPORTED", "the token service answers GET and POST");
    return;
  }
  // POST is the OAuth2 form (grant_type=password with username/password).
  net::Request creds = r;
  std::multimap<std::string, std::string> params = r.query;
  if (r.method == "POST") {
    params = net::ParseQuery(r.body);
    auto it = params.find("grant_type");
    std::string grant = it == params.end() ? "" : it->second;
    if (grant != "password") {
      ReplyError(w, 400, "UNSUPPORTED", "only grant_type=password is supported");
      return;
    }
    std::string user, pass;
    if (auto u = params.find("username"); u != params.end()) user = u->second;
    if (auto pw = params.find("password"); pw != params.end()) pass = pw->second;
    creds.headers["Authorization"] = "Basic " + Base64Encode(user + ":" + pass);
  }
  auto principal = Login(creds);
  if (!principal.ok()) {
    log::Info("registry login refused", log::Fields()("remote", r.remote_addr)("err", principal.status().message()));
    ReplyError(w, 401, "UNAUTHORIZED", principal.status().message(), nullptr,
               {{"WWW-Authenticate", "Basic realm=\"berth\""}});
    return;
  }
  std::string service;
  if (auto it = params.find("service"); it != params.end()) service = it->second;
  if (!service.empty() && service != opts.service) {
    ReplyError(w, 400, "UNSUPPORTED", "unknown service \"" + service + "\"; this registry is \"" + opts.service + "\"");
    return;
  }
  std::vector<Grant> grants;
  auto [lo, hi] = params.equal_range("scope");
  for (auto it = lo; it != hi; ++it) {
    for (const std::string& one : SplitFields(it->second, ' ')) {
      auto g = ParseScope(one);
      if (!g) {
        ReplyError(w, 400, "UNSUPPORTED", "invalid scope \"" + one + "\"");
        return;
      }
      std::set<std::string> granted;
      if (g->type == "repository") {
        std::set<std::string> allowed = Allowed(*principal, g->name);
        for (const std::string& a : g->actions)
          if (allowed.count(a)) granted.insert(a);
      } else if (g->type == "registry" && g->name == "catalog") {
        if (!principal->robot && HasGroup(principal->groups, "system:masters")) granted.insert("*");
      }
      g->actions = std::move(granted);
      grants.push_back(std::move(*g));
    }
  }
  // An anonymous client gets a token only where it may pull (docker login
  // without credentials must fail).
  if (principal->anonymous() && grants.empty()) {
    ReplyError(w, 401, "UNAUTHORIZED", "authentication required", nullptr,
               {{"WWW-Authenticate", "Basic realm=\"berth\""}});
    return;
  }
  int64_t expires_in = 0;
  std::string token = IssueToken(*principal, grants, &expires_in);
  Json body = {{"token", token}, {"access_token", token}, {"expires_in", expires_in},
               {"issued_at", FormatRFC3339(NowSeconds())}};
  w.Reply(200, {{"Content-Type", "application/json"}}, body.dump());
}

}  // namespace berth::registry
