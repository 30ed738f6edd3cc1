#include "monitor/alerting/notify.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/json.h"
#include "monitor/alerting/wire.h"
#include "net/client.h"

namespace berth::monitor::alerting {
namespace {

Json LabelsObject(const Labels& ls) {
  Json j = Json::object();
  for (const auto& l : ls) j[l.name] = l.value;
  return j;
}

Labels Common(const std::vector<NotifiedAlert>& alerts, Labels NotifiedAlert::*field) {
  if (alerts.empty()) return {};
  std::vector<Label> out;
  for (const auto& l : alerts[0].*field) {
    bool all = true;
    for (size_t i = 1; i < alerts.size() && all; ++i)
      all = (alerts[i].*field).Get(l.name) == l.value;
    if (all) out.push_back(l);
  }
  return Labels(std::move(out));
}

// CR and LF in a header value would start a new header (label values may hold
// newlines), so they become spaces.
std::string HeaderSafe(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// RFC 2047 encoded word for non-ASCII header text (label values are UTF-8).
std::string EncodeHeader(std::string_view s) {
  std::string safe = HeaderSafe(s);
  if (IsAscii(safe)) return safe;
  return "=?UTF-8?B?" + Base64Encode(safe) + "?=";
}

// Quoted-printable keeps every line under SMTP's 998-octet limit whatever
// the label values hold, and carries UTF-8 without the 8BITMIME extension.
std::string QuotedPrintable(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  size_t line = 0;
  auto emit = [&](std::string_view piece) {
    if (line + piece.size() > 75) {
      out += "=\r\n";
      line = 0;
    }
    out += piece;
    line += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      // Trailing white space before a line break must be encoded.
      if (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
        char last = out.back();
        out.pop_back();
        --line;
        char enc[4] = {'=', kHex[last >> 4], kHex[last & 15], 0};
        emit(enc);
      }
      out += "\r\n";
      line = 0;
      continue;
    }
    if (c == '\r') continue;
    if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
      char ch[2] = {static_cast<char>(c), 0};
      emit(ch);
    } else {
      char enc[4] = {'=', kHex[c >> 4], kHex[c & 15], 0};
      emit(enc);
    }
  }
  return out;
}

std::string Rfc5322Date(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string DomainOf(const std::string& addr) {
  size_t at = addr.rfind('@');
  return at == std::string::npos ? "localhost" : addr.substr(at + 1);
}

void AppendAlertText(std::string& out, const NotifiedAlert& a) {
  out += "Labels:\n";
  for (const auto& l : a.labels)
    out += " - " + std::string(l.name) + " = " + std::string(l.value) + "\n";
  if (!a.annotations.empty()) {
    out += "Annotations:\n";
    for (const auto& l : a.annotations)
      out += " - " + std::string(l.name) + " = " + std::string(l.value) + "\n";
  }
  out += "Started: " + FormatTimeMs(a.starts_at_ms) + "\n";
  if (a.resolved) out += "Ended: " + FormatTimeMs(a.ends_at_ms) + "\n";
  if (!a.generator_url.empty()) out += "Source: " + a.generator_url + "\n";
  out += "\n";
}

struct ParsedUrl {
  bool https = false;
  std::string host;
  int port = 0;
  std::string target;
};

Result<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    u.https = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Invalid("unsupported URL scheme: " + url);
  }
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.target[0] == '?') u.target = "/" + u.target;
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  u.port = u.https ? 443 : 80;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return Invalid("bad host in URL: " + url);
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      u.port = std::atoi(authority.c_str() + close + 2);
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = std::atoi(authority.c_str() + colon + 1);
  } else {
    u.host = authority;
  }
  if (u.host.empty() || u.port <= 0 || u.port > 65535) return Invalid("bad host in URL: " + url);
  return u;
}

class WebhookNotifier : public Notifier {
 public:
  explicit WebhookNotifier(const WebhookConfig& cfg) : cfg_(cfg) {}

  Status Notify(const Notification& n) override {
    auto url = ParseUrl(cfg_.url);
    if (!url.ok()) return url.status();
    net::ClientOptions co;
    co.host = url->host;
    co.port = url->port;
    co.plain_http = !url->https;
    co.ca_file = cfg_.http.ca_file;
    co.cert_file = cfg_.http.cert_file;
    co.key_file = cfg_.http.key_file;
    co.server_name = cfg_.http.server_name;
    co.insecure_skip_verify = cfg_.http.insecure_skip_verify;
    co.connect_timeout_ms = static_cast<int>(cfg_.timeout_ms > 0 ? cfg_.timeout_ms : 10'000);
    co.max_body_bytes = 1 << 20;
    net::Headers h{{"Content-Type", "application/json"}, {"User-Agent", "Alertmanager/berth"}};
    if (!cfg_.http.bearer_token.empty()) h["Authorization"] = "Bearer " + cfg_.http.bearer_token;
    if (!cfg_.http.authorization_credentials.empty())
      h["Authorization"] = cfg_.http.authorization_type + " " + cfg_.http.authorization_credentials;
    if (!cfg_.http.basic_auth_username.empty())
      h["Authorization"] = "Basic " + Base64Encode(cfg_.http.basic_auth_username + ":" +
                                                   cfg_.http.basic_auth_password);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (cancelled_) return Status(Code::kTimeout, "webhook: cancelled");
      client_ = std::make_unique<net::HttpsClient>(co);
    }
    auto res = client_->Do("POST", url->target, h, WebhookPayload(n, cfg_.max_alerts));
    if (!res.ok()) return Status(Code::kUnavailable, "webhook: " + res.status().message());
    if (res->status / 100 == 2) return Status::Ok();
    std::string msg = "webhook: unexpected status code " + std::to_string(res->status) + " from " +
                      url->host + ": " + res->body.substr(0, 256);
    // A 4xx other than 429 will not go away by sending the same body again.
    if (res->status / 100 == 4 && res->status != 429) return Status(Code::kBadRequest, msg);
    return Status(Code::kUnavailable, msg);
  }

  void Cancel() override {
    std::lock_guard<std::mutex> g(mu_);
    cancelled_ = true;
    if (client_) client_->Interrupt();
  }

 private:
  const WebhookConfig& cfg_;
  std::mutex mu_;
  bool cancelled_ = false;
  std::unique_ptr<net::HttpsClient> client_;
};

class EmailNotifier : public Notifier {
 public:
  explicit EmailNotifier(const EmailConfig& cfg) : cfg_(cfg), smtp_(10'000) {}

  Status Notify(const Notification& n) override {
    std::string message = EmailMessage(n, cfg_, NowMs());
    auto it = cfg_.headers.find("To");
    std::vector<std::string> to = ParseAddressList(it != cfg_.headers.end() ? it->second : cfg_.to);
    std::vector<std::string> from = ParseAddressList(cfg_.from);
    if (to.empty()) return Status(Code::kBadRequest, "email: no recipient in \"" + cfg_.to + "\"");
    if (from.size() != 1)
      return Status(Code::kBadRequest, "email: bad sender address \"" + cfg_.from + "\"");
    Status st = smtp_.Send(cfg_.smarthost, cfg_.hello, from[0], to, message);
    if (!st.ok()) return Status(st.code(), "email: " + st.message());
    return st;
  }
  void Cancel() override { smtp_.Cancel(); }

 private:
  const EmailConfig& cfg_;
  SmtpClient smtp_;
};

}  // namespace

bool Notification::firing() const { return NumFiring() > 0; }

size_t Notification::NumFiring() const {
  size_t n = 0;
  for (const auto& a : alerts) n += !a.resolved;
  return n;
}

Labels Notification::CommonLabels() const { return Common(alerts, &NotifiedAlert::labels); }
Labels Notification::CommonAnnotations() const {
  return Common(alerts, &NotifiedAlert::annotations);
}

bool Integration::send_resolved() const {
  return email ? email->send_resolved : webhook != nullptr && webhook->send_resolved;
}

std::vector<Integration> IntegrationsOf(const Receiver& r) {
  std::vector<Integration> out;
  int i = 0;
  for (const auto& e : r.email_configs) out.push_back({&e, nullptr, i++});
  for (const auto& w : r.webhook_configs) out.push_back({nullptr, &w, i++});
  return out;
}

std::unique_ptr<Notifier> DefaultNotifierFactory(const Integration& in) {
  if (in.email) return std::make_unique<EmailNotifier>(*in.email);
  if (in.webhook) return std::make_unique<WebhookNotifier>(*in.webhook);
  return nullptr;
}

std::string WebhookPayload(const Notification& n, int max_alerts) {
  size_t keep = n.alerts.size();
  if (max_alerts > 0 && keep > static_cast<size_t>(max_alerts)) keep = max_alerts;
  Json alerts = Json::array();
  for (size_t i = 0; i < keep; ++i) {
    const auto& a = n.alerts[i];
    alerts.push_back({{"status", a.resolved ? "resolved" : "firing"},
                      {"labels", LabelsObject(a.labels)},
                      {"annotations", LabelsObject(a.annotations)},
                      {"startsAt", FormatTimeMs(a.starts_at_ms)},
                      {"endsAt", FormatTimeMs(a.resolved ? a.ends_at_ms : 0)},
                      {"generatorURL", a.generator_url},
                      {"fingerprint", a.fingerprint}});
  }
  Json j = {{"version", "4"},
            {"groupKey", n.group_key},
            {"truncatedAlerts", n.alerts.size() - keep},
            {"status", n.firing() ? "firing" : "resolved"},
            {"receiver", n.receiver},
            {"groupLabels", LabelsObject(n.group_labels)},
            {"commonLabels", LabelsObject(n.CommonLabels())},
            {"commonAnnotations", LabelsObject(n.CommonAnnotations())},
            {"externalURL", n.external_url},
            {"alerts", std::move(alerts)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string DefaultEmailSubject(const Notification& n) {
  std::string s = n.firing() ? "[FIRING:" + std::to_string(n.NumFiring()) + "]" : "[RESOLVED]";
  for (const auto& l : n.group_labels) (s += " ") += l.value;
  Labels common = n.CommonLabels();
  if (common.size() > n.group_labels.size()) {
    std::string extra;
    for (const auto& l : common) {
      if (n.group_labels.Has(l.name)) continue;
      (extra += extra.empty() ? "" : " ") += l.value;
    }
    s += " (" + extra + ")";
  }
  return s;
}

std::string EmailMessage(const Notification& n, const EmailConfig& cfg, int64_t now_ms) {
  std::map<std::string, std::string> headers = {
      {"From", cfg.from}, {"To", cfg.to}, {"Subject", DefaultEmailSubject(n)}};
  for (const auto& [k, v] : cfg.headers) headers[k] = v;
  std::string msg;
  for (const auto& [k, v] : headers) msg += k + ": " + EncodeHeader(v) + "\r\n";
  msg += "Date: " + Rfc5322Date(now_ms) + "\r\n";
  std::vector<std::string> from = ParseAddressList(cfg.from);
  msg += "Message-Id: <" + std::to_string(now_ms) + "." + HexEncode(RandomBytes(8)) + "@" +
         DomainOf(from.empty() ? "" : from[0]) + ">\r\n";
  msg += "MIME-Version: 1.0\r\n";
  msg += "Content-Type: text/plain; charset=UTF-8\r\n";
  msg += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";

  std::string body = DefaultEmailSubject(n) + "\n\n";
  size_t firing = n.NumFiring();
  if (firing > 0) {
    body += std::to_string(firing) + " alert" + (firing == 1 ? "" : "s") + " firing:\n\n";
    for (const auto& a : n.alerts)
      if (!a.resolved) AppendAlertText(body, a);
  }
  size_t resolved = n.alerts.size() - firing;
  if (resolved > 0) {
    body += std::to_string(resolved) + " alert" + (resolved == 1 ? "" : "s") + " resolved:\n\n";
    for (const auto& a : n.alerts)
      if (a.resolved) AppendAlertText(body, a);
  }
  if (!n.external_url.empty()) body += "Sent by Alertmanager " + n.external_url + "\n";
  msg += QuotedPrintable(body);
  return msg;
}

std::vector<std::string> ParseAddressList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  auto flush = [&] {
    std::string a = cur;
    cur.clear();
    size_t lt = a.rfind('<'), gt = a.rfind('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt)
      a = a.substr(lt + 1, gt - lt - 1);
    while (!a.empty() && std::isspace(static_cast<unsigned char>(a.front()))) a.erase(0, 1);
    while (!a.empty() && std::isspace(static_cast<unsigned char>(a.back()))) a.pop_back();
    if (!a.empty()) out.push_back(a);
  };
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      flush();
      continue;
    }
    cur += c;
  }
  flush();
  return out;
}

// --- SMTP -----------------------------------------------------------------

SmtpClient::~SmtpClient() { CloseFd(); }

void SmtpClient::CloseFd() {
  std::lock_guard<std::mutex> g(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SmtpClient::Cancel() {
  std::lock_guard<std::mutex> g(mu_);
  cancelled_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Status SmtpClient::Connect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return Status(Code::kUnavailable, "resolving " + host + ": " + ::gai_strerror(rc));
  std::string last = "no addresses";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (cancelled_) {
        ::close(fd);
        ::freeaddrinfo(res);
        return Status(Code::kTimeout, "cancelled");
      }
      fd_ = fd;
    }
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      r = ::poll(&p, 1, static_cast<int>(timeout_ms_));
      if (r == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err == 0 ? 0 : -1;
        errno = err;
      } else {
        if (r == 0 || errno == 0) errno = ETIMEDOUT;
        r = -1;
      }
    }
    if (r == 0) {
      // Blocking from here on, each read and write bounded by the timeout.
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      timeval tv{static_cast<time_t>(timeout_ms_ / 1000),
                 static_cast<suseconds_t>((timeout_ms_ % 1000) * 1000)};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ::freeaddrinfo(res);
      return Status::Ok();
    }
    last = std::strerror(errno);
    CloseFd();
  }
  ::freeaddrinfo(res);
  return Status(Code::kUnavailable, "connecting to " + host + ":" + port + ": " + last);
}

Status SmtpClient::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status(Code::kUnavailable, std::string("write: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SmtpClient::ReadReply(int* code, std::string* text) {
  text->clear();
  for (;;) {
    size_t nl;
    while ((nl = buf_.find('\n')) == std::string::npos) {
      if (buf_.size() > 64 * 1024) return Status(Code::kUnavailable, "reply line too long");
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return Status(Code::kTimeout, "timed out waiting for the server");
      if (n <= 0) return Status(Code::kUnavailable, "connection closed by the server");
      buf_.append(tmp, static_cast<size_t>(n));
    }
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
        !std::isdigit(static_cast<unsigned char>(line[1])) ||
        !std::isdigit(static_cast<unsigned char>(line[2])))
      return Status(Code::kUnavailable, "malformed reply: " + line);
    *code = std::atoi(line.substr(0, 3).c_str());
    if (!text->empty()) *text += "\n";
    *text += line.size() > 4 ? line.substr(4) : "";
    if (line.size() == 3 || line[3] != '-') return Status::Ok();
  }
}

Status SmtpClient::Command(const std::string& line, int want, std::string* text) {
  if (!line.empty()) BERTH_RETURN_IF_ERROR(WriteAll(line + "\r\n"));
  int code = 0;
  std::string reply;
  BERTH_RETURN_IF_ERROR(ReadReply(&code, &reply));
  if (text) *text = reply;
  if (code / 100 == want / 100 && (want % 100 == 0 || code == want)) return Status::Ok();
  std::string what = line.empty() ? "greeting" : line.substr(0, line.find(':'));
  // 5xx is a permanent refusal (unknown mailbox, policy); 4xx may pass.
  return Status(code / 100 == 5 ? Code::kBadRequest : Code::kUnavailable,
                what + ": " + std::to_string(code) + " " + reply);
}

Status SmtpClient::Send(const std::string& smarthost, const std::string& hello,
                        const std::string& from, const std::vector<std::string>& to,
                        const std::string& message) {
  size_t colon = smarthost.rfind(':');
  if (colon == std::string::npos) return Invalid("smarthost lacks a port: " + smarthost);
  std::string host = smarthost.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  buf_.clear();
  Status st = [&]() -> Status {
    BERTH_RETURN_IF_ERROR(Connect(host, smarthost.substr(colon + 1)));
    BERTH_RETURN_IF_ERROR(Command("", 220));
    if (!Command("EHLO " + hello, 250).ok()) BERTH_RETURN_IF_ERROR(Command("HELO " + hello, 250));
    BERTH_RETURN_IF_ERROR(Command("MAIL FROM:<" + from + ">", 250));
    for (const auto& rcpt : to) {
      int code = 0;
      std::string text;
      BERTH_RETURN_IF_ERROR(WriteAll("RCPT TO:<" + rcpt + ">\r\n"));
      BERTH_RETURN_IF_ERROR(ReadReply(&code, &text));
      if (code != 250 && code != 251)
        return Status(code / 100 == 5 ? Code::kBadRequest : Code::kUnavailable,
                      "RCPT TO " + rcpt + ": " + std::to_string(code) + " " + text);
    }
    BERTH_RETURN_IF_ERROR(Command("DATA", 354));
    // Normalise line ends to CRLF and dot-stuff lines starting with '.'.
    std::string data;
    data.reserve(message.size() + 64);
    bool line_start = true;
    for (size_t i = 0; i < message.size(); ++i) {
      char c = message[i];
      if (line_start && c == '.') data += '.';
      if (c == '\n' && (i == 0 || message[i - 1] != '\r')) data += '\r';
      data += c;
      line_start = c == '\n';
    }
    if (!line_start) data += "\r\n";
    data += ".";
    BERTH_RETURN_IF_ERROR(Command(data, 250));
    // The message is accepted; a failing QUIT must not cause a resend.
    (void)Command("QUIT", 221);
    return Status::Ok();
  }();
  CloseFd();
  {
    std::lock_guard<std::mutex> g(mu_);
    if (cancelled_ && !st.ok()) return Status(Code::kTimeout, "cancelled: " + st.message());
  }
  if (!st.ok()) return Status(st.code(), "smtp " + smarthost + ": " + st.message());
  return st;
}

}  // namespace berth::monitor::alerting
