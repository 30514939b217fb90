'use strict';
// loadclient.js: N concurrent HTTP(S) requests, each on its own new
// connection (agent: false: no pooling, no socket limit), for the async
// proxying tests (t/modules/async*.t, started by t/lib/NPAsync.pm).
//
//   node loadclient.js '<plan JSON>'
//
// plan:
//   url           request URL; "{i}" is replaced by the request's index (0..n-1)
//   n             number of requests (default 1)
//   concurrency   at most this many in flight (default n: all at once)
//   mode          'plain' (default) or 'sse' (parse text/event-stream events)
//   check_id      the body must carry the request's id: JSON {id} (plain)
//                 or "data: ID i ..." in every event (sse); the id is the
//                 value of the url's id= parameter
//   sse_n         sse: the number of events expected (ids 1..sse_n in order)
//   headers       extra request headers {name: value} (default Connection:
//                 keep-alive; the connection is closed after the response anyway)
//   timeout_ms    per request (default 30000): destroyed after that, error 'timeout'
//   hard_ms       the whole run (default 120000): what is left is reported as 'hard timeout'
//   per_conn      k: keep-alive lanes instead: requests i*k..i*k+k-1 go one
//                 after another over one kept-alive connection (an Agent with
//                 keepAlive and one socket per lane); `sockets` in the answer
//                 counts the connections used (distinct local ports)
//   records       1: include every request's record in the answer
//
// Prints one JSON line when every request has ended:
//   {n, ok, statuses: {code: count}, errors: {message: count}, bad_body,
//    conn_close (responses that said Connection: close), backends: {X-Backend: count},
//    t0 (epoch ms of the first request issued), wall_ms (first issue to last end),
//    max_ms / p50_ms / min_ms (per request, from its own connection's
//    'connect' to its end), max_issue_ms (from issue to end), max_connect_ms
//    (issue to connect), sse: {events, bad_order, max_lag_ms, min_span_ms,
//    first_arrival_max (epoch ms: the latest arrival of a stream's first event)},
//    records: [[i, issue, connect, head, end, status, body_ok], ...] (ms after t0)}
// A request is ok when its status is 200 and its body checks out.

const http = require('http');
const https = require('https');

const plan = JSON.parse(process.argv[2] || '{}');
const n = plan.n || 1;
const conc = plan.concurrency || n;
const mode = plan.mode || 'plain';
const timeoutMs = plan.timeout_ms || 30000;
const hardMs = plan.hard_ms || 120000;

const now = () => performance.timeOrigin + performance.now();
const recs = new Array(n);
let t0 = null;
let next = 0;
let running = 0;
let ended = 0;
let finished = false;

function idOf(url) {
  const m = /[?&]id=([^&]*)/.exec(url);
  return m ? decodeURIComponent(m[1]) : '';
}

function checkBody(rec, body) {
  if (mode === 'sse') {
    const events = body.split('\n\n').filter((e) => e.trim() !== '');
    const ids = [];
    let dataOk = true;
    for (const e of events) {
      const idm = /^id: (\d+)$/m.exec(e);
      const dm = /^data: (\S*) (\d+) (\d+)$/m.exec(e);
      ids.push(idm ? Number(idm[1]) : -1);
      if (!dm || (plan.check_id && dm[1] !== rec.id) || !idm || Number(dm[2]) !== Number(idm[1])) dataOk = false;
    }
    rec.events = ids.length;
    const want = plan.sse_n || ids.length;
    rec.inOrder = ids.length === want && ids.every((v, k) => v === k + 1);
    return dataOk && rec.inOrder;
  }
  if (!plan.check_id) return true;
  try { return JSON.parse(body).id === rec.id; } catch (e) { return false; }
}

const lanes = new Map();
function agentFor(i, mod) {
  if (!plan.per_conn) return false;
  const lane = Math.floor(i / plan.per_conn);
  if (!lanes.has(lane)) lanes.set(lane, new mod.Agent({ keepAlive: true, maxSockets: 1 }));
  return lanes.get(lane);
}

function one(i) {
  const url = plan.url.split('{i}').join(String(i));
  const rec = { i, id: idOf(url), issue: now(), connect: null, head: null, end: null,
                status: 0, bodyOk: false, error: null, lags: [], arrivals: [] };
  if (t0 === null) t0 = rec.issue;
  recs[i] = rec;
  running++;
  const mod = url.startsWith('https:') ? https : http;
  let done = false;
  const finish = (err) => {
    if (done) return;
    done = true;
    rec.end = now();
    if (err) rec.error = err;
    running--;
    ended++;
    pump();
  };
  const req = mod.request(url, {
    agent: agentFor(i, mod),
    // keep-alive asked for (the socket is still closed after the response:
    // agent false), so that the server's Connection header tells whether it
    // chose to close (an async response does) or to keep the connection
    headers: Object.assign({ Connection: 'keep-alive' }, plan.headers || {}),
    rejectUnauthorized: false,
  }, (res) => {
    rec.head = now();
    rec.status = res.statusCode;
    rec.headers = res.headers;
    res.setEncoding('utf8');
    let body = '';
    let seen = 0;
    res.on('data', (c) => {
      body += c;
      if (mode === 'sse') {
        // lag of each complete event: arrival here minus its send time (T)
        const parts = body.split('\n\n');
        for (let k = seen; k < parts.length - 1; k++) {
          const m = /^data: \S* \d+ (\d+)$/m.exec(parts[k]);
          const t = now();
          rec.arrivals.push(t);
          if (m) rec.lags.push(t - Number(m[1]));
        }
        seen = parts.length - 1;
      }
    });
    res.on('end', () => {
      rec.bodyOk = checkBody(rec, body);
      rec.bytes = body.length;
      finish(null);
    });
    res.on('aborted', () => finish('aborted'));
    res.on('error', (e) => finish(e.code || e.message));
  });
  req.on('socket', (s) => {
    const seen = () => { rec.lport = s.localPort; };
    if (s.localPort) seen(); else s.once('connect', seen);
    const onConnect = () => { rec.connect = now(); };
    if (url.startsWith('https:')) s.once('secureConnect', onConnect);
    else s.once('connect', onConnect);
  });
  req.setTimeout(timeoutMs, () => { req.destroy(new Error('timeout')); });
  req.on('error', (e) => finish(e.message === 'timeout' ? 'timeout' : (e.code || e.message)));
  req.end();
}

function pump() {
  while (running < conc && next < n) one(next++);
  if (ended === n) report();
}

function report() {
  if (finished) return;
  finished = true;
  const out = { n, ok: 0, statuses: {}, errors: {}, bad_body: 0, conn_close: 0, sockets: 0, backends: {}, t0 };
  let wallEnd = t0;
  const dur = [];
  let maxIssue = 0;
  let maxConnect = 0;
  const sse = { events: 0, bad_order: 0, max_lag_ms: 0, min_span_ms: null };
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    if (!r) { out.errors['never issued'] = (out.errors['never issued'] || 0) + 1; continue; }
    const end = r.end || now();
    if (!r.end) r.error = r.error || 'hard timeout';
    wallEnd = Math.max(wallEnd, end);
    out.statuses[r.status] = (out.statuses[r.status] || 0) + 1;
    if (r.error) out.errors[r.error] = (out.errors[r.error] || 0) + 1;
    else if (!r.bodyOk) out.bad_body++;
    if (r.status === 200 && !r.error && r.bodyOk) out.ok++;
    if (r.headers && /close/i.test(r.headers.connection || '')) out.conn_close++;
    if (r.headers && r.headers['x-backend']) out.backends[r.headers['x-backend']] = (out.backends[r.headers['x-backend']] || 0) + 1;
    dur.push(end - (r.connect || r.issue));
    maxIssue = Math.max(maxIssue, end - r.issue);
    if (r.connect) maxConnect = Math.max(maxConnect, r.connect - r.issue);
    if (mode === 'sse') {
      sse.events += r.events || 0;
      if (!r.inOrder) sse.bad_order++;
      for (const l of r.lags) sse.max_lag_ms = Math.max(sse.max_lag_ms, l);
      if (r.arrivals.length > 0) {
        sse.first_arrival_max = Math.max(sse.first_arrival_max || 0, r.arrivals[0]);
      }
      if (r.arrivals.length > 1) {
        const span = r.arrivals[r.arrivals.length - 1] - r.arrivals[0];
        sse.min_span_ms = sse.min_span_ms === null ? span : Math.min(sse.min_span_ms, span);
      }
    }
  }
  out.sockets = new Set(recs.filter((r) => r && r.lport).map((r) => r.lport)).size;
  dur.sort((a, b) => a - b);
  const r2 = (x) => Math.round(x * 10) / 10;
  out.wall_ms = r2(wallEnd - t0);
  out.max_ms = r2(dur.length ? dur[dur.length - 1] : 0);
  out.min_ms = r2(dur.length ? dur[0] : 0);
  out.p50_ms = r2(dur.length ? dur[Math.floor(dur.length / 2)] : 0);
  out.max_issue_ms = r2(maxIssue);
  out.max_connect_ms = r2(maxConnect);
  if (mode === 'sse') { sse.max_lag_ms = r2(sse.max_lag_ms); sse.min_span_ms = r2(sse.min_span_ms || 0); out.sse = sse; }
  if (plan.records) {
    out.records = recs.map((r) => r && [r.i, r2(r.issue - t0), r.connect ? r2(r.connect - t0) : null,
      r.head ? r2(r.head - t0) : null, r.end ? r2(r.end - t0) : null, r.status, r.bodyOk ? 1 : 0,
      r.error || '', r.headers ? (r.headers.connection || '') : '']);
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

setTimeout(report, hardMs).unref();
// the test process is gone: stop
const ppid = Number(process.env.NP_PARENT_PID || 0);
if (ppid > 0) {
  setInterval(() => { try { process.kill(ppid, 0); } catch (e) { process.exit(1); } }, 1000).unref();
}
// keep the loop alive until report() (hard_ms timer is unref'd)
const keep = setInterval(() => {}, 1000);
process.on('exit', () => clearInterval(keep));
pump();
