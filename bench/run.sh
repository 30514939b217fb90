#!/usr/bin/env bash
# mod_nodeproxy benchmarks, side by side with mod_proxy_http, nginx and the
# backend alone. See docs/benchmarks.md for what is measured and how.
#
#   bench/run.sh [--smoke] [--no-build] [--duration S] [--warmup S]
#                [--cg-n N] [--ws-counts "2000 10000"] [--skip wrk,cg,bal,ws]
#                [--repeat N]  (more alternating runs of the c=32 100 B pair; 8)
#                [--echo-repeat N]  (more alternating echo runs, mod_nodeproxy
#                                    and nginx; 4)
#                [--out FILE] [--no-wait] [--keep]
#
# Everything runs on 127.0.0.1, every load is bounded in time or count, only
# processes started here are stopped (by pid), and they are all stopped on exit.
# Needs root (installs packages when missing; httpd children run as www-data).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CMDLINE="bench/run.sh $*"

SMOKE=0 BUILD=1 DUR=8 WARM=2 CG_N=2000 WS_COUNTS="2000 10000" SKIP="" KEEP=0 WAIT=1 REPEAT=8
ECHO_REPEAT=4
OUT="$ROOT/docs/benchmarks.md"
ECHO_TUNNELS=50 ECHO_MSGS=60000
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --no-build) BUILD=0 ;;
        --duration) DUR=$2; shift ;;
        --warmup) WARM=$2; shift ;;
        --cg-n) CG_N=$2; shift ;;
        --ws-counts) WS_COUNTS=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        --echo-repeat) ECHO_REPEAT=$2; shift ;;
        --skip) SKIP=$2; shift ;;
        --out) OUT=$2; shift ;;
        --no-wait) WAIT=0 ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$SMOKE" = 1 ]; then
    CG_N=100 WS_COUNTS="50" ECHO_TUNNELS=5 ECHO_MSGS=200 SMOKE_REQS=300 WAIT=0 ECHO_REPEAT=0
    [ "$OUT" = "$ROOT/docs/benchmarks.md" ] && OUT=""   # smoke does not overwrite the doc
fi
skip() { case ",$SKIP," in *",$1,"*) return 0 ;; esac; return 1; }

# ---------------------------------------------------------------- ports
P_NODE=27101        # node backend (100 B / 16 KiB)
P_FAST=27102        # nginx fixed-body backend
P_WSB=27104         # node WebSocket echo backend
P_BAL1=27111        # three node balancer members 27111-27113
P_NP=27120          # (a) mod_nodeproxy: +0 -> node, +1 -> fast, +2 -> balancer, +5 static
P_MP=27130          # (b) mod_proxy_http: same offsets
P_NG=27140          # (c) nginx proxy: +0 -> node, +1 -> fast
P_WS_NP=27150 P_WS_MP=27151 P_WS_NG=27152

APACHE=/usr/sbin/apache2
MODDIR=/usr/lib/apache2/modules
RUNUSER=www-data

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, starts httpd with User $RUNUSER)"

# ---------------------------------------------------------------- install
need_pkgs=()
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v nginx >/dev/null || need_pkgs+=(nginx-light)
command -v ab >/dev/null || need_pkgs+=(apache2-utils)
command -v valgrind >/dev/null || need_pkgs+=(valgrind)
command -v curl >/dev/null || need_pkgs+=(curl)
[ -x "$APACHE" ] || need_pkgs+=(apache2)
[ -x /usr/bin/apxs ] || need_pkgs+=(apache2-dev)
command -v node >/dev/null || need_pkgs+=(nodejs npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 &&
          apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1; } ||
        die "could not install ${need_pkgs[*]}"
    # the Debian nginx package may start its own service on :80; we never use it
fi
if ! node -e "require('ws')" 2>/dev/null && [ ! -d "$HERE/node_modules/ws" ] &&
   [ ! -d "$ROOT/t/backends/node_modules/ws" ]; then
    log "installing the ws package into bench/node_modules"
    (cd "$HERE" && npm install --no-save --no-package-lock --silent ws@8.18.0 >/dev/null 2>&1) ||
        die "npm install ws failed"
fi

# ---------------------------------------------------------------- build
if [ "$BUILD" = 1 ]; then
    log "building the module (make)"
    make -C "$ROOT" -s >/dev/null 2>"/tmp/npbench-make.$$" || { cat "/tmp/npbench-make.$$" >&2; die "make failed"; }
    rm -f "/tmp/npbench-make.$$"
fi
[ -f "$ROOT/.libs/mod_nodeproxy.so" ] || die "$ROOT/.libs/mod_nodeproxy.so not found (run make)"

W=$(mktemp -d /tmp/npbench.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/logs" "$W/run" "$W/htdocs" "$W/cg" "$W/conf"
# a stable copy: a concurrent `make` by someone else cannot change it mid-run
cp "$ROOT/.libs/mod_nodeproxy.so" "$W/mod_nodeproxy.so"
head -c 100 /dev/zero | tr '\0' a > "$W/htdocs/static.txt"
chmod -R a+rX "$W/htdocs"
RES="$W/results.tsv"
: > "$RES"
rec() { printf '%s\t%s\n' "$1" "$2" >> "$RES"; }

# ---------------------------------------------------------------- process control
STARTED=()      # pids started by this script (direct children)
start_bg() { # LOGFILE CMD... -> sets BGPID
    local logf=$1; shift
    "$@" >"$logf" 2>&1 &
    BGPID=$!
    STARTED+=("$BGPID")
}
stop_pid() { # PID: TERM, wait up to 20 s, then KILL
    local p=$1 i
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; forget_pid "$p"; return 0; }
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    forget_pid "$p"
    return 0
}
forget_pid() { # a stopped pid leaves the list, so cleanup never signals a reused pid
    local q keep=()
    for q in "${STARTED[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
    STARTED=("${keep[@]}")
}
cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${STARTED[@]}"; do stop_pid "$p"; done 2>/dev/null
    if [ "$KEEP" = 1 ]; then log "work directory kept: $W"
    else rm -rf "$W/cg"/*.out "$W/run"; log "logs and results in $W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # PORT [PATH] [TIMEOUT_S]
    local i n=$(( ${3:-20} * 5 ))
    for i in $(seq 1 "$n"); do
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1${2:-/}" && return 0
        sleep 0.2
    done
    return 1
}
wait_tcp() { # PORT [TIMEOUT_S]
    local i n=$(( ${2:-20} * 5 ))
    for i in $(seq 1 "$n"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}
tree_pids() { # ROOTPID -> root and its direct children
    echo "$1"
    ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '
}
cpu_ticks() { # PIDS... -> utime+stime, clock ticks, summed
    local p t=0 v
    for p in "$@"; do
        v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12+$13}') || continue
        t=$(( t + ${v:-0} ))
    done
    echo "$t"
}
ctx_switches() { # PIDS... -> voluntary+nonvoluntary over all threads
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ {s+=$2} END {print s+0}'
}
rss_kb() { # PIDS... -> summed VmRSS in KiB
    local p
    for p in "$@"; do cat "/proc/$p/status" 2>/dev/null; done |
        awk '/^VmRSS:/ {s+=$2} END {print s+0}'
}
nthreads() {
    local p
    for p in "$@"; do cat "/proc/$p/status" 2>/dev/null; done |
        awk '/^Threads:/ {s+=$2} END {print s+0}'
}
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

# ---------------------------------------------------------------- config generators
mpm_block() { # SERVERS THREADS [FACTOR]
    local s=$1 t=$2 f=${3:-200}
    cat <<EOF
StartServers            $s
ServerLimit             $s
ThreadLimit             $t
ThreadsPerChild         $t
MaxRequestWorkers       $(( s * t ))
MinSpareThreads         1
MaxSpareThreads         $(( s * t ))
MaxConnectionsPerChild  0
AsyncRequestWorkerFactor $f
EOF
}
httpd_common() { # NAME SERVERS THREADS
    mkdir -p "$W/run/$1"
    cat <<EOF
# generated by bench/run.sh
ServerRoot "$W"
ServerName 127.0.0.1
DefaultRuntimeDir "$W/run/$1"
PidFile "$W/run/$1/httpd.pid"
ErrorLog "$W/logs/$1.error.log"
LogLevel warn
User $RUNUSER
Group $RUNUSER
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
# the same small base set for every httpd setup (Debian loads these by default)
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_host_module $MODDIR/mod_authz_host.so
LoadModule mime_module $MODDIR/mod_mime.so
TypesConfig /etc/mime.types
$(mpm_block "$2" "$3")
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 60
# no CustomLog: no access log for any setup
DocumentRoot "$W/htdocs"
<Directory "$W/htdocs">
    Require all granted
</Directory>
EOF
}
# the HTTP configs (a) and (b) share these MPM settings; callgrind runs the
# same files with -X
HTTP_SERVERS=2 HTTP_THREADS=64

gen_np() { # (a) mod_nodeproxy
    httpd_common np $HTTP_SERVERS $HTTP_THREADS
    cat <<EOF
LoadModule nodeproxy_module $W/mod_nodeproxy.so
Listen 127.0.0.1:$P_NP
Listen 127.0.0.1:$((P_NP+1))
Listen 127.0.0.1:$((P_NP+2))
Listen 127.0.0.1:$((P_NP+5))
<VirtualHost 127.0.0.1:$P_NP>
    NodeProxyPass / http://127.0.0.1:$P_NODE/
</VirtualHost>
<VirtualHost 127.0.0.1:$((P_NP+1))>
    NodeProxyPass / http://127.0.0.1:$P_FAST/
</VirtualHost>
<VirtualHost 127.0.0.1:$((P_NP+2))>
    <NodeBalancer bench>
        NodeMember http://127.0.0.1:$P_BAL1-$((P_BAL1+2))
        NodeBalancerMethod round-robin
    </NodeBalancer>
    NodeProxyPass / balancer://bench/
</VirtualHost>
<VirtualHost 127.0.0.1:$((P_NP+5))>
    # static-file floor: no NodeProxyPass in this host
</VirtualHost>
EOF
}
gen_mp() { # (b) mod_proxy + mod_proxy_http
    httpd_common mp $HTTP_SERVERS $HTTP_THREADS
    cat <<EOF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_http_module $MODDIR/mod_proxy_http.so
LoadModule slotmem_shm_module $MODDIR/mod_slotmem_shm.so
LoadModule proxy_balancer_module $MODDIR/mod_proxy_balancer.so
LoadModule lbmethod_byrequests_module $MODDIR/mod_lbmethod_byrequests.so
ProxyRequests Off
ProxyPreserveHost On
Listen 127.0.0.1:$P_MP
Listen 127.0.0.1:$((P_MP+1))
Listen 127.0.0.1:$((P_MP+2))
<VirtualHost 127.0.0.1:$P_MP>
    ProxyPass / http://127.0.0.1:$P_NODE/ keepalive=On enablereuse=on ttl=4
</VirtualHost>
<VirtualHost 127.0.0.1:$((P_MP+1))>
    ProxyPass / http://127.0.0.1:$P_FAST/ keepalive=On enablereuse=on ttl=4
</VirtualHost>
<VirtualHost 127.0.0.1:$((P_MP+2))>
    <Proxy balancer://bench>
        BalancerMember http://127.0.0.1:$P_BAL1 keepalive=On enablereuse=on ttl=4
        BalancerMember http://127.0.0.1:$((P_BAL1+1)) keepalive=On enablereuse=on ttl=4
        BalancerMember http://127.0.0.1:$((P_BAL1+2)) keepalive=On enablereuse=on ttl=4
        ProxySet lbmethod=byrequests
    </Proxy>
    ProxyPass / balancer://bench/
</VirtualHost>
EOF
}
gen_static() { # floor: the same httpd serving a 100-byte file, no proxy module
    httpd_common static $HTTP_SERVERS $HTTP_THREADS
    cat <<EOF
Listen 127.0.0.1:$((P_NP+5))
EOF
}
gen_np_ws() { # COUNT
    local s=$(( ($1 + 2499) / 2500 )); [ $s -lt 2 ] && s=2
    mkdir -p "$W/run/npws"
    httpd_common npws "$s" 25 | sed 's/^AsyncRequestWorkerFactor.*/AsyncRequestWorkerFactor 200/'
    cat <<EOF
LoadModule nodeproxy_module $W/mod_nodeproxy.so
Listen 127.0.0.1:$P_WS_NP
NodeProxyPass / http://127.0.0.1:$P_WSB/
EOF
}
gen_mp_ws() { # COUNT: a thread per tunnel, 500 threads per child
    local s=$(( ($1 + 50) / 500 + 1 ))
    httpd_common mpws "$s" 500
    cat <<EOF
ThreadStackSize 262144
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_http_module $MODDIR/mod_proxy_http.so
LoadModule proxy_wstunnel_module $MODDIR/mod_proxy_wstunnel.so
ProxyRequests Off
ProxyPreserveHost On
Listen 127.0.0.1:$P_WS_MP
ProxyPass / ws://127.0.0.1:$P_WSB/ upgrade=websocket
EOF
}

nginx_common() { # NAME WORKERS CONNS
    mkdir -p "$W/run/$1"
    cat <<EOF
# generated by bench/run.sh
worker_processes $2;
worker_rlimit_nofile 20000;
user $RUNUSER;
pid $W/run/$1/nginx.pid;
error_log $W/logs/$1.error.log warn;
events { worker_connections $3; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $W/run/$1/body;
    proxy_temp_path $W/run/$1/proxy;
    fastcgi_temp_path $W/run/$1/fastcgi;
    uwsgi_temp_path $W/run/$1/uwsgi;
    scgi_temp_path $W/run/$1/scgi;
    keepalive_timeout 30s;
    keepalive_requests 100000000;
EOF
}
gen_fast() {
    nginx_common fast 1 4096
    local small
    small=$(head -c 100 /dev/zero | tr '\0' a)
    # nginx limits a config token to 4 KiB: the 16 KiB body is a cached file
    head -c 16384 /dev/zero | tr '\0' b > "$W/htdocs/16k.bin"
    chmod a+r "$W/htdocs/16k.bin"
    cat <<EOF
    open_file_cache max=16 inactive=3600s;
    open_file_cache_valid 3600s;
    server {
        listen 127.0.0.1:$P_FAST;
        location / { return 200 "$small"; }
        location = /16k { alias $W/htdocs/16k.bin; }
    }
}
EOF
}
gen_ng() { # (c) nginx reverse proxy
    nginx_common ng 2 4096
    cat <<EOF
    upstream node { server 127.0.0.1:$P_NODE; keepalive 32; keepalive_timeout 4s; keepalive_requests 100000000; }
    upstream fast { server 127.0.0.1:$P_FAST; keepalive 32; keepalive_timeout 4s; keepalive_requests 100000000; }
    server {
        listen 127.0.0.1:$P_NG;
        location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$((P_NG+1));
        location / { proxy_pass http://fast; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
}
gen_ng_ws() {
    nginx_common ngws 2 16384
    cat <<EOF
    map \$http_upgrade \$conn_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$P_WS_NG reuseport;
        location / {
            proxy_pass http://127.0.0.1:$P_WSB;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$conn_upgrade;
            proxy_read_timeout 600s;
        }
    }
}
EOF
}

start_httpd() { # NAME CONF PORT -> sets SRVPID
    local name=$1 conf=$2 port=$3
    "$APACHE" -t -f "$conf" >"$W/logs/$name.configtest" 2>&1 || { cat "$W/logs/$name.configtest" >&2; return 1; }
    start_bg "$W/logs/$name.stdout" "$APACHE" -f "$conf" -D FOREGROUND
    SRVPID=$BGPID
    wait_tcp "$port" 30 || { log "$name did not start"; tail -5 "$W/logs/$name.error.log" >&2; return 1; }
}
start_nginx() { # NAME CONF PORT -> sets SRVPID
    local name=$1 conf=$2 port=$3
    start_bg "$W/logs/$name.stdout" nginx -p "$W/run/$name" -c "$conf" -g 'daemon off;'
    SRVPID=$BGPID
    wait_tcp "$port" 20 || { log "$name did not start"; cat "$W/logs/$name.stdout" >&2; return 1; }
}

# ---------------------------------------------------------------- waiting for the test suite
WAIT_BUDGET=900
suite_running() { pgrep -f 'perl t/TES[T]' >/dev/null 2>&1; }
wait_for_quiet() { # bounded: at most 15 minutes in total over the whole run
    [ "$WAIT" = 1 ] || return 0
    local waited=0
    while suite_running && [ "$WAIT_BUDGET" -gt 0 ]; do
        [ $waited = 0 ] && log "a 'perl t/TEST' run is in progress; waiting (budget ${WAIT_BUDGET}s)"
        sleep 20; waited=$((waited + 20)); WAIT_BUDGET=$((WAIT_BUDGET - 20))
    done
    [ $waited -gt 0 ] && rec "meta.waited_s" "$waited"
    return 0
}

# ---------------------------------------------------------------- metadata
rec meta.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
rec meta.nproc "$(nproc)"
rec meta.cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
rec meta.kernel "$(uname -r)"
rec meta.mem "$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
rec meta.os "$(. /etc/os-release; echo "$PRETTY_NAME")"
rec meta.apache "$("$APACHE" -v | head -1 | sed 's/^Server version: //')"
rec meta.nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
rec meta.node "$(node -v)"
rec meta.wrk "$(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
rec meta.valgrind "$(valgrind --version)"
rec meta.module "$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)"
rec meta.cmd "$CMDLINE"
rec meta.smoke "$SMOKE"
rec meta.duration "$DUR"
rec meta.warmup "$WARM"
rec meta.cg_n "$CG_N"
rec meta.load_start "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- backends
gen_np > "$W/conf/np.conf"
gen_mp > "$W/conf/mp.conf"
gen_static > "$W/conf/static.conf"
gen_fast > "$W/conf/fast.conf"
gen_ng > "$W/conf/ng.conf"

log "work directory $W"
log "starting backends"
start_bg "$W/logs/node.log" node "$HERE/backend.js" $P_NODE node; PID_NODE=$BGPID
for i in 0 1 2; do
    start_bg "$W/logs/bal$i.log" node "$HERE/backend.js" $((P_BAL1+i)) "m$i"
    eval "PID_BAL$i=$BGPID"
done
start_nginx fast "$W/conf/fast.conf" $P_FAST; PID_FAST=$SRVPID
wait_http $P_NODE / 20 || die "node backend did not start"
for i in 0 1 2; do wait_http $((P_BAL1+i)) / 20 || die "balancer member $i did not start"; done
[ "$(curl -s http://127.0.0.1:$P_FAST/16k | wc -c)" = 16384 ] || die "fast backend does not serve 16 KiB"
[ "$(curl -s http://127.0.0.1:$P_NODE/16k | wc -c)" = 16384 ] || die "node backend does not serve 16 KiB"

# ---------------------------------------------------------------- callgrind
ir_total() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
cg_run() { # LABEL CONF PORT PATH N -> prints total Ir (empty on failure)
    local label=$1 conf=$2 port=$3 path=$4 n=$5 out vpid i
    out="$W/cg/$label.$n.out"
    : > "$out"; chown "$RUNUSER" "$out"      # the dump at exit happens as $RUNUSER
    rm -f "$W"/run/*/httpd.pid
    start_bg "$W/logs/cg.$label.$n.log" valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$APACHE" -X -f "$conf"
    vpid=$BGPID
    if ! wait_http "$port" "$path" 120; then
        log "callgrind $label: httpd did not answer"; stop_pid "$vpid"; return 1
    fi
    timeout 600 ab -k -c1 -n "$n" "http://127.0.0.1:$port$path" > "$W/logs/cg.$label.$n.ab" 2>&1
    local failed non2xx kar bad=0
    failed=$(awk '/^Failed requests:/ {print $3}' "$W/logs/cg.$label.$n.ab")
    non2xx=$(awk '/^Non-2xx responses:/ {print $3}' "$W/logs/cg.$label.$n.ab")
    kar=$(awk '/^Keep-Alive requests:/ {print $3}' "$W/logs/cg.$label.$n.ab")
    if [ "${failed:-x}" != 0 ] || [ -n "$non2xx" ] || [ "${kar:-0}" != "$n" ]; then
        log "callgrind $label N=$n: ab failed=${failed:-?} non-2xx=${non2xx:-0} keep-alive=${kar:-?} of $n (see $W/logs/cg.$label.$n.ab)"
        bad=1
    fi
    kill -TERM "$vpid" 2>/dev/null
    for i in $(seq 1 300); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.2; done
    stop_pid "$vpid"
    [ $bad = 0 ] && ir_total "$out"
}
cg_pair() { # KEY CONF PORT PATH
    local key=$1 conf=$2 port=$3 path=$4 a b
    log "callgrind $key: N=$CG_N and 2N=$((2*CG_N))"
    a=$(cg_run "$key" "$conf" "$port" "$path" "$CG_N")
    b=$(cg_run "$key" "$conf" "$port" "$path" "$((2*CG_N))")
    if [ -n "$a" ] && [ -n "$b" ]; then
        rec "cg.$key.ir_n" "$a"; rec "cg.$key.ir_2n" "$b"
        rec "cg.$key.per_req" "$(( (b - a) / CG_N ))"
        log "  $key: $(( (b - a) / CG_N )) Ir per request"
    else
        log "  $key: callgrind failed"
    fi
}
# per-function self cost per request: profile(2N) - profile(N), over N
cg_profile() { # KEY -> writes $W/cg/KEY.profile (top 25)
    local key=$1 f f1 f2
    f1="$W/cg/$key.$CG_N.out"; f2="$W/cg/$key.$((2*CG_N)).out"
    [ -s "$f1" ] && [ -s "$f2" ] || return 0
    for f in "$f1" "$f2"; do
        callgrind_annotate --threshold=100 --auto=no --show-percs=no "$f" 2>/dev/null |
            awk '/^ *[0-9,]+  / && !/PROGRAM TOTALS/ {
                     n=$1; gsub(",", "", n); $1=""; sub(/^ +/, "")
                     obj=""; if (match($0, / \[[^]]*\]$/)) { obj=substr($0, RSTART+2, RLENGTH-3); $0=substr($0, 1, RSTART-1) }
                     sub(/^.*:/, "")                                  # drop the source file
                     k=$0; sub(/.*\//, "", obj); c[k]+=n; if (obj != "") o[k]=obj }
                 END { for (k in c) print c[k] "\t" k "\t" o[k] }' > "$f.fn"
    done
    awk -F'\t' -v N="$CG_N" 'NR==FNR { a[$2]=$1; next } { d = ($1 - a[$2]) / N; if (d > 0) printf "%.0f\t%s [%s]\n", d, $2, ($3 == "" ? "?" : $3) }' \
        "$f1.fn" "$f2.fn" | sort -t$'\t' -k1,1nr | head -25 > "$W/cg/$key.profile"
    while IFS=$'\t' read -r ir fn; do rec "prof.$key" "$ir"$'\t'"$fn"; done < "$W/cg/$key.profile"
}

if ! skip cg; then
    log "callgrind (instruction counts are not disturbed by load)"
    cg_pair np.100  "$W/conf/np.conf" $P_NP /
    cg_pair mp.100  "$W/conf/mp.conf" $P_MP /
    if [ "$SMOKE" = 0 ]; then
        cg_pair np.16k  "$W/conf/np.conf" $P_NP /16k
        cg_pair mp.16k  "$W/conf/mp.conf" $P_MP /16k
        cg_pair static.100 "$W/conf/static.conf" $((P_NP+5)) /static.txt
        if ! skip bal; then
            cg_pair np.bal "$W/conf/np.conf" $((P_NP+2)) /
            cg_pair mp.bal "$W/conf/mp.conf" $((P_MP+2)) /
        fi
    fi
    cg_profile np.100
    [ "$SMOKE" = 0 ] && cg_profile np.16k
    cg_profile mp.100
fi

# ---------------------------------------------------------------- throughput
start_httpd np "$W/conf/np.conf" $P_NP; PID_NP=$SRVPID
start_httpd mp "$W/conf/mp.conf" $P_MP; PID_MP=$SRVPID
start_nginx ng "$W/conf/ng.conf" $P_NG; PID_NG=$SRVPID
sleep 1

to_us() { # "123.4us" / "1.2ms" / "1.0s" -> microseconds
    awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) m=1; else if (v ~ /ms$/) m=1000; else if (v ~ /m$/) m=60e6; else if (v ~ /s$/) m=1e6; else m=1; printf "%.0f", n*m }'
}
load_run() { # KEY URL CONNS ROOTPID
    local key=$1 url=$2 c=$3 root=$4 pids c0 c1 s0 s1 out="$W/logs/load.$1.txt"
    wait_for_quiet
    rec "$key.loadavg" "$(cut -d' ' -f1-3 /proc/loadavg)"
    suite_running && rec "$key.suite" "running"
    if [ "$SMOKE" = 1 ]; then
        pids=$(tree_pids "$root")
        c0=$(cpu_ticks $pids); s0=$(ctx_switches $pids)
        timeout 60 ab -k -c "$c" -n "$SMOKE_REQS" -s 10 "$url" > "$out" 2>&1
        c1=$(cpu_ticks $pids); s1=$(ctx_switches $pids)
        local reqs rps p50 p99 err
        reqs=$(awk '/^Complete requests:/ {print $3}' "$out")
        rps=$(awk '/^Requests per second:/ {printf "%.0f", $4}' "$out")
        p50=$(awk '$1=="50%" {print $2*1000}' "$out")
        p99=$(awk '$1=="99%" {print $2*1000}' "$out")
        err=$(awk '/^Failed requests:/ {print $3}' "$out")
        rec "$key.non2xx" "$(awk '/^Non-2xx responses:/ {print $3}' "$out" | grep . || echo 0)"
    else
        timeout $((WARM + 10)) wrk -t2 -c "$c" -d "${WARM}s" "$url" >/dev/null 2>&1
        pids=$(tree_pids "$root")
        c0=$(cpu_ticks $pids); s0=$(ctx_switches $pids)
        timeout $((DUR + 30)) wrk -t2 -c "$c" -d "${DUR}s" --timeout 5s --latency "$url" > "$out" 2>&1
        c1=$(cpu_ticks $pids); s1=$(ctx_switches $pids)
        local reqs rps p50 p99 err
        reqs=$(awk '/requests in/ {print $1}' "$out")
        rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
        p50=$(to_us "$(awk '$1=="50%" {print $2}' "$out")")
        p99=$(to_us "$(awk '$1=="99%" {print $2}' "$out")")
        err=$(awk '/Socket errors:/ { gsub(",", ""); print $4+$6+$8+$10 }' "$out")
        rec "$key.sockerr_detail" "$(sed -n 's/^ *Socket errors: //p' "$out")"
        rec "$key.non2xx" "$(awk '/Non-2xx/ {print $NF}' "$out" | grep . || echo 0)"
    fi
    rec "$key.reqs" "${reqs:-0}"; rec "$key.rps" "${rps:-0}"
    rec "$key.p50_us" "${p50:-}"; rec "$key.p99_us" "${p99:-}"
    rec "$key.sockerr" "${err:-0}"
    if [ "${reqs:-0}" -gt 0 ] 2>/dev/null; then
        rec "$key.cpu_us" "$(awk -v t=$((c1 - c0)) -v u=$TICK_US -v n="$reqs" 'BEGIN {printf "%.1f", t*u/n}')"
        rec "$key.cs" "$(awk -v s=$((s1 - s0)) -v n="$reqs" 'BEGIN {printf "%.2f", s/n}')"
    fi
    log "  $key: ${rps:-?} req/s p50=${p50:-?}us p99=${p99:-?}us errors=${err:-0}"
}

if ! skip wrk; then
    log "throughput: ${DUR}s per run after ${WARM}s warm-up (smoke: $([ $SMOKE = 1 ] && echo "ab -n ${SMOKE_REQS:-}" || echo no))"
    if [ "$SMOKE" = 1 ]; then sizes="100"; conns="32"; else sizes="100 16k"; conns="32 128"; fi
    for be in node fast; do
        for size in $sizes; do
            path=/; [ "$size" = 16k ] && path=/16k
            for c in $conns; do
                if [ $be = node ]; then
                    load_run "wrk.np.$be.$size.c$c"     "http://127.0.0.1:$P_NP$path"     "$c" "$PID_NP"
                    load_run "wrk.mp.$be.$size.c$c"     "http://127.0.0.1:$P_MP$path"     "$c" "$PID_MP"
                    load_run "wrk.ng.$be.$size.c$c"     "http://127.0.0.1:$P_NG$path"     "$c" "$PID_NG"
                    load_run "wrk.direct.$be.$size.c$c" "http://127.0.0.1:$P_NODE$path"   "$c" "$PID_NODE"
                else
                    load_run "wrk.np.$be.$size.c$c"     "http://127.0.0.1:$((P_NP+1))$path" "$c" "$PID_NP"
                    load_run "wrk.mp.$be.$size.c$c"     "http://127.0.0.1:$((P_MP+1))$path" "$c" "$PID_MP"
                    load_run "wrk.ng.$be.$size.c$c"     "http://127.0.0.1:$((P_NG+1))$path" "$c" "$PID_NG"
                    load_run "wrk.direct.$be.$size.c$c" "http://127.0.0.1:$P_FAST$path"     "$c" "$PID_FAST"
                fi
            done
        done
    done
    if [ "$SMOKE" != 1 ] && [ "${REPEAT:-0}" -gt 0 ]; then
        # The target's pair again, alternating: one run each on a shared
        # 2-core machine moves by 10-20 %; the report takes the median.
        log "mod_nodeproxy vs mod_proxy_http in front of Node (c=32, 100 B), $REPEAT more alternating runs"
        for i in $(seq 1 "$REPEAT"); do
            load_run "rep.np.$i" "http://127.0.0.1:$P_NP/" 32 "$PID_NP"
            load_run "rep.mp.$i" "http://127.0.0.1:$P_MP/" 32 "$PID_MP"
        done
        rec rep.count "$REPEAT"
    fi
    if ! skip bal; then
        log "balancer of three Node members"
        for c in $conns; do
            load_run "bal.np.c$c" "http://127.0.0.1:$((P_NP+2))/" "$c" "$PID_NP"
            load_run "bal.mp.c$c" "http://127.0.0.1:$((P_MP+2))/" "$c" "$PID_MP"
        done
    fi
fi
stop_pid "$PID_NP"; stop_pid "$PID_MP"; stop_pid "$PID_NG"
for s in np mp; do rec "log.$s.ah00484" "$(grep -c AH00484 "$W/logs/$s.error.log")"; done

# ---------------------------------------------------------------- WebSocket
ws_hold() { # SETUP COUNT
    local setup=$1 n=$2 port conf pid rss0 rss1 th0 th1 line opened
    case $setup in
        np) port=$P_WS_NP; gen_np_ws "$n" > "$W/conf/npws.conf"; start_httpd npws "$W/conf/npws.conf" $port || return 1 ;;
        mp) port=$P_WS_MP; gen_mp_ws "$n" > "$W/conf/mpws.conf"; start_httpd mpws "$W/conf/mpws.conf" $port || return 1 ;;
        ng) port=$P_WS_NG; gen_ng_ws > "$W/conf/ngws.conf"; start_nginx ngws "$W/conf/ngws.conf" $port || return 1 ;;
    esac
    pid=$SRVPID
    sleep 3                                   # let every child start its threads
    rss0=$(rss_kb $(tree_pids $pid)); th0=$(nthreads $(tree_pids $pid))
    coproc WSC { exec node "$HERE/ws.js" hold "ws://127.0.0.1:$port/" "$n" 2>"$W/logs/ws.$setup.$n.client"; }
    local cpid=$WSC_PID
    STARTED+=("$cpid")
    line=""; read -r -t 300 -u "${WSC[0]}" line
    opened=$(echo "$line" | awk '/^OPEN/ {print $2}')
    sleep 2
    rss1=$(rss_kb $(tree_pids $pid)); th1=$(nthreads $(tree_pids $pid))
    rec "ws.$setup.$n.opened" "${opened:-0}"
    rec "ws.$setup.$n.failed" "$(echo "$line" | sed -n 's/.*failed=//p')"
    rec "ws.$setup.$n.rss0_kb" "$rss0"; rec "ws.$setup.$n.rss1_kb" "$rss1"
    rec "ws.$setup.$n.threads" "$th1"; rec "ws.$setup.$n.procs" "$(tree_pids $pid | wc -l)"
    if [ "${opened:-0}" -gt 0 ] 2>/dev/null; then
        rec "ws.$setup.$n.delta_kib" "$(awk -v a="$rss0" -v b="$rss1" -v n="$opened" 'BEGIN {printf "%.1f", (b-a)/n}')"
        rec "ws.$setup.$n.total_kib" "$(awk -v b="$rss1" -v n="$opened" 'BEGIN {printf "%.1f", b/n}')"
    fi
    log "  ws $setup: opened ${opened:-0}/$n, RSS $rss0 -> $rss1 KiB, threads $th0 -> $th1"
    echo done >&"${WSC[1]}" 2>/dev/null
    stop_pid "$cpid"
    stop_pid "$pid"
}
ws_echo() { # SETUP [KEY]  (KEY: where to record; ws.echo.SETUP by default)
    local setup=$1 key=${2:-ws.echo.$1} port pid line c0 c1 s0 s1 echoed pids
    case $setup in
        np) port=$P_WS_NP; gen_np_ws 1000 > "$W/conf/npws.conf"; start_httpd npws "$W/conf/npws.conf" $port || return 1 ;;
        mp) port=$P_WS_MP; gen_mp_ws 1000 > "$W/conf/mpws.conf"; start_httpd mpws "$W/conf/mpws.conf" $port || return 1 ;;
        ng) port=$P_WS_NG; gen_ng_ws > "$W/conf/ngws.conf"; start_nginx ngws "$W/conf/ngws.conf" $port || return 1 ;;
    esac
    pid=$SRVPID
    sleep 2
    wait_for_quiet
    rec "$key.loadavg" "$(cut -d' ' -f1-3 /proc/loadavg)"
    coproc WSE { exec node "$HERE/ws.js" echo "ws://127.0.0.1:$port/" "$ECHO_TUNNELS" "$ECHO_MSGS" 32 2>"$W/logs/ws.echo.$setup.client"; }
    local cpid=$WSE_PID
    STARTED+=("$cpid")
    line=""; read -r -t 120 -u "${WSE[0]}" line
    pids=$(tree_pids $pid)
    c0=$(cpu_ticks $pids); s0=$(ctx_switches $pids)
    echo go >&"${WSE[1]}"
    line=""; read -r -t 120 -u "${WSE[0]}" line
    c1=$(cpu_ticks $pids); s1=$(ctx_switches $pids)
    echoed=$(echo "$line" | awk '/^DONE/ {print $2}')
    rec "$key.msgs" "${echoed:-0}"
    rec "$key.ms" "$(echo "$line" | awk '/^DONE/ {print $3}')"
    if [ "${echoed:-0}" -gt 0 ] 2>/dev/null; then
        rec "$key.cpu_us" "$(awk -v t=$((c1 - c0)) -v u=$TICK_US -v n="$echoed" 'BEGIN {printf "%.1f", t*u/n}')"
        rec "$key.cs" "$(awk -v s=$((s1 - s0)) -v n="$echoed" 'BEGIN {printf "%.2f", s/n}')"
    fi
    log "  echo $setup: ${echoed:-0} messages, proxy CPU $(( (c1 - c0) * TICK_US )) us"
    stop_pid "$cpid"
    stop_pid "$pid"
}

if ! skip ws; then
    log "WebSocket: echo backend, idle tunnels at $WS_COUNTS, echo $ECHO_MSGS messages over $ECHO_TUNNELS tunnels"
    start_bg "$W/logs/wsb.log" node "$HERE/ws.js" server $P_WSB; PID_WSB=$BGPID
    wait_tcp $P_WSB 20 || die "WebSocket backend did not start"
    for n in $WS_COUNTS; do
        for setup in np mp ng; do ws_hold $setup "$n"; sleep 2; done
    done
    for setup in np mp ng; do ws_echo $setup; done
    if [ "${ECHO_REPEAT:-0}" -gt 0 ]; then
        # One echo run moves by 10-20 % on a shared 2-core machine: the
        # target's pair again, alternating; the report takes the median.
        log "echo: mod_nodeproxy vs nginx, $ECHO_REPEAT more alternating runs"
        for i in $(seq 1 "$ECHO_REPEAT"); do
            ws_echo np "ws.echo.rep.np.$i"
            ws_echo ng "ws.echo.rep.ng.$i"
        done
        rec ws.echo.rep.count "$ECHO_REPEAT"
    fi
    stop_pid "$PID_WSB"
fi

rec meta.load_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- report
log "report"
if [ -n "$OUT" ]; then
    node "$HERE/report.js" "$RES" markdown > "$OUT.tmp" && mv "$OUT.tmp" "$OUT" && log "wrote $OUT"
fi
node "$HERE/report.js" "$RES" text
