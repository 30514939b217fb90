'use strict';
// slow.js: a backend that keeps the proxy waiting (async proxying tests,
// t/modules/async*.t). Every response carries `X-Backend: <name>`.
// Paths, recognised by the LAST path segment, whatever prefix precedes it:
//   .../fast                  200 JSON {name, id, ms: 0, url} at once
//   .../slow?ms=N&id=X        200 JSON {name, id, ms, url} after N ms
//                             (a long-poll is the same with a large N)
//   .../sse?n=N&every=M&first=F&id=X
//                             text/event-stream: N events (default 5), the
//                             first after F ms (default 0), then one every M
//                             ms (default 200); event i is
//                             `id: i\ndata: X i T\n\n` (T: Date.now() when sent)
//   .../big?ms=W&size=N&pieces=P&every=M&id=X
//                             after W ms (default 0), 200 with Content-Length N
//                             (default 1 MiB): "X:" then 'x' up to N bytes, in
//                             P writes (default 1) M ms apart (default 0);
//                             with &pattern=1 byte k of the body is k % 251
//   .../never                 reads the request, never answers
//   .../diemid?wait=W&pause=P head (Content-Length: 1000) after W ms (default
//                             0) with the first 100 bytes, then P ms later
//                             (default 300) the socket is destroyed
//   &gate=G (slow, sse, big)  a gate: the response (slow, big) or every
//                             event after the first (sse) waits until the test
//                             opens gate G (/__np/release?gate=G), so "N held
//                             at once" is a fact the test reads, not a race
//                             with a clock; &barrier=K opens G by itself once
//                             K requests wait on it (then it closes again
//                             for the next K); &cap=MS (default 120000): a
//                             request still held after MS ms is answered 504
//                             (a test that waits for a gate fails, never hangs)
// Control endpoints (send them to the backend directly, not through httpd):
//   /__np/stats   {name, inflight, max_inflight, total, finished, open,
//                  max_open, counts: {last segment: n}, aborted: {id: ms},
//                  held: {gate: requests waiting on it now},
//                  passed: {gate: requests let through}}
//   /__np/release?gate=G  open gate G: its waiting requests go on, later
//                  ones pass at once (until /__np/reset closes every gate)
//                 inflight: requests received and neither answered nor closed;
//                 open: TCP connections open now; aborted: ids of requests
//                 whose connection closed before their response was complete,
//                 with Date.now() of that close
//   /__np/reset   zero total, finished, the maxima, counts and aborted

const http = require('http');
const { parseArgs, listen } = require('./common');

const o = parseArgs(process.argv.slice(2));
const st = { inflight: 0, max_inflight: 0, total: 0, finished: 0, open: 0, max_open: 0,
             counts: {}, aborted: {}, passed: {} };
const held = new Set();
// gate name => {open, waiting: [fn]}
const gates = new Map();

function gate(name) {
  if (!gates.has(name)) gates.set(name, { open: false, waiting: [] });
  return gates.get(name);
}
function releaseGate(name) {
  const g = gate(name);
  const w = g.waiting;
  g.waiting = [];
  w.forEach((fn) => fn());
}
function heldCounts() {
  const h = {};
  for (const [k, g] of gates) h[k] = g.waiting.length;
  return h;
}

function reset() {
  st.total = 0; st.finished = 0; st.counts = {}; st.aborted = {}; st.passed = {};
  for (const g of gates.values()) g.open = false;
  st.max_inflight = st.inflight; st.max_open = st.open;
}

function json(res, status, obj) {
  const body = Buffer.from(JSON.stringify(obj) + '\n');
  res.writeHead(status, { 'X-Backend': o.name, 'Content-Type': 'application/json',
                          'Content-Length': body.length });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname.startsWith('/__np/')) {
    req.resume();
    if (u.pathname === '/__np/reset') reset();
    else if (u.pathname === '/__np/release') {
      const name = u.searchParams.get('gate') || '';
      gate(name).open = true;
      releaseGate(name);
    }
    else if (u.pathname !== '/__np/stats') { json(res, 404, { error: 'unknown control' }); return; }
    json(res, 200, Object.assign({ name: o.name, held: heldCounts() }, st));
    return;
  }
  const what = u.pathname.replace(/\/+$/, '').split('/').pop();
  const id = u.searchParams.get('id') || '';
  st.total++;
  st.counts[what] = (st.counts[what] || 0) + 1;
  st.inflight++;
  if (st.inflight > st.max_inflight) st.max_inflight = st.inflight;
  let over = false;
  const timers = [];
  const done = (ok) => {
    if (over) return;
    over = true;
    st.inflight--;
    timers.forEach(clearTimeout);
    if (ok) st.finished++;
    else if (id) st.aborted[id] = Date.now();
  };
  res.on('finish', () => done(true));
  res.on('close', () => done(res.writableFinished));
  req.resume();

  const num = (k, d) => (u.searchParams.has(k) ? Number(u.searchParams.get(k)) : d);
  // run fn once gate=G (if any) lets this request through
  const gated = (fn) => {
    const name = u.searchParams.get('gate');
    if (name === null) { fn(); return; }
    const g = gate(name);
    const pass = () => { st.passed[name] = (st.passed[name] || 0) + 1; fn(); };
    if (g.open) { pass(); return; }
    let waiting = true;
    const go = () => { if (!waiting) return; waiting = false; clearTimeout(t); if (!over) pass(); };
    const t = setTimeout(() => {
      if (!waiting) return;
      waiting = false;
      g.waiting = g.waiting.filter((f) => f !== go);
      if (over) return;
      if (res.headersSent) req.socket.destroy();
      else json(res, 504, { name: o.name, id, error: `gate ${name} not opened within cap` });
    }, num('cap', 120000));
    timers.push(t);
    res.on('close', () => { if (waiting) { waiting = false; g.waiting = g.waiting.filter((f) => f !== go); } });
    g.waiting.push(go);
    const k = num('barrier', 0);
    if (k > 0 && g.waiting.length >= k) releaseGate(name);
  };
  switch (what) {
    case 'fast':
      json(res, 200, { name: o.name, id, ms: 0, url: req.url });
      break;
    case 'slow': {
      const ms = num('ms', u.searchParams.has('gate') ? 0 : 1000);
      gated(() => timers.push(setTimeout(() => json(res, 200, { name: o.name, id, ms, url: req.url }), ms)));
      break;
    }
    case 'sse': {
      const n = num('n', 5);
      const every = num('every', 200);
      let i = 0;
      const tick = () => {
        if (over) return;
        if (i === 0) {
          res.writeHead(200, { 'X-Backend': o.name, 'Content-Type': 'text/event-stream',
                               'Cache-Control': 'no-cache' });
        }
        i++;
        res.write(`id: ${i}\ndata: ${id} ${i} ${Date.now()}\n\n`);
        if (i >= n) { res.end(); return; }
        if (i === 1) gated(() => timers.push(setTimeout(tick, every)));
        else timers.push(setTimeout(tick, every));
      };
      timers.push(setTimeout(tick, num('first', 0)));
      break;
    }
    case 'big': {
      const size = num('size', 1 << 20);
      const pieces = Math.max(1, num('pieces', 1));
      const body = Buffer.alloc(size, 'x');
      if (u.searchParams.get('pattern')) {
        for (let k = 0; k < size; k++) body[k] = k % 251;   // loss or reorder shows
      } else {
        body.write(`${id}:`.slice(0, size));
      }
      const step = Math.ceil(size / pieces);
      let off = 0;
      const more = () => {
        if (over) return;
        if (off === 0) {
          res.writeHead(200, { 'X-Backend': o.name, 'Content-Type': 'application/octet-stream',
                               'Content-Length': size });
        }
        const end = Math.min(size, off + step);
        const last = end >= size;
        if (last) res.end(body.subarray(off, end));
        else res.write(body.subarray(off, end));
        off = end;
        if (!last) timers.push(setTimeout(more, num('every', 0)));
      };
      gated(() => timers.push(setTimeout(more, num('ms', 0))));
      break;
    }
    case 'never':
      held.add(req.socket);
      req.socket.on('close', () => held.delete(req.socket));
      break;
    case 'diemid': {
      const head = () => {
        res.writeHead(200, { 'X-Backend': o.name, 'Content-Type': 'application/octet-stream',
                             'Content-Length': 1000 });
        res.write('x'.repeat(100));
        timers.push(setTimeout(() => req.socket.destroy(), num('pause', 300)));
      };
      timers.push(setTimeout(head, num('wait', 0)));
      break;
    }
    default:
      json(res, 404, { name: o.name, error: 'unknown path', url: req.url });
  }
});

server.on('connection', (sock) => {
  st.open++;
  if (st.open > st.max_open) st.max_open = st.open;
  sock.on('close', () => { st.open--; });
});
// --keep-alive-timeout MS (NPBackend keepalive => MS) overrides Node's 5 s
server.keepAliveTimeout = o.keepAliveTimeout || 5000;
server.headersTimeout = 60000;
server.requestTimeout = 0;
server.maxHeadersCount = 0;
listen(server, o);
