#include "node/images/reference.h"

#include <vector>

namespace berth::images {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// One path component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*  (distribution's grammar).
bool ValidPathComponent(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (size_t i = 0; i < s.size();) {
    if (IsLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    if (s[i] == '.') {
      j = i + 1;
    } else if (s[i] == '_') {
      j = i + 1;
      if (j < s.size() && s[j] == '_') ++j;
    } else if (s[i] == '-') {
      while (j < s.size() && s[j] == '-') ++j;
    } else {
      return false;
    }
    if (j >= s.size() || !IsLowerAlnum(s[j])) return false;
    i = j;
  }
  return true;
}

// host[:port], where host is dot-separated labels or a bracketed IPv6 literal.
bool ValidDomain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d, port;
  if (d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1))
      if (!IsHex(c) && !(c >= 'A' && c <= 'F') && c != ':' && c != '.') return false;
    std::string_view rest = d.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    host = {};
  } else {
    auto colon = d.rfind(':');
    if (colon != std::string_view::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      if (port.empty()) return false;
    }
  }
  for (char c : port)
    if (c < '0' || c > '9') return false;
  if (port.size() > 5) return false;
  if (d.front() == '[') return true;
  if (host.empty()) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label)
      if (!IsAlnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// [\w][\w.-]{0,127}
bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

Status Bad(std::string_view ref, const std::string& why) {
  return Invalid("invalid image reference \"" + std::string(ref) + "\": " + why);
}

}  // namespace

bool IsValidDigest(std::string_view digest) {
  if (digest.size() != 7 + 64 || digest.substr(0, 7) != "sha256:") return false;
  for (char c : digest.substr(7))
    if (!IsHex(c)) return false;
  return true;
}

Result<Reference> ParseReference(std::string_view ref) {
  if (ref.empty()) return Invalid("invalid image reference: empty");
  if (ref.size() > 4096) return Bad(ref.substr(0, 64), "too long");
  Reference out;
  std::string_view rest = ref;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (!IsValidDigest(digest)) {
      return Bad(ref, "digest must be sha256: followed by 64 lower-case hex digits");
    }
    out.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' only when no '/' comes after it (else the ':'
  // belongs to a host's port).
  auto colon = rest.rfind(':');
  auto slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!ValidTag(tag)) {
      return Bad(ref, "tag \"" + std::string(tag) +
                          "\" must be 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'");
    }
    out.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Bad(ref, "missing repository name");

  std::string_view path = rest;
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, first_slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      if (!ValidDomain(first)) return Bad(ref, "invalid registry host \"" + std::string(first) + "\"");
      out.domain = std::string(first);
      path = rest.substr(first_slash + 1);
    }
  }
  if (out.domain.empty() || out.domain == "index.docker.io" || out.domain == "registry-1.docker.io") {
    out.domain = "docker.io";
  }
  if (path.empty()) return Bad(ref, "missing repository name");
  size_t start = 0;
  while (true) {
    size_t s = path.find('/', start);
    std::string_view comp = path.substr(start, s == std::string_view::npos ? s : s - start);
    if (!ValidPathComponent(comp)) {
      bool upper = false;
      for (char c : comp) upper |= (c >= 'A' && c <= 'Z');
      if (upper) return Bad(ref, "repository name must be lower case");
      if (comp.empty()) return Bad(ref, "empty path component");
      return Bad(ref, "invalid repository component \"" + std::string(comp) + "\"");
    }
    if (s == std::string_view::npos) break;
    start = s + 1;
  }
  out.repository = std::string(path);
  if (out.domain == "docker.io" && out.repository.find('/') == std::string::npos) {
    out.repository = "library/" + out.repository;
  }
  if (out.Name().size() > 255) return Bad(ref, "repository name longer than 255 characters");
  if (out.tag.empty() && out.digest.empty()) out.tag = "latest";
  return out;
}

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::Familiar() const {
  std::string s;
  if (domain == "docker.io") {
    s = repository.rfind("library/", 0) == 0 ? repository.substr(8) : repository;
  } else {
    s = Name();
  }
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

}  // namespace berth::images
