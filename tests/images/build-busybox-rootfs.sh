#!/usr/bin/env bash
# Builds a minimal root file system from Debian's busybox-static, for tests
# that need an image without any network:
#
#   tests/images/build-busybox-rootfs.sh OUTDIR
#   berth image import OUTDIR --name busybox:test
#
# OUTDIR gets /bin/busybox, one symlink per applet the tests use, /etc/passwd
# and /etc/group (root and nobody 65534), /tmp, and /www/index.html with
# "hello from berth".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
out=$1
busybox=/bin/busybox
# A dynamically linked busybox would need its libraries in the rootfs too.
if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
  echo "$0: a static $busybox is needed (apt-get install busybox-static)" >&2
  exit 1
fi

applets=(sh ls cat echo sleep httpd wget nc nslookup ps kill tar mkdir env id true false dd head)

mkdir -p "$out"/{bin,etc,tmp,www,root,proc,sys,dev}
install -m 0755 "$busybox" "$out/bin/busybox"
for a in "${applets[@]}"; do
  ln -sfn busybox "$out/bin/$a"
done
chmod 1777 "$out/tmp"
chmod 0700 "$out/root"
cat >"$out/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$out/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
echo "hello from berth" >"$out/www/index.html"
# Fixed times make the packed layer, and so its digest, the same on every build.
find "$out" -exec touch -h -d '2024-01-01T00:00:00Z' {} +
