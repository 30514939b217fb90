#!/usr/bin/env bash
# Instructions per proxied request (callgrind, (Ir(2N) - Ir(N)) / N) over a
# pooled https:// backend next to the same over http://, one build:
#
#   bench/cg_https.sh [MODULE.so] [N]
#
# One httpd -X under valgrind per target and N, in front of bench/backend.js
# (100-byte answers, keep-alive) served over http and over https (a
# self-signed certificate made here, trusted with NodeBackendCA), driven by
# `ab -k -c1`. Loopback only; it stops what it started.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SO=${1:-$HERE/../.libs/mod_nodeproxy.so}
N=${2:-2000}
PORT_P=27211 PORT_S=27212 PORT_A=27213
W=$(mktemp -d /tmp/npcgs.XXXXXX); chmod 755 "$W"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$W/key.pem" -out "$W/cert.pem" > "$W/openssl.log" 2>&1
chmod 644 "$W"/*.pem
node "$HERE/backend.js" $PORT_P cg > "$W/backend-http.log" 2>&1 & pids+=($!)
BENCH_TLS_CERT="$W/cert.pem" BENCH_TLS_KEY="$W/key.pem" \
    node "$HERE/backend.js" $PORT_S cg > "$W/backend-https.log" 2>&1 & pids+=($!)
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT_P/" && break; sleep 0.1; done
for i in $(seq 50); do curl -sk -o /dev/null "https://127.0.0.1:$PORT_S/" && break; sleep 0.1; done

cat > "$W/httpd.conf" <<EOC
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
NodeBackendCA $W/cert.pem
NodeProxyPass /http/ http://127.0.0.1:$PORT_P/
NodeProxyPass /https/ https://localhost:$PORT_S/
EOC
ir() { # PATH N
    local out="$W/cg.$1.$2.out"
    : > "$out"; chown www-data "$out"
    valgrind --tool=callgrind --callgrind-out-file="$out" /usr/sbin/apache2 -X -f "$W/httpd.conf" \
        > "$W/valgrind.$1.$2.log" 2>&1 &
    local v=$!
    for i in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT_A/$1/" && break; sleep 0.2; done
    ab -k -c1 -n "$2" "http://127.0.0.1:$PORT_A/$1/" > "$W/ab.$1.$2.log" 2>&1
    kill -TERM $v; wait $v 2>/dev/null
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
}
for target in http https; do
    a=$(ir $target "$N"); b=$(ir $target $((2 * N)))
    echo "$target: $(( (b - a) / N )) instructions per request (pooled $target backend, $SO)"
done
grep -h "Failed requests\|Non-2xx" "$W"/ab.*.log | sort | uniq -c
