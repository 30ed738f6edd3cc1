#!/usr/bin/env bash
# Installs what Berth needs to build, run and test, from Debian 12 packages.
# Idempotent: packages already present are not touched; apt-get runs only when
# something is missing.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libyaml-cpp-dev
  libcli11-dev libarchive-dev zlib1g-dev libre2-dev libsnappy-dev libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev)
TEST_PKGS=(curl python3 python3-cryptography jq sqlite3 procps podman buildah docker-registry prometheus python3-aiosmtpd)
# Containers, the pod network and the service data path; test images.
RUN_PKGS=(crun runc containernetworking-plugins nftables iproute2 busybox-static skopeo wrk)
# Only for `make bench` (install-deps.sh bench): the peer products measured against.
BENCH_PKGS=(docker-registry prometheus)

missing=()
want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${RUN_PKGS[@]}")
[[ "${1:-}" == bench ]] && want+=("${BENCH_PKGS[@]}")
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# kubectl is not a Debian package; the end-to-end tests need one on PATH.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "install-deps: warning: kubectl not found on PATH; the end-to-end tests need it" >&2
fi
