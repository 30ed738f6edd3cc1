#!/usr/bin/env bash
# Regenerates the kubectl protobuf goldens (<name>.pb + <name>.json) in this
# directory. Needs python3, openssl and kubectl (gcloud's dispatcher picks
# kubectl 1.32 from the capture server's /version). Not run by the unit tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "${here}/capture.py" "${1:-${here}}"
