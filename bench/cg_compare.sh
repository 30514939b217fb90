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
. "$(dirname "$0")/cg_lib.sh"
OLD=$(cg_abs "$1") NEW=$(cg_abs "$2") N=${3:-2000}
PORT_B=27201 PORT_A=27202
cg_backend $PORT_B backend.log || exit 1
for label in old new; do
    so=$OLD; [ $label = new ] && so=$NEW
    { cg_conf_head "$so" $PORT_A; echo "NodeProxyPass / http://127.0.0.1:$PORT_B/"; } \
        > "$CG_W/httpd.$label.conf"
    echo "$label: $(cg_per_request "$CG_W/httpd.$label.conf" $label "$N" \
        "http://127.0.0.1:$PORT_A/") instructions per request ($so)"
done
cg_ab_failures
