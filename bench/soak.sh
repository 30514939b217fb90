#!/usr/bin/env bash
# Soak test of mod_nodeproxy (not CI): an hour (by default) of mixed traffic
# through one httpd, reporting how the httpd processes' memory (RSS) and open
# files grow. A leak that a short test cannot see shows here as steady growth.
#
#   bench/soak.sh [--duration SECONDS] [--sample SECONDS] [--out FILE]
#                 [--kill-every ROUNDS] [--restart-every ROUNDS]
#
#   --duration       how long the traffic runs (default 3600)
#   --sample         seconds between RSS/fd samples (default 30)
#   --out            also write the report (markdown) to FILE
#   --kill-every     kill (and restart) a member every N rounds (default 5)
#   --restart-every  graceful httpd restart every N rounds (default 10)
#   (a short check run that reaches both: --duration 180 --kill-every 2
#    --restart-every 3)
#
# What runs, in rounds until the time is up (each round bounded in count and
# time, all on 127.0.0.1):
#   - 400 plain requests (NodeAsyncDelay off, 50 at a time) and 200 requests
#     that wait 200 ms for Node without a thread (async, 100 at a time), over
#     a balancer of three Node members (t/backends/slow.js) with health checks;
#   - 50 Server-Sent Events streams (5 events each, async);
#   - 100 WebSocket open/echo-less close cycles (t/backends/ws.js);
#   - every 5th round (--kill-every) one member is killed (SIGKILL) and
#     started again 3 s later; every 10th round (--restart-every) httpd
#     restarts gracefully (SIGUSR1).
# Samples: the sum of RSS and of open fds over httpd's children, and the
# parent's, every --sample seconds (after a graceful restart the children
# are new processes: the sums still compare).
# Needs a built module (.libs/mod_nodeproxy.so: make), Node.js and the test
# backends' node_modules (t/backends: npm ci). Ports 27300-27304. Run as root
# (httpd children run as nobody) or as a user who may bind those ports.
# Every process it starts is stopped by pid when it ends (also on Ctrl-C).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DUR=3600 SAMPLE=30 OUT="" KILL_EVERY=5 RESTART_EVERY=10
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DUR=$2; shift ;;
        --sample) SAMPLE=$2; shift ;;
        --out) OUT=$2; shift ;;
        --kill-every) KILL_EVERY=$2; shift ;;
        --restart-every) RESTART_EVERY=$2; shift ;;
        -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done

for v in "$DUR" "$SAMPLE" "$KILL_EVERY" "$RESTART_EVERY"; do
    case "$v" in ''|*[!0-9]*|0) echo "soak: options take a whole number > 0, not '$v'" >&2; exit 2 ;; esac
done

SO=$ROOT/.libs/mod_nodeproxy.so
T=$ROOT/t/backends
APACHE=${APACHE:-/usr/sbin/apache2}
MODDIR=/usr/lib/apache2/modules
P=27300                       # httpd; members P+1..P+3; WebSocket backend P+4
[ -f "$SO" ] || { echo "soak: $SO not found: build first (make)" >&2; exit 1; }
[ -d "$T/node_modules" ] || { echo "soak: run npm ci in t/backends first" >&2; exit 1; }
command -v node >/dev/null || { echo "soak: node not found" >&2; exit 1; }

DIR=$(mktemp -d /tmp/np-soak.XXXXXX)
chmod 755 "$DIR"
PIDS=()
HTTPD_PID=
declare -A MEMBER_PID

cleanup() {
    local p
    [ -n "$HTTPD_PID" ] && kill -TERM "$HTTPD_PID" 2>/dev/null
    for p in "${PIDS[@]}" "${MEMBER_PID[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 1
    [ -n "$HTTPD_PID" ] && kill -KILL "$HTTPD_PID" 2>/dev/null
    for p in "${PIDS[@]}" "${MEMBER_PID[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT
trap 'echo "soak: interrupted" >&2; exit 130' INT TERM

for port in $P $((P + 1)) $((P + 2)) $((P + 3)) $((P + 4)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "soak: port $port is in use" >&2
        exit 1
    fi
done

start_member() {
    local i=$1
    NP_PARENT_PID=$$ node "$T/slow.js" --name "m$i" --port $((P + i)) >>"$DIR/member$i.log" 2>&1 &
    MEMBER_PID[$i]=$!
}
# wait (at most 20 s) until a port accepts connections
wait_port() {
    local _
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "soak: nothing listens on 127.0.0.1:$1 after 20 s" >&2
    return 1
}
for i in 1 2 3; do start_member "$i"; done
NP_PARENT_PID=$$ node "$T/ws.js" --name ws --port $((P + 4)) >>"$DIR/ws.log" 2>&1 &
PIDS+=($!)
# the backends listen before httpd starts checking them: the first round
# must not meet members marked unhealthy because Node was still starting
for port in $((P + 1)) $((P + 2)) $((P + 3)) $((P + 4)); do wait_port "$port" || exit 1; done

user=""
[ "$(id -u)" = 0 ] && user=$'User nobody\nGroup nogroup'
cat >"$DIR/httpd.conf" <<EOF
ServerRoot "$DIR"
ServerName localhost
Listen 127.0.0.1:$P
PidFile "$DIR/httpd.pid"
ErrorLog "$DIR/error_log"
DefaultRuntimeDir "$DIR"
# member state changes (NP0007x/NP0008x, INFO) are what the report counts
LogLevel warn nodeproxy:info
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
# exactly two children of 25 threads, so that the sums compare over time
StartServers 2
ServerLimit 2
ThreadsPerChild 25
ThreadLimit 25
MinSpareThreads 25
MaxSpareThreads 50
MaxRequestWorkers 50
MaxConnectionsPerChild 0
AsyncRequestWorkerFactor 10
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule slotmem_shm_module $MODDIR/mod_slotmem_shm.so
LoadModule nodeproxy_module $SO
$user
KeepAlive On
DocumentRoot "$DIR"
<Directory />
    Require all granted
</Directory>
<NodeBalancer soak>
    NodeMember http://127.0.0.1:$((P + 1))-$((P + 3))
    # timeout 2s and 3 fails (the defaults): with 1s and 2 the members that
    # survive a kill missed checks on a busy 2-core machine and all three
    # were unhealthy at once for a moment (503s)
    NodeHealthCheck /fast interval=2s timeout=2s passes=1 fails=3
    NodeFailTimeout 2s
</NodeBalancer>
<Location /s/>
    NodeProxyPass balancer://soak/
    NodeAsyncDelay off
</Location>
<Location /a/>
    NodeProxyPass balancer://soak/
    NodeAsyncDelay 20ms
</Location>
NodeProxyPass /ws/ http://127.0.0.1:$((P + 4))/
<Location /np-status>
    SetHandler nodeproxy-status
</Location>
EOF
chmod 644 "$DIR/httpd.conf"
setsid "$APACHE" -f "$DIR/httpd.conf" -D FOREGROUND >"$DIR/stdout.log" 2>&1 &
HTTPD_PID=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && break
    sleep 0.2
done
if ! kill -0 "$HTTPD_PID" 2>/dev/null; then
    echo "soak: httpd did not start:" >&2
    cat "$DIR/stdout.log" "$DIR/error_log" >&2
    exit 1
fi

children() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$HTTPD_PID" ] && echo "${p#/proc/}"
    done
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# one sample: seconds, children, children's RSS sum, fds sum, parent RSS, fds
sample() {
    local now=$1 c n=0 rss=0 fd=0 r f
    for c in $(children); do
        r=$(rss_kib "$c"); f=$(fds "$c")
        n=$((n + 1)); rss=$((rss + ${r:-0})); fd=$((fd + f))
    done
    echo "$now $n $rss $fd $(rss_kib "$HTTPD_PID") $(fds "$HTTPD_PID")" >>"$DIR/samples"
}

load() {   # load PLAN-JSON: one loadclient run, its JSON answer appended
    NP_PARENT_PID=$$ timeout 120 node "$T/loadclient.js" "$1" >>"$DIR/load.json" 2>>"$DIR/load.err"
}

echo "soak: $DUR s of mixed traffic on 127.0.0.1:$P; logs in $DIR"
START=$(date +%s)
END=$((START + DUR))
NEXT_SAMPLE=$START
round=0 kills=0 restarts=0
while [ "$(date +%s)" -lt "$END" ]; do
    round=$((round + 1))
    B=http://127.0.0.1:$P
    load "{\"url\":\"$B/s/fast?id=s$round-{i}\",\"n\":400,\"concurrency\":50,\"timeout_ms\":10000,\"hard_ms\":60000}" &
    l1=$!
    load "{\"url\":\"$B/a/slow?ms=200&id=a$round-{i}\",\"n\":200,\"concurrency\":100,\"timeout_ms\":10000,\"hard_ms\":60000}" &
    l2=$!
    load "{\"url\":\"$B/a/sse?n=5&every=100&id=e$round-{i}\",\"n\":50,\"mode\":\"sse\",\"sse_n\":5,\"timeout_ms\":10000,\"hard_ms\":60000}" &
    l3=$!
    printf '%s\n%s\n' "{\"cmd\":\"cycles\",\"url\":\"ws://127.0.0.1:$P/ws/soak\",\"n\":100,\"concurrency\":20}" \
        '{"cmd":"exit"}' | NP_PARENT_PID=$$ timeout 120 node "$T/wsclient.js" '{"op":"session"}' \
        >>"$DIR/ws.json" 2>>"$DIR/ws.err" &
    l4=$!
    if [ $((round % KILL_EVERY)) -eq 0 ]; then
        i=$((round / KILL_EVERY % 3 + 1))
        kill -KILL "${MEMBER_PID[$i]}" 2>/dev/null
        wait "${MEMBER_PID[$i]}" 2>/dev/null
        kills=$((kills + 1))
        sleep 3
        start_member "$i"
    fi
    if [ $((round % RESTART_EVERY)) -eq 0 ]; then
        kill -USR1 "$HTTPD_PID" 2>/dev/null
        restarts=$((restarts + 1))
    fi
    wait "$l1" "$l2" "$l3" "$l4" 2>/dev/null
    now=$(date +%s)
    if [ "$now" -ge "$NEXT_SAMPLE" ]; then
        sample $((now - START))
        NEXT_SAMPLE=$((now + SAMPLE))
    fi
    if ! kill -0 "$HTTPD_PID" 2>/dev/null; then
        echo "soak: httpd exited during round $round" >&2
        break
    fi
done
sleep 2
sample $(($(date +%s) - START))

# ---------------------------------------------------------------- report
cnt() { grep -c -E "$1" "$DIR/error_log" 2>/dev/null || true; }
report() {
    local reqs ok ws_ok ws_failed
    reqs=$(grep -o '"n":[0-9]*' "$DIR/load.json" | awk -F: '{s += $2} END {print s + 0}')
    ok=$(grep -o '"ok":[0-9]*' "$DIR/load.json" | awk -F: '{s += $2} END {print s + 0}')
    ws_ok=$(grep -o '"ok":[0-9]*' "$DIR/ws.json" 2>/dev/null | awk -F: '{s += $2} END {print s + 0}')
    ws_failed=$(grep -o '"failed":[0-9]*' "$DIR/ws.json" 2>/dev/null | awk -F: '{s += $2} END {print s + 0}')
    echo "# mod_nodeproxy soak: $(date -u '+%Y-%m-%d %H:%M UTC'), $DUR s"
    echo
    echo "rounds $round; HTTP requests $reqs, answered 200 $ok; WebSocket cycles ok $ws_ok, failed $ws_failed;"
    echo "member kills $kills; graceful restarts $restarts; httpd errors in the log:" \
         "$(grep -c -E '\[(crit|alert|emerg)\]|exit signal' "$DIR/error_log" 2>/dev/null || true) crit/alert/emerg/crash lines"
    echo "member state changes: marked failed $(cnt NP00070) (NP00070), unhealthy $(cnt NP00080) (NP00080)," \
         "healthy again $(cnt NP00081) (NP00081); no member usable, 503: $(cnt 'NP0004[34]') (NP00043/44)"
    echo
    echo "| t (s) | children | children RSS (KiB) | children fds | parent RSS (KiB) | parent fds |"
    echo "|---|---|---|---|---|---|"
    awk '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$DIR/samples"
    echo
    # growth: from the second sample (after the first round's warm-up) to the last
    awk 'NR == 2 {r0 = $3; f0 = $4; p0 = $5; t0 = $1}
         {r = $3; f = $4; p = $5; t = $1}
         END {
           if (NR < 2) { print "too few samples for growth"; exit }
           printf "growth from t=%ss to t=%ss: children RSS %+d KiB, children fds %+d, parent RSS %+d KiB\n",
                  t0, t, r - r0, f - f0, p - p0
         }' "$DIR/samples"
}
report | tee "$DIR/report.md"
[ -n "$OUT" ] && cp "$DIR/report.md" "$OUT"
echo "soak: logs and samples in $DIR"
