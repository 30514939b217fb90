#!/bin/sh
# One version number: AC_INIT's in configure.ac. The module's start-up line
# and the status page print NP_VERSION, which configure writes from it into
# np_version.h; debian/changelog's upstream version must be the same.
# Checks each of them, and the built module itself.
top=${top_srcdir:-.}
fail=0
bad() { echo "FAIL: $*"; fail=1; }

v=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[ -n "$v" ] || { echo "FAIL: no version in AC_INIT of $top/configure.ac"; exit 1; }

# debian/changelog: "libapache2-mod-nodeproxy (EPOCH:UPSTREAM-REVISION) ...";
# the upstream part is what lies between an epoch and the last '-'.
cl="$top/debian/changelog"
if [ -f "$cl" ]; then
    dv=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$cl")
    up=${dv#*:}
    up=${up%-*}
    [ "$up" = "$v" ] || bad "debian/changelog's top entry is $dv (upstream $up), configure.ac says $v"
else
    bad "$cl not found"
fi

# The generated header (in the build tree) carries configure's version.
hv=$(sed -n 's/^#define NP_VERSION "\(.*\)"$/\1/p' np_version.h 2>/dev/null)
[ "$hv" = "$v" ] || bad "np_version.h in $(pwd) defines NP_VERSION \"$hv\", configure.ac says $v (re-run configure)"

# Nobody defines the version a second time in a source file.
others=$(grep -rln --include='*.[ch]' -E '#[[:space:]]*define[[:space:]]+NP_VERSION[[:space:]]' \
    "$top" 2>/dev/null | grep -v '/node_modules/' | grep -v '/np_version\.h$')
[ -z "$others" ] || bad "NP_VERSION is also defined in: $others"

# The built module carries the string the status page and start-up line use.
so=.libs/mod_nodeproxy.so
if [ -f "$so" ]; then
    grep -qaF "mod_nodeproxy/$v" "$so" || bad "$so does not contain \"mod_nodeproxy/$v\""
    grep -qaF "mod_nodeproxy/%s configured" "$so" || bad "$so has no start-up line \"mod_nodeproxy/%s configured\""
else
    bad "$so not built"
fi

[ "$fail" -eq 0 ] || exit 1
echo "ok: version $v in configure.ac, debian/changelog ($dv), np_version.h and $so"
