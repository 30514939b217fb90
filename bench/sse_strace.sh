#!/usr/bin/env bash
# System calls per SSE event, mod_nodeproxy and nginx (docs/benchmarks.md,
# "Where the cost goes"): runs bench/scale.js's SSE scenario in its own
# network namespace and, during its measurement window, attaches
# `strace -c -f` to every process of the proxy for DUR seconds. The events
# relayed meanwhile are N x DUR / EVERY (the streams' phases are spread
# evenly); the script prints the strace summary and the calls per event.
# With --perf it samples the same processes with `perf record -e cpu-clock`
# instead (no strace slowing them) and prints where their CPU time goes:
# kernel or user space, by binary, and the top symbols.
#
#   bench/sse_strace.sh [--module SO] [--sse N] [--every S] [--dur S] [--setups np,ng] [--perf]
#
# Defaults: the tree's .libs/mod_nodeproxy.so, 1000 streams, an event every
# 5 s, 10 s traced, both proxies. Root; loopback only; stops only what it
# started (scale.js stops its own processes).
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
MOD="$ROOT/.libs/mod_nodeproxy.so" N=1000 EVERY=5 DUR=10 SETUPS=np,ng PERF=0
while [ $# -gt 0 ]; do
    case "$1" in
        --module) MOD=$2; shift ;;
        --sse) N=$2; shift ;;
        --every) EVERY=$2; shift ;;
        --dur) DUR=$2; shift ;;
        --setups) SETUPS=$2; shift ;;
        --perf) PERF=1 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
if [ "$PERF" = 1 ]; then
    command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 1; }
else
    command -v strace >/dev/null || { echo "needs strace" >&2; exit 1; }
fi
W=$(mktemp -d /tmp/npsse.XXXXXX)
chmod 755 "$W"
for setup in ${SETUPS//,/ }; do
    log="$W/$setup.log"
    # the window: long enough for the trace after the one-interval settle
    unshare -n bash -c "ip link set lo up; ulimit -n \$(ulimit -Hn);
        exec node '$HERE/scale.js' run --module '$MOD' --work '$W/$setup' --out '$W/$setup.md' \
            --setups $setup --scenarios sse --ws 0 --sse $N --sse-every $EVERY \
            --window $((DUR + 6)) --plain 1" 2>"$log" &
    runner=$!
    # bounded wait for the streams to be open
    for _ in $(seq 1 600); do
        grep -q "open in [0-9]" "$log" 2>/dev/null && break
        kill -0 $runner 2>/dev/null || break
        sleep 1
    done
    if ! grep -q "open in [0-9]" "$log"; then
        echo "$setup: streams did not open (see $log)" >&2
        kill $runner 2>/dev/null; wait $runner; continue
    fi
    # scale.js: 3 s, the heartbeat round, one interval, then the window
    sleep $((EVERY + 6))
    if [ "$setup" = np ]; then
        pids=$(pgrep -f "apache2 -f $W/$setup/conf/" | tr '\n' ' ')
    else
        m=$(pgrep -f "nginx -p $W/$setup/run/" | head -1); pids="$m $(pgrep -P "$m" | tr "\n" " ")"
    fi
    events=$((N * DUR / EVERY))
    if [ "$PERF" = 1 ]; then
        timeout -s INT "$DUR" perf record -q -e cpu-clock -F 1999 -p "$(echo $pids | tr ' ' ',')" \
            -o "$W/$setup.perf" >/dev/null 2>&1
        wait $runner
        echo "== $setup: perf record -e cpu-clock of pids $pids for $DUR s, about $events events"
        echo "-- by binary (kernel = [kernel.kallsyms]):"
        perf report -i "$W/$setup.perf" --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
        echo "-- top symbols:"
        perf report -i "$W/$setup.perf" --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30
        grep -h "SSE event" "$W/$setup.md" | head -2
        continue
    fi
    args=()
    for p in $pids; do args+=(-p "$p"); done
    timeout -s INT "$DUR" strace -c -f "${args[@]}" -o "$W/$setup.strace" >/dev/null 2>&1
    wait $runner
    echo "== $setup: strace -c -f of pids $pids for $DUR s, about $events events"
    cat "$W/$setup.strace"
    awk -v ev="$events" '$NF=="total" {printf "calls per event: %.2f\n", $4/ev}' "$W/$setup.strace"
    grep -h "SSE event" "$W/$setup.md" | head -2
done
echo "(work directory $W)"
