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
HERE=$(cd "$(dirname "$0")" && pwd)
SO=${1:-$HERE/../.libs/mod_nodeproxy.so}
SO=$(cd "$(dirname "$SO")" && pwd)/$(basename "$SO")
N=${2:-2000}
PORT_B=27211 PORT_A=27212
W=$(mktemp -d /tmp/nprl.XXXXXX); chmod 755 "$W"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
node "$HERE/backend.js" $PORT_B cg > "$W/backend.log" 2>&1 & pids+=($!)
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT_B/" && break; sleep 0.1; done

conf() { # LABEL -> config file
    local extra
    case $1 in
    off) extra="NodeProxyPass / http://127.0.0.1:$PORT_B/" ;;
    shm) extra="NodeProxyPass / http://127.0.0.1:$PORT_B/
NodeRateLimit rate=1000000/s burst=1000000" ;;
    max) extra="<NodeBalancer b>
    NodeMember http://127.0.0.1:$PORT_B max=1000
</NodeBalancer>
NodeProxyPass / balancer://b/" ;;
    esac
    cat > "$W/httpd.$1.conf" <<EOC
ServerRoot "$W"
ServerName localhost
Listen 127.0.0.1:$PORT_A
PidFile "$W/httpd.pid"
ErrorLog "$W/error_log"
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule nodeproxy_module $SO
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
$extra
EOC
}
ir() { # LABEL N
    local out="$W/cg.$1.$2.out"
    : > "$out"; chown www-data "$out"
    valgrind --tool=callgrind --callgrind-out-file="$out" /usr/sbin/apache2 -X -f "$W/httpd.$1.conf" \
        > "$W/valgrind.$1.$2.log" 2>&1 &
    local v=$!
    for i in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT_A/" && break; sleep 0.2; done
    ab -k -c1 -n "$2" "http://127.0.0.1:$PORT_A/" > "$W/ab.$1.$2.log" 2>&1
    kill -TERM $v; wait $v 2>/dev/null
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
}
declare -A per
for label in off shm max; do
    conf $label
    a=$(ir $label "$N"); b=$(ir $label $((2 * N)))
    per[$label]=$(( (b - a) / N ))
    echo "$label: ${per[$label]} instructions per request"
done
for label in shm max; do
    awk -v a="${per[off]}" -v b="${per[$label]}" -v l="$label" \
        'BEGIN { printf "%s vs off: %+.2f %%\n", l, (b - a) * 100.0 / a }'
done
