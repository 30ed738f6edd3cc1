// PKI for the one HTTPS port: a self-signed CA, a serving certificate, and
// client certificates whose CN/O become the user and groups (as Kubernetes does).
// Keys are ECDSA P-256; everything is PEM so curl, kubectl and Go clients read it.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace berth::net {

// A certificate and its private key, both PEM.
struct CertKey {
  std::string cert_pem;
  std::string key_pem;
};

// A new self-signed CA (basicConstraints CA:TRUE, keyCertSign) valid `days`.
Result<CertKey> CreateCa(const std::string& common_name, int days = 3650);

// A serving certificate signed by `ca` with serverAuth EKU and the given SANs.
// IP entries may be IPv4 or IPv6 literals.
Result<CertKey> IssueServingCert(const CertKey& ca, const std::string& common_name,
                                 const std::vector<std::string>& dns_names,
                                 const std::vector<std::string>& ips, int days = 1825);

// A client certificate signed by `ca` with clientAuth EKU: CN = user, O = groups.
Result<CertKey> IssueClientCert(const CertKey& ca, const std::string& user,
                                const std::vector<std::string>& groups, int days = 1825);

// Writes cert (0644) and key (0600) atomically.
Status WriteCertKey(const CertKey& ck, const std::string& cert_path, const std::string& key_path);
Result<CertKey> LoadCertKey(const std::string& cert_path, const std::string& key_path);

// True if the PEM certificate is valid for at least `min_days` more days and
// covers every given DNS name and IP.
bool CertCovers(const std::string& cert_pem, const std::vector<std::string>& dns_names,
                const std::vector<std::string>& ips, int min_days);

struct PkiOptions {
  // Added to the serving certificate on top of localhost, the host name,
  // kubernetes, kubernetes.default.svc, 127.0.0.1 and ::1.
  std::vector<std::string> extra_dns;
  std::vector<std::string> extra_ips;
  std::string admin_user = "admin";
  std::vector<std::string> admin_groups = {"system:masters"};
};

struct PkiPaths {
  std::string dir;  // <data dir>/pki
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  std::string admin_cert, admin_key;
};
PkiPaths PkiPathsFor(const std::string& data_dir);

// Creates data_dir/pki/{ca,server,admin}.{crt,key} where missing; later starts
// reuse them. The serving certificate is re-issued from the existing CA when
// it nears expiry or lacks a requested SAN, so adding --tls-san just works.
Status EnsurePki(const std::string& data_dir, const PkiOptions& opts);

// The SANs EnsurePki puts into the serving certificate.
void DefaultServingSans(const PkiOptions& opts, std::vector<std::string>* dns,
                        std::vector<std::string>* ips);

}  // namespace berth::net
