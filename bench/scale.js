'use strict';
// bench/scale.js: the scale benchmark (issue 19); bench/scale.sh runs it.
// Many idle WebSockets with heartbeats, and many Server-Sent Events streams,
// through one httpd (mod_nodeproxy) and, side by side in the same run, nginx.
//
//   node scale.js run [options]            the whole benchmark (as root)
//   node scale.js wsserver PORT            ws echo backend (+ plain GET: 200 ok)
//   node scale.js sseserver PORT EVERY_MS  SSE backend: GET /.../sse?i=N streams
//                                          one 100-byte event every EVERY_MS
//   node scale.js wsclients JSON           a client worker (driven by `run`)
//   node scale.js sseclients JSON          a client worker (driven by `run`)
//
// Workers read commands on stdin, one per line (hb, reset, report, quit) and
// answer JSON lines on stdout. Every wait is bounded; `run` stops only the
// processes it started, by pid, also on error.
const cp = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const readline = require('readline');

let WebSocket = null;
for (const p of ['ws', path.join(__dirname, 'node_modules', 'ws'),
                 path.join(__dirname, '..', 't', 'backends', 'node_modules', 'ws')]) {
  try { WebSocket = require(p); break; } catch (e) { /* next */ }
}

const nowMs = () => performance.timeOrigin + performance.now();
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function commands(handlers) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (l) => { const h = handlers[l.trim()]; if (h) h(); });
  rl.on('close', () => process.exit(0));
}

// ---- backends ------------------------------------------------------------------

function plainAnswer(req, res) {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
  res.end('ok\n');
}

function wsServer(port) {
  const server = http.createServer(plainAnswer);
  const wss = new WebSocket.Server({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  server.listen(port, '127.0.0.1', () => out({ listening: port }));
  process.on('SIGTERM', () => process.exit(0));
}

// Each stream gets its first event at a phase spread over the interval (by
// its index i of n), then one every EVERY_MS: the load is even, not bursts.
function sseServer(port, every) {
  const pad = 'x'.repeat(100);
  const server = http.createServer((req, res) => {
    const m = /\/sse\?i=(\d+)&n=(\d+)/.exec(req.url || '');
    if (!m) { plainAnswer(req, res); return; }
    const i = Number(m[1]), n = Math.max(1, Number(m[2]));
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
                         'X-Accel-Buffering': 'no' });
    res.write(':ok\n\n');
    let iv = null;
    const send = () => {
      // "data: " + ms timestamp, padded so that the event is 100 bytes
      const head = 'data: ' + nowMs().toFixed(3) + ' ';
      res.write(head + pad.slice(0, 100 - head.length - 2) + '\n\n');
    };
    const first = setTimeout(() => { send(); iv = setInterval(send, every); }, (i / n) * every);
    const stop = () => { clearTimeout(first); if (iv) clearInterval(iv); };
    res.on('close', stop);   // the client went away (req's 'close' comes at once)
    res.on('error', stop);
  });
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.listen(port, '127.0.0.1', () => out({ listening: port }));
  process.on('SIGTERM', () => process.exit(0));
}

// ---- client workers ----------------------------------------------------------

async function pool(n, conc, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, conc) }, async () => {
    while (next < n) { const i = next++; await fn(i); }
  }));
}

// cfg: {urls: [...], count, base, total, addrs: [...], conc, hb_ms, timeout_ms}
// client g = base + k uses urls[g % urls.length] and addrs[g % addrs.length]
async function wsClients(cfg) {
  const socks = [];
  let failed = 0, closedEarly = 0;
  const errors = {};
  let recording = false, samples = [], sent = 0, echoed = 0;
  const t0 = Date.now();
  await pool(cfg.count, cfg.conc, (k) => new Promise((resolve) => {
    const g = cfg.base + k;
    const ws = new WebSocket(cfg.urls[g % cfg.urls.length], {
      perMessageDeflate: false, localAddress: cfg.addrs[g % cfg.addrs.length],
      handshakeTimeout: cfg.timeout_ms || 60000 });
    let settled = false;
    const s = { ws, g, at: 0 };
    ws.on('open', () => { if (!settled) { settled = true; socks.push(s); resolve(); } });
    ws.on('error', (e) => {
      const key = String(e.code || e.message).slice(0, 60);
      errors[key] = (errors[key] || 0) + 1;
      if (!settled) { settled = true; failed++; resolve(); }
    });
    ws.on('close', () => { if (settled && s.at >= 0) closedEarly++; s.at = -1; });
    ws.on('message', () => {
      if (s.at > 0) {
        if (recording) { samples.push(Math.round((nowMs() - s.at) * 1000)); echoed++; }
        s.at = 0;
      }
    });
  }));
  out({ opened: socks.length, failed, errors, open_ms: Date.now() - t0 });
  const timers = [];
  commands({
    hb: () => {
      // socket.io style: a 1-byte ping ("2") every hb_ms, phases spread evenly
      for (const s of socks) {
        const beat = () => {
          if (s.at >= 0 && s.ws.readyState === WebSocket.OPEN) {
            s.at = nowMs();
            s.ws.send('2');
            if (recording) sent++;
          }
        };
        timers.push(setTimeout(() => { beat(); timers.push(setInterval(beat, cfg.hb_ms)); },
                               (s.g / cfg.total) * cfg.hb_ms));
      }
      out({ hb: socks.length });
    },
    reset: () => { recording = true; samples = []; sent = 0; echoed = 0; out({ reset: true }); },
    report: () => { recording = false; out({ sent, echoed, closed_early: closedEarly, samples }); },
    quit: () => {
      for (const t of timers) { clearTimeout(t); clearInterval(t); }
      for (const s of socks) s.ws.terminate();
      out({ bye: true });
      setTimeout(() => process.exit(0), 200);
    },
  });
}

async function sseClients(cfg) {
  let opened = 0, failed = 0, closedEarly = 0;
  const errors = {};
  const reqs = [];
  let recording = false, samples = [], events = 0;
  const t0 = Date.now();
  await pool(cfg.count, cfg.conc, (k) => new Promise((resolve) => {
    const g = cfg.base + k;
    const u = new URL(cfg.urls[g % cfg.urls.length] + '?i=' + g + '&n=' + cfg.total);
    let settled = false;
    const done = (ok, why) => {
      if (settled) return;
      settled = true;
      if (ok) opened++; else { failed++; errors[why] = (errors[why] || 0) + 1; }
      resolve();
    };
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false,
                           localAddress: cfg.addrs[g % cfg.addrs.length],
                           headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) { res.resume(); done(false, 'status ' + res.statusCode); return; }
      res.setEncoding('latin1');
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (ev === ':ok') { done(true); continue; }
          if (recording && ev.startsWith('data: ')) {
            samples.push(Math.round((nowMs() - parseFloat(ev.slice(6))) * 1000));
            events++;
          }
        }
      });
      res.on('end', () => { if (settled) closedEarly++; done(false, 'ended'); });
      res.on('error', () => {});
    });
    req.setTimeout(cfg.timeout_ms || 60000, () => { if (!settled) { req.destroy(); done(false, 'timeout'); } });
    req.on('error', (e) => done(false, String(e.code || e.message).slice(0, 60)));
    req.on('socket', (s) => { s.setTimeout(0); });
    reqs.push(req);
  }));
  out({ opened, failed, errors, open_ms: Date.now() - t0 });
  commands({
    hb: () => out({ hb: 0 }),
    reset: () => { recording = true; samples = []; events = 0; out({ reset: true }); },
    report: () => { recording = false; out({ events, closed_early: closedEarly, samples }); },
    quit: () => { for (const r of reqs) r.destroy(); out({ bye: true }); setTimeout(() => process.exit(0), 200); },
  });
}

// ---- the driver -----------------------------------------------------------------

const started = [];   // child processes we started: {pid, proc, name}

function spawnLogged(name, cmd, args, logFile, opts) {
  const fd = fs.openSync(logFile, 'a');
  const proc = cp.spawn(cmd, args, Object.assign({ stdio: ['pipe', 'pipe', fd] }, opts || {}));
  fs.closeSync(fd);
  const e = { pid: proc.pid, proc, name, lines: [], waiters: [] };
  started.push(e);
  readline.createInterface({ input: proc.stdout }).on('line', (l) => {
    let j; try { j = JSON.parse(l); } catch (err) { return; }
    const w = e.waiters.shift();
    if (w) w(j); else e.lines.push(j);
  });
  proc.on('exit', () => { e.exited = true; const w = e.waiters.splice(0); w.forEach((f) => f(null)); });
  return e;
}

function nextLine(e, timeoutMs) {
  if (e.lines.length) return Promise.resolve(e.lines.shift());
  if (e.exited) return Promise.resolve(null);
  return new Promise((resolve) => {
    const t = setTimeout(() => { const i = e.waiters.indexOf(f); if (i >= 0) e.waiters.splice(i, 1); resolve(null); }, timeoutMs);
    const f = (j) => { clearTimeout(t); resolve(j); };
    e.waiters.push(f);
  });
}

async function stopProc(e, graceMs) {
  if (!e || e.exited) return;
  try { process.kill(e.pid, 'SIGTERM'); } catch (err) { return; }
  const until = Date.now() + (graceMs || 20000);
  while (!e.exited && Date.now() < until) await sleep(100);
  if (!e.exited) { try { process.kill(e.pid, 'SIGKILL'); } catch (err) { /* gone */ } }
  const i = started.indexOf(e);
  if (i >= 0) started.splice(i, 1);
}

function waitTcp(port, timeoutMs) {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const tryOnce = () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => { s.destroy(); if (Date.now() > until) resolve(false); else setTimeout(tryOnce, 200); });
    };
    tryOnce();
  });
}

function childrenOf(pid) {
  const kids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync('/proc/' + d + '/stat', 'latin1');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) kids.push(Number(d));
    } catch (err) { /* gone */ }
  }
  return kids;
}
const treeOf = (pid) => [pid].concat(childrenOf(pid));
const TICK_US = 1e6 / Number(cp.execSync('getconf CLK_TCK').toString().trim() || 100);
function cpuUs(pids) {
  let t = 0;
  for (const p of pids) {
    try {
      const st = fs.readFileSync('/proc/' + p + '/stat', 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      t += (Number(f[11]) + Number(f[12])) * TICK_US;
    } catch (err) { /* gone */ }
  }
  return t;
}
function statusField(pids, field) {
  let s = 0;
  for (const p of pids) {
    try {
      const m = new RegExp('^' + field + ':\\s+(\\d+)', 'm').exec(fs.readFileSync('/proc/' + p + '/status', 'latin1'));
      if (m) s += Number(m[1]);
    } catch (err) { /* gone */ }
  }
  return s;
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

function plainGet(port, p, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = nowMs();
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: nowMs() - t0 }));
    });
    req.setTimeout(timeoutMs, () => { req.destroy(); resolve({ status: 0, ms: nowMs() - t0 }); });
    req.on('error', () => resolve({ status: 0, ms: nowMs() - t0 }));
  });
}

function httpdConf(o, W, scen, nb, bport) {
  const S = o.children;
  const lines = [
    '# generated by bench/scale.js', `ServerRoot "${W}"`, 'ServerName 127.0.0.1',
    `DefaultRuntimeDir "${W}/run/np"`, `PidFile "${W}/run/np/httpd.pid"`,
    `ErrorLog "${W}/logs/np.${scen}.error.log"`, 'LogLevel warn', `User ${o.user}`, `Group ${o.user}`,
    'LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so',
    'LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so',
    'LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so',
    'LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so',
    'LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so',
    'TypesConfig /etc/mime.types',
    // Sizing (docs/benchmarks.md): a child holds 2 fds per tunnel or stream
    // (client, backend) under the 20,000 open-files hard limit, so at most
    // PER_CHILD each; the event MPM stops a child accepting at ThreadsPerChild
    // + AsyncRequestWorkerFactor x idle workers connections, suspended ones
    // included, which the factor sets to about PER_CHILD.
    `StartServers ${S}`, `ServerLimit ${S}`, 'ThreadLimit 25', 'ThreadsPerChild 25',
    `MaxRequestWorkers ${S * 25}`, 'MinSpareThreads 1', `MaxSpareThreads ${S * 25}`,
    'MaxConnectionsPerChild 0', `AsyncRequestWorkerFactor ${o.factor}`,
    'KeepAlive On', 'MaxKeepAliveRequests 0', 'KeepAliveTimeout 30', 'Timeout 60',
    `DocumentRoot "${W}/htdocs"`,
    `LoadModule nodeproxy_module ${W}/mod_nodeproxy.so`,
    `Listen 127.0.0.1:${o.p_np}`,
    'NodeWebSocketIdleTimeout 300s',
    'NodeTimeout 120s',
  ];
  for (let b = 0; b < nb; b++) lines.push(`NodeProxyPass /b${b}/ http://127.0.0.1:${bport + b}/`);
  return lines.join('\n') + '\n';
}

function nginxConf(o, W, scen, nb, bport) {
  const nw = o.nginx_workers;
  let s = `# generated by bench/scale.js
worker_processes ${nw};
worker_rlimit_nofile 20000;
user ${o.user};
pid ${W}/run/ng/nginx.pid;
error_log ${W}/logs/ng.${scen}.error.log warn;
events { worker_connections 19500; }
http {
    access_log off;
    client_body_temp_path ${W}/run/ng/body;
    proxy_temp_path ${W}/run/ng/proxy;
    fastcgi_temp_path ${W}/run/ng/fastcgi;
    uwsgi_temp_path ${W}/run/ng/uwsgi;
    scgi_temp_path ${W}/run/ng/scgi;
    map $http_upgrade $conn_upgrade { default upgrade; '' ''; }
    server {
        listen 127.0.0.1:${o.p_ng} reuseport backlog=4096;
`;
  for (let b = 0; b < nb; b++) {
    s += `        location /b${b}/ { proxy_pass http://127.0.0.1:${bport + b}/; proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $conn_upgrade;
            proxy_buffering off; proxy_read_timeout 600s; }\n`;
  }
  return s + '    }\n}\n';
}

async function runScenario(o, W, scen, setup, nb, bport, res) {
  const n = scen === 'ws' ? o.ws : o.sse;
  const key = scen + '.' + setup;
  const r = res[key] = { n };
  let srv;
  fs.mkdirSync(`${W}/run/${setup}`, { recursive: true });
  if (setup === 'np') {
    const conf = `${W}/conf/np.${scen}.conf`;
    fs.writeFileSync(conf, httpdConf(o, W, scen, nb, bport));
    srv = spawnLogged('httpd', '/usr/sbin/apache2', ['-f', conf, '-D', 'FOREGROUND'], `${W}/logs/np.${scen}.stdout`);
  }
  else {
    const conf = `${W}/conf/ng.${scen}.conf`;
    fs.writeFileSync(conf, nginxConf(o, W, scen, nb, bport));
    srv = spawnLogged('nginx', 'nginx', ['-p', `${W}/run/ng`, '-c', conf, '-g', 'daemon off;'], `${W}/logs/ng.${scen}.stdout`);
  }
  const port = setup === 'np' ? o.p_np : o.p_ng;
  if (!await waitTcp(port, 30000)) { r.error = 'proxy did not start'; await stopProc(srv); return; }
  await sleep(2000);
  const pids0 = treeOf(srv.pid);
  r.procs = pids0.length;
  r.rss0 = statusField(pids0, 'VmRSS');
  const nc = Math.ceil(n / o.per_proc);
  const workers = [];
  const spawnClient = (c) => {
    const count = Math.min(o.per_proc, n - c * o.per_proc);
    const cfg = { urls: [], count, base: c * o.per_proc, total: n, addrs: o.addrs,
                  conc: o.conc, hb_ms: o.hb * 1000, timeout_ms: 60000 };
    for (let b = 0; b < nb; b++) cfg.urls.push(scen === 'ws' ? `ws://127.0.0.1:${port}/b${b}/` : `http://127.0.0.1:${port}/b${b}/sse`);
    const w = spawnLogged('client' + c, process.execPath, [__filename, scen === 'ws' ? 'wsclients' : 'sseclients', JSON.stringify(cfg)],
                          `${W}/logs/${key}.client${c}.log`);
    workers.push(w);
    return w;
  };
  // Two waves of client processes (when there are two or more), with the
  // proxy's RSS read after each: the growth over the second wave divided by
  // the tunnels it added is the memory a tunnel costs at the margin, without
  // what the first connections touch once (thread stacks, malloc arenas,
  // code and data pages on first use), which the plain ratio spreads over N.
  const waves = nc >= 2 ? [Math.floor(nc / 2), nc] : [nc];
  r.errors = {};
  r.opened = 0;
  r.open_s = 0;
  let from = 0;
  for (const upTo of waves) {
    const t0 = Date.now();
    const wave = [];
    for (let c = from; c < upTo; c++) wave.push(spawnClient(c));
    from = upTo;
    const opens = await Promise.all(wave.map((w) => nextLine(w, o.open_timeout * 1000)));
    r.open_s += (Date.now() - t0) / 1000;
    r.opened += opens.reduce((s, x) => s + ((x && x.opened) || 0), 0);
    for (const x of opens) for (const [k, v] of Object.entries((x && x.errors) || {})) r.errors[k] = (r.errors[k] || 0) + v;
    log(`${key}: ${r.opened}/${n} open ${upTo < nc ? 'in the first wave' : 'in'} ${r.open_s.toFixed(1)} s` +
        (Object.keys(r.errors).length ? ' errors ' + JSON.stringify(r.errors) : ''));
    await sleep(3000);
    const pids = treeOf(srv.pid);
    if (upTo < nc) { r.rss_mid = statusField(pids, 'VmRSS'); r.opened_mid = r.opened; continue; }
    r.rss1 = statusField(pids, 'VmRSS');
    r.threads = statusField(pids, 'Threads');
    r.procs = pids.length;
  }
  r.kib_each = r.opened ? (r.rss1 - r.rss0) / r.opened : null;
  r.kib_margin = r.rss_mid !== undefined && r.opened > r.opened_mid
    ? (r.rss1 - r.rss_mid) / (r.opened - r.opened_mid) : null;
  for (const w of workers) w.proc.stdin.write('hb\n');
  await Promise.all(workers.map((w) => nextLine(w, 30000)));
  const every = (scen === 'ws' ? o.hb : o.sse_every) * 1000;
  await sleep(every);                     // one interval: every stream in step
  for (const w of workers) w.proc.stdin.write('reset\n');
  await Promise.all(workers.map((w) => nextLine(w, 30000)));
  const c0 = cpuUs(treeOf(srv.pid));
  const l0 = os.loadavg();
  const tw = Date.now();
  const plain = [];
  // the window: two intervals of this scenario unless --window says
  const windowMs = (o.window || 2 * (scen === 'ws' ? o.hb : o.sse_every)) * 1000;
  const gap = windowMs / (o.plain + 1);
  for (let i = 0; i < o.plain; i++) {
    await sleep(Math.max(0, tw + (i + 1) * gap - Date.now()));
    plain.push(await plainGet(port, `/b${i % nb}/plain`, 10000));
  }
  await sleep(Math.max(0, tw + windowMs - Date.now()));
  const c1 = cpuUs(treeOf(srv.pid));
  r.window_s = (Date.now() - tw) / 1000;
  for (const w of workers) w.proc.stdin.write('report\n');
  const reps = await Promise.all(workers.map((w) => nextLine(w, 60000)));
  const samples = [];
  r.msgs = 0; r.sent = 0; r.closed_early = 0;
  for (const x of reps) {
    if (!x) continue;
    r.msgs += scen === 'ws' ? x.echoed : x.events;
    r.sent += x.sent || 0;
    r.closed_early += x.closed_early || 0;
    for (const s of x.samples) samples.push(s);
  }
  samples.sort((a, b) => a - b);
  r.p50_ms = samples.length ? pct(samples, 50) / 1000 : null;
  r.p99_ms = samples.length ? pct(samples, 99) / 1000 : null;
  r.cpu_us_msg = r.msgs ? (c1 - c0) / r.msgs : null;
  r.cpu_pct = (c1 - c0) / (r.window_s * 1e6) * 100;
  const pl = plain.map((x) => x.ms).sort((a, b) => a - b);
  r.plain_ok = plain.filter((x) => x.status === 200).length;
  r.plain_n = plain.length;
  r.plain_p50 = pct(pl, 50);
  r.plain_max = pl.length ? pl[pl.length - 1] : null;
  r.load = l0.map((x) => x.toFixed(2)).join(' ');
  log(`${key}: ${r.msgs} ${scen === 'ws' ? 'heartbeats echoed' : 'events'} in ${r.window_s.toFixed(1)} s, ` +
      `p50 ${r.p50_ms} ms p99 ${r.p99_ms} ms, CPU ${r.cpu_us_msg && r.cpu_us_msg.toFixed(1)} us/msg, ` +
      `${r.kib_each && r.kib_each.toFixed(2)} KiB each (${r.kib_margin && r.kib_margin.toFixed(2)} in the 2nd wave), plain ${r.plain_ok}/${r.plain_n} max ${r.plain_max && r.plain_max.toFixed(1)} ms`);
  for (const w of workers) { try { w.proc.stdin.write('quit\n'); } catch (e) { /* gone */ } }
  await Promise.all(workers.map((w) => nextLine(w, 20000)));
  for (const w of workers) await stopProc(w, 5000);
  await stopProc(srv, 30000);
}

function log(s) { process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${s}\n`); }

function fmt(x, d) { return x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(d); }

function report(o, res, meta) {
  const small = o.ws < 100000 || o.sse < 20000;
  let s = `\n## Scale: idle WebSockets with heartbeats, SSE streams (issue 19)${small ? ' - SMALL-SCALE RUN' : ''}\n\n`;
  if (small) {
    s += `**Small-scale run** (${o.ws} WebSockets with a heartbeat every ${o.hb} s, ${o.sse} SSE streams with ` +
         `an event every ${o.sse_every} s): it checks the benchmark end to end; the full run ` +
         `(100,000 WebSockets, 20,000 SSE streams, 25 s / 5 s) is pending a quiet machine.\n\n`;
  }
  s += '|  |  |\n|---|---:|\n';
  for (const [k, v] of Object.entries(meta)) s += `| ${k} | ${v} |\n`;
  s += `\nReproduce: \`${meta.command}\`\n\n`;
  s += '| scenario | setup | streams | opened | open all (s) | procs | RSS before | RSS after | KiB each | KiB each, 2nd wave | ' +
       'msgs in window | CPU us/msg | CPU % | p50 ms | p99 ms | plain req p50 / max ms | closed early | load at window |\n' +
       '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const scen of ['ws', 'sse']) {
    for (const setup of ['np', 'ng']) {
      const r = res[scen + '.' + setup];
      if (!r) continue;
      s += `| ${scen === 'ws' ? 'WebSocket heartbeat' : 'SSE event'} | ${setup === 'np' ? 'mod_nodeproxy' : 'nginx'} | ${r.n} | ${r.opened ?? '-'} | ` +
           `${fmt(r.open_s, 1)} | ${r.procs ?? '-'} | ${fmt(r.rss0 / 1024, 0)} MiB | ${fmt(r.rss1 / 1024, 0)} MiB | ${fmt(r.kib_each, 2)} | ${fmt(r.kib_margin, 2)} | ` +
           `${r.msgs ?? '-'} | ${fmt(r.cpu_us_msg, 1)} | ${fmt(r.cpu_pct, 1)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ` +
           `${fmt(r.plain_p50, 1)} / ${fmt(r.plain_max, 1)} (${r.plain_ok ?? 0}/${r.plain_n ?? 0} ok) | ${r.closed_early ?? '-'} | ${r.load ?? '-'} |\n`;
    }
  }
  const t = [];
  const ratio = (a, b) => (a !== null && b) ? a / b : null;
  const w = res['ws.np'] || {}, wn = res['ws.ng'] || {}, e = res['sse.np'] || {}, en = res['sse.ng'] || {};
  const row = (name, val, ok, margin) => t.push(`| ${name} | ${val} | ${ok === null ? 'not measured' : ok ? 'met' : 'MISSED'} | ${margin} |`);
  const mk = w.kib_each ?? null, rk = ratio(mk, wn.kib_each);
  row('httpd memory per idle tunnel <= 8 KiB', `${fmt(mk, 2)} KiB`, mk === null ? null : mk <= 8, `${fmt(8 - mk, 2)} KiB`);
  const mm = w.kib_margin ?? null, rm = ratio(mm, wn.kib_margin);
  row('... the same, counted over the second wave only (see text)', `${fmt(mm, 2)} KiB (nginx ${fmt(wn.kib_margin, 2)} KiB, ${fmt(rm, 2)}x)`,
      mm === null ? null : mm <= 8, `${fmt(8 - mm, 2)} KiB`);
  row('... and <= 0.5x nginx\'s', `${fmt(rk, 2)}x (nginx ${fmt(wn.kib_each, 2)} KiB)`, rk === null ? null : rk <= 0.5, `${fmt(0.5 - rk, 2)}`);
  const rc = ratio(w.cpu_us_msg, wn.cpu_us_msg);
  row('CPU per heartbeat <= 0.8x nginx\'s', `${fmt(w.cpu_us_msg, 1)} vs ${fmt(wn.cpu_us_msg, 1)} us = ${fmt(rc, 2)}x`, rc === null ? null : rc <= 0.8, `${fmt(0.8 - rc, 2)}`);
  const re = ratio(e.cpu_us_msg, en.cpu_us_msg);
  row('CPU per SSE event <= 0.8x nginx\'s', `${fmt(e.cpu_us_msg, 1)} vs ${fmt(en.cpu_us_msg, 1)} us = ${fmt(re, 2)}x`, re === null ? null : re <= 0.8, `${fmt(0.8 - re, 2)}`);
  row('heartbeat p99 <= 50 ms', `${fmt(w.p99_ms, 2)} ms`, w.p99_ms == null ? null : w.p99_ms <= 50, `${fmt(50 - w.p99_ms, 1)} ms`);
  const pm = Math.max(w.plain_max ?? -1, e.plain_max ?? -1);
  row('a new plain request within 50 ms while all are open', `max ${fmt(pm, 1)} ms`, pm < 0 ? null : pm <= 50 && (w.plain_ok === w.plain_n), `${fmt(50 - pm, 1)} ms`);
  s += '\n| target (issue 19) | measured | result | margin |\n|---|---|---|---:|\n' + t.join('\n') + '\n';
  return s;
}

async function run(argv) {
  const o = { ws: 100000, sse: 20000, hb: 25, sse_every: 5, window: 0, plain: 10, conc: 200,
              per_proc: 9000, setups: 'np,ng', scenarios: 'ws,sse', out: '', module: '', work: '',
              user: 'www-data', p_np: 27201, p_ng: 27202, p_ws: 27210, p_sse: 27240, open_timeout: 900,
              command: process.env.NP_SCALE_CMD || 'bench/scale.js run ' + argv.join(' ') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '').replace(/-/g, '_');
    if (!(k in o)) { log('unknown option ' + argv[i]); process.exit(2); }
    o[k] = typeof o[k] === 'number' ? Number(argv[++i]) : argv[++i];
  }
  // Source addresses: about 28,000 ephemeral ports per (source, destination)
  // pair; a source address per 10,000 clients leaves a wide margin.
  o.addrs = Array.from({ length: Math.max(2, Math.ceil(Math.max(o.ws, o.sse) / 10000)) }, (_, i) => `127.0.1.${i + 1}`);
  const maxN = Math.max(o.ws, o.sse);
  o.children = Math.max(2, Math.ceil(maxN / (o.per_proc - 1000)));
  o.factor = Math.ceil((o.per_proc - 25) / 24);
  o.nginx_workers = Math.max(2, Math.ceil(maxN / (o.per_proc - 1000)));
  const W = o.work;
  for (const d of ['logs', 'run', 'conf', 'htdocs']) fs.mkdirSync(`${W}/${d}`, { recursive: true });
  fs.copyFileSync(o.module, `${W}/mod_nodeproxy.so`);
  cp.execSync(`chmod -R a+rX ${W}; chown -R ${o.user} ${W}/logs`);
  const meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    CPU: `${os.cpus().length} x ${(os.cpus()[0] || {}).model}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    'OS / kernel': `${cp.execSync('. /etc/os-release; echo "$PRETTY_NAME"', { shell: '/bin/bash' }).toString().trim()} / ${os.release()}`,
    'apache2 -v': cp.execSync('/usr/sbin/apache2 -v | head -1').toString().replace('Server version: ', '').trim(),
    'nginx -v': cp.execSync('nginx -v 2>&1').toString().replace('nginx version: ', '').trim(),
    'node -v': process.version,
    'mod_nodeproxy tree': cp.execSync(`git -C ${__dirname} describe --always --dirty 2>/dev/null || echo unknown`).toString().trim(),
    'open-files limit (per process)': cp.execSync('ulimit -Hn', { shell: '/bin/bash' }).toString().trim(),
    sizing: `${o.children} httpd children x 25 threads, AsyncRequestWorkerFactor ${o.factor}; nginx ${o.nginx_workers} workers; ` +
            `at most ${o.per_proc} tunnels per proxy process, ${o.per_proc} clients per client process, ${o.per_proc} per backend process; ` +
            `${o.addrs.length} client source addresses (${o.addrs[0]}-${o.addrs[o.addrs.length - 1]})`,
    'load average at start': os.loadavg().map((x) => x.toFixed(2)).join(' '),
    command: o.command,
  };
  const res = {};
  const scens = o.scenarios.split(',').filter((s) => (s === 'ws' && o.ws > 0) || (s === 'sse' && o.sse > 0));
  for (const scen of scens) {
    const n = scen === 'ws' ? o.ws : o.sse;
    const nb = Math.max(2, Math.ceil(n / o.per_proc));
    const bport = scen === 'ws' ? o.p_ws : o.p_sse;
    const backs = [];
    for (let b = 0; b < nb; b++) {
      const args = scen === 'ws' ? ['wsserver', String(bport + b)] : ['sseserver', String(bport + b), String(o.sse_every * 1000)];
      backs.push(spawnLogged('backend' + b, process.execPath, [__filename].concat(args), `${W}/logs/${scen}.backend${b}.log`));
    }
    const ok = await Promise.all(backs.map((b) => nextLine(b, 20000)));
    if (ok.some((x) => !x)) { log(scen + ': a backend did not start'); for (const b of backs) await stopProc(b); continue; }
    for (const setup of o.setups.split(',')) {
      try { await runScenario(o, W, scen, setup, nb, bport, res); }
      catch (e) { log(`${scen}.${setup}: ${e.stack || e}`); }
      await sleep(3000);
    }
    for (const b of backs) await stopProc(b);
  }
  meta['load average at end'] = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const md = report(o, res, meta);
  fs.writeFileSync(`${W}/results.json`, JSON.stringify({ o, res, meta }, null, 1));
  if (o.out) fs.appendFileSync(o.out, md);
  process.stdout.write(md);
}

async function main() {
  const mode = process.argv[2];
  if (!WebSocket) { console.error('the ws package is missing (bench/scale.sh installs it)'); process.exit(2); }
  if (mode === 'wsserver') return wsServer(Number(process.argv[3]));
  if (mode === 'sseserver') return sseServer(Number(process.argv[3]), Number(process.argv[4]));
  if (mode === 'wsclients') return wsClients(JSON.parse(process.argv[3]));
  if (mode === 'sseclients') return sseClients(JSON.parse(process.argv[3]));
  if (mode === 'run') {
    const stopAll = async (code) => {
      for (const e of started.slice()) await stopProc(e, 5000);
      process.exit(code);
    };
    process.on('SIGINT', () => stopAll(130));
    process.on('SIGTERM', () => stopAll(143));
    try { await run(process.argv.slice(3)); } catch (e) { log(e.stack || String(e)); await stopAll(1); }
    return stopAll(0);
  }
  console.error('usage: scale.js run [options] | wsserver PORT | sseserver PORT EVERY_MS');
  process.exit(2);
}
main();
