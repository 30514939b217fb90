#!/usr/bin/env bash
# The one test command of mod_nodeproxy (.ci/run calls exactly this).
#
# On a fresh Debian 12 machine, as root or with sudo:
#   1. installs the missing Debian packages (nothing when all are there),
#   2. npm ci in t/backends (the suite's Node.js backends),
#   3. builds: autoreconf -fi && ./configure --enable-werror && make,
#   4. make check: the cmocka unit tests and guard scripts,
#      then make fuzz: each libFuzzer target for NP_FUZZ_SECONDS (4),
#   5. the Apache::Test suite in t/ against a real httpd and real Node.js,
#   6. scripts/install-test.sh: make install, a2enmod, apachectl configtest,
#   7. scripts/package-test.sh: the Debian package built, linted, installed,
#      used, upgraded, removed and purged (DEB_BUILD_OPTIONS=nocheck: step 4
#      ran make check already),
# and ends with a summary whose last line is "N passed, M failed".
# Exits non-zero when anything failed, or when no cmocka test or no
# Apache::Test test ran (a suite that skipped everything is not a pass).
#
# Environment: APXS (default /usr/bin/apxs), NP_JOBS (make -j, default 2),
# NP_CHECK_TIMEOUT / NP_T_TIMEOUT / NP_INSTALL_TIMEOUT / NP_PACKAGE_TIMEOUT
# (seconds), NP_FUZZ_SECONDS (per fuzz target, default 4).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$NP_TOP"

RESULTS=$(mktemp -d /tmp/nodeproxy-results.XXXXXX)
chmod 755 "$RESULTS"

cm_run=0 cm_pass=0 cm_fail=0     # cmocka test cases
chk_pass=0 chk_fail=0            # other make check programs (guard scripts)
t_files=0 t_tests=0 t_pass=0 t_fail=0
inst_pass=0 inst_fail=0
pkg_pass=0 pkg_fail=0
fz_pass=0 fz_fail=0              # fuzz targets (make fuzz)
fuzz_state="not run"
extra_fail=0                     # steps that failed as a whole
problems=()
install_state="not run"
package_state="not run"
t_state="not run"

problem() {
    problems+=("$*")
}

# run_logged LOG CMD...: run CMD with its output in LOG, shown as it comes,
# and return CMD's status. The output goes to a file, not a pipe, so a
# daemon that CMD leaves behind holding the output open (httpd, a Node
# backend) cannot keep this script waiting.
bg_pid=
run_logged() {
    local log=$1 rc=0
    shift
    # Created here, before tail starts: the background job opens it only
    # once it runs, and tail must not find it missing.
    : >"$log"
    "$@" >"$log" 2>&1 </dev/null &
    bg_pid=$!
    tail -n +1 -f --pid="$bg_pid" "$log" || true
    wait "$bg_pid" || rc=$?
    bg_pid=
    return "$rc"
}
# Background jobs ignore Ctrl-C: pass it on to the one that is running.
on_signal() {
    if [ -n "$bg_pid" ]; then
        kill -TERM "$bg_pid" 2>/dev/null || true
    fi
    printf '\ninterrupted\n' >&2
    exit 130
}
trap on_signal INT TERM

fmt_time() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

summary() {
    local total_pass total_fail p
    np_section "Summary"
    printf 'unit tests (make check): %d cmocka tests run: %d passed, %d failed; other checks: %d passed, %d failed\n' \
        "$cm_run" "$cm_pass" "$cm_fail" "$chk_pass" "$chk_fail"
    printf 'Apache::Test (t/):       %s: Files=%d, Tests=%d: %d passed, %d failed\n' \
        "$t_state" "$t_files" "$t_tests" "$t_pass" "$t_fail"
    printf 'fuzz targets (make fuzz): %s: %d passed, %d failed\n' \
        "$fuzz_state" "$fz_pass" "$fz_fail"
    printf 'install checks:          %s: %d passed, %d failed\n' \
        "$install_state" "$inst_pass" "$inst_fail"
    printf 'package checks:          %s: %d passed, %d failed\n' \
        "$package_state" "$pkg_pass" "$pkg_fail"
    printf 'logs of this run:        %s\n' "$RESULTS"
    printf 'time:                    %s\n' "$(fmt_time "$SECONDS")"
    if [ "${#problems[@]}" -gt 0 ]; then
        printf '\nWhat failed, and where to look:\n'
        for p in "${problems[@]}"; do
            printf '  - %s\n' "$p"
        done
    fi
    total_pass=$((cm_pass + chk_pass + fz_pass + t_pass + inst_pass + pkg_pass))
    total_fail=$((cm_fail + chk_fail + fz_fail + t_fail + inst_fail + pkg_fail + extra_fail))
    printf '\n%d passed, %d failed\n' "$total_pass" "$total_fail"
    [ "$total_fail" -eq 0 ]
}

# ---------------------------------------------------------------------------
np_section "Dependencies (apt, npm)"
if ! np_install_deps; then
    np_die "installing Debian packages failed (see the apt output above)"
fi
if [ -d t/backends ]; then
    np_npm_ci t/backends || np_die "npm ci in t/backends failed (see the npm output above)"
else
    np_warn "t/backends not found: the Apache::Test suite has no Node.js backends"
fi

# ---------------------------------------------------------------------------
np_section "Build (autoreconf, configure --enable-werror, make)"
if ! np_build --enable-werror 2>&1 | tee "$RESULTS/build.log"; then
    extra_fail=$((extra_fail + 1))
    problem "build failed: see $RESULTS/build.log (and config.log for configure errors)"
    summary || true
    exit 1
fi
if so=$(np_built_module); then
    np_info "built $so"
else
    extra_fail=$((extra_fail + 1))
    problem "make succeeded but no .libs/mod_nodeproxy.so was found: see $RESULTS/build.log"
fi

# ---------------------------------------------------------------------------
np_section "Unit tests (make check)"
stamp="$RESULTS/check.stamp"
touch "$stamp"
sleep 1 # .trs files must be strictly newer than the stamp
check_rc=0
# Plain cmocka output, whatever the caller's environment says: the summary
# counts its "[==========] N test(s) run." lines.
run_logged "$RESULTS/make-check.log" env CMOCKA_MESSAGE_OUTPUT=STDOUT NP_REQUIRE_PROMTOOL=1 \
    timeout -k 30 "${NP_CHECK_TIMEOUT:-600}" make -j"${NP_JOBS:-2}" check ||
    check_rc=$?

# The automake harness writes each test program's output to NAME.log and
# its result to NAME.trs; read both.
trs_count=0
while IFS= read -r trs; do
    trs_count=$((trs_count + 1))
    log=${trs%.trs}.log
    name=${trs#"$NP_TOP"/}
    name=${name%.trs}
    results=$(sed -n 's/^:test-result: *//p' "$trs")
    bad=$(printf '%s\n' "$results" | grep -cE '^(FAIL|ERROR|XPASS)' || true)
    good=$(printf '%s\n' "$results" | grep -cE '^(PASS|XFAIL)' || true)
    run=0 passed=0 failed=0
    if [ -f "$log" ]; then
        run=$(sed -n 's/^\[==========\] \([0-9][0-9]*\) test(s) run\..*/\1/p' "$log" |
            awk '{s += $1} END {print s + 0}')
        passed=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$log" |
            awk '{s += $1} END {print s + 0}')
        failed=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" |
            awk '{s += $1} END {print s + 0}')
    fi
    if [ "$run" -gt 0 ] || grep -q '^\[==========\] Running' "$log" 2>/dev/null; then
        # A cmocka program: count its test cases. A crash or a failure that
        # cmocka did not report still counts as one failure.
        if [ "$bad" -gt 0 ] && [ "$failed" -eq 0 ]; then
            failed=1
        fi
        cm_run=$((cm_run + run))
        cm_pass=$((cm_pass + passed))
        cm_fail=$((cm_fail + failed))
    else
        chk_pass=$((chk_pass + good))
        chk_fail=$((chk_fail + bad))
    fi
    if [ "$bad" -gt 0 ]; then
        problem "make check: $name failed: see $log (and tests/test-suite.log)"
    fi
done < <(find "$NP_TOP" \( -path "$NP_TOP/.git" -o -path "$NP_TOP/t" \) -prune -o \
    -name '*.trs' -newer "$stamp" -print | sort)

if [ "$check_rc" -eq 124 ] || [ "$check_rc" -eq 137 ]; then
    extra_fail=$((extra_fail + 1))
    problem "make check did not finish within ${NP_CHECK_TIMEOUT:-600}s: see $RESULTS/make-check.log"
elif [ "$check_rc" -ne 0 ] && [ "$((cm_fail + chk_fail))" -eq 0 ]; then
    extra_fail=$((extra_fail + 1))
    problem "make check exited $check_rc with no failed test reported (a test program did not build?): see $RESULTS/make-check.log"
fi
if [ "$trs_count" -eq 0 ]; then
    np_warn "make check ran no test program (no .trs file was written)"
fi
if [ "$cm_run" -eq 0 ]; then
    extra_fail=$((extra_fail + 1))
    problem "no cmocka test ran in make check: check TESTS in Makefile.am and $RESULTS/make-check.log"
fi
np_info "make check: $cm_run cmocka tests run ($cm_pass passed, $cm_fail failed), other checks $chk_pass passed, $chk_fail failed"

# ---------------------------------------------------------------------------
np_section "Fuzzing (make fuzz: each parser target for ${NP_FUZZ_SECONDS:-4} s)"
# A parser that crashes, leaks or trips a sanitizer on any input fails the
# run; the reproducer stays in fuzz/work/TARGET/artifacts/.
if command -v clang >/dev/null 2>&1; then
    fuzz_rc=0
    run_logged "$RESULTS/fuzz.log" timeout -k 30 300 \
        make fuzz FUZZ_SECONDS="${NP_FUZZ_SECONDS:-4}" || fuzz_rc=$?
    fuzz_state="ran (exit $fuzz_rc)"
    if line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$RESULTS/fuzz.log" | tail -1); then
        fz_pass=$(printf '%s\n' "$line" | sed 's/^fuzz: \([0-9]*\) passed.*/\1/')
        fz_fail=$(printf '%s\n' "$line" | sed 's/^fuzz: [0-9]* passed, \([0-9]*\) failed.*/\1/')
    fi
    if [ "$fz_fail" -gt 0 ]; then
        problem "fuzzing: a parser failed on some input: see $RESULTS/fuzz.log (reproducers in $NP_TOP/fuzz/work/*/artifacts/)"
    elif [ "$fuzz_rc" -ne 0 ] || [ "$fz_pass" -eq 0 ]; then
        extra_fail=$((extra_fail + 1))
        problem "make fuzz exited $fuzz_rc with no target run (did the targets build?): see $RESULTS/fuzz.log"
    fi
else
    fuzz_state="not run (no clang)"
    extra_fail=$((extra_fail + 1))
    problem "clang not found: the fuzz targets did not run (scripts/lib.sh NP_APT_PACKAGES installs clang and libclang-rt-14-dev)"
fi

# ---------------------------------------------------------------------------
np_section "Apache::Test suite (perl t/TEST)"
run_dir=$NP_TOP
if np_is_root; then
    # As root, Apache::Test runs the httpd children as nobody: they must be
    # able to read the tree, or every request gets a 403.
    export NODEPROXY_TEST_ALLOW_ROOT=1
    if ! np_readable_by_nobody "$NP_TOP"; then
        run_dir=$(mktemp -d /tmp/nodeproxy-test.XXXXXX)
        chmod 755 "$run_dir"
        np_info "$NP_TOP is not readable by user nobody: running the suite in a copy, $run_dir"
        if ! { tar -C "$NP_TOP" --exclude=./.git -cf - . | tar -C "$run_dir" -xf - &&
            chmod -R a+rX "$run_dir"; }; then
            extra_fail=$((extra_fail + 1))
            problem "copying the tree to $run_dir failed (disk full?): the Apache::Test suite did not run"
            summary || true
            exit 1
        fi
    fi
fi
if [ ! -f "$run_dir/t/TEST" ]; then
    t_state="missing"
    extra_fail=$((extra_fail + 1))
    problem "t/TEST not found: the Apache::Test suite did not run"
else
    t_rc=0
    # This run's error logs only (the crash check below reads them).
    find "$run_dir/t/logs" -name error_log -delete 2>/dev/null || true
    # The TAP of every test file is kept (PERL_TEST_HARNESS_DUMP_TAP): the
    # harness shows only "Failed test N", the TAP has what was expected
    # and what came (t_cmp), printed below for each failed test.
    run_logged "$RESULTS/apache-test.log" env -C "$run_dir" \
        PERL_TEST_HARNESS_DUMP_TAP="$RESULTS/tap" timeout -k 30 "${NP_T_TIMEOUT:-1500}" perl t/TEST -apxs "$NP_APXS" ||
        t_rc=$?
    if [ "$t_rc" -eq 124 ] || [ "$t_rc" -eq 137 ]; then
        # Killed: stop the httpd it may have left running.
        (cd "$run_dir" && timeout 60 perl t/TEST -stop </dev/null >/dev/null 2>&1) || true
        problem "t/TEST did not finish within ${NP_T_TIMEOUT:-1500}s: see $RESULTS/apache-test.log and $run_dir/t/logs/error_log"
        extra_fail=$((extra_fail + 1))
    fi
    t_state="ran (exit $t_rc)"
    # Test::Harness summary: "Files=N, Tests=M, ..." and, for each failed
    # program, "t/x.t (Wstat: 256 (exited 1) Tests: 3 Failed: 1)".
    if line=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$RESULTS/apache-test.log" | tail -1); then
        t_files=$(printf '%s\n' "$line" | sed 's/^Files=\([0-9]*\),.*/\1/')
        t_tests=$(printf '%s\n' "$line" | sed 's/^Files=[0-9]*, Tests=\([0-9]*\).*/\1/')
    fi
    # A program listed in the "Test Summary Report" failed: count its failed
    # subtests plus those it planned but never ran (it died), and at least 1.
    failed_subtests=0
    failed_programs=0
    while read -r prog n missing; do
        failed_subtests=$((failed_subtests + n))
        failed_programs=$((failed_programs + 1))
        n=$((n + missing))
        [ "$n" -gt 0 ] || n=1
        t_fail=$((t_fail + n))
        problem "Apache::Test: $prog ($n failed or not run): see $RESULTS/apache-test.log, $RESULTS/tap/$prog and $run_dir/t/logs/error_log"
        if [ -f "$RESULTS/tap/$prog" ]; then
            printf '\n---- %s: the failed tests (from its TAP)\n' "$prog"
            awk '/^ok /{ buf = ""; next }
                 /^#/ { buf = buf $0 "\n"; next }
                 /^not ok/ { printf "%s%s\n", buf, $0; buf = "" }' "$RESULTS/tap/$prog" | tail -n 60
        fi
    done < <(awk '
        function flush() { if (prog != "") print prog, failed, missing; prog = "" }
        /^[^ ].* \(Wstat: .* Tests: [0-9]+ Failed: [0-9]+\)/ {
            flush(); prog = $1; failed = $0
            sub(/.* Failed: /, "", failed); sub(/\).*/, "", failed); missing = 0; next
        }
        prog != "" && /You planned [0-9]+ tests but ran [0-9]+/ {
            m = $0; sub(/.*You planned /, "", m); planned = m + 0
            sub(/^[0-9]+ tests but ran /, "", m); ran = m + 0
            if (planned > ran) missing = planned - ran; next
        }
        prog != "" && /^[^ ]/ { flush() }
        END { flush() }' "$RESULTS/apache-test.log")
    t_pass=$((t_tests - failed_subtests))
    [ "$t_pass" -ge 0 ] || t_pass=0
    if [ "$t_rc" -ne 0 ] && [ "$failed_programs" -eq 0 ] && [ "$t_rc" -ne 124 ] && [ "$t_rc" -ne 137 ]; then
        extra_fail=$((extra_fail + 1))
        problem "t/TEST exited $t_rc (server failed to start?): see $RESULTS/apache-test.log and $run_dir/t/logs/error_log"
    fi
    # A child that crashed fails the run even when every test passed (its
    # respawned successor hides it from the tests); httpd logs each one.
    crash_re='AH0005[12]: child pid [0-9]+ exit signal (Segmentation fault|Aborted|Bus error|Floating point exception|Illegal instruction)'
    crashes=$(find "$run_dir/t/logs" -name error_log -exec grep -HE "$crash_re" {} + 2>/dev/null || true)
    if [ -n "$crashes" ]; then
        extra_fail=$((extra_fail + 1))
        printf '\n---- httpd children that crashed during the suite\n%s\n' "$crashes"
        problem "httpd children crashed $(printf '%s\n' "$crashes" | wc -l) time(s) during the Apache::Test suite: see the lines above (error logs under $run_dir/t/logs)"
    fi
    if [ "$t_tests" -eq 0 ]; then
        extra_fail=$((extra_fail + 1))
        problem "no Apache::Test test ran (all skipped? module not registered?): see $RESULTS/apache-test.log and $run_dir/t/logs/error_log"
    fi
fi

# ---------------------------------------------------------------------------
# root_step LABEL SCRIPT TIMEOUT [VAR=VALUE...]: scripts/SCRIPT as root
# (directly, or through password-less sudo; env after sudo, which would drop
# the variables), its output in $RESULTS/SCRIPT.log (.sh -> .log), its
# closing "LABEL: N passed, M failed" line read into step_pass and
# step_fail, and what happened in step_state.
root_step() {
    local label=$1 script=$2 limit=$3 log rc=0 line
    shift 3
    local cmd=(env "$@" bash "$NP_TOP/scripts/$script")
    log="$RESULTS/${script%.sh}.log"
    step_pass=0 step_fail=0
    if np_is_root; then
        :
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        cmd=(sudo -n "${cmd[@]}")
    else
        step_state="skipped (needs root or password-less sudo)"
        np_warn "not root and no password-less sudo: $label checks skipped (run scripts/test.sh with sudo)"
        return 0
    fi
    run_logged "$log" timeout -k 30 "$limit" "${cmd[@]}" || rc=$?
    step_state="ran (exit $rc)"
    if line=$(grep -E "^$label: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1); then
        step_pass=$(printf '%s\n' "$line" | sed "s/^$label: \([0-9]*\) passed.*/\1/")
        step_fail=$(printf '%s\n' "$line" | sed "s/^$label: [0-9]* passed, \([0-9]*\) failed.*/\1/")
    fi
    if [ "$step_fail" -gt 0 ]; then
        problem "$label checks failed: see $log"
    elif [ "$rc" -ne 0 ]; then
        extra_fail=$((extra_fail + 1))
        problem "scripts/$script exited $rc: see $log"
    fi
}

np_section "Install test (make install, a2enmod, apachectl configtest)"
root_step install install-test.sh "${NP_INSTALL_TIMEOUT:-300}"
install_state=$step_state inst_pass=$step_pass inst_fail=$step_fail

# ---------------------------------------------------------------------------
# After the install test, which puts back everything make install wrote.
np_section "Package test (dpkg-buildpackage, lintian, apt install/upgrade/remove/purge)"
# make check ran above: the package build skips it.
root_step package package-test.sh "${NP_PACKAGE_TIMEOUT:-1200}" \
    "DEB_BUILD_OPTIONS=nocheck parallel=${NP_JOBS:-2}"
package_state=$step_state pkg_pass=$step_pass pkg_fail=$step_fail

if [ "$SECONDS" -gt 1200 ]; then
    np_warn "this run took $(fmt_time "$SECONDS"), more than the 20 minutes it should"
fi
summary
