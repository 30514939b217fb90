#!/usr/bin/env bash
# Install checks of mod_nodeproxy on Debian, as root, in a built tree:
#   make install; a2enmod nodeproxy; a vhost with NodeProxyPass passes
#   `apachectl configtest`; a bad `NodeTimeout 5x` makes it fail naming the
#   directive. Everything it enabled or wrote is put back when it ends, even
#   on failure (make uninstall, files it overwrote restored, a2dismod -p).
#   It never starts, stops or reloads the apache2 service.
# Prints "install: N passed, M failed" last (scripts/test.sh adds it up);
# exits non-zero when a check failed.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$NP_TOP"

np_is_root || np_die "run as root: make install writes to Apache's module directory and /etc/apache2"
[ -f Makefile ] || np_die "no Makefile in $NP_TOP: build first (autoreconf -fi && ./configure && make)"
for tool in a2enmod a2dismod a2ensite a2dissite apachectl; do
    command -v "$tool" >/dev/null 2>&1 || np_die "$tool not found: this test needs Debian's apache2 package"
done

ETC=/etc/apache2
SITE=zz-nodeproxy-install-test
SITE_FILE=$ETC/sites-available/$SITE.conf
OUT=$(mktemp /tmp/nodeproxy-install-test.XXXXXX)
pass=0 fail=0
cleaned=0

enabled_list() {
    find "$ETC/$1-enabled" -maxdepth 1 \( -name '*.load' -o -name '*.conf' \) -printf '%f\n' 2>/dev/null |
        sed 's/\.\(load\|conf\)$//' | sort -u
}

mods_before=$(enabled_list mods)
sites_before=$(enabled_list sites)
conf_sum_before=$(md5sum "$ETC/apache2.conf" | cut -d' ' -f1)

libexecdir=$("$NP_APXS" -q LIBEXECDIR)
# What make install writes over: kept here and put back after make uninstall
# (a package's or an earlier install's copy stays as it was).
INSTALLED=("$libexecdir/mod_nodeproxy.so" "$ETC/mods-available/nodeproxy.load"
    "$ETC/mods-available/nodeproxy.conf")
SAVED=$(mktemp -d /tmp/nodeproxy-install-saved.XXXXXX)
installed_sum() {
    md5sum "${INSTALLED[@]}" 2>/dev/null || true
}
installed_before=$(installed_sum)
for f in "${INSTALLED[@]}"; do
    if [ -e "$f" ]; then
        cp -a "$f" "$SAVED/$(basename "$f")"
    fi
done
did_install=0
STATE=/var/lib/apache2
marks() {
    find "$STATE" -name nodeproxy 2>/dev/null | sort || true
}
marks_before=$(marks)

# Put back what this run changed: the sites and modules it enabled (a2enmod
# also enables the modules nodeproxy.load declares with "# Depends:"), the
# vhost file it wrote, and what make install installed. a2dismod/a2dissite
# purge (-p): a plain a2dismod leaves a "disabled by admin" mark in
# /var/lib/apache2, and a later package install would then not enable the
# module (apache2-maintscript-helper respects the admin's choice).
restore() {
    local m s f
    [ "$cleaned" -eq 0 ] || return 0
    cleaned=1
    np_info "--- restoring /etc/apache2"
    for s in $(comm -13 <(printf '%s\n' "$sites_before") <(enabled_list sites)); do
        a2dissite -q -p "$s" || np_warn "a2dissite $s failed"
    done
    rm -f "$SITE_FILE"
    for m in $(comm -13 <(printf '%s\n' "$mods_before") <(enabled_list mods)); do
        a2dismod -q -f -p "$m" || np_warn "a2dismod $m failed"
    done
    if [ "$did_install" = 1 ]; then
        make uninstall >/dev/null 2>&1 || np_warn "make uninstall failed"
        for f in "${INSTALLED[@]}"; do
            if [ -e "$SAVED/$(basename "$f")" ]; then
                cp -a "$SAVED/$(basename "$f")" "$f" || np_warn "could not put $f back"
            fi
        done
    fi
    rm -rf "$SAVED"
    # a2dismod -p removed every mark of nodeproxy: put back those there were.
    for f in $marks_before; do
        [ -e "$f" ] || { mkdir -p "$(dirname "$f")" && touch "$f"; } || np_warn "could not put $f back"
    done
    rm -f "$OUT"
}

on_exit() {
    local rc=$?
    if [ "$cleaned" -eq 0 ]; then
        restore
        printf 'install: %d passed, %d failed\n' "$pass" "$((fail > 0 ? fail : 1))"
        [ "$rc" -ne 0 ] || rc=1
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# configtest OUTFILE: apachectl configtest, its output in OUTFILE, and its status.
configtest() {
    apachectl configtest >"$1" 2>&1
}

write_site() {
    cat >"$SITE_FILE" <<EOF
# Written by mod_nodeproxy's scripts/install-test.sh, removed when it ends.
<VirtualHost *:80>
    ServerName nodeproxy-install-test.invalid
    NodeProxyPass /static/ !
    NodeProxyPass / http://127.0.0.1:3000/
    NodeConnectTimeout 2s
$1
</VirtualHost>
EOF
}

np_section "make install"
did_install=1
check "make install succeeds" make install
check "mod_nodeproxy.so is in $libexecdir" test -f "$libexecdir/mod_nodeproxy.so"
check "$ETC/mods-available/nodeproxy.load is installed" test -f "$ETC/mods-available/nodeproxy.load"
check "$ETC/apache2.conf is left alone" \
    test "$(md5sum "$ETC/apache2.conf" | cut -d' ' -f1)" = "$conf_sum_before"

np_section "a2enmod, a2ensite, configtest"
check "a2enmod nodeproxy succeeds" a2enmod -q nodeproxy
write_site "    NodeTimeout 30s"
check "a2ensite $SITE succeeds" a2ensite -q "$SITE"
if configtest "$OUT"; then
    check "apachectl configtest passes with a NodeProxyPass vhost" true
else
    sed 's/^/    | /' "$OUT"
    check "apachectl configtest passes with a NodeProxyPass vhost" false
fi
if apachectl -M >"$OUT" 2>&1 && grep -q 'nodeproxy_module' "$OUT"; then
    check "apachectl -M lists nodeproxy_module" true
else
    sed 's/^/    | /' "$OUT"
    check "apachectl -M lists nodeproxy_module" false
fi

np_section "configtest with a bad directive (NodeTimeout 5x)"
write_site "    NodeTimeout 5x"
if configtest "$OUT"; then
    sed 's/^/    | /' "$OUT"
    check "apachectl configtest fails with NodeTimeout 5x" false
else
    sed 's/^/    | /' "$OUT"
    check "apachectl configtest fails with NodeTimeout 5x" true
fi
check "the error names NodeTimeout" grep -q 'NodeTimeout' "$OUT"
check "the error names the file $SITE.conf" grep -q "$SITE.conf" "$OUT"

np_section "restore"
restore
check "enabled modules are as before" test "$(enabled_list mods)" = "$mods_before"
check "enabled sites are as before" test "$(enabled_list sites)" = "$sites_before"
check "the test vhost file is removed" test ! -e "$SITE_FILE"
check "what make install installed is removed (or as before)" \
    test "$(installed_sum)" = "$installed_before"
check "the marks of nodeproxy in $STATE are as before (no \"disabled by admin\" left)" \
    test "$(marks)" = "$marks_before"

printf 'install: %d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
