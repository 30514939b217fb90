#!/bin/sh
# Every NPLOGNO(nnnnn) message id is used once only (STYLE.md: logging).
top=${top_srcdir:-.}
files=$(find "$top" -name '*.c' -not -path '*/node_modules/*' -not -path '*/tests/*')
all=$(grep -ohE 'NPLOGNO\([0-9]{5}\)' $files | sort)
[ -n "$all" ] || { echo "FAIL: no NPLOGNO ids found"; exit 1; }
dups=$(printf '%s\n' "$all" | uniq -d)
if [ -n "$dups" ]; then
    echo "FAIL: message ids used more than once:"; echo "$dups"; exit 1
fi
# ap_log_*error calls at DEBUG or above must carry an id within 2 lines.
unmarked=$(awk '
    /ap_log_[a-z]*error\(APLOG_MARK, APLOG_(EMERG|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG)/ {
        pending = FILENAME ":" FNR; left = 3 }
    pending && /NPLOGNO\(/ { pending = ""; calls++ }
    pending && --left == 0 { print pending; pending = "" }
    END { }' $files)
if [ -n "$unmarked" ]; then
    echo "FAIL: log calls without an NPLOGNO id:"; echo "$unmarked"; exit 1
fi
echo "ok: $(printf '%s\n' "$all" | wc -l) message ids, all unique, every log call carries one"
