#!/usr/bin/env bash
# Conformance of the OCI registry built into the API server (/v2/ on the API's
# HTTPS port) to the OCI Distribution Specification v1.1, following the four
# categories of the OCI conformance program, plus the registry's Docker token
# authentication. Raw HTTP (curl) only, every request with a bearer token from
# /service/token unless a test says otherwise.
#
#   base        GET /v2/: the 401 Bearer challenge, /service/token, the
#               version header; garbage and tampered tokens
#   push        blob uploads: POST then PUT, single POST ?digest=, chunked
#               PATCH (Content-Range, out of order and overlapping → 416,
#               status GET, streamed PATCH), cancel; digest verification
#               (wrong, malformed, md5, short body, sha512); cross-repository
#               mount (present, absent → a session, without pull on the source);
#               manifest PUT by tag and by digest, no layers, no mediaType,
#               missing blobs, malformed JSON, digest mismatch, invalid tags
#               (and the 128-character limit), invalid repository names
#   pull        manifests by tag/digest with GET and HEAD, blobs with GET and
#               HEAD, Range requests, unknown blobs/manifests/repositories,
#               repository-scoped blobs
#   media types OCI image manifest and index (and a nested index), Docker
#               schema 2 manifest and manifest list, an artifact with the empty
#               config, byte-exact storage of a manifest with unknown fields
#   discovery   tags/list sorted, n / last / Link pagination, n=0; the referrers
#               API (descriptors with artifactType and annotations, indexes as
#               referrers, the artifactType filter and OCI-Filters-Applied,
#               OCI-Subject, a subject that does not exist, no referrers,
#               repository scoping, a deleted referrer)
#   management  DELETE of tags, manifests by digest, blobs; unknown ones → 404
#   bad input   oversized manifests (413) vs a 3.5 MiB one, unknown upload
#               sessions, a session used through another repository, chunk
#               length disagreeing with Content-Range, closing PUT without digest
#   auth        no token, pull-only token, pull+push without delete, a token for
#               another repository, an anonymous client, a missing project
source "$(dirname "$0")/lib.sh" "$@"
start_server

REG="https://127.0.0.1:$PORT"
RH="$E2E_TMP/reg.headers" # headers of the last registry response
RB="$E2E_TMP/reg.body"    # its body
F="$E2E_TMP/files"        # blobs and manifests made by the test
mkdir -p "$F"
CODE=""  # status of the last registry request
TOKEN="" # set by token()
LOC=""   # set by start_upload()
declare -A TOKENS=()

OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json
OCI_CONFIG=application/vnd.oci.image.config.v1+json
OCI_LAYER=application/vnd.oci.image.layer.v1.tar+gzip
OCI_EMPTY=application/vnd.oci.empty.v1+json
DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
DOCKER_CONFIG=application/vnd.docker.container.image.v1+json
DOCKER_LAYER=application/vnd.docker.image.rootfs.diff.tar.gzip
EMPTY_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
ACCEPT="$OCI_MANIFEST, $OCI_INDEX, $DOCKER_MANIFEST, $DOCKER_LIST"
SBOM=application/vnd.example.sbom.v1
SIG=application/vnd.example.signature.v1

# --- helpers ------------------------------------------------------------------

# token [scope...]: a registry token for the scopes, requested with the admin
# client certificate; left in $TOKEN (empty if refused). Cached per scope set.
token() {
  local key="scopes:$*" s args=()
  if [[ -z ${TOKENS[$key]:-} ]]; then
    for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
    TOKENS[$key]=$(kcurl /service/token -G --data-urlencode service=berth "${args[@]}" 2>/dev/null |
      jq -r '.token // empty' 2>/dev/null)
  fi
  TOKEN=${TOKENS[$key]}
}

# reg_as <token> <method> <path-or-url> [curl args...]: one registry request
# with that bearer token ("" = none). The status goes to $CODE, the headers to
# $RH, the body to $RB.
reg_as() {
  local tok=$1 method=$2 url=$3
  shift 3
  [[ $url == http* ]] || url="$REG$url"
  local args=(-sS --max-time 60 --path-as-is --cacert "$DATA/pki/ca.crt" -H 'Expect:' -D "$RH" -o "$RB" -w '%{http_code}')
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  if [[ $method == HEAD ]]; then args+=(--head); else args+=(-X "$method"); fi
  : >"$RH"
  : >"$RB"
  local out rc=0
  out=$(curl "${args[@]}" "$@" "$url" 2>"$E2E_TMP/reg.err") || rc=$?
  # A server may answer (413, say) and close before the request body is sent:
  # curl then fails, but the status it read is what counts.
  if [[ $out =~ ^[1-5][0-9][0-9]$ ]]; then CODE=$out; else
    CODE="no response (curl exit $rc: $(head -c 300 "$E2E_TMP/reg.err"))"
  fi
  if [[ $method == HEAD ]]; then : >"$RB"; fi
}

# _repo_of <path-or-url>: the repository name in a /v2/<name>/... path.
_repo_of() {
  local p=${1#"$REG"} re='^/v2/(.+)/(blobs|manifests|tags|referrers)/'
  p=${p%%\?*}
  if [[ $p =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

# reg <method> <path-or-url> [curl args...]: reg_as with a token for
# pull,push,delete on the repository in the path (and pull on the from=
# repository of a mount); a token without access if that one is refused.
reg() {
  local method=$1 url=$2 name scopes=() re='[?&]from=([^&]+)'
  shift 2
  name=$(_repo_of "$url")
  if [[ -n $name ]]; then scopes+=("repository:$name:pull,push,delete"); fi
  if [[ $url =~ $re ]]; then scopes+=("repository:${BASH_REMATCH[1]//%2F//}:pull"); fi
  token "${scopes[@]}"
  [[ -n $TOKEN ]] || token
  reg_as "$TOKEN" "$method" "$url" "$@"
}

# hdr <name>: a header of the last response (the last one of that name).
hdr() { tr -d '\r' <"$RH" | grep -i "^$1:" | tail -n 1 | sed 's/^[^:]*:[[:space:]]*//'; }
# errcode: the code of the first error in the last response's body.
errcode() { jq -r '.errors[0].code // empty' "$RB" 2>/dev/null; }
# rj <jq filter>: the filter over the last response's body (compact output).
rj() { jq -c "$1" "$RB" 2>/dev/null; }

# check <description> <status regex> [error code regex]: one assertion on the
# status of the last request and, if given, the code of its first error.
check() {
  local desc=$1 want=$2 codes=${3:-} c
  c=$(errcode)
  if [[ $CODE =~ ^($want)$ ]] && { [[ -z $codes ]] || [[ $c =~ ^($codes)$ ]]; }; then
    pass "$desc ($CODE${codes:+ $c})"
  else
    fail "$desc" "expected: $want${codes:+ $codes}" "actual:   $CODE${codes:+ ${c:-<no error code>}}" \
      "body: $(head -c 600 "$RB")"
  fi
}

# same_body <description> <file>: the last response's body is the file, byte for byte.
same_body() {
  if cmp -s "$2" "$RB"; then pass "$1"; else
    fail "$1" "expected $(stat -c %s "$2") bytes ($(sha256_of "$2"))" \
      "got $(stat -c %s "$RB") bytes ($(sha256_of "$RB")): $(head -c 200 "$RB" | tr -c '[:print:]' '.')"
  fi
}

sha256_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
sha512_of() { echo "sha512:$(sha512sum "$1" | cut -d' ' -f1)"; }
size_of() { stat -c %s "$1"; }
# blob <name> <bytes>: random content in $F/<name>
blob() { head -c "$2" /dev/urandom >"$F/$1"; }
# with_q <url> <k=v>: appends a query parameter
with_q() { if [[ $1 == *\?* ]]; then echo "$1&$2"; else echo "$1?$2"; fi; }
# desc <media type> <file> [extra fields json]: a descriptor of the file
desc() {
  jq -cn --arg m "$1" --arg d "$(sha256_of "$2")" --argjson s "$(size_of "$2")" --argjson x "${3:-null}" \
    '{mediaType: $m, digest: $d, size: $s} + ($x // {})'
}
# oci_manifest <out> <config descriptor> <layers json array> [extra fields json]
oci_manifest() {
  jq -cn --arg mt "$OCI_MANIFEST" --argjson c "$2" --argjson l "$3" --argjson x "${4:-null}" \
    '{schemaVersion: 2, mediaType: $mt, config: $c, layers: $l} + ($x // {})' >"$1"
}
# oci_index <out> <manifests json array> [extra fields json]
oci_index() {
  jq -cn --arg mt "$OCI_INDEX" --argjson m "$2" --argjson x "${3:-null}" \
    '{schemaVersion: 2, mediaType: $mt, manifests: $m} + ($x // {})' >"$1"
}

# start_upload <repo>: POST a new upload session; its Location in $LOC.
start_upload() {
  reg POST "/v2/$1/blobs/uploads/" -H 'Content-Length: 0'
  LOC=$(hdr Location)
}
# push_blob <repo> <file> [digest]: monolithic upload, POST then PUT ?digest=;
# succeeds if the PUT answers 201.
push_blob() {
  start_upload "$1"
  [[ $CODE == 202 ]] || return 1
  reg PUT "$(with_q "$LOC" "digest=${3:-$(sha256_of "$2")}")" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$2"
  [[ $CODE == 201 ]]
}
# put_manifest <repo> <reference> <file> [content type; default: its mediaType]:
# succeeds if the PUT answers 201.
put_manifest() {
  reg PUT "/v2/$1/manifests/$2" -H "Content-Type: ${4:-$(jq -r .mediaType "$3")}" --data-binary "@$3"
  [[ $CODE == 201 ]]
}
# get_manifest <repo> <reference> [GET|HEAD]
get_manifest() { reg "${3:-GET}" "/v2/$1/manifests/$2" -H "Accept: $ACCEPT"; }
# patch_chunk <location> <file> [content range]
patch_chunk() {
  local range=()
  [[ -n ${3:-} ]] && range=(-H "Content-Range: $3")
  reg PATCH "$1" -H 'Content-Type: application/octet-stream' "${range[@]}" --data-binary "@$2"
}

# --- the project --------------------------------------------------------------
log "a registry project"
expect_ok "create the Project conf" kubectl apply -f - <<'EOF'
apiVersion: registry.berth.dev/v1
kind: Project
metadata:
  name: conf
spec:
  public: false
EOF
project_ready() {
  TOKENS=()
  start_upload conf/repo
  [[ $CODE == 202 ]] || return 1
  reg DELETE "$LOC"
}
check_wait "the registry accepts uploads to the new project" 15 project_ready

# --- base API and tokens ------------------------------------------------------
log "base: GET /v2/ and token authentication"
reg_as "" GET /v2/
check "GET /v2/ without a token" 401 UNAUTHORIZED
assert_eq "the Bearer challenge" "Bearer realm=\"$REG/service/token\",service=\"berth\"" "$(hdr WWW-Authenticate)"

CODE=$(kcurl /service/token -G --data-urlencode service=berth \
  --data-urlencode "scope=repository:conf/repo:pull,push,delete" -o "$RB" -w '%{http_code}')
check "a token with the admin client certificate" 200
REPO_TOKEN=$(jq -r '.token // empty' "$RB")
assert_match "the token" "$REPO_TOKEN" '^[A-Za-z0-9._~+/=-]{16,}$'
assert_ne "access_token is set too" "" "$(jq -r '.access_token // empty' "$RB")"
assert_match "expires_in is a positive number of seconds" "$(rj .expires_in)" '^[1-9][0-9]*$'
assert_match "issued_at is an RFC 3339 time" "$(jq -r .issued_at "$RB")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'

reg_as "$REPO_TOKEN" GET /v2/
check "GET /v2/ with a token" 200
assert_eq "GET /v2/ answers {}" "{}" "$(rj .)"
assert_eq "Docker-Distribution-API-Version" "registry/2.0" "$(hdr Docker-Distribution-API-Version)"
reg_as "not-a-token" GET /v2/
check "a garbage token" 401 UNAUTHORIZED
i=$(( ${#REPO_TOKEN} / 2 ))
c=${REPO_TOKEN:i:1}
[[ $c == A ]] && c=B || c=A
reg_as "${REPO_TOKEN:0:i}$c${REPO_TOKEN:i+1}" GET /v2/
check "a tampered token" 401

# --- push: blobs ----------------------------------------------------------------
log "push: monolithic POST then PUT"
blob a 1000
A=$(sha256_of "$F/a")
reg HEAD "/v2/conf/repo/blobs/$A"
check "HEAD of a blob not pushed yet" 404
start_upload conf/repo
check "POST /blobs/uploads/ opens a session" 202
UUID=$(hdr Docker-Upload-UUID)
assert_ne "with Docker-Upload-UUID" "" "$UUID"
assert_match "and a Location under /blobs/uploads/" "$LOC" '/v2/conf/repo/blobs/uploads/.'
assert_contains "that names the session" "$LOC" "$UUID"
SESSION=$LOC
reg PUT "$(with_q "$LOC" "digest=$A")" -H 'Content-Type: application/octet-stream' --data-binary "@$F/a"
check "PUT ?digest= with the whole blob" 201
assert_eq "Docker-Content-Digest of the upload" "$A" "$(hdr Docker-Content-Digest)"
BLOB_LOC=$(hdr Location)
assert_match "Location of the blob" "$BLOB_LOC" "/v2/conf/repo/blobs/$A\$"
reg GET "$SESSION"
check "the completed session is gone" 404 BLOB_UPLOAD_UNKNOWN

log "push: single POST ?digest="
blob b 777
B=$(sha256_of "$F/b")
reg POST "/v2/conf/repo/blobs/uploads/?digest=$B" -H 'Content-Type: application/octet-stream' --data-binary "@$F/b"
check "POST ?digest= with the blob completes the upload" 201
assert_match "with the blob's Location" "$(hdr Location)" "/v2/conf/repo/blobs/$B\$"
assert_eq "and its digest" "$B" "$(hdr Docker-Content-Digest)"
reg GET "/v2/conf/repo/blobs/$B"
check "the single-POST blob is pullable" 200
same_body "the single-POST blob byte for byte" "$F/b"

log "push: chunked upload"
blob c 300
C=$(sha256_of "$F/c")
head -c 100 "$F/c" >"$F/c1"
tail -c +101 "$F/c" | head -c 150 >"$F/c2"
tail -c 50 "$F/c" >"$F/c3"
start_upload conf/repo
check "POST with Content-Length: 0 opens a chunked session" 202
patch_chunk "$LOC" "$F/c2" 100-249
check "a first chunk that does not start at 0" 416
patch_chunk "$LOC" "$F/c1" 0-99
check "PATCH the first chunk (Content-Range: 0-99)" 202
assert_eq "Range after the first chunk" "0-99" "$(hdr Range)"
assert_ne "Location after the first chunk" "" "$(hdr Location)"
LOC=$(hdr Location)
reg GET "$LOC"
check "GET the upload status" 204
assert_eq "status Range" "0-99" "$(hdr Range)"
assert_ne "status Location" "" "$(hdr Location)"
patch_chunk "$LOC" "$F/c2" 101-250
check "a chunk leaving a gap (101-250 after 0-99)" 416
patch_chunk "$LOC" "$F/c1" 0-99
check "the first chunk sent again (overlapping)" 416
reg GET "$LOC"
check "the session survives out-of-order chunks" 204
assert_eq "and still holds 0-99" "0-99" "$(hdr Range)"
patch_chunk "$LOC" "$F/c2" 100-249
check "PATCH the second chunk (100-249)" 202
assert_eq "Range after the second chunk" "0-249" "$(hdr Range)"
LOC=$(hdr Location)
reg PUT "$(with_q "$LOC" "digest=$C")" -H 'Content-Type: application/octet-stream' \
  -H 'Content-Range: 250-299' --data-binary "@$F/c3"
check "PUT ?digest= with the last chunk closes the session" 201
assert_eq "Docker-Content-Digest of the chunked blob" "$C" "$(hdr Docker-Content-Digest)"
assert_ne "Location of the chunked blob" "" "$(hdr Location)"
reg GET "/v2/conf/repo/blobs/$C"
same_body "the chunked blob byte for byte" "$F/c"

blob s 5000
S=$(sha256_of "$F/s")
start_upload conf/repo
patch_chunk "$LOC" "$F/s"
check "a streamed PATCH without Content-Range" 202
assert_eq "Range covers the stream" "0-4999" "$(hdr Range)"
LOC=$(hdr Location)
reg PUT "$(with_q "$LOC" "digest=$S")" -H 'Content-Length: 0'
check "PUT ?digest= without a body closes it" 201
reg HEAD "/v2/conf/repo/blobs/$S"
assert_eq "the streamed blob's Content-Length" "5000" "$(hdr Content-Length)"

log "push: cancelling an upload"
start_upload conf/repo
patch_chunk "$LOC" "$F/c1" 0-99
LOC=$(hdr Location)
reg DELETE "$LOC"
check "DELETE the session" 204
reg GET "$LOC"
check "the cancelled session's status" 404 BLOB_UPLOAD_UNKNOWN
patch_chunk "$LOC" "$F/c2" 100-249
check "a PATCH to the cancelled session" 404 BLOB_UPLOAD_UNKNOWN

log "push: digest verification"
blob d 512
D=$(sha256_of "$F/d")
blob x 64 # never pushed anywhere
X=$(sha256_of "$F/x")
push_blob conf/repo "$F/d" "$X"
check "PUT with the digest of other content" 400 DIGEST_INVALID
reg HEAD "/v2/conf/repo/blobs/$X"
check "nothing is stored under the claimed digest" 404
reg HEAD "/v2/conf/repo/blobs/$D"
check "nor under the content's digest" 404
push_blob conf/repo "$F/d" "sha256:xyz"
check "PUT with a malformed digest (sha256:xyz)" 400 DIGEST_INVALID
push_blob conf/repo "$F/d" "md5:$(md5sum "$F/d" | cut -d' ' -f1)"
check "PUT with an md5 digest" 400 'DIGEST_INVALID|UNSUPPORTED'
head -c 256 "$F/d" >"$F/d.short"
push_blob conf/repo "$F/d.short" "$D"
check "PUT with a body shorter than the digest's content" 400 DIGEST_INVALID
reg HEAD "/v2/conf/repo/blobs/$D"
check "the truncated blob is not stored" 404

blob e 4096
E512=$(sha512_of "$F/e")
push_blob conf/repo "$F/e" "$E512"
check "PUT with a sha512 digest" 201
assert_match "Docker-Content-Digest of the sha512 upload" "$(hdr Docker-Content-Digest)" "^($E512|$(sha256_of "$F/e"))\$"
reg HEAD "/v2/conf/repo/blobs/$E512"
check "HEAD by the sha512 digest" 200
assert_eq "its Content-Length" "4096" "$(hdr Content-Length)"
reg GET "/v2/conf/repo/blobs/$E512"
same_body "GET by the sha512 digest byte for byte" "$F/e"
push_blob conf/repo "$F/d" "$(sha512_of "$F/x")"
check "PUT with a sha512 digest of other content" 400 DIGEST_INVALID

log "push: cross-repository mount"
blob m 2048
M=$(sha256_of "$F/m")
push_blob conf/src "$F/m"
check "push a blob to conf/src" 201
reg HEAD "/v2/conf/dst/blobs/$M"
check "conf/dst does not have it" 404
reg POST "/v2/conf/dst/blobs/uploads/?mount=$M&from=conf/src" -H 'Content-Length: 0'
check "mount it from conf/src" 201
assert_match "Location of the mounted blob" "$(hdr Location)" "/v2/conf/dst/blobs/$M\$"
assert_eq "Docker-Content-Digest of the mount" "$M" "$(hdr Docker-Content-Digest)"
reg GET "/v2/conf/dst/blobs/$M"
same_body "the mounted blob byte for byte" "$F/m"
blob n 100
N=$(sha256_of "$F/n")
reg POST "/v2/conf/dst/blobs/uploads/?mount=$N&from=conf/src" -H 'Content-Length: 0'
check "mounting a blob the source does not have opens a session" 202
LOC=$(hdr Location)
assert_ne "with a Location" "" "$LOC"
reg PUT "$(with_q "$LOC" "digest=$N")" -H 'Content-Type: application/octet-stream' --data-binary "@$F/n"
check "which completes like any upload" 201
token "repository:conf/dst2:pull,push"
reg_as "$TOKEN" POST "/v2/conf/dst2/blobs/uploads/?mount=$M&from=conf/src" -H 'Content-Length: 0'
assert_ne "no mount without pull access to the source" "201" "$CODE"
reg HEAD "/v2/conf/dst2/blobs/$M"
check "the blob did not reach conf/dst2" 404

# --- push: manifests ------------------------------------------------------------
log "push: manifests"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$F/config.json"
push_blob conf/repo "$F/config.json"
check "push the config blob" 201
CFG=$(desc "$OCI_CONFIG" "$F/config.json")
LA=$(desc "$OCI_LAYER" "$F/a")
LC=$(desc "$OCI_LAYER" "$F/c")
oci_manifest "$F/m1.json" "$CFG" "[$LA,$LC]"
M1=$(sha256_of "$F/m1.json")
put_manifest conf/repo v1 "$F/m1.json"
check "PUT an image manifest by tag" 201
assert_eq "its Docker-Content-Digest" "$M1" "$(hdr Docker-Content-Digest)"
MLOC=$(hdr Location)
assert_ne "its Location" "" "$MLOC"
reg GET "$MLOC" -H "Accept: $ACCEPT"
check "the manifest Location is pullable" 200
put_manifest conf/repo "$M1" "$F/m1.json"
check "PUT the same manifest by digest" 201
assert_eq "Docker-Content-Digest of the PUT by digest" "$M1" "$(hdr Docker-Content-Digest)"
oci_manifest "$F/m2.json" "$CFG" "[$LA]" '{"annotations":{"org.example.n":"2"}}'
M2=$(sha256_of "$F/m2.json")
put_manifest conf/repo "$M2" "$F/m2.json"
check "PUT an untagged manifest by digest" 201
get_manifest conf/repo "$M2"
check "it is pullable by digest" 200
oci_manifest "$F/nolayers.json" "$CFG" "[]"
put_manifest conf/repo nolayers "$F/nolayers.json"
check "PUT a manifest with no layers" 201
jq -c 'del(.mediaType)' "$F/m1.json" >"$F/nomt.json"
put_manifest conf/repo nomt "$F/nomt.json" "$OCI_MANIFEST"
check "PUT a manifest without mediaType (typed by Content-Type)" 201
get_manifest conf/repo nomt
assert_eq "it comes back with that Content-Type" "$OCI_MANIFEST" "$(hdr Content-Type)"

log "push: rejected manifests"
blob ghost 10 # never pushed
oci_manifest "$F/missing-layer.json" "$CFG" "[$(desc "$OCI_LAYER" "$F/ghost")]"
put_manifest conf/repo missing "$F/missing-layer.json"
check "a manifest with a layer that was never pushed" 400 MANIFEST_BLOB_UNKNOWN
get_manifest conf/repo missing
check "is not stored" 404 MANIFEST_UNKNOWN
oci_manifest "$F/missing-config.json" "$(desc "$OCI_CONFIG" "$F/ghost")" "[$LA]"
put_manifest conf/repo missingcfg "$F/missing-config.json"
check "a manifest whose config was never pushed" 400 MANIFEST_BLOB_UNKNOWN
printf '{"schemaVersion": 2, "mediaType": "%s", "config": {"mediaType": ' "$OCI_MANIFEST" >"$F/truncated.json"
put_manifest conf/repo malformed "$F/truncated.json" "$OCI_MANIFEST"
check "malformed JSON" 400 MANIFEST_INVALID
oci_manifest "$F/m3.json" "$CFG" "[$LC]" '{"annotations":{"org.example.n":"3"}}'
M3=$(sha256_of "$F/m3.json")
{ cat "$F/m3.json"; printf '  '; } >"$F/m3-spaces.json"
put_manifest conf/repo "$M3" "$F/m3-spaces.json" "$OCI_MANIFEST"
check "a body that does not match the digest reference" 400 DIGEST_INVALID
get_manifest conf/repo "$M3"
check "nothing stored under that digest" 404
put_manifest conf/repo -bad "$F/m1.json"
check "tag -bad" 400 'TAG_INVALID|MANIFEST_INVALID'
put_manifest conf/repo .hidden "$F/m1.json"
check "tag .hidden" 400 'TAG_INVALID|MANIFEST_INVALID'
T128=$(printf 'a%.0s' {1..128})
put_manifest conf/repo "${T128}b" "$F/m1.json"
check "a 129-character tag" 400 'TAG_INVALID|MANIFEST_INVALID'
put_manifest conf/repo "$T128" "$F/m1.json"
check "a 128-character tag" 201
get_manifest conf/repo "$T128"
check "is pullable" 200

# check_bad_name <description>: 400 NAME_INVALID or 404 (NAME_UNKNOWN if any code)
check_bad_name() {
  if [[ $CODE == 400 ]]; then check "$1" 400 NAME_INVALID; else check "$1" 404; fi
}
put_manifest conf/Repo v1 "$F/m1.json"
check_bad_name "a repository name with upper case"
reg POST /v2/conf/-bad/blobs/uploads/ -H 'Content-Length: 0'
check_bad_name "a path component starting with -"
put_manifest conf/../etc v1 "$F/m1.json"
check_bad_name "a name with .. (conf/../etc)"
reg GET "/v2/conf/%2e%2e/etc/manifests/v1" -H "Accept: $ACCEPT"
check_bad_name "a name with an encoded .. (conf/%2e%2e/etc)"
reg GET "/v2/conf//repo/manifests/v1" -H "Accept: $ACCEPT"
check_bad_name "a name with an empty component (conf//repo)"

reg PATCH /v2/conf/repo/manifests/v1 -H "Content-Type: $OCI_MANIFEST" --data-binary "@$F/m1.json"
if [[ $CODE == 400 ]]; then check "PATCH of a manifest (unsupported)" 400 UNSUPPORTED; else
  check "PATCH of a manifest (unsupported)" 405; fi

# --- pull -------------------------------------------------------------------------
log "pull: manifests"
get_manifest conf/repo v1
check "GET the manifest by tag" 200
assert_eq "Content-Type is the pushed media type" "$OCI_MANIFEST" "$(hdr Content-Type)"
assert_eq "Docker-Content-Digest" "$M1" "$(hdr Docker-Content-Digest)"
assert_eq "the body's sha256 is the digest" "$M1" "$(sha256_of "$RB")"
get_manifest conf/repo "$M1"
check "GET the manifest by digest" 200
same_body "the manifest byte for byte" "$F/m1.json"
assert_eq "Content-Type by digest" "$OCI_MANIFEST" "$(hdr Content-Type)"
get_manifest conf/repo v1 HEAD
check "HEAD the manifest by tag" 200
assert_eq "HEAD's Content-Length, Docker-Content-Digest, Content-Type" "$(size_of "$F/m1.json") $M1 $OCI_MANIFEST" \
  "$(hdr Content-Length) $(hdr Docker-Content-Digest) $(hdr Content-Type)"
get_manifest conf/repo "$M1" HEAD
check "HEAD the manifest by digest" 200

log "pull: blobs"
reg GET "/v2/conf/repo/blobs/$A"
check "GET a blob" 200
same_body "the blob byte for byte" "$F/a"
assert_eq "its Docker-Content-Digest and Content-Length" "$A 1000" "$(hdr Docker-Content-Digest) $(hdr Content-Length)"
reg HEAD "/v2/conf/repo/blobs/$A"
check "HEAD a blob" 200
assert_eq "HEAD's Docker-Content-Digest and Content-Length" "$A 1000" "$(hdr Docker-Content-Digest) $(hdr Content-Length)"
reg GET "$BLOB_LOC"
check "the blob Location from the upload is pullable" 200
reg GET "/v2/conf/repo/blobs/$A" -H 'Range: bytes=2-5'
check "Range: bytes=2-5" 206
assert_eq "its Content-Range" "bytes 2-5/1000" "$(hdr Content-Range)"
tail -c +3 "$F/a" | head -c 4 >"$F/a.2-5"
same_body "bytes 2 to 5" "$F/a.2-5"
reg GET "/v2/conf/repo/blobs/$A" -H 'Range: bytes=990-'
check "Range: bytes=990-" 206
assert_eq "its Content-Range" "bytes 990-999/1000" "$(hdr Content-Range)"
tail -c 10 "$F/a" >"$F/a.990-"
same_body "the last 10 bytes" "$F/a.990-"
reg GET "/v2/conf/repo/blobs/$A" -H 'Range: bytes=5000-6000'
check "a Range past the end" 416

log "pull: unknown content"
reg GET "/v2/conf/repo/blobs/$X"
check "GET an unknown blob" 404 BLOB_UNKNOWN
reg HEAD "/v2/conf/repo/blobs/$X"
check "HEAD an unknown blob" 404
get_manifest conf/repo nosuchtag
check "GET an unknown tag" 404 MANIFEST_UNKNOWN
get_manifest conf/repo "$X"
check "GET an unknown manifest digest" 404 MANIFEST_UNKNOWN
get_manifest conf/repo nosuchtag HEAD
check "HEAD an unknown tag" 404
get_manifest conf/nosuch latest
check "a manifest of an unknown repository" 404 'NAME_UNKNOWN|MANIFEST_UNKNOWN'
reg GET /v2/conf/nosuch/tags/list
check "tags of an unknown repository" 404 NAME_UNKNOWN
reg HEAD "/v2/conf/dst/blobs/$A"
check "a blob of conf/repo is not visible in conf/dst" 404

# --- media types ----------------------------------------------------------------
log "media types"
ok=0
for f in config.json a c; do push_blob conf/types "$F/$f" && ok=$((ok + 1)); done
assert_eq "push config and layers to conf/types" 3 "$ok"
oci_manifest "$F/amd64.json" "$CFG" "[$LA]" '{"annotations":{"org.example.arch":"amd64"}}'
oci_manifest "$F/arm64.json" "$CFG" "[$LC]" '{"annotations":{"org.example.arch":"arm64"}}'
put_manifest conf/types "$(sha256_of "$F/amd64.json")" "$F/amd64.json"
check "PUT the amd64 image manifest" 201
put_manifest conf/types "$(sha256_of "$F/arm64.json")" "$F/arm64.json"
check "PUT the arm64 image manifest" 201
oci_index "$F/index.json" "[$(desc "$OCI_MANIFEST" "$F/amd64.json" '{"platform":{"architecture":"amd64","os":"linux"}}'),
  $(desc "$OCI_MANIFEST" "$F/arm64.json" '{"platform":{"architecture":"arm64","os":"linux"}}')]"
put_manifest conf/types index "$F/index.json"
check "PUT an OCI image index" 201
assert_eq "the index's Docker-Content-Digest" "$(sha256_of "$F/index.json")" "$(hdr Docker-Content-Digest)"
get_manifest conf/types index
check "GET the index" 200
assert_eq "Content-Type of the index" "$OCI_INDEX" "$(hdr Content-Type)"
same_body "the index byte for byte" "$F/index.json"
oci_index "$F/index-missing.json" "[$(desc "$OCI_MANIFEST" "$F/m3.json")]"
put_manifest conf/types index-missing "$F/index-missing.json"
check "an index naming a manifest that was never pushed" 400 MANIFEST_BLOB_UNKNOWN
oci_index "$F/nested.json" "[$(desc "$OCI_INDEX" "$F/index.json")]"
put_manifest conf/types nested "$F/nested.json"
check "PUT an index of an index" 201
get_manifest conf/types nested
assert_eq "Content-Type of the nested index" "$OCI_INDEX" "$(hdr Content-Type)"

printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}' >"$F/dconfig.json"
push_blob conf/types "$F/dconfig.json"
check "push the Docker config blob" 201
jq -cn --arg mt "$DOCKER_MANIFEST" --argjson c "$(desc "$DOCKER_CONFIG" "$F/dconfig.json")" \
  --argjson l "[$(desc "$DOCKER_LAYER" "$F/a")]" '{schemaVersion: 2, mediaType: $mt, config: $c, layers: $l}' >"$F/docker.json"
put_manifest conf/types docker "$F/docker.json"
check "PUT a Docker schema 2 manifest" 201
get_manifest conf/types docker
check "GET it" 200
assert_eq "Content-Type of the Docker manifest" "$DOCKER_MANIFEST" "$(hdr Content-Type)"
same_body "the Docker manifest byte for byte" "$F/docker.json"
jq -cn --arg mt "$DOCKER_LIST" \
  --argjson m "[$(desc "$DOCKER_MANIFEST" "$F/docker.json" '{"platform":{"architecture":"amd64","os":"linux"}}')]" \
  '{schemaVersion: 2, mediaType: $mt, manifests: $m}' >"$F/dlist.json"
put_manifest conf/types dockerlist "$F/dlist.json"
check "PUT a Docker manifest list" 201
get_manifest conf/types dockerlist
assert_eq "Content-Type of the manifest list" "$DOCKER_LIST" "$(hdr Content-Type)"
assert_eq "the manifest list's digest" "$(sha256_of "$F/dlist.json")" "$(hdr Docker-Content-Digest)"
jq -cn --arg mt "$DOCKER_LIST" --argjson m "[$(desc "$DOCKER_MANIFEST" "$F/m3.json")]" \
  '{schemaVersion: 2, mediaType: $mt, manifests: $m}' >"$F/dlist-missing.json"
put_manifest conf/types dockerlist-missing "$F/dlist-missing.json"
check "a manifest list naming a manifest that was never pushed" 400 MANIFEST_BLOB_UNKNOWN

printf '{}' >"$F/empty.json"
push_blob conf/types "$F/empty.json"
check "push the empty config {}" 201
assert_eq "its digest is the well-known empty digest" "$EMPTY_DIGEST" "$(hdr Docker-Content-Digest)"
EMPTY_CFG=$(jq -cn --arg mt "$OCI_EMPTY" --arg d "$EMPTY_DIGEST" '{mediaType: $mt, digest: $d, size: 2}')
blob payload 300
push_blob conf/types "$F/payload"
check "push an artifact payload" 201
PAYLOAD=$(desc application/vnd.example.payload.v1 "$F/payload")
oci_manifest "$F/artifact.json" "$EMPTY_CFG" "[$PAYLOAD]" "{\"artifactType\":\"$SBOM\"}"
put_manifest conf/types artifact "$F/artifact.json"
check "PUT an artifact manifest (artifactType, empty config)" 201
get_manifest conf/types artifact
check "GET the artifact" 200
assert_eq "its artifactType" "$SBOM" "$(jq -r .artifactType "$RB")"
same_body "the artifact byte for byte" "$F/artifact.json"

jq --indent 3 '. + {"x-custom": {"kept": [1, 2.50, "three"]}}' "$F/m1.json" >"$F/pretty.json"
printf '\n\n' >>"$F/pretty.json"
put_manifest conf/types pretty "$F/pretty.json"
check "PUT an indented manifest with an unknown field" 201
get_manifest conf/types pretty
same_body "it is stored exactly as sent" "$F/pretty.json"
assert_eq "and its digest is that of those bytes" "$(sha256_of "$F/pretty.json")" "$(hdr Docker-Content-Digest)"

# --- content discovery: tags --------------------------------------------------------
log "content discovery: tags/list"
push_blob conf/tags "$F/config.json"
check "push a config to conf/tags" 201
oci_manifest "$F/tagged.json" "$CFG" "[]"
TAGS=(v2 v10 alpha beta 1.0 latest rc_1)
ok=0
for t in "${TAGS[@]}"; do put_manifest conf/tags "$t" "$F/tagged.json" && ok=$((ok + 1)); done
assert_eq "push seven tags" 7 "$ok"
ALL=$(printf '%s\n' "${TAGS[@]}" | LC_ALL=C sort | jq -R . | jq -sc .)
reg GET /v2/conf/tags/tags/list
check "GET tags/list" 200
assert_eq "its name" "conf/tags" "$(jq -r .name "$RB")"
assert_eq "all tags, sorted" "$ALL" "$(rj .tags)"
assert_eq "no Link when all tags were returned" "" "$(hdr Link)"
reg GET "/v2/conf/tags/tags/list?n=3"
check "tags/list?n=3" 200
assert_eq "the first three" "$(jq -c '.[0:3]' <<<"$ALL")" "$(rj .tags)"
LINK=$(hdr Link)
assert_match "a Link to the next page" "$LINK" '^<[^>]+>; *rel="next"$'
reg GET "$(sed -n 's/^<\([^>]*\)>.*/\1/p' <<<"$LINK")"
check "follow the Link" 200
assert_eq "the next three" "$(jq -c '.[3:6]' <<<"$ALL")" "$(rj .tags)"
LINK=$(hdr Link)
assert_match "another Link" "$LINK" '^<[^>]+>; *rel="next"$'
reg GET "$(sed -n 's/^<\([^>]*\)>.*/\1/p' <<<"$LINK")"
assert_eq "the last page" "$(jq -c '.[6:]' <<<"$ALL")" "$(rj .tags)"
assert_eq "with no Link" "" "$(hdr Link)"
reg GET "/v2/conf/tags/tags/list?n=0"
check "tags/list?n=0" 200
assert_eq "an empty list" "[]" "$(rj .tags)"
assert_eq "and no Link" "" "$(hdr Link)"
reg GET "/v2/conf/tags/tags/list?last=beta"
assert_eq "last=beta: the tags after beta" '["latest","rc_1","v10","v2"]' "$(rj .tags)"
reg GET "/v2/conf/tags/tags/list?n=2&last=beta"
assert_eq "n=2&last=beta" '["latest","rc_1"]' "$(rj .tags)"
reg GET "/v2/conf/tags/tags/list?n=100"
assert_eq "n larger than the count: all tags" "$ALL" "$(rj .tags)"
assert_eq "without a Link" "" "$(hdr Link)"
reg GET "/v2/conf/tags/tags/list?last=zzz"
assert_eq "last after every tag: an empty list" "[]" "$(rj .tags)"

# --- content discovery: referrers ---------------------------------------------------
log "content discovery: referrers"
ok=0
for f in config.json empty.json payload; do push_blob conf/refs "$F/$f" && ok=$((ok + 1)); done
assert_eq "push config, empty config and payload to conf/refs" 3 "$ok"
oci_manifest "$F/subject.json" "$CFG" "[]" '{"annotations":{"org.example.role":"subject"}}'
SUBJ=$(sha256_of "$F/subject.json")
SUBJ_DESC=$(desc "$OCI_MANIFEST" "$F/subject.json")
put_manifest conf/refs subject "$F/subject.json"
check "PUT the subject image" 201
assert_eq "no OCI-Subject for a manifest without subject" "" "$(hdr OCI-Subject)"
reg GET "/v2/conf/refs/referrers/$SUBJ"
check "referrers before any referrer" 200
assert_eq "an empty image index" "$OCI_INDEX []" "$(jq -r '"\(.mediaType) \(.manifests|tojson)"' "$RB")"

R1_ANN='{"org.example.kind":"sbom","org.opencontainers.image.created":"2024-01-01T00:00:00Z"}'
oci_manifest "$F/r1.json" "$EMPTY_CFG" "[$PAYLOAD]" \
  "{\"artifactType\":\"$SBOM\",\"subject\":$SUBJ_DESC,\"annotations\":$R1_ANN}"
R1=$(sha256_of "$F/r1.json")
put_manifest conf/refs "$R1" "$F/r1.json"
check "PUT an SBOM referrer by digest" 201
assert_eq "OCI-Subject names the subject" "$SUBJ" "$(hdr OCI-Subject)"
oci_manifest "$F/r2.json" "$EMPTY_CFG" "[$PAYLOAD]" \
  "{\"artifactType\":\"$SIG\",\"subject\":$SUBJ_DESC,\"annotations\":{\"org.example.kind\":\"signature\"}}"
R2=$(sha256_of "$F/r2.json")
put_manifest conf/refs sig "$F/r2.json"
check "PUT a signature referrer by tag" 201
assert_eq "OCI-Subject for the tagged referrer" "$SUBJ" "$(hdr OCI-Subject)"
printf '{"example":"config"}' >"$F/r3config.json"
push_blob conf/refs "$F/r3config.json"
check "push a custom config" 201
oci_manifest "$F/r3.json" "$(desc application/vnd.example.config.v1+json "$F/r3config.json")" "[]" \
  "{\"subject\":$SUBJ_DESC}"
R3=$(sha256_of "$F/r3.json")
put_manifest conf/refs "$R3" "$F/r3.json"
check "PUT a referrer without artifactType" 201
oci_index "$F/r4.json" "[]" \
  "{\"artifactType\":\"application/vnd.example.list.v1\",\"subject\":$SUBJ_DESC,\"annotations\":{\"org.example.kind\":\"list\"}}"
R4=$(sha256_of "$F/r4.json")
put_manifest conf/refs "$R4" "$F/r4.json"
check "PUT an index as a referrer" 201
assert_eq "OCI-Subject for the index" "$SUBJ" "$(hdr OCI-Subject)"

reg GET "/v2/conf/refs/referrers/$SUBJ"
check "GET referrers" 200
assert_eq "Content-Type of the referrers" "$OCI_INDEX" "$(hdr Content-Type)"
assert_eq "an image index" "2 $OCI_INDEX" "$(jq -r '"\(.schemaVersion) \(.mediaType)"' "$RB")"
assert_eq "listing the four referrers" "$(printf '%s\n' "$R1" "$R2" "$R3" "$R4" | sort | jq -R . | jq -sc .)" \
  "$(rj '[.manifests[].digest] | sort')"
r1=$(jq -c --arg d "$R1" '.manifests[] | select(.digest == $d)' "$RB")
assert_eq "the SBOM's mediaType and size" "$OCI_MANIFEST $(size_of "$F/r1.json")" "$(jget "$r1" '"\(.mediaType) \(.size)"')"
assert_eq "the SBOM's artifactType" "$SBOM" "$(jget "$r1" .artifactType)"
assert_eq "the SBOM's annotations" "$(jq -cS . <<<"$R1_ANN")" "$(jget "$r1" '.annotations | tojson' | jq -cS .)"
assert_eq "no artifactType: the config's media type" "application/vnd.example.config.v1+json" \
  "$(jq -r --arg d "$R3" '.manifests[] | select(.digest == $d) | .artifactType' "$RB")"
assert_eq "the index referrer" "$OCI_INDEX application/vnd.example.list.v1 list" \
  "$(jq -r --arg d "$R4" '.manifests[] | select(.digest == $d) | "\(.mediaType) \(.artifactType) \(.annotations["org.example.kind"])"' "$RB")"

reg GET "/v2/conf/refs/referrers/$SUBJ?artifactType=$SBOM"
check "referrers?artifactType=" 200
assert_eq "OCI-Filters-Applied" "artifactType" "$(hdr OCI-Filters-Applied)"
assert_eq "only the SBOM" "[\"$R1\"]" "$(rj '[.manifests[].digest]')"
reg GET "/v2/conf/refs/referrers/$SUBJ?artifactType=application/vnd.example.none"
assert_eq "a filter matching nothing: empty" "[]" "$(rj .manifests)"
reg GET "/v2/conf/refs/referrers/$R1"
check "referrers of a manifest that has none" 200
assert_eq "an empty list" "[]" "$(rj .manifests)"
reg GET "/v2/conf/refs/referrers/$X"
check "referrers of a digest that is not there" 200
assert_eq "an empty list too" "[]" "$(rj .manifests)"
reg GET "/v2/conf/refs/referrers/sha256:xyz"
check "referrers of a malformed digest" 400
reg GET "/v2/conf/repo/referrers/$SUBJ"
check "referrers in another repository" 200
assert_eq "are not shared" "[]" "$(rj .manifests)"

printf 'missing content' >"$F/missing"
MISSING=$(sha256_of "$F/missing")
oci_manifest "$F/r5.json" "$EMPTY_CFG" "[$PAYLOAD]" \
  "{\"artifactType\":\"$SIG\",\"subject\":{\"mediaType\":\"$OCI_MANIFEST\",\"digest\":\"$MISSING\",\"size\":123}}"
R5=$(sha256_of "$F/r5.json")
put_manifest conf/refs "$R5" "$F/r5.json"
check "PUT a referrer whose subject does not exist" 201
assert_eq "OCI-Subject names the missing subject" "$MISSING" "$(hdr OCI-Subject)"
reg GET "/v2/conf/refs/referrers/$MISSING"
assert_eq "it is listed under the missing subject" "[\"$R5\"]" "$(rj '[.manifests[].digest]')"

reg DELETE "/v2/conf/refs/manifests/$R1"
check "DELETE a referrer" 202
reg GET "/v2/conf/refs/referrers/$SUBJ"
assert_eq "it leaves the referrers list" "$(printf '%s\n' "$R2" "$R3" "$R4" | sort | jq -R . | jq -sc .)" \
  "$(rj '[.manifests[].digest] | sort')"

# --- content management -------------------------------------------------------------
log "content management"
ok=0
for f in config.json a; do push_blob conf/del "$F/$f" && ok=$((ok + 1)); done
assert_eq "push config and a layer to conf/del" 2 "$ok"
oci_manifest "$F/d1.json" "$CFG" "[$LA]" '{"annotations":{"org.example.n":"d1"}}'
oci_manifest "$F/d2.json" "$CFG" "[]" '{"annotations":{"org.example.n":"d2"}}'
D1=$(sha256_of "$F/d1.json")
ok=0
put_manifest conf/del t1 "$F/d1.json" && ok=$((ok + 1))
put_manifest conf/del t2 "$F/d1.json" && ok=$((ok + 1))
put_manifest conf/del keep "$F/d2.json" && ok=$((ok + 1))
assert_eq "push d1 as t1 and t2, d2 as keep" 3 "$ok"
reg DELETE /v2/conf/del/manifests/t1
check "DELETE a tag" 202
get_manifest conf/del t1
check "the deleted tag" 404 MANIFEST_UNKNOWN
get_manifest conf/del "$D1"
check "the manifest stays by digest" 200
get_manifest conf/del t2
check "and by its other tag" 200
reg GET /v2/conf/del/tags/list
assert_eq "tags after deleting t1" '["keep","t2"]' "$(rj .tags)"
reg DELETE "/v2/conf/del/manifests/$D1"
check "DELETE the manifest by digest" 202
get_manifest conf/del "$D1"
check "GET the deleted manifest" 404 MANIFEST_UNKNOWN
get_manifest conf/del "$D1" HEAD
check "HEAD the deleted manifest" 404
get_manifest conf/del t2
check "its remaining tag is gone too" 404 MANIFEST_UNKNOWN
reg GET /v2/conf/del/tags/list
assert_eq "tags after deleting d1" '["keep"]' "$(rj .tags)"
get_manifest conf/del keep
check "the other manifest is untouched" 200
reg DELETE "/v2/conf/del/manifests/$D1"
check "DELETE it again" 404 MANIFEST_UNKNOWN
reg DELETE /v2/conf/del/manifests/nosuchtag
check "DELETE an unknown tag" 404 MANIFEST_UNKNOWN
reg DELETE "/v2/conf/del/manifests/$X"
check "DELETE an unknown manifest digest" 404 MANIFEST_UNKNOWN
reg DELETE "/v2/conf/del/blobs/$A"
check "DELETE a blob" 202
reg HEAD "/v2/conf/del/blobs/$A"
check "HEAD the deleted blob" 404
reg GET "/v2/conf/del/blobs/$A"
check "GET the deleted blob" 404 BLOB_UNKNOWN
reg DELETE "/v2/conf/del/blobs/$A"
check "DELETE it again" 404 BLOB_UNKNOWN
reg HEAD "/v2/conf/repo/blobs/$A"
check "conf/repo keeps its copy of that blob" 200
reg DELETE "/v2/conf/del/blobs/$X"
check "DELETE an unknown blob" 404 BLOB_UNKNOWN

# --- bad input ----------------------------------------------------------------------
log "bad input"
head -c $((4 * 1024 * 1024 + 512 * 1024)) /dev/zero | tr '\0' a >"$F/big.txt"
jq -cn --arg mt "$OCI_MANIFEST" --argjson c "$CFG" --rawfile big "$F/big.txt" \
  '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [], annotations: {"org.example.big": $big}}' >"$F/oversized.json"
put_manifest conf/repo oversized "$F/oversized.json"
check "a 4.5 MiB manifest" 413 'SIZE_INVALID|MANIFEST_INVALID'
get_manifest conf/repo oversized
check "is not stored" 404
head -c $((3 * 1024 * 1024 + 512 * 1024)) /dev/zero | tr '\0' b >"$F/big.txt"
jq -cn --arg mt "$OCI_MANIFEST" --argjson c "$CFG" --rawfile big "$F/big.txt" \
  '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [], annotations: {"org.example.big": $big}}' >"$F/large.json"
put_manifest conf/repo large "$F/large.json"
check "a 3.5 MiB manifest is accepted" 201
get_manifest conf/repo large
same_body "and comes back whole" "$F/large.json"

NOSESSION=/v2/conf/repo/blobs/uploads/00000000-0000-4000-8000-000000000000
patch_chunk "$NOSESSION" "$F/c1" 0-99
check "PATCH an unknown upload" 404 BLOB_UPLOAD_UNKNOWN
reg GET "$NOSESSION"
check "GET an unknown upload" 404 BLOB_UPLOAD_UNKNOWN
reg PUT "$NOSESSION?digest=$A" -H 'Content-Type: application/octet-stream' --data-binary "@$F/a"
check "PUT to an unknown upload" 404 BLOB_UPLOAD_UNKNOWN
reg DELETE "$NOSESSION"
check "DELETE an unknown upload" 404 BLOB_UPLOAD_UNKNOWN
start_upload conf/repo
UUID=$(hdr Docker-Upload-UUID)
SESSION=$LOC
patch_chunk "/v2/conf/dst/blobs/uploads/$UUID" "$F/c1" 0-99
check "a conf/repo session used through conf/dst" 404 BLOB_UPLOAD_UNKNOWN
head -c 50 "$F/c1" >"$F/c1.half"
patch_chunk "$SESSION" "$F/c1.half" 0-99
check "a chunk shorter than its Content-Range" '400|416'
start_upload conf/repo
reg PUT "$LOC" -H 'Content-Type: application/octet-stream' --data-binary "@$F/a"
check "a closing PUT without ?digest=" 400 'DIGEST_INVALID|BLOB_UPLOAD_INVALID'

# --- authorization --------------------------------------------------------------------
log "authorization"
reg_as "" GET /v2/conf/repo/tags/list
check "tags/list without a token" 401 UNAUTHORIZED
WWW=$(hdr WWW-Authenticate)
assert_contains "challenges with the token realm" "$WWW" "Bearer realm=\"$REG/service/token\""
assert_contains "and the service" "$WWW" 'service="berth"'
reg_as "" GET "/v2/conf/repo/blobs/$A"
check "a blob without a token" 401
reg_as "" PUT /v2/conf/repo/manifests/anon -H "Content-Type: $OCI_MANIFEST" --data-binary "@$F/m1.json"
check "a manifest PUT without a token" 401

token "repository:conf/repo:pull"
PULL=$TOKEN
reg_as "$PULL" GET /v2/conf/repo/tags/list
check "a pull token lists tags" 200
reg_as "$PULL" GET /v2/conf/repo/manifests/v1 -H "Accept: $ACCEPT"
check "a pull token pulls" 200
reg_as "$PULL" POST /v2/conf/repo/blobs/uploads/ -H 'Content-Length: 0'
check "a pull token cannot start an upload" '401|403' 'DENIED|UNAUTHORIZED'
reg_as "$PULL" PUT /v2/conf/repo/manifests/pullonly -H "Content-Type: $OCI_MANIFEST" --data-binary "@$F/m1.json"
check "a pull token cannot push a manifest" '401|403' 'DENIED|UNAUTHORIZED'
reg_as "$PULL" DELETE "/v2/conf/repo/manifests/$M2"
check "a pull token cannot delete" '401|403' 'DENIED|UNAUTHORIZED'
token "repository:conf/repo:pull,push"
PUSH=$TOKEN
reg_as "$PUSH" DELETE "/v2/conf/repo/manifests/$M2"
check "pull,push without delete cannot delete" '401|403' 'DENIED|UNAUTHORIZED'
get_manifest conf/repo "$M2"
check "the manifest was not deleted" 200
reg_as "$PUSH" POST /v2/conf/repo/blobs/uploads/ -H 'Content-Length: 0'
check "a pull,push token starts an upload" 202

reg_as "$REPO_TOKEN" GET /v2/conf/tags/tags/list
check "a conf/repo token on conf/tags" '401|403' 'UNAUTHORIZED|DENIED'
reg_as "$REPO_TOKEN" PUT /v2/conf/tags/manifests/intruder -H "Content-Type: $OCI_MANIFEST" --data-binary "@$F/tagged.json"
check "a conf/repo token cannot push to conf/tags" '401|403'
reg_as "$REPO_TOKEN" HEAD "/v2/conf/src/blobs/$M"
check "a conf/repo token cannot read conf/src's blobs" '401|403'

ANON=$(curl -s --max-time 30 --cacert "$DATA/pki/ca.crt" -G --data-urlencode service=berth \
  --data-urlencode "scope=repository:conf/repo:pull" "$REG/service/token" | jq -r '.token // empty' 2>/dev/null)
reg_as "$ANON" GET /v2/conf/repo/tags/list
check "an anonymous client cannot read a private project" '401|403'

reg POST /v2/ghost/repo/blobs/uploads/ -H 'Content-Length: 0'
check "an upload to a project that does not exist" '401|403|404' 'NAME_UNKNOWN|DENIED|UNAUTHORIZED'
put_manifest ghost/repo v1 "$F/m1.json"
check "a manifest PUT to a project that does not exist" '401|403|404'

finish
