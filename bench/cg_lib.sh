# Shared by the callgrind benchmarks (bench/cg_*.sh): a scratch folder, a
# Node backend, the head of a minimal httpd config, and the instruction
# count per request, (Ir(2N) - Ir(N)) / N, of one `apache2 -X` under
# valgrind driven by `ab -k -c1`. Sourced, not run. Loopback only; the
# EXIT trap stops every process started through cg_start.

CG_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CG_W=$(mktemp -d /tmp/npcg.XXXXXX)
chmod 755 "$CG_W"
cg_pids=()
cg_cleanup() { for p in "${cg_pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cg_cleanup EXIT

# cg_abs PATH: PATH made absolute (httpd's LoadModule resolves a relative
# path against ServerRoot, the scratch folder).
cg_abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

# cg_backend PORT LOG [URL]: bench/backend.js on PORT (environment passed
# through, e.g. BENCH_TLS_CERT), waited for until URL answers (5 s).
cg_backend() {
    local port=$1 log=$2 url=${3:-http://127.0.0.1:$1/}
    node "$CG_HERE/backend.js" "$port" cg > "$CG_W/$log" 2>&1 &
    cg_pids+=($!)
    for _ in $(seq 50); do curl -sk -o /dev/null "$url" && return 0; sleep 0.1; done
    echo "backend on port $port did not answer: $CG_W/$log" >&2
    return 1
}

# cg_conf_head SO PORT: the lines every benchmark config starts with (one
# event-MPM process, keep-alive without a request limit, the module).
cg_conf_head() {
    cat <<EOC
ServerRoot "$CG_W"
ServerName localhost
Listen 127.0.0.1:$2
PidFile "$CG_W/httpd.pid"
ErrorLog "$CG_W/error_log"
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule nodeproxy_module $1
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
EOC
}

# cg_ir CONF LABEL N URL: total instructions of `apache2 -X -f CONF` under
# callgrind answering N keep-alive requests to URL (start-up included).
cg_ir() {
    local conf=$1 label=$2 n=$3 url=$4
    local out="$CG_W/cg.$label.$n.out" v
    # The dump at exit is written by the User: create it for them.
    : > "$out"; chown www-data "$out"
    valgrind --tool=callgrind --callgrind-out-file="$out" /usr/sbin/apache2 -X -f "$conf" \
        > "$CG_W/valgrind.$label.$n.log" 2>&1 &
    v=$!
    for _ in $(seq 600); do curl -s -o /dev/null "$url" && break; sleep 0.2; done
    ab -k -c1 -n "$n" "$url" > "$CG_W/ab.$label.$n.log" 2>&1
    kill -TERM $v; wait $v 2>/dev/null
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

# cg_per_request CONF LABEL N URL: (Ir(2N) - Ir(N)) / N, start-up and
# shut-down cancelled out.
cg_per_request() {
    local a b
    a=$(cg_ir "$1" "$2" "$3" "$4")
    b=$(cg_ir "$1" "$2" $((2 * $3)) "$4")
    echo $(( (b - a) / $3 ))
}

# cg_ab_failures: ab's failure lines over all runs (empty when none failed).
cg_ab_failures() {
    grep -h "Failed requests\|Non-2xx" "$CG_W"/ab.*.log | sort | uniq -c
}
