// Notifiers: the integrations a receiver delivers a group notification
// through. Notifier is the seam between the dispatcher (which decides what to
// send and when, and retries) and the wire (which only sends once): email over
// plain SMTP and webhooks in Alertmanager's JSON format (version 4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "monitor/alerting/config.h"
#include "monitor/labels.h"

namespace berth::monitor::alerting {

// One alert as notified: its state at the time of the flush.
struct NotifiedAlert {
  Labels labels;
  Labels annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // for firing alerts, when it resolves unless re-sent
  bool resolved = false;
  std::string generator_url;
  std::string fingerprint;  // 16 hex digits
};

// What one flush of an aggregation group sends to one integration.
struct Notification {
  std::string receiver;
  std::string group_key;  // route key ":" group labels
  Labels group_labels;
  std::vector<NotifiedAlert> alerts;  // firing first, then resolved
  std::string external_url;

  bool firing() const;  // any alert firing
  size_t NumFiring() const;
  // The labels and annotations every alert shares.
  Labels CommonLabels() const;
  Labels CommonAnnotations() const;
};

// Sends one notification, once: retries belong to the caller. Notify() may
// block up to its timeout; Cancel() may be called from another thread to make
// a Notify() in progress return early (the dispatcher's watchdog). A
// BadRequest or Invalid status means the receiver refused the notification
// for good (a 4xx, a 5xx SMTP reply): it is not retried.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual Status Notify(const Notification& n) = 0;
  virtual void Cancel() {}
};

// A receiver's integration as configured: exactly one of the two is set.
struct Integration {
  const EmailConfig* email = nullptr;
  const WebhookConfig* webhook = nullptr;
  int index = 0;  // position among the receiver's integrations

  // send_resolved of the configuration: whether resolved alerts go out.
  bool send_resolved() const;
  std::string kind() const { return email ? "email" : "webhook"; }
};

// All integrations of a receiver, emails first.
std::vector<Integration> IntegrationsOf(const Receiver& r);

// Builds a fresh notifier for one delivery attempt.
using NotifierFactory = std::function<std::unique_ptr<Notifier>(const Integration&)>;
std::unique_ptr<Notifier> DefaultNotifierFactory(const Integration& in);

// Alertmanager's webhook body (version "4"), keeping at most max_alerts
// alerts (0: all) and counting the rest in truncatedAlerts.
std::string WebhookPayload(const Notification& n, int max_alerts);

// Alertmanager's default subject: "[FIRING:2] GroupLabelValues (other common
// label values)" or "[RESOLVED] ...".
std::string DefaultEmailSubject(const Notification& n);
// The whole RFC 5322 message (headers, blank line, text/plain body) with
// CRLF line ends, before SMTP dot-stuffing. `now_ms` dates it.
std::string EmailMessage(const Notification& n, const EmailConfig& cfg, int64_t now_ms);

// A minimal blocking SMTP client session: connect (bounded by timeout_ms,
// which also bounds each read and write), EHLO (HELO if refused), MAIL FROM,
// RCPT TO for each address, DATA, QUIT. Plain TCP only: no STARTTLS, no
// SMTPS, no AUTH.
class SmtpClient {
 public:
  explicit SmtpClient(int64_t timeout_ms) : timeout_ms_(timeout_ms) {}
  ~SmtpClient();
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  Status Send(const std::string& smarthost, const std::string& hello, const std::string& from,
              const std::vector<std::string>& to, const std::string& message);
  // Thread-safe: aborts a Send() in progress.
  void Cancel();

 private:
  Status Connect(const std::string& host, const std::string& port);
  Status WriteAll(const std::string& data);
  // Reads one (possibly multi-line) reply; *code gets its status code.
  Status ReadReply(int* code, std::string* text);
  Status Command(const std::string& line, int want, std::string* text = nullptr);
  void CloseFd();

  int64_t timeout_ms_;
  std::mutex mu_;  // guards fd_ against Cancel()
  int fd_ = -1;
  bool cancelled_ = false;
  std::string buf_;
};

// Addresses from a To header value: "a@x, B <b@y>" → {"a@x", "b@y"}.
std::vector<std::string> ParseAddressList(const std::string& s);

}  // namespace berth::monitor::alerting
