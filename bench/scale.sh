#!/usr/bin/env bash
# The scale benchmark (issue 19): N idle WebSockets with heartbeats and M
# Server-Sent Events streams through one httpd (mod_nodeproxy), then through
# nginx, side by side in one run; see docs/benchmarks.md ("Scale").
#
#   bench/scale.sh [--ws N] [--sse N] [--hb S] [--sse-every S] [--window S]
#                  [--setups np,ng] [--scenarios ws,sse] [--plain K]
#                  [--out FILE] [--no-build] [--keep]
#
# Defaults: 100,000 WebSockets (heartbeat every 25 s, spread evenly), 20,000
# SSE streams (a 100-byte event every 5 s), a measurement window of two
# intervals, 10 plain requests during it; results appended to
# docs/benchmarks.md. Small runs: --ws 2000 --sse 1000 --hb 5.
# Loopback only (proxies on 127.0.0.1:27201/27202, backends 27210-27269,
# clients from 127.0.1.x); every wait is bounded; only the processes started
# here are stopped, by pid. Needs root (httpd/nginx workers run as www-data).
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
export NP_SCALE_CMD="bench/scale.sh $*"
BUILD=1 KEEP=0 OUT="$ROOT/docs/benchmarks.md"
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done
log() { printf '[scale %s] %s\n' "$(date +%T)" "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }
need=()
command -v nginx >/dev/null || need+=(nginx-light)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
        { log "could not install ${need[*]}"; exit 1; }
fi
if ! node -e "require('ws')" 2>/dev/null && [ ! -d "$HERE/node_modules/ws" ] &&
   [ ! -d "$ROOT/t/backends/node_modules/ws" ]; then
    (cd "$HERE" && npm install --no-save --no-package-lock --silent ws@8.18.0 >/dev/null 2>&1) ||
        { log "npm install ws failed"; exit 1; }
fi
if [ "$BUILD" = 1 ]; then
    make -C "$ROOT" -s >/dev/null || { log "make failed"; exit 1; }
fi
[ -f "$ROOT/.libs/mod_nodeproxy.so" ] || { log "no .libs/mod_nodeproxy.so (run make)"; exit 1; }
# Every proxy, backend and client process may hold up to 20,000 files (the
# hard limit here, NOTES.md): raise the soft limit to it.
ulimit -n "$(ulimit -Hn)" || true
W=$(mktemp -d /tmp/npscale.XXXXXX)
chmod 755 "$W"
log "work directory $W"
node "$HERE/scale.js" run --module "$ROOT/.libs/mod_nodeproxy.so" --work "$W" --out "$OUT" "${ARGS[@]}"
rc=$?
if [ "$KEEP" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W/run"; log "logs and results.json in $W"; fi
exit $rc
