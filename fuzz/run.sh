#!/bin/sh
# fuzz/run.sh SECONDS TARGET...: run each built fuzz target (fuzz/bin/) for
# SECONDS from a copy of its seed corpus (fuzz/corpus/TARGET; the tree is
# not written to), and print per target the executions reached, then
# "fuzz: N passed, M failed". Exit status 1 when any target crashed, leaked
# or tripped a sanitizer (its reproducer is kept in fuzz/work/).
# Run from the build directory; srcdir is found from this script's path.
set -u
secs=$1
shift
src=$(cd "$(dirname "$0")/.." && pwd)
work=fuzz/work
mkdir -p "$work"
pass=0 fail=0
for t in "$@"; do
    bin=fuzz/bin/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $t: not built (make fuzz-build)"
        fail=$((fail + 1))
        continue
    fi
    rm -rf "$work/$t"
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    if [ -d "$src/fuzz/corpus/$t" ]; then
        cp "$src/fuzz/corpus/$t"/* "$work/$t/corpus/" 2>/dev/null
    fi
    log=$work/$t/log
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
            -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
            "$work/$t/corpus" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz: $t: ok, ${execs:-?} executions in ${secs}s"
        pass=$((pass + 1))
    else
        echo "fuzz: $t: FAILED (log $log, reproducer in $work/$t/artifacts/):"
        grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error' "$log" | head -5 | sed 's/^/    /'
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
