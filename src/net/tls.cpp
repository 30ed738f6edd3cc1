#include "net/tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <ctime>
#include <memory>

#include "core/file.h"
#include "core/log.h"

namespace berth::net {
namespace {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using Asn1OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;

// The OpenSSL error queue as text; it is cleared so later calls start clean.
Status SslError(const std::string& what) {
  std::string msg = what;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  return Internal(msg);
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return SslError("generate P-256 key");
  return key;
}

Result<std::string> CertPem(X509* x) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x) != 1) return SslError("encode certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError("encode private key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<X509Ptr> ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!x) return SslError("parse certificate");
  return x;
}

Result<PkeyPtr> ParseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr k(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!k) return SslError("parse private key");
  return k;
}

Status AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return SslError(std::string("add extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return Status::Ok();
}

// SANs are built as GENERAL_NAMEs rather than a config string so that names are
// never re-parsed (a config string would split on commas).
Status AddSans(X509* cert, const std::vector<std::string>& dns,
               const std::vector<std::string>& ips) {
  if (dns.empty() && ips.empty()) return Status::Ok();
  GeneralNamesPtr names(GENERAL_NAMES_new());
  for (const std::string& d : dns) {
    GeneralNamePtr gn(GENERAL_NAME_new());
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (!gn || !s || ASN1_STRING_set(s, d.data(), static_cast<int>(d.size())) != 1) {
      ASN1_IA5STRING_free(s);
      return SslError("SAN " + d);
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, s);
    sk_GENERAL_NAME_push(names.get(), gn.release());
  }
  for (const std::string& ip : ips) {
    Asn1OctetPtr oct(a2i_IPADDRESS(ip.c_str()));
    if (!oct) return Invalid("not an IP address: " + ip);
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) return SslError("SAN " + ip);
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, oct.release());
    sk_GENERAL_NAME_push(names.get(), gn.release());
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, 0) != 1) {
    return SslError("add subjectAltName");
  }
  return Status::Ok();
}

struct CertSpec {
  std::string cn;
  std::vector<std::string> orgs;
  int days = 365;
  bool is_ca = false;
  const char* eku = nullptr;  // "serverAuth", "clientAuth" or null
  std::vector<std::string> dns, ips;
};

// Builds and signs a certificate for `key`. A null issuer means self-signed.
Result<X509Ptr> BuildCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), 2) != 1) return SslError("new certificate");

  // 159 random bits: unique without coordination, positive as RFC 5280 requires.
  unsigned char serial[20];
  if (RAND_bytes(serial, sizeof serial) != 1) return SslError("random serial");
  serial[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())))
    return SslError("set serial");

  // Backdated an hour so a client whose clock lags slightly still accepts it.
  if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) ||
      !X509_time_adj_ex(X509_getm_notAfter(x.get()), spec.days, 0, nullptr))
    return SslError("set validity");

  X509_NAME* name = X509_get_subject_name(x.get());
  for (const std::string& o : spec.orgs) {
    if (X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1,
                                   0) != 1)
      return SslError("subject O=" + o);
  }
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1,
                                 0) != 1)
    return SslError("subject CN=" + spec.cn);
  X509* issuer_cert = issuer ? issuer : x.get();
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(issuer_cert)) != 1 ||
      X509_set_pubkey(x.get(), key) != 1)
    return SslError("set issuer/pubkey");

  if (spec.is_ca) {
    BERTH_RETURN_IF_ERROR(AddExt(x.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE"));
    BERTH_RETURN_IF_ERROR(AddExt(x.get(), issuer_cert, NID_key_usage,
                                 "critical,digitalSignature,keyCertSign,cRLSign"));
    BERTH_RETURN_IF_ERROR(AddExt(x.get(), issuer_cert, NID_subject_key_identifier, "hash"));
  } else {
    BERTH_RETURN_IF_ERROR(AddExt(x.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE"));
    BERTH_RETURN_IF_ERROR(
        AddExt(x.get(), issuer_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
    if (spec.eku) BERTH_RETURN_IF_ERROR(AddExt(x.get(), issuer_cert, NID_ext_key_usage, spec.eku));
    BERTH_RETURN_IF_ERROR(AddExt(x.get(), issuer_cert, NID_subject_key_identifier, "hash"));
    BERTH_RETURN_IF_ERROR(
        AddExt(x.get(), issuer_cert, NID_authority_key_identifier, "keyid:always"));
    BERTH_RETURN_IF_ERROR(AddSans(x.get(), spec.dns, spec.ips));
  }
  if (X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
    return SslError("sign certificate");
  return x;
}

Result<CertKey> Issue(const CertKey& ca, const CertSpec& spec) {
  BERTH_ASSIGN_OR_RETURN(X509Ptr ca_cert, ParseCert(ca.cert_pem));
  BERTH_ASSIGN_OR_RETURN(PkeyPtr ca_key, ParseKey(ca.key_pem));
  BERTH_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  BERTH_ASSIGN_OR_RETURN(X509Ptr x, BuildCert(spec, key.get(), ca_cert.get(), ca_key.get()));
  CertKey out;
  BERTH_ASSIGN_OR_RETURN(out.cert_pem, CertPem(x.get()));
  BERTH_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  return out;
}

// True if `cert_pem` parses and was signed by the CA in `ca_pem`.
bool SignedBy(const std::string& cert_pem, const std::string& ca_pem) {
  auto cert = ParseCert(cert_pem);
  auto ca = ParseCert(ca_pem);
  if (!cert.ok() || !ca.ok()) return false;
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca->get());
  bool ok = ca_pub && X509_verify(cert->get(), ca_pub) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

Result<CertKey> CreateCa(const std::string& common_name, int days) {
  BERTH_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  CertSpec spec;
  spec.cn = common_name;
  spec.days = days;
  spec.is_ca = true;
  BERTH_ASSIGN_OR_RETURN(X509Ptr x, BuildCert(spec, key.get(), nullptr, nullptr));
  CertKey out;
  BERTH_ASSIGN_OR_RETURN(out.cert_pem, CertPem(x.get()));
  BERTH_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  return out;
}

Result<CertKey> IssueServingCert(const CertKey& ca, const std::string& common_name,
                                 const std::vector<std::string>& dns_names,
                                 const std::vector<std::string>& ips, int days) {
  CertSpec spec;
  spec.cn = common_name;
  spec.days = days;
  spec.eku = "serverAuth";
  spec.dns = dns_names;
  spec.ips = ips;
  return Issue(ca, spec);
}

Result<CertKey> IssueClientCert(const CertKey& ca, const std::string& user,
                                const std::vector<std::string>& groups, int days) {
  CertSpec spec;
  spec.cn = user;
  spec.orgs = groups;
  spec.days = days;
  spec.eku = "clientAuth";
  return Issue(ca, spec);
}

Status WriteCertKey(const CertKey& ck, const std::string& cert_path, const std::string& key_path) {
  // Key first: a certificate without its key on disk is never left behind.
  BERTH_RETURN_IF_ERROR(WriteFileAtomic(key_path, ck.key_pem, 0600));
  return WriteFileAtomic(cert_path, ck.cert_pem, 0644);
}

Result<CertKey> LoadCertKey(const std::string& cert_path, const std::string& key_path) {
  CertKey ck;
  BERTH_ASSIGN_OR_RETURN(ck.cert_pem, ReadFile(cert_path));
  BERTH_ASSIGN_OR_RETURN(ck.key_pem, ReadFile(key_path));
  // Parse both so a corrupt file is reported here, not as a TLS failure later.
  BERTH_ASSIGN_OR_RETURN(X509Ptr x, ParseCert(ck.cert_pem));
  BERTH_ASSIGN_OR_RETURN(PkeyPtr k, ParseKey(ck.key_pem));
  if (X509_check_private_key(x.get(), k.get()) != 1) {
    ERR_clear_error();
    return Invalid("key " + key_path + " does not match certificate " + cert_path);
  }
  return ck;
}

bool CertCovers(const std::string& cert_pem, const std::vector<std::string>& dns_names,
                const std::vector<std::string>& ips, int min_days) {
  auto x = ParseCert(cert_pem);
  if (!x.ok()) return false;
  time_t horizon = std::time(nullptr) + static_cast<time_t>(min_days) * 86400;
  if (X509_cmp_time(X509_get0_notAfter(x->get()), &horizon) <= 0) return false;
  for (const std::string& d : dns_names) {
    if (X509_check_host(x->get(), d.data(), d.size(), X509_CHECK_FLAG_NO_WILDCARDS, nullptr) != 1)
      return false;
  }
  for (const std::string& ip : ips) {
    if (X509_check_ip_asc(x->get(), ip.c_str(), 0) != 1) return false;
  }
  return true;
}

PkiPaths PkiPathsFor(const std::string& data_dir) {
  PkiPaths p;
  p.dir = data_dir + "/pki";
  p.ca_cert = p.dir + "/ca.crt";
  p.ca_key = p.dir + "/ca.key";
  p.server_cert = p.dir + "/server.crt";
  p.server_key = p.dir + "/server.key";
  p.admin_cert = p.dir + "/admin.crt";
  p.admin_key = p.dir + "/admin.key";
  return p;
}

void DefaultServingSans(const PkiOptions& opts, std::vector<std::string>* dns,
                        std::vector<std::string>* ips) {
  *dns = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
          "kubernetes.default.svc.cluster.local"};
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') dns->push_back(host);
  // 10.43.0.1: the `kubernetes` Service, which in-cluster clients dial by address.
  *ips = {"127.0.0.1", "::1", "10.43.0.1"};
  for (const auto& d : opts.extra_dns) dns->push_back(d);
  for (const auto& i : opts.extra_ips) ips->push_back(i);
}

Status EnsurePki(const std::string& data_dir, const PkiOptions& opts) {
  PkiPaths p = PkiPathsFor(data_dir);
  BERTH_RETURN_IF_ERROR(MakeDirs(p.dir, 0700));

  CertKey ca;
  bool have_ca_cert = FileExists(p.ca_cert), have_ca_key = FileExists(p.ca_key);
  if (have_ca_cert && have_ca_key) {
    BERTH_ASSIGN_OR_RETURN(ca, LoadCertKey(p.ca_cert, p.ca_key));
  } else if (have_ca_cert || have_ca_key) {
    // Regenerating would silently invalidate every issued credential.
    return Internal("incomplete CA in " + p.dir + ": need both ca.crt and ca.key");
  } else {
    BERTH_ASSIGN_OR_RETURN(ca, CreateCa("berth-ca", 3650));
    BERTH_RETURN_IF_ERROR(WriteCertKey(ca, p.ca_cert, p.ca_key));
    log::Info("created cluster CA", log::Fields()("path", p.ca_cert));
  }

  std::vector<std::string> dns, ips;
  DefaultServingSans(opts, &dns, &ips);
  bool server_ok = false;
  if (auto cur = LoadCertKey(p.server_cert, p.server_key); cur.ok()) {
    server_ok = SignedBy(cur->cert_pem, ca.cert_pem) && CertCovers(cur->cert_pem, dns, ips, 30);
  }
  if (!server_ok) {
    BERTH_ASSIGN_OR_RETURN(CertKey server, IssueServingCert(ca, "berth-apiserver", dns, ips));
    BERTH_RETURN_IF_ERROR(WriteCertKey(server, p.server_cert, p.server_key));
    log::Info("issued serving certificate", log::Fields()("path", p.server_cert));
  }

  bool admin_ok = false;
  if (auto cur = LoadCertKey(p.admin_cert, p.admin_key); cur.ok()) {
    admin_ok = SignedBy(cur->cert_pem, ca.cert_pem);
  }
  if (!admin_ok) {
    BERTH_ASSIGN_OR_RETURN(CertKey admin, IssueClientCert(ca, opts.admin_user, opts.admin_groups));
    BERTH_RETURN_IF_ERROR(WriteCertKey(admin, p.admin_cert, p.admin_key));
    log::Info("issued admin client certificate", log::Fields()("path", p.admin_cert));
  }
  return Status::Ok();
}

}  // namespace berth::net
