#!/usr/bin/env bash
# Package checks of mod_nodeproxy on Debian, as root:
#   builds libapache2-mod-nodeproxy from a clean copy of the tree
#   (dpkg-buildpackage -us -uc -b), lintian reports no error, then
#   apt install ./the.deb: the module is enabled (apache2-maintscript-helper),
#   `apache2ctl -M` lists it, configtest passes with a NodeProxyPass vhost,
#   and the system's apache2 (its binary, its enabled modules and that vhost,
#   on a loopback port) proxies a request to a Node.js backend;
#   an upgrade to a newer build keeps the admin's edit to nodeproxy.conf;
#   apt remove disables the module (configtest passes, module not loaded);
#   apt purge leaves no file of the package; /etc/apache2, the module
#   directory and /var/lib/apache2 are then exactly as before.
# Whatever it changed is put back when it ends, even on failure. It never
# starts, stops or reloads the apache2 service: the request goes through a
# private apache2 process (own pid file, own Listen) that it stops by pid.
# Prints "package: N passed, M failed" last (scripts/test.sh adds it up);
# exits non-zero when a check failed.
#
# Environment: DEB_BUILD_OPTIONS (e.g. nocheck: scripts/test.sh has run
# make check already), NP_PKG_PORT (first port tried, default 29560: the
# front end; the backend gets the next one).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$NP_TOP"

np_is_root || np_die "run as root: the test installs and purges a Debian package"
for tool in dpkg-buildpackage lintian apt-get dpkg-deb a2query a2ensite a2dissite apache2ctl curl node; do
    command -v "$tool" >/dev/null 2>&1 || np_die "$tool not found (scripts/test.sh installs NP_APT_PACKAGES)"
done

PKG=libapache2-mod-nodeproxy
ETC=/etc/apache2
MODDIR=$("$NP_APXS" -q LIBEXECDIR)
STATEDIR=/var/lib/apache2
SITE=zz-nodeproxy-package-test
SITE_FILE=$ETC/sites-available/$SITE.conf
CONF=$ETC/mods-available/nodeproxy.conf
WORK=$(mktemp -d /tmp/nodeproxy-package-test.XXXXXX)
chmod 755 "$WORK"
OUT=$WORK/out
pass=0 fail=0
cleaned=0
touched=0 # set once the test changes something restore() must put back
own_policy=0
httpd_conf= backend_pid=
aside=()
started=$SECONDS

# check_out WHAT CMD...: like check, showing CMD's output when it fails.
check_out() {
    local what=$1
    shift
    if "$@" >"$OUT" 2>&1; then
        check "$what" true
    else
        sed 's/^/    | /' "$OUT" | tail -n 40
        check "$what" false
    fi
}

# Every file, directory and link under the directories a package of an
# Apache module touches, with its type, mode, target and content checksum.
# In /var/lib/apache2 (the a2enmod marks) files only: the tools create
# empty directories for their marks and never remove them.
snapshot() {
    local d
    for d in "$ETC" "$MODDIR" "$STATEDIR"; do
        [ -e "$d" ] || continue
        if [ "$d" = "$STATEDIR" ]; then
            find "$d" ! -type d -printf '%p %y %m %l\n'
        else
            find "$d" -printf '%p %y %m %l\n'
        fi
        find "$d" -type f -exec md5sum {} +
    done | LC_ALL=C sort
}

pkg_status() {
    dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true
}

apt_get() {
    # No conffile options: an upgrade that would have to ask about
    # nodeproxy.conf fails here (stdin is /dev/null) instead of hiding it.
    env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@" </dev/null
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop_httpd() {
    local pid i
    [ -n "$httpd_conf" ] || return 0
    pid=$(cat "$WORK/httpd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        (. "$ETC/envvars" && /usr/sbin/apache2 -f "$httpd_conf" -k stop) >/dev/null 2>&1 ||
            kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    httpd_conf=
}

stop_backend() {
    if [ -n "$backend_pid" ]; then
        kill -TERM "$backend_pid" 2>/dev/null || true
        wait "$backend_pid" 2>/dev/null || true
        backend_pid=
    fi
}

# Put back what this run changed: the private httpd and the backend, the
# package, the test vhost, files moved aside, the policy-rc.d it wrote.
restore() {
    local f i
    [ "$cleaned" -eq 0 ] || return 0
    cleaned=1
    [ "$touched" = 1 ] || return 0
    np_info "--- restoring"
    stop_httpd
    stop_backend
    if [ -L "$ETC/sites-enabled/$SITE.conf" ]; then
        a2dissite -q -p "$SITE" || np_warn "a2dissite $SITE failed"
    fi
    rm -f "$SITE_FILE"
    case "$(pkg_status)" in
    "" | "unknown ok not-installed") ;;
    *) apt_get purge "$PKG" >"$WORK/purge-on-exit.log" 2>&1 || np_warn "apt-get purge $PKG failed: see $WORK/purge-on-exit.log" ;;
    esac
    for i in "${!aside[@]}"; do
        f=${aside[$i]}
        mkdir -p "$(dirname "$f")"
        mv -f "$WORK/aside/$i" "$f" || np_warn "could not put $f back"
    done
    if [ "$own_policy" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}

on_exit() {
    local rc=$?
    if [ "$cleaned" -eq 0 ]; then
        restore
        printf 'package: %d passed, %d failed\n' "$pass" "$((fail > 0 ? fail : 1))"
        [ "$rc" -ne 0 ] || rc=1
    fi
    if [ "$rc" -eq 0 ]; then
        rm -rf "$WORK"
    else
        np_info "build tree and logs kept in $WORK"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
np_section "before: the system as it is"
case "$(pkg_status)" in
"" | "unknown ok not-installed") ;;
*)
    np_die "$PKG is already on this system ($(pkg_status)): the test would replace it; remove it first"
    ;;
esac
if [ -e "$ETC/mods-enabled/nodeproxy.load" ]; then
    np_die "nodeproxy is enabled in $ETC/mods-enabled (a make install in use?): a2dismod nodeproxy first"
fi
before=$(snapshot)
touched=1
# Files a `make install` left (scripts/install-test.sh removes its own),
# and an admin's a2dismod mark (with which the package would rightly not
# enable the module): moved aside while the test runs, put back at the end.
mkdir -p "$WORK/aside"
for f in "$MODDIR/mod_nodeproxy.so" "$ETC/mods-available/nodeproxy.load" "$CONF" \
    $(find "$STATEDIR/module" -name nodeproxy 2>/dev/null); do
    if [ -e "$f" ]; then
        np_info "moving aside $f (not from the package) until the end"
        mv "$f" "$WORK/aside/${#aside[@]}" && aside+=("$f")
    fi
done
# Installing must not restart a running system apache2.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
fi

# ---------------------------------------------------------------------------
np_section "build: dpkg-buildpackage -us -uc -b in a clean copy of the tree"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
src=$WORK/$PKG-${version%-*}
mkdir -p "$src"
if [ -d .git ] && git -C "$NP_TOP" rev-parse --git-dir >/dev/null 2>&1; then
    # The files git knows of (committed or not), none of the build's output.
    git -C "$NP_TOP" ls-files -z --cached --others --exclude-standard |
        (cd "$NP_TOP" && tar --null -T - -cf -) | tar -C "$src" -xf -
else
    # No git: the tree without what the build and the tests generate
    # (the patterns of .gitignore).
    tar -C "$NP_TOP" --exclude=./.git --exclude=node_modules --exclude=.deps --exclude=.libs \
        --exclude=.dirstamp --exclude='*.o' --exclude='*.lo' --exclude='*.la' --exclude='*.log' \
        --exclude='*.trs' --exclude=./autom4te.cache --exclude=./build --exclude=./aclocal.m4 \
        --exclude=./configure --exclude=./configure~ --exclude=./config.status --exclude=./libtool \
        --exclude=./Makefile --exclude=./Makefile.in --exclude=./np_version.h \
        --exclude='./m4/*.m4' --exclude='./tests/test_np_*[!.][!c]' --exclude=./t/logs \
        --exclude=./t/state --exclude=./t/run --exclude='./t/conf/*.conf' --exclude=./t/conf/np-ssl \
        --exclude=./t/conf/apache_test_config.pm --exclude='./t/conf/modperl_*.pl' \
        --exclude=./t/htdocs/index.html --exclude=./bench/results --exclude=./debian/tmp \
        --exclude=./debian/.debhelper --exclude=./debian/$PKG --exclude=./debian/files \
        --exclude='./debian/*.substvars' --exclude='./debian/*.debhelper*' \
        -cf - . | tar -C "$src" -xf -
fi
np_info "DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-}"
t0=$SECONDS
if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
    check "dpkg-buildpackage -us -uc -b succeeds ($((SECONDS - t0))s)" true
else
    tail -n 40 "$WORK/build.log" | sed 's/^/    | /'
    check "dpkg-buildpackage -us -uc -b succeeds" false
    exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$WORK/${PKG}_${version}_${arch}.deb
check "$(basename "$deb") is built" test -f "$deb"
[ -f "$deb" ] || exit 1
case " ${DEB_BUILD_OPTIONS:-} " in
*" nocheck "*) np_info "(nocheck: the build did not run make check)" ;;
*) check "the build ran make check (guard_version.sh and the cmocka tests passed)" \
    grep -q '^PASS: tests/guard_version.sh' "$WORK/build.log" ;;
esac
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$WORK/contents"
dpkg-deb -f "$deb" Depends >"$WORK/depends"
check "the package holds $MODDIR/mod_nodeproxy.so" grep -qx "$MODDIR/mod_nodeproxy.so" "$WORK/contents"
check "the package holds nodeproxy.load and nodeproxy.conf as conffiles" \
    test "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | sort | tr '\n' ' ')" = \
    "$ETC/mods-available/nodeproxy.conf $ETC/mods-available/nodeproxy.load "
check "the package holds the documentation" grep -q "^/usr/share/doc/$PKG/README.md" "$WORK/contents"
# Everything `make install` put under usr/ is in the package.
missing=$(cd "$src/debian/tmp" && find usr \( -type f -o -type l \) -printf '/%p\n' | while read -r f; do
    grep -qx "$f" "$WORK/contents" || printf '%s ' "$f"
done)
check "every file make install installs is in the package${missing:+ (missing: $missing)}" test -z "$missing"
check "Depends has the computed apache2 API dependency: $(cat "$WORK/depends")" \
    grep -qE '(^|, )apache2-api-[0-9]+' "$WORK/depends"

# ---------------------------------------------------------------------------
np_section "lintian"
lintian_rc=0
(cd "$WORK" && lintian --pedantic --display-info --show-overrides "${PKG}_${version}_${arch}.changes") >"$WORK/lintian.log" 2>&1 || lintian_rc=$?
grep -vi 'running with root privileges' "$WORK/lintian.log" | sed 's/^/    | /' || true
n_e=$(grep -c '^E: ' "$WORK/lintian.log" || true)
n_w=$(grep -c '^W: ' "$WORK/lintian.log" || true)
n_i=$(grep -c '^[IPX]: ' "$WORK/lintian.log" || true)
n_o=$(grep -c '^O: ' "$WORK/lintian.log" || true)
np_info "lintian: $n_e errors, $n_w warnings, $n_i info/pedantic, $n_o overridden (debian/$PKG.lintian-overrides) (exit $lintian_rc)"
check "lintian reports no error" test "$n_e" -eq 0 -a "$lintian_rc" -eq 0

# ---------------------------------------------------------------------------
np_section "apt install ./$(basename "$deb")"
check_out "apt-get install ./$(basename "$deb") succeeds" apt_get install "$deb"
check "$PKG is installed" test "$(pkg_status)" = "install ok installed"
check "the maintainer script enabled it: $ETC/mods-enabled/nodeproxy.load" test -L "$ETC/mods-enabled/nodeproxy.load"
check "a2query -m nodeproxy says enabled by maintainer script" \
    sh -c "a2query -m nodeproxy | grep -q 'enabled by maintainer script'"
dpkg -L "$PKG" >"$WORK/files"
# Every command the package installs (make install's, e.g. nodeproxyctl)
# runs, and a Perl one has perl in the computed dependencies (dh_perl).
for cmd in $(grep -E '^/usr/s?bin/[^/]+$' "$WORK/files" || true); do
    check_out "$cmd --help runs" "$cmd" --help
    if head -c 64 "$cmd" | grep -qE '^#! *(/usr/bin/perl|/usr/bin/env +perl)'; then
        check "$cmd is Perl: Depends names perl ($(cat "$WORK/depends"))" \
            grep -qE '(^|, )perl(:any)?( |,|$)' "$WORK/depends"
    fi
done

front=${NP_PKG_PORT:-29560}
while ! port_free "$front" || ! port_free "$((front + 1))"; do
    front=$((front + 2))
    [ "$front" -le 29568 ] || np_die "no two free ports in 29560-29569 on 127.0.0.1"
done
back=$((front + 1))
cat >"$SITE_FILE" <<EOF
# Written by mod_nodeproxy's scripts/package-test.sh, removed when it ends.
<VirtualHost 127.0.0.1:$front>
    ServerName nodeproxy-package-test.invalid
    <Location /np-status>
        SetHandler nodeproxy-status
        Require ip 127.0.0.1
    </Location>
    NodeProxyPass / http://127.0.0.1:$back/
    NodeConnectTimeout 2s
</VirtualHost>
EOF
check "a2ensite $SITE succeeds" a2ensite -q "$SITE"
check_out "apachectl configtest passes with a NodeProxyPass vhost" apache2ctl configtest
if apache2ctl -M >"$OUT" 2>&1 && grep -q 'nodeproxy_module' "$OUT"; then
    check "apache2ctl -M lists nodeproxy_module" true
else
    sed 's/^/    | /' "$OUT"
    check "apache2ctl -M lists nodeproxy_module" false
fi

np_section "a request through the system's apache2 (127.0.0.1:$front) to Node.js (127.0.0.1:$back)"
node -e '
    const http = require("http");
    http.createServer((req, res) => {
        res.setHeader("X-Backend", "package-test");
        res.end("node saw " + req.url + "\n");
    }).listen(Number(process.argv[1]), "127.0.0.1");
' "$back" >"$WORK/backend.log" 2>&1 &
backend_pid=$!
# The system's binary with the system's enabled modules (as the package
# set them up) and the test vhost, but its own Listen and pid file, so the
# apache2 service (port 80) is neither needed nor touched.
mkdir -p "$WORK/run"
httpd_conf=$WORK/httpd.conf
cat >"$httpd_conf" <<EOF
ServerRoot $ETC
DefaultRuntimeDir $WORK/run
PidFile $WORK/httpd.pid
ErrorLog $WORK/error.log
LogLevel notice
User www-data
Group www-data
ServerName localhost
Include $ETC/mods-enabled/*.load
Include $ETC/mods-enabled/*.conf
Listen 127.0.0.1:$front
Include $ETC/sites-enabled/$SITE.conf
EOF
up=0
for i in $(seq 1 40); do
    if curl -s -o /dev/null "http://127.0.0.1:$back/"; then
        up=1
        break
    fi
    sleep 0.25
done
check "the Node.js backend answers on 127.0.0.1:$back" test "$up" = 1
check_out "apache2 starts with the packaged module" \
    sh -c ". $ETC/envvars && exec /usr/sbin/apache2 -f '$httpd_conf' -k start"
body= hdr=
for i in $(seq 1 40); do
    if body=$(curl -s -D "$WORK/headers" "http://127.0.0.1:$front/hello?x=1"); then
        break
    fi
    sleep 0.25
done
hdr=$(tr -d '\r' <"$WORK/headers" 2>/dev/null || true)
check "GET /hello?x=1 is proxied: 200" sh -c "printf '%s\n' \"\$1\" | head -1 | grep -q ' 200'" _ "$hdr"
check "the answer comes from the Node.js backend (X-Backend: package-test)" \
    sh -c "printf '%s\n' \"\$1\" | grep -qi '^X-Backend: package-test$'" _ "$hdr"
check "the backend saw /hello?x=1 (got: ${body:-nothing})" test "$body" = "node saw /hello?x=1"
json=$(curl -s "http://127.0.0.1:$front/np-status?format=json" || true)
check "the status page names mod_nodeproxy/${version%-*}" \
    sh -c "printf '%s' \"\$1\" | grep -qF '\"version\":\"mod_nodeproxy/${version%-*}\"'" _ "$json"
check "the error log has the start-up line NP00550 mod_nodeproxy/${version%-*} configured" \
    grep -qF "NP00550: mod_nodeproxy/${version%-*} configured" "$WORK/error.log"
stop_httpd
stop_backend

# ---------------------------------------------------------------------------
np_section "upgrade to a newer build: the admin's edit to nodeproxy.conf stays"
stamp="# admin edit by scripts/package-test.sh $$"
printf '%s\nNodeBackendKeepAlive 3s\n' "$stamp" >>"$CONF"
newer=${version}+pkgtest1
{
    printf '%s (%s) unstable; urgency=medium\n\n' "$PKG" "$newer"
    printf '  * Rebuild by scripts/package-test.sh (upgrade check).\n\n'
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Maintainer)" "$(date -R)"
    cat "$src/debian/changelog"
} >"$src/debian/changelog.new"
mv "$src/debian/changelog.new" "$src/debian/changelog"
t0=$SECONDS
# -nc: the tree is built; only the binary package is made again.
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b -nc) \
    >"$WORK/build-newer.log" 2>&1; then
    check "the newer build ($newer) succeeds ($((SECONDS - t0))s)" true
else
    tail -n 40 "$WORK/build-newer.log" | sed 's/^/    | /'
    check "the newer build ($newer) succeeds" false
fi
deb2=$WORK/${PKG}_${newer}_${arch}.deb
check_out "apt-get install ./$(basename "$deb2") upgrades without asking" apt_get install "$deb2"
check "$PKG $newer is installed" test "$(dpkg-query -W -f='${Version}' "$PKG")" = "$newer"
check "nodeproxy.conf keeps the admin's edit" grep -qxF "$stamp" "$CONF"
check "the module is still enabled" test -L "$ETC/mods-enabled/nodeproxy.load"
check_out "apachectl configtest passes after the upgrade" apache2ctl configtest

# ---------------------------------------------------------------------------
np_section "apt remove"
a2dissite -q -p "$SITE"
rm -f "$SITE_FILE"
check_out "apt-get remove $PKG succeeds" apt_get remove "$PKG"
check "$PKG is removed, its conffiles kept ($(pkg_status))" test "$(pkg_status)" = "deinstall ok config-files"
check "the module is disabled: no $ETC/mods-enabled/nodeproxy.*" \
    sh -c "! ls $ETC/mods-enabled/nodeproxy.* >/dev/null 2>&1"
check "$MODDIR/mod_nodeproxy.so is gone" test ! -e "$MODDIR/mod_nodeproxy.so"
check_out "apachectl configtest passes after the removal" apache2ctl configtest
if apache2ctl -M >"$OUT" 2>&1 && ! grep -q 'nodeproxy_module' "$OUT"; then
    check "apache2ctl -M no longer lists nodeproxy_module" true
else
    sed 's/^/    | /' "$OUT"
    check "apache2ctl -M no longer lists nodeproxy_module" false
fi

np_section "apt purge"
check_out "apt-get purge $PKG succeeds" apt_get purge "$PKG"
check "$PKG is gone from dpkg ($(pkg_status))" sh -c "[ -z '$(pkg_status)' ] || [ '$(pkg_status)' = 'unknown ok not-installed' ]"
left=$(while read -r f; do
    [ "$f" = /. ] && continue
    if [ -f "$f" ] || [ -L "$f" ]; then printf '%s ' "$f"; fi
done <"$WORK/files")
check "no file of the package is left${left:+ (left: $left)}" test -z "$left"
check "the maintainer-script state is gone ($STATEDIR/module/enabled_by_maint/nodeproxy)" \
    test ! -e "$STATEDIR/module/enabled_by_maint/nodeproxy"

np_section "restore"
restore
after=$(snapshot)
if [ "$before" = "$after" ]; then
    check "$ETC, $MODDIR and $STATEDIR are as before" true
else
    diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed 's/^/    | /' | head -n 40
    check "$ETC, $MODDIR and $STATEDIR are as before" false
fi
np_info "package test took $((SECONDS - started))s"

printf 'package: %d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
