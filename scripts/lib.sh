# shellcheck shell=bash
# Helpers shared by scripts/test.sh, scripts/demo.sh, scripts/install-test.sh
# and scripts/package-test.sh.
# Source it; it defines functions and a few variables and runs nothing.

NP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NP_APXS=${APXS:-/usr/bin/apxs}

# Debian 12 packages the build, the unit tests, the Apache::Test suite and the
# demo need. nodejs and npm are only added when no `node` is on PATH: the
# machines we run on have Node 20 from elsewhere, and Debian's nodejs would
# conflict with it.
NP_APT_PACKAGES=(
    apache2 apache2-dev libcmocka-dev libssl-dev
    libapache2-mod-perl2 libwww-perl libio-socket-ssl-perl
    liblwp-protocol-https-perl
    autoconf automake libtool pkg-config make gcc curl openssl
    python3 prometheus chromium
    build-essential dpkg-dev debhelper libapr1-dev libaprutil1-dev lintian
    libhiredis-dev redis-server
    clang libclang-rt-14-dev
)
# clang and libclang-rt-14-dev (libFuzzer, ASan, UBSan runtimes) build the
# fuzz targets that `make fuzz` runs (fuzz/README.md).
# prometheus is here for promtool, which checks the status page's metrics;
# chromium renders the status page in t/modules/status.t.
# build-essential ... lintian: scripts/package-test.sh builds the Debian
# package (debian/control's Build-Depends; dh_apache2 is in apache2-dev).
# libhiredis-dev: NodeRateLimitStore redis:// (admission/; the protocol
# only, TLS is ours through OpenSSL); redis-server (Debian's is built with
# TLS; redis-cli comes with it) is started by t/modules/ratelimit_redis.t
# (127.0.0.1:29549) and ratelimit_redis_tls.t (TLS-only, 127.0.0.1:29500)
# themselves, with their own config, never as a system service.

# check WHAT CMD...: run CMD, count it in the caller's pass/fail and print
# "ok     - WHAT" or "NOT OK - WHAT" (install-test.sh, package-test.sh).
check() {
    local what=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
        printf 'ok     - %s\n' "$what"
    else
        fail=$((fail + 1))
        printf 'NOT OK - %s\n' "$what"
    fi
}

np_section() {
    printf '\n==== %s ====\n' "$*"
}

np_info() {
    printf '%s\n' "$*"
}

np_warn() {
    printf 'WARNING: %s\n' "$*" >&2
}

np_die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

np_is_root() {
    [ "$(id -u)" -eq 0 ]
}

# Run a command as root: directly when we are root, through sudo otherwise.
np_as_root() {
    if np_is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        np_die "'$*' needs root: run this script as root or install sudo"
    fi
}

np_pkg_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = "install ok installed" ]
}

# Install the Debian packages that are missing; installs nothing when all are
# there, so a second run does not touch apt at all.
np_install_deps() {
    local pkgs=("${NP_APT_PACKAGES[@]}") missing=() p
    if command -v node >/dev/null 2>&1; then
        np_info "node $(node --version) found at $(command -v node): not installing Debian's nodejs/npm"
        if ! command -v npm >/dev/null 2>&1; then
            np_die "node is installed but npm is not: install npm from the same source as node"
        fi
    else
        pkgs+=(nodejs npm)
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        np_warn "dpkg-query not found: not a Debian system, skipping package installation"
        return 0
    fi
    for p in "${pkgs[@]}"; do
        np_pkg_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        np_info "all ${#pkgs[@]} required packages are installed"
        return 0
    fi
    np_info "installing missing packages: ${missing[*]}"
    np_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null || return 1
    # Installing must not start services (the system apache2 on port 80, a
    # Prometheus server): a policy-rc.d that says no, for the install only.
    local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
    if [ ! -e "$policy" ]; then
        np_as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && own_policy=1
    fi
    np_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" </dev/null || rc=$?
    if [ "$own_policy" = 1 ]; then
        np_as_root rm -f "$policy"
    fi
    return "$rc"
}

# `npm ci` in DIR when it has a lockfile; `npm install` (with a warning) when
# it has only a package.json.
np_npm_ci() {
    local dir=$1
    if [ ! -f "$dir/package.json" ]; then
        np_warn "$dir/package.json not found: no npm dependencies installed there"
        return 0
    fi
    if [ -f "$dir/package-lock.json" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    else
        np_warn "$dir has no package-lock.json: running npm install (versions not pinned)"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error </dev/null)
    fi
}

# Configure and build the module in NP_TOP. Extra arguments go to configure.
np_build() {
    # && chains, not set -e: callers may run this inside `if`.
    (
        cd "$NP_TOP" &&
            autoreconf -fi &&
            ./configure --with-apxs="$NP_APXS" "$@" &&
            make -j"${NP_JOBS:-2}"
    )
}

# The built module, as libtool leaves it.
np_built_module() {
    local so
    for so in "$NP_TOP/.libs/mod_nodeproxy.so" "$NP_TOP"/*/.libs/mod_nodeproxy.so; do
        if [ -f "$so" ]; then
            printf '%s\n' "$so"
            return 0
        fi
    done
    return 1
}

# True when user nobody can reach and read DIR: every directory from / down
# to DIR is world-searchable, and everything below DIR is world-readable
# (directories also world-searchable). .git is ignored.
np_readable_by_nobody() {
    local dir d
    dir=$(cd "$1" && pwd -P)
    d=$dir
    while :; do
        [ "$(( 0$(stat -c %a "$d") & 01 ))" -ne 0 ] || return 1
        [ "$d" = / ] && break
        d=$(dirname "$d")
    done
    [ -z "$(find "$dir" -path "$dir/.git" -prune -o \
        \( ! -perm -o+r -o \( -type d ! -perm -o+x \) \) -print -quit 2>/dev/null)" ]
}
