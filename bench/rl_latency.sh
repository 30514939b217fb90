#!/usr/bin/env bash
# The latency NodeRateLimitStore redis:// and rediss:// add, against the
# shared-memory store and against no limit: one httpd (event MPM) per store
# in front of bench/backend.js, a redis-server of its own on
# 127.0.0.1:27223 (no persistence) and a TLS-only one on 127.0.0.1:27225
# (client certificates required, a password; the certificates are made
# here with openssl), and bench/rl_latency.js sending N sequential
# keep-alive requests per case (p50/p90/p99/max in microseconds).
#
#   bench/rl_latency.sh [SO] [N]        (default: .libs/mod_nodeproxy.so, 5000)
#
# Loopback only; it stops what it started. Run it on a quiet machine: the
# numbers are wall-clock latencies.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SO=${1:-$HERE/../.libs/mod_nodeproxy.so}
SO=$(cd "$(dirname "$SO")" && pwd)/$(basename "$SO")
N=${2:-5000}
PORT_B=27221 PORT_SHM=27222 PORT_REDIS=27223 PORT_RED=27224
PORT_REDIS_TLS=27225 PORT_RTLS=27226
W=$(mktemp -d /tmp/nprlat.XXXXXX); chmod 755 "$W"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for f in "$W"/httpd.*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
}
trap cleanup EXIT
node "$HERE/backend.js" $PORT_B lat > "$W/backend.log" 2>&1 & pids+=($!)
redis-server --port $PORT_REDIS --bind 127.0.0.1 --save '' --appendonly no --dir "$W" \
    > "$W/redis.log" 2>&1 & pids+=($!)
# a CA, Redis' certificate (127.0.0.1) and a client certificate
ossl() { openssl "$@" > /dev/null 2>&1 || { echo "openssl $* failed" >&2; exit 1; }; }
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl req -x509 "${EC[@]}" -days 2 -subj "/CN=np bench CA" -keyout "$W/ca.key" -out "$W/ca.crt"
for leaf in server client; do
    if [ $leaf = server ]; then ext="subjectAltName=IP:127.0.0.1"; else ext="extendedKeyUsage=clientAuth"; fi
    echo "$ext" > "$W/$leaf.ext"
    ossl req "${EC[@]}" -subj "/CN=np bench $leaf" -keyout "$W/$leaf.key" -out "$W/$leaf.csr"
    ossl x509 -req -in "$W/$leaf.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
        -days 2 -extfile "$W/$leaf.ext" -out "$W/$leaf.crt"
done
chmod 644 "$W"/*
redis-server --port 0 --tls-port $PORT_REDIS_TLS --bind 127.0.0.1 --tls-cert-file "$W/server.crt" \
    --tls-key-file "$W/server.key" --tls-ca-cert-file "$W/ca.crt" --tls-auth-clients yes \
    --requirepass np-bench --save '' --appendonly no --dir "$W" > "$W/redis-tls.log" 2>&1 & pids+=($!)
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT_B/" && break; sleep 0.1; done

start() { # LABEL PORT STORE
    cat > "$W/httpd.$1.conf" <<EOC
ServerRoot "$W"
ServerName localhost
Listen 127.0.0.1:$2
PidFile "$W/httpd.$1.pid"
ErrorLog "$W/error_log.$1"
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule nodeproxy_module $SO
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
StartServers 1
NodeRateLimitStore $3
NodeProxyPass /off/ http://127.0.0.1:$PORT_B/
<Location /on/>
    NodeProxyPass http://127.0.0.1:$PORT_B/
    NodeRateLimit rate=1000000/s burst=1000000
</Location>
EOC
    /usr/sbin/apache2 -f "$W/httpd.$1.conf" -k start
    for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$2/off/" && break; sleep 0.1; done
}
start shm $PORT_SHM shm
start redis $PORT_RED "redis://127.0.0.1:$PORT_REDIS"
start rtls $PORT_RTLS "rediss://127.0.0.1:$PORT_REDIS_TLS password=np-bench ca=$W/ca.crt cert=$W/client.crt key=$W/client.key"
for run in 1 2; do
    echo "off   (no limit):      $(node "$HERE/rl_latency.js" "http://127.0.0.1:$PORT_SHM/off/" "$N")"
    echo "shm   (NodeRateLimit): $(node "$HERE/rl_latency.js" "http://127.0.0.1:$PORT_SHM/on/" "$N")"
    echo "redis (NodeRateLimit): $(node "$HERE/rl_latency.js" "http://127.0.0.1:$PORT_RED/on/" "$N")"
    echo "rediss (TLS):          $(node "$HERE/rl_latency.js" "http://127.0.0.1:$PORT_RTLS/on/" "$N")"
done
grep -h NP005 "$W"/error_log.* || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for l in shm redis rtls; do /usr/sbin/apache2 -f "$W/httpd.$l.conf" -k stop; done
