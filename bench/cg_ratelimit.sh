#!/usr/bin/env bash
# Admission control's cost on the request path, in instructions per
# proxied request (callgrind, (Ir(2N) - Ir(N)) / N, as bench/cg_compare.sh),
# for ONE build of mod_nodeproxy with three configurations:
#   off  - no NodeRateLimit, no max=
#   shm  - NodeRateLimit rate=1000000/s (never refuses) in shared memory
#   max  - a balancer with one member max=1000 (slot taken and given back)
#
#   bench/cg_ratelimit.sh [SO] [N]      (default: .libs/mod_nodeproxy.so, 2000)
#
# One httpd -X under valgrind per configuration and N, in front of
# bench/backend.js (100-byte answers, keep-alive), driven by `ab -k -c1`.
# Loopback only; it stops what it started.
set -u -o pipefail
. "$(dirname "$0")/cg_lib.sh"
SO=$(cg_abs "${1:-$CG_HERE/../.libs/mod_nodeproxy.so}")
N=${2:-2000}
PORT_B=27211 PORT_A=27212
cg_backend $PORT_B backend.log || exit 1

mapping() { # LABEL: the configuration's own lines
    case $1 in
    off) echo "NodeProxyPass / http://127.0.0.1:$PORT_B/" ;;
    shm) echo "NodeProxyPass / http://127.0.0.1:$PORT_B/
NodeRateLimit rate=1000000/s burst=1000000" ;;
    max) echo "<NodeBalancer b>
    NodeMember http://127.0.0.1:$PORT_B max=1000
</NodeBalancer>
NodeProxyPass / balancer://b/" ;;
    esac
}
declare -A per
for label in off shm max; do
    { cg_conf_head "$SO" $PORT_A; mapping $label; } > "$CG_W/httpd.$label.conf"
    per[$label]=$(cg_per_request "$CG_W/httpd.$label.conf" $label "$N" "http://127.0.0.1:$PORT_A/")
    echo "$label: ${per[$label]} instructions per request"
done
for label in shm max; do
    awk -v a="${per[off]}" -v b="${per[$label]}" -v l="$label" \
        'BEGIN { printf "%s vs off: %+.2f %%\n", l, (b - a) * 100.0 / a }'
done
cg_ab_failures
