#!/bin/sh
# Pure np_* files must not include httpd headers (STYLE.md: two layers).
top=${top_srcdir:-.}
bad=$(grep -nE '#[[:space:]]*include[[:space:]]*[<"](httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_]+|scoreboard|mpm_common)\.h[>"]' \
      $(find "$top" -name 'np_*.[ch]' -not -path '*/node_modules/*') 2>/dev/null)
if [ -n "$bad" ]; then
    echo "FAIL: pure files include httpd headers:"; echo "$bad"; exit 1
fi
n=$(find "$top" -name 'np_*.c' -not -path '*/node_modules/*' | wc -l)
[ "$n" -gt 0 ] || { echo "FAIL: no np_*.c files found under $top"; exit 1; }
echo "ok: $n pure files include no httpd header"
