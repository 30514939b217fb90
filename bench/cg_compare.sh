#!/usr/bin/env bash
# Instructions per proxied request (callgrind, (Ir(2N) - Ir(N)) / N) for two
# builds of mod_nodeproxy side by side, e.g. before and after a change:
#
#   bench/cg_compare.sh OLD.so NEW.so [N]
#
# One httpd -X under valgrind per build and N, in front of bench/backend.js
# (100-byte answers, keep-alive), driven by `ab -k -c1`. Loopback only; it
# stops what it started.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OLD=$1 NEW=$2 N=${3:-2000}
PORT_B=27201 PORT_A=27202
W=$(mktemp -d /tmp/npcg.XXXXXX); chmod 755 "$W"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
node "$HERE/backend.js" $PORT_B cg > "$W/backend.log" 2>&1 & pids+=($!)
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT_B/" && break; sleep 0.1; done

conf() { # SO -> config file
    cat > "$W/httpd.$1.conf" <<EOC
ServerRoot "$W"
ServerName localhost
Listen 127.0.0.1:$PORT_A
PidFile "$W/httpd.pid"
ErrorLog "$W/error_log"
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule nodeproxy_module $2
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
NodeProxyPass / http://127.0.0.1:$PORT_B/
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
for label in old new; do
    so=$OLD; [ $label = new ] && so=$NEW
    conf $label "$so"
    a=$(ir $label "$N"); b=$(ir $label $((2 * N)))
    echo "$label: $(( (b - a) / N )) instructions per request ($so)"
done
