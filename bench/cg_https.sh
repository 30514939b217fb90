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
. "$(dirname "$0")/cg_lib.sh"
SO=$(cg_abs "${1:-$CG_HERE/../.libs/mod_nodeproxy.so}")
N=${2:-2000}
PORT_P=27211 PORT_S=27212 PORT_A=27213
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$CG_W/key.pem" -out "$CG_W/cert.pem" > "$CG_W/openssl.log" 2>&1
chmod 644 "$CG_W"/*.pem
cg_backend $PORT_P backend-http.log || exit 1
BENCH_TLS_CERT="$CG_W/cert.pem" BENCH_TLS_KEY="$CG_W/key.pem" \
    cg_backend $PORT_S backend-https.log "https://127.0.0.1:$PORT_S/" || exit 1
{
    cg_conf_head "$SO" $PORT_A
    echo "NodeBackendCA $CG_W/cert.pem"
    echo "NodeProxyPass /http/ http://127.0.0.1:$PORT_P/"
    echo "NodeProxyPass /https/ https://localhost:$PORT_S/"
} > "$CG_W/httpd.conf"
for target in http https; do
    echo "$target: $(cg_per_request "$CG_W/httpd.conf" $target "$N" \
        "http://127.0.0.1:$PORT_A/$target/") instructions per request (pooled $target backend, $SO)"
done
cg_ab_failures
