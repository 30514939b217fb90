#!/usr/bin/env bash
# mod_nodeproxy demo: installs what is missing, builds the module, starts
# three demo Node.js apps (demo/app.js) and a real httpd in front of them on
# 127.0.0.1:8080, prints what to try, and stops everything on Ctrl-C.
#
#   scripts/demo.sh            run until Ctrl-C
#   scripts/demo.sh --check    start, try every feature once, stop (exit status)
#
# What the generated httpd.conf shows: a <NodeBalancer> of the three apps
# (least-pending, sticky cookie NPROUTE, health checks on /health), the
# maintenance page and flag file, WebSocket echo on /ws through the same
# NodeProxyPass, /static/ served by Apache, and the status page at
# /nodeproxy-status (Require local).
#
# Environment: DEMO_PORT (8080), DEMO_APP_PORT (3001: the apps use it and
# the next two ports), APXS (/usr/bin/apxs).
# It runs its own httpd (apache2 -f a generated config in a temp directory),
# never the system apache2 service. As root the httpd children run as nobody.
# On exit (Ctrl-C, --check done, an error) it stops exactly the processes it
# started, by pid: the three apps and that httpd.
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
WSURL="ws://127.0.0.1:$PORT/ws"

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

# mod_watchdog runs the health checks: compiled into Debian's apache2, a
# module to load elsewhere.
WATCHDOG_LINE="# mod_watchdog is compiled in"
if ! "$HTTPD" -l 2>/dev/null | grep -q 'mod_watchdog\.c'; then
    [ -f "$MODDIR/mod_watchdog.so" ] ||
        np_die "NodeHealthCheck needs mod_watchdog: neither compiled into $HTTPD nor in $MODDIR"
    WATCHDOG_LINE="LoadModule watchdog_module \"$MODDIR/mod_watchdog.so\""
fi

# ---------------------------------------------------------------------------
RUN=$(mktemp -d /tmp/nodeproxy-demo.XXXXXX)
chmod 755 "$RUN"
mkdir "$RUN/htdocs"
cp -R demo/static "$RUN/htdocs/static"
cp demo/maintenance.html "$RUN/htdocs/maintenance.html"
chmod -R a+rX "$RUN/htdocs"
FLAG="$RUN/maintenance.on"

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

# The apps and httpd run in sessions of their own, so that Ctrl-C reaches
# only this script, whose trap then stops them by pid (httpd and Node would
# otherwise each stop on the terminal's SIGINT, and this script would take
# that for httpd stopping by itself).
SETSID=()
command -v setsid >/dev/null 2>&1 && SETSID=(setsid)

# ---------------------------------------------------------------------------
np_section "Node.js apps"
APP_PORTS=("$APP1" "$APP2" "$APP3")
APP_PIDS=()
i=0
for p in "${APP_PORTS[@]}"; do
    i=$((i + 1))
    "${SETSID[@]}" node demo/app.js --name "app$i" --port "$p" >"$RUN/app$i.log" 2>&1 &
    PIDS+=("$!")
    APP_PIDS+=("$!")
done
for p in "${APP_PORTS[@]}"; do
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
for i in 0 1 2; do
    np_info "app$((i + 1)) on port ${APP_PORTS[$i]}, pid ${APP_PIDS[$i]}"
done

# ---------------------------------------------------------------------------
np_section "httpd"
USER_LINES="# not root: the children run as $(id -un)"
if np_is_root; then
    USER_LINES="User nobody
Group $(getent group nogroup >/dev/null && echo nogroup || echo nobody)"
fi
TYPES_LINE="# no /etc/mime.types"
[ -f /etc/mime.types ] && TYPES_LINE="TypesConfig /etc/mime.types"

cat >"$RUN/httpd.conf" <<EOF
# mod_nodeproxy demo, written by scripts/demo.sh. Not the system apache2.
ServerRoot "$RUN"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$RUN/httpd.pid"
DefaultRuntimeDir "$RUN"
ErrorLog "$RUN/error_log"
# nodeproxy:info logs member state changes (health checks, failures) and
# the maintenance flag appearing and going.
LogLevel warn nodeproxy:info
$USER_LINES

LoadModule mpm_event_module  "$MODDIR/mod_mpm_event.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
LoadModule authz_host_module "$MODDIR/mod_authz_host.so"
LoadModule alias_module      "$MODDIR/mod_alias.so"
LoadModule mime_module       "$MODDIR/mod_mime.so"
LoadModule dir_module        "$MODDIR/mod_dir.so"
$WATCHDOG_LINE
LoadModule nodeproxy_module  "$SO"

StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 25
MaxSpareThreads 50
# Open WebSockets hold no worker thread but count as connections of their
# child: the event MPM accepts up to ThreadsPerChild * (factor + 1) per child.
AsyncRequestWorkerFactor 200
$TYPES_LINE
LogFormat "%h \"%r\" %>s %b %{ms}Tms member=%{nodeproxy-member}n upstream=%{nodeproxy-upstream-ms}nms attempts=%{nodeproxy-attempts}n" nodeproxy
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

# ... and everything else goes to the three Node.js apps: the least busy
# one first, a session stays on its app (cookie NPROUTE=app1/app2/app3),
# and an app whose /health fails twice in a row gets no more requests.
<NodeBalancer demo>
    NodeMember http://127.0.0.1:$APP1 route=app1
    NodeMember http://127.0.0.1:$APP2 route=app2
    NodeMember http://127.0.0.1:$APP3 route=app3
    NodeBalancerMethod least-pending
    NodeSticky cookie NPROUTE
    NodeHealthCheck /health interval=2s timeout=1s passes=2 fails=2
    NodeFailTimeout 5s
</NodeBalancer>
NodeProxyPass / balancer://demo/
NodeConnectTimeout 2s
NodeTimeout 30s

# No app can answer, or the flag file exists: 503 with this page (JSON for
# clients that prefer it), Retry-After: 10 and Cache-Control: no-store.
NodeMaintenancePage "$RUN/htdocs/maintenance.html" retry-after=10
NodeMaintenanceFlag "$FLAG"

# WebSocket upgrades on any proxied path (the apps echo on /ws) are
# tunnelled by the same NodeProxyPass; on by default.
NodeWebSocket on
NodeWebSocketIdleTimeout 10m

# The status page: never proxied, from this machine only.
<Location /nodeproxy-status>
    SetHandler nodeproxy-status
    Require local
</Location>
EOF

if ! "$HTTPD" -t -f "$RUN/httpd.conf" >"$RUN/configtest.log" 2>&1; then
    keep_run=1
    cat "$RUN/configtest.log" >&2
    np_die "the generated config $RUN/httpd.conf does not pass configtest (output above)"
fi
"${SETSID[@]}" "$HTTPD" -f "$RUN/httpd.conf" -DFOREGROUND >>"$RUN/error_log" 2>&1 &
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

# The WebSocket client, one line of node with the demo's pinned ws package:
# prints the app's greeting, sends one message, prints the echo.
WS_CLIENT="node -e 'const W=require(\"$NP_TOP/demo/node_modules/ws\");const w=new W(\"$WSURL\");let n=0;w.on(\"message\",m=>{console.log(\"< \"+m);if(n++)w.close();else w.send(\"hello through mod_nodeproxy\")});w.on(\"error\",e=>{console.error(e.message);process.exit(1)})'"

# ---------------------------------------------------------------------------
if [ "$CHECK" -eq 1 ]; then
    np_section "Trying the demo (--check)"
    ok=0 bad=0
    JAR="$RUN/cookies.txt"
    report() {   # report WHAT STATUS OUTPUT
        if [ "$2" -eq 0 ]; then
            ok=$((ok + 1))
            np_info "ok     - $1"
        else
            bad=$((bad + 1))
            np_info "NOT OK - $1; got:"
            printf '%s\n' "$3" | head -n 12 | sed 's/^/    | /'
        fi
    }
    # try WHAT EXPECT CURL-ARGS...: the output of curl contains EXPECT
    try() {
        local what=$1 expect=$2 out rc=0
        shift 2
        out=$(curl -sS --max-time 10 "$@" 2>&1) && printf '%s' "$out" | grep -q -- "$expect" || rc=1
        report "$what" "$rc" "$out"
    }
    names_of() {   # the app names that answer N plain requests (no cookie)
        for _ in $(seq 1 "$1"); do
            curl -sS --max-time 10 "$URL/" | sed -n 's/^Hello from \(app[0-9]\).*/\1/p'
        done
    }
    # A JSON check of the status page, in node: prints what is wrong.
    # shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
    status_json() {
        curl -sS --max-time 10 "$URL/nodeproxy-status?format=json" | node -e '
            let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
              const want = process.argv.slice(1);
              let j; try { j = JSON.parse(s); } catch (e) { console.log("not JSON: " + s.slice(0, 200)); process.exit(1); }
              const b = (j.balancers || []).find(x => x.name === "demo");
              if (!b) { console.log("no balancer demo: " + s.slice(0, 300)); process.exit(1); }
              const got = b.members.map(m => `${m.route}:${m.state}`).join(" ");
              const ok = b.method === "least-pending" && b.sticky_cookie === "NPROUTE" &&
                b.members.every(m => m.health && m.health.enabled) && got === want.join(" ");
              console.log(`method=${b.method} sticky=${b.sticky_cookie} members: ${got}` +
                ` requests: ${b.members.map(m => m.requests).join("/")}` +
                ` tunnels_total=${j.websocket && j.websocket.tunnels_total}`);
              process.exit(ok ? 0 : 1);
            });' "$@"
    }

    try "/static/ is served by Apache" "Served by Apache itself" "$URL/static/"

    out=$(names_of 6 | sort | uniq -c | tr -s ' ' | tr '\n' ',')
    rc=0
    for a in app1 app2 app3; do
        printf '%s' "$out" | grep -q " $a" || rc=1
    done
    report "balancing: 6 requests without a cookie reach app1, app2 and app3 ($out)" "$rc" "$out"

    out=$(curl -sS --max-time 10 -i -c "$JAR" "$URL/" 2>&1)
    rc=0
    printf '%s' "$out" | grep -qi '^Set-Cookie: NPROUTE=app[123]; Path=/; HttpOnly; SameSite=Lax' || rc=1
    report "sticky: the proxy sets NPROUTE=<route>; Path=/; HttpOnly; SameSite=Lax" "$rc" "$out"
    first=$(sed -n 's/.*NPROUTE[[:space:]]*\(app[123]\).*/\1/p' "$JAR" | head -n 1)
    out=""
    for _ in 1 2 3 4 5; do
        out+=$(curl -sS --max-time 10 -b "$JAR" -c "$JAR" "$URL/" | head -n 1)$'\n'
    done
    rc=0
    [ -n "$first" ] && [ "$(printf '%s' "$out" | grep -c "^Hello from $first ")" -eq 5 ] || rc=1
    report "sticky: 5 requests with the cookie all reach ${first:-?}" "$rc" "$out"
    try "sticky: the app's in-memory session counts the visits" "visits of your session on ${first:-?}: [4-9]" -b "$JAR" "$URL/"

    try "/events streams Server-Sent Events through the balancer" "event: tick" -N "$URL/events?count=2"
    try "the app sees X-Forwarded-For" "x-forwarded-for: 127.0.0.1" "$URL/"

    rc=0
    out=$(eval "timeout 10 $WS_CLIENT" 2>&1) || rc=1
    printf '%s' "$out" | grep -q '^< app[123]: hello through mod_nodeproxy$' || rc=1
    report "WebSocket echo through the same NodeProxyPass ($WSURL)" "$rc" "$out"

    # Give the health checks time to run once (interval=2s).
    sleep 2.5
    rc=0
    out=$(status_json app1:usable app2:usable app3:usable 2>&1) || rc=1
    report "status JSON: balancer demo, three usable members with health checks" "$rc" "$out"
    try "status HTML page" "<table" "$URL/nodeproxy-status"
    try "status Prometheus metrics" 'nodeproxy_member_up{balancer="demo"' "$URL/nodeproxy-status?format=prometheus"
    rc=0
    out=$(grep -m 3 '"GET / HTTP/1.1" 200 .* member=http://127.0.0.1:[0-9]* upstream=[0-9]*ms attempts=1$' "$RUN/access_log") || {
        rc=1
        out=$(tail -n 5 "$RUN/access_log")
    }
    report "the access log has the nodeproxy-member/-upstream-ms/-attempts notes" "$rc" "$out"

    touch "$FLAG"
    sleep 1.2
    try "maintenance flag: 503 with Retry-After and the page" "Retry-After: 10" -i "$URL/"
    try "maintenance flag: JSON for clients that prefer it" '"status":503' -H 'Accept: application/json' "$URL/"
    try "maintenance flag: /static/ is still served" "Served by Apache itself" "$URL/static/"
    rm -f "$FLAG"
    sleep 1.2
    try "maintenance flag removed: the apps answer again" "Hello from app" "$URL/"

    # Failover: stop app3; every request is still answered (a refused
    # connect moves on to the next member), and app3 is out of the pool.
    kill -TERM "${APP_PIDS[2]}" 2>/dev/null || true
    for _ in $(seq 1 25); do
        kill -0 "${APP_PIDS[2]}" 2>/dev/null || break
        sleep 0.2
    done
    out=""
    rc=0
    for _ in 1 2 3 4 5 6; do
        line=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL/")
        out+="$line "
        [ "$line" = 200 ] || rc=1
    done
    report "failover: with app3 stopped, 6 requests all get 200 ($out)" "$rc" "$out"
    rc=0
    out=$(status_json app1:usable app2:usable app3:failed 2>&1) ||
        out=$(status_json app1:usable app2:usable app3:unhealthy 2>&1) || rc=1
    report "failover: the status page shows app3 out of the pool" "$rc" "$out"

    np_info "demo check: $ok passed, $bad failed"
    [ "$bad" -eq 0 ] || keep_run=1
    exit $((bad > 0))
fi

cat <<EOF

mod_nodeproxy demo is running on $URL
  httpd pid $HTTPD_PID, config $RUN/httpd.conf
  app1 port $APP1 pid ${APP_PIDS[0]}, app2 port $APP2 pid ${APP_PIDS[1]}, app3 port $APP3 pid ${APP_PIDS[2]}
  logs: $RUN/error_log, $RUN/access_log, $RUN/app*.log

Try:
  # balancing: requests without a cookie spread over app1, app2, app3
  for i in 1 2 3 4 5 6; do curl -s $URL/ | head -n 1; done
  # sticky sessions: the proxy sets NPROUTE=appN; with it you stay on appN
  # (and the app's in-memory session counter goes up)
  curl -si -c /tmp/np-jar $URL/ | grep -i set-cookie
  for i in 1 2 3; do curl -s -b /tmp/np-jar $URL/ | sed -n '1p;3p'; done
  # WebSocket echo through the same NodeProxyPass (demo/node_modules/ws):
  $WS_CLIENT
  #   or: node demo/app.js ws-client $WSURL 'your message'
  # Server-Sent Events, one a second, passed on without buffering
  curl -N $URL/events
  # served by Apache itself (NodeProxyPass /static/ !)
  curl -i $URL/static/
  # the status page: HTML (open it in a browser), JSON, Prometheus
  curl -s '$URL/nodeproxy-status?format=json'
  curl -s '$URL/nodeproxy-status?format=prometheus' | grep member_up
  #   $URL/nodeproxy-status?refresh=2 in a browser on this machine

  # failover: stop app2; requests keep working, app2 shows "failed", then
  # "unhealthy" after two failed health checks (see $RUN/error_log)
  kill ${APP_PIDS[1]}
  for i in 1 2 3 4; do curl -s $URL/ | head -n 1; done
  # health checks: make app1's /health answer 503 (it still serves /);
  # after 2 failed checks (~4s) it gets no requests; /admin/up brings it back
  curl -s http://127.0.0.1:$APP1/admin/down
  curl -s http://127.0.0.1:$APP1/admin/up

  # maintenance: while the flag file exists every proxied request gets the
  # page with 503 and Retry-After (JSON for API clients); /static/ is unaffected
  touch $FLAG
  curl -i $URL/
  curl -s -H 'Accept: application/json' $URL/
  rm $FLAG
  # the page is also what clients get when no app can answer:
  kill ${APP_PIDS[0]} ${APP_PIDS[1]} ${APP_PIDS[2]}; curl -i $URL/

  # the access log names the member, its time and the attempts
  tail $RUN/access_log

Ctrl-C stops httpd and the three apps (only the pids above).
EOF

# Wait for Ctrl-C (the INT trap exits, the EXIT trap stops everything), or
# for httpd to stop by itself.
wait "$HTTPD_PID" || true
keep_run=1
np_warn "httpd stopped by itself: see $RUN/error_log"
exit 1
