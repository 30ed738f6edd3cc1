#!/usr/bin/env bash
# `berth image` against a private data dir: import the busybox test rootfs,
# list it, pull nothing (no network), remove it, prune, and fail clearly on a
# missing source. Needs no server.
source "$(dirname "$0")/lib.sh" "$@"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

img() { "$BERTH" image "$@" --data-dir "$DATA"; }

log "build the busybox rootfs"
expect_ok "build-busybox-rootfs.sh" "$ROOT/tests/images/build-busybox-rootfs.sh" "$E2E_TMP/rootfs"

log "import a directory"
expect_ok "image import DIR" img import "$E2E_TMP/rootfs" --name busybox:test
assert_contains "import names the image" "$OUT" "docker.io/library/busybox:test"
expect_ok "image ls" img ls
assert_match "ls header" "$OUT" '^IMAGE +ID +SIZE +CREATED'
assert_match "ls shows the image with a 12-hex id" "$OUT" $'\n''docker\.io/library/busybox:test +[0-9a-f]{12} +[0-9.]+[kM]?B +[0-9]+[smhdy].* ago'
layers=$(ls "$DATA/images/layers")
assert_eq "one layer dir" "1" "$(wc -l <<<"$layers")"
assert_eq "layer holds index.html" "hello from berth" "$(cat "$DATA/images/layers/$layers/www/index.html")"
assert_eq "layer keeps the applet symlinks" "busybox" "$(readlink "$DATA/images/layers/$layers/bin/sh")"

log "import the same tree again, and a tarball of it"
expect_ok "second import" img import "$E2E_TMP/rootfs" --name busybox:again
assert_eq "the layer is shared" "1" "$(ls "$DATA/images/layers" | wc -l)"
tar -C "$E2E_TMP/rootfs" -czf "$E2E_TMP/rootfs.tar.gz" .
expect_ok "import a rootfs tarball" img import "$E2E_TMP/rootfs.tar.gz" --name example.com/busybox:tar
expect_ok "image ls -q" img ls -q
assert_eq "three tags" $'docker.io/library/busybox:again\ndocker.io/library/busybox:test\nexample.com/busybox:tar' "$OUT"

log "errors"
expect_fail "import a missing path" img import "$E2E_TMP/does-not-exist" --name x:1
assert_contains "missing path message" "$OUT" "does-not-exist: no such file or directory"
expect_fail "import a directory without --name" img import "$E2E_TMP/rootfs"
assert_contains "name required message" "$OUT" "--name is required"
expect_fail "invalid name" img import "$E2E_TMP/rootfs" --name Busybox:test
assert_contains "invalid name message" "$OUT" "must be lower case"
expect_fail "rm an unknown image" img rm nothere:1
assert_contains "rm unknown message" "$OUT" "image not found"
port=$(_free_port)
expect_fail "pull from a closed port" img pull --insecure "127.0.0.1:$port/x/y:1"
assert_contains "pull unreachable message" "$OUT" "registry unreachable"

log "remove and prune"
expect_ok "image rm" img rm busybox:test busybox:again example.com/busybox:tar
assert_contains "rm reports the untag" "$OUT" "untagged docker.io/library/busybox:test"
expect_ok "image ls after rm" img ls -q
assert_eq "no images left" "" "$OUT"
expect_ok "image prune" img prune
assert_eq "layers gone after prune" "0" "$(ls "$DATA/images/layers" | wc -l)"
assert_eq "blobs gone after prune" "0" "$(ls "$DATA/images/blobs/sha256" | wc -l)"

finish
