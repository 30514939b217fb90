#!/bin/sh
# Every field of the config records is initialised in create and handled in
# merge (a field forgotten in merge silently loses vhost/Location settings).
top=${top_srcdir:-.}
h="$top/proxy/mod_nodeproxy_config.h"
c="$top/proxy/mod_nodeproxy_config.c"
fail=0
check() { # struct-name create-fn merge-fn var
    fields=$(awk -v name="$1" '
        /typedef struct \{/ { body = ""; f = 1; next }
        f && $0 ~ "} " name ";" { print body; exit }
        f { sub(/\/\*.*/, ""); body = body "\n" $0 }' "$h" \
        | grep -oE '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*(\[[^]]*\])?;' | tr -d '; ' | sed 's/\[.*//')
    [ -n "$fields" ] || { echo "FAIL: no fields found for $1"; fail=1; return; }
    for fn in "$2" "$3"; do
        body=$(awk "/^void \*$fn\(/{f=1} f{print} f && /^}/{exit}" "$c")
        for fld in $fields; do
            echo "$body" | grep -qE "(->|\.)$fld\b" || { echo "FAIL: $1.$fld not handled in $fn"; fail=1; }
        done
    done
}
check np_server_conf_t np_create_server_conf np_merge_server_conf
check np_dir_conf_t np_create_dir_conf np_merge_dir_conf
[ "$fail" = 0 ] && echo "ok: create and merge cover every config field"
exit $fail
