#!/usr/bin/env bash
# mod_nodeproxy demo: installs what is missing, builds the module, starts
# three demo Node.js apps (demo/app.js) and a real httpd in front of them on
# 127.0.0.1:8080, prints what to try, and stops everything on Ctrl-C.
#
#   scripts/demo.sh            run until Ctrl-C
#   scripts/demo.sh --check    start, try the URLs once, stop (exit status)
#
# Environment: DEMO_PORT (8080), DEMO_APP_PORT (3001: the apps use it and
# the next two ports), APXS (/usr/bin/apxs).
# It runs its own httpd (apache2 -f a generated config in a temp directory),
# never the system apache2 service. As root the httpd children run as nobody.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$NP_TOP"

CHECK=0
case "${1:-}" in
    --check) CHECK=1 ;;
    "") ;;
    *) np_die "usage: $0 [--check]" ;;
esac

PORT=${DEMO_PORT:-8080}
APP1=${DEMO_APP_PORT:-3001}
APP2=$((APP1 + 1))
APP3=$((APP1 + 2))
URL="http://127.0.0.1:$PORT"

# ---------------------------------------------------------------------------
np_section "Dependencies"
np_install_deps
np_npm_ci demo

np_section "Build"
if [ ! -f Makefile ]; then
    (autoreconf -fi && ./configure --with-apxs="$NP_APXS") ||
        np_die "configure failed: see config.log"
fi
make -j"${NP_JOBS:-2}" || np_die "make failed: see the compiler output above (a tree built by another user needs 'make clean' first)"
SO=$(np_built_module) || np_die "no .libs/mod_nodeproxy.so after make"
MODDIR=$("$NP_APXS" -q LIBEXECDIR)
HTTPD=$("$NP_APXS" -q SBINDIR)/$("$NP_APXS" -q TARGET)
[ -x "$HTTPD" ] || HTTPD=/usr/sbin/apache2
np_info "module: $SO"
np_info "httpd:  $HTTPD"

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$PORT" "$APP1" "$APP2" "$APP3"; do
    if port_in_use "$p"; then
        np_die "port $p on 127.0.0.1 is in use (another demo running?): stop it, or set DEMO_PORT / DEMO_APP_PORT"
    fi
done

# ---------------------------------------------------------------------------
RUN=$(mktemp -d /tmp/nodeproxy-demo.XXXXXX)
chmod 755 "$RUN"
mkdir "$RUN/htdocs"
cp -R demo/static "$RUN/htdocs/static"
cat >"$RUN/htdocs/maintenance.html" <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Back soon</title></head>
<body><h1>We'll be back shortly</h1>
<p>No app process can answer right now (mod_nodeproxy maintenance page).</p>
</body></html>
HTML
chmod -R a+rX "$RUN/htdocs"

PIDS=()
keep_run=0
# shellcheck disable=SC2317 # called from the EXIT trap
stop_all() {
    local pid
    trap - EXIT INT TERM
    if [ "${#PIDS[@]}" -gt 0 ]; then
        np_info ""
        np_info "stopping: pids ${PIDS[*]}"
        for pid in "${PIDS[@]}"; do
            kill -TERM "$pid" 2>/dev/null || true
        done
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            for pid in "${PIDS[@]}"; do
                if kill -0 "$pid" 2>/dev/null; then
                    sleep 0.5
                    continue 2
                fi
            done
            break
        done
        for pid in "${PIDS[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                np_warn "pid $pid did not stop on TERM: killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
    fi
    if [ "$keep_run" -eq 1 ]; then
        np_info "logs kept in $RUN (error_log, access_log, app*.log)"
    else
        rm -rf "$RUN"
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
np_section "Node.js apps"
i=0
for p in "$APP1" "$APP2" "$APP3"; do
    i=$((i + 1))
    node demo/app.js --name "app$i" --port "$p" >"$RUN/app$i.log" 2>&1 &
    PIDS+=("$!")
done
for p in "$APP1" "$APP2" "$APP3"; do
    for _ in $(seq 1 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:$p/health" 2>/dev/null && break
        sleep 0.2
    done
    if ! curl -fsS -o /dev/null "http://127.0.0.1:$p/health"; then
        keep_run=1
        cat "$RUN"/app*.log >&2
        np_die "the demo app on port $p did not start"
    fi
done
np_info "app1, app2, app3 on ports $APP1, $APP2, $APP3 (pids ${PIDS[*]})"

# ---------------------------------------------------------------------------
np_section "httpd"
USER_LINES="# not root: the children run as $(id -un)"
if np_is_root; then
    USER_LINES="User nobody
Group $(getent group nogroup >/dev/null && echo nogroup || echo nobody)"
fi
TYPES_LINE="# no /etc/mime.types"
[ -f /etc/mime.types ] && TYPES_LINE="TypesConfig /etc/mime.types"

# The whole config. Later work (the balancer issue) switches "/" from one
# app to the <NodeBalancer>: the parts are here, commented.
cat >"$RUN/httpd.conf" <<EOF
# mod_nodeproxy demo, written by scripts/demo.sh. Not the system apache2.
ServerRoot "$RUN"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$RUN/httpd.pid"
DefaultRuntimeDir "$RUN"
ErrorLog "$RUN/error_log"
LogLevel warn nodeproxy:info
$USER_LINES

LoadModule mpm_event_module  "$MODDIR/mod_mpm_event.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
LoadModule authz_host_module "$MODDIR/mod_authz_host.so"
LoadModule alias_module      "$MODDIR/mod_alias.so"
LoadModule mime_module       "$MODDIR/mod_mime.so"
LoadModule dir_module        "$MODDIR/mod_dir.so"
# coming with the balancer issue: member state in shared memory
#LoadModule slotmem_shm_module "$MODDIR/mod_slotmem_shm.so"
LoadModule nodeproxy_module  "$SO"

StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 50
$TYPES_LINE
LogFormat "%h \"%r\" %>s %b %{ms}Tms member=%{nodeproxy-member}n upstream=%{nodeproxy-upstream-ms}nms" nodeproxy
CustomLog "$RUN/access_log" nodeproxy

DocumentRoot "$RUN/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$RUN/htdocs">
    Require all granted
</Directory>
DirectoryIndex index.html

# Apache serves /static/ itself ...
Alias /static/ "$RUN/htdocs/static/"
NodeProxyPass /static/ !

# ... and everything else goes to Node.js: one app for now.
NodeProxyPass / http://127.0.0.1:$APP1/
NodeConnectTimeout 2s
NodeTimeout 30s

# --- coming with the balancer issue: replace the "NodeProxyPass /" line
# above with this pool of the three apps (least pending requests first,
# sticky sessions, active health checks on /health), the maintenance page,
# and the status page.
#<NodeBalancer demo>
#    NodeMember http://127.0.0.1:$APP1-$APP3
#    NodeBalancerMethod least-pending
#    NodeSticky cookie NPROUTE
#    NodeHealthCheck /health interval=2s timeout=1s passes=2 fails=2
#    NodeFailTimeout 5s
#</NodeBalancer>
#NodeProxyPass / balancer://demo/
#NodeMaintenancePage "$RUN/htdocs/maintenance.html" retry-after=10
#NodeMaintenanceFlag "$RUN/maintenance.on"
# --- coming with the WebSocket issue: /ws echoes through the proxy.
#NodeWebSocket on
#NodeWebSocketIdleTimeout 10m
# --- coming with the status issue:
#<Location /nodeproxy-status>
#    SetHandler nodeproxy-status
#    Require ip 127.0.0.1
#</Location>
EOF

if ! "$HTTPD" -t -f "$RUN/httpd.conf" >"$RUN/configtest.log" 2>&1; then
    keep_run=1
    cat "$RUN/configtest.log" >&2
    np_die "the generated config $RUN/httpd.conf does not pass configtest (output above)"
fi
"$HTTPD" -f "$RUN/httpd.conf" -DFOREGROUND >>"$RUN/error_log" 2>&1 &
HTTPD_PID=$!
PIDS+=("$HTTPD_PID")
for _ in $(seq 1 50); do
    kill -0 "$HTTPD_PID" 2>/dev/null || break
    curl -sS -o /dev/null "$URL/static/index.html" 2>/dev/null && break
    sleep 0.2
done
if ! kill -0 "$HTTPD_PID" 2>/dev/null || ! curl -sS -o /dev/null "$URL/static/index.html" 2>/dev/null; then
    keep_run=1
    tail -n 30 "$RUN/error_log" >&2 || true
    np_die "httpd did not start: see $RUN/error_log (last lines above)"
fi
np_info "httpd (pid $HTTPD_PID) on $URL, config $RUN/httpd.conf"

# ---------------------------------------------------------------------------
if [ "$CHECK" -eq 1 ]; then
    np_section "Trying the demo (--check)"
    ok=0 bad=0
    try() {
        local what=$1 expect=$2 out
        shift 2
        if out=$(curl -sS --max-time 10 "$@" 2>&1) && printf '%s' "$out" | grep -q -- "$expect"; then
            ok=$((ok + 1))
            np_info "ok     - $what"
        else
            bad=$((bad + 1))
            np_info "NOT OK - $what: expected '$expect', got:"
            printf '%s\n' "$out" | head -n 10 | sed 's/^/    | /'
        fi
    }
    try "/ is answered by app1 through the proxy" "Hello from app1" "$URL/"
    try "/static/ is served by Apache" "Served by Apache itself" "$URL/static/"
    try "/events streams Server-Sent Events" "event: tick" -N "$URL/events?count=2"
    try "the app sees X-Forwarded-For" "x-forwarded-for: 127.0.0.1" "$URL/"
    np_info "demo check: $ok passed, $bad failed"
    [ "$bad" -eq 0 ] || keep_run=1
    exit $((bad > 0))
fi

cat <<EOF

mod_nodeproxy demo is running on $URL
  httpd pid $HTTPD_PID, apps app1/app2/app3 on ports $APP1/$APP2/$APP3
  logs: $RUN/error_log, $RUN/access_log, $RUN/app*.log
  config: $RUN/httpd.conf

Try:
  # proxied to app1: its name, port and the X-Forwarded-* headers it got
  curl -i $URL/
  # served by Apache itself (NodeProxyPass /static/ !)
  curl -i $URL/static/
  # Server-Sent Events, one a second, passed on without buffering
  curl -N $URL/events
  # the app redirects to its own address; Location is rewritten to $URL/
  curl -i $URL/redirect
  # a slow answer (NodeTimeout 30s turns a slower one into 504)
  curl -i '$URL/slow?ms=1500'
  # a streamed upload
  curl -T /etc/services $URL/upload
  # stop app1 (pid ${PIDS[0]}): the proxy then answers 503
  kill ${PIDS[0]}; curl -i $URL/

Coming with the balancer, WebSocket and status issues:
  for i in 1 2 3 4; do curl -s $URL/ | head -n 1; done   # spread over app1..app3
  curl -s -c /tmp/jar -b /tmp/jar $URL/ | head -n 1       # sticky: always the same app
  node demo/app.js ws-client ws://127.0.0.1:$PORT/ws      # WebSocket echo
  curl -s '$URL/nodeproxy-status?format=json'             # member states

Ctrl-C stops httpd and the three apps.
EOF

# Wait for Ctrl-C (the INT trap exits, the EXIT trap stops everything), or
# for httpd to stop by itself.
wait "$HTTPD_PID" || true
keep_run=1
np_warn "httpd stopped by itself: see $RUN/error_log"
exit 1
