'use strict';
// wsclient.js: WebSocket test client (Node `ws`), driven by websocket*.t.
//
//   node wsclient.js '<JSON plan>'      prints one JSON result line, exits
//   node wsclient.js '{"op":"session"}' reads JSON commands on stdin, one per
//                                       line, answers one JSON line each
//
// Common plan keys: url (ws:// or wss://; wss certificates are not checked),
// headers {name: value}, timeout (ms, default 10000).
//
// One-shot plans (op):
//   echo       open, read the backend's hello, then send `messages` in order
//              ([{type: "text"|"binary", size: N, count: K}]) one at a time,
//              each checked byte for byte against its echo; close.
//              -> {opened, status, hello, echoes: [{type, size, ok, ms, got}],
//                  all_ok, close_code, error, ms}
//   handshake  open only: -> {opened, status, headers, body, error}
//              (status is the HTTP status of a refused handshake, 101 when it
//              opened; the socket is closed right away)
//   hold       open, then every `every` ms (0: never) send a short text
//              message, for at most `duration` ms; report when the tunnel
//              closed, counted from the hello:
//              -> {opened, closed_after_ms (null: still open at the end),
//                  sent, echoed, close_code}
//   parallel   run `plans` (one-shot plans) at the same time -> {results: [...]}
//
// Session commands ({"cmd": ...}); every connection opened in a session is kept
// in one list (index order), and every close is recorded with Date.now():
//   open    {url, headers, n, concurrency, timeout, budget}  open n more
//           WebSockets (hello read); no handshake is started after budget ms
//           -> {opened, failed, errors: {message: count}, ms, total_open}
//   echo    {sample, size}  one text message of `size` bytes on `sample`
//           connections spread over the open ones -> {ok, failed, tried, ms}
//   state   -> {open, closed, close_ms: [Date.now() of each close, in order]}
//   waitclose {n, timeout}  wait until at least n connections have closed
//           -> as state, plus waited_ms
//   close   close every open connection, wait for the closes -> {closed, ms}
//   cycles  {url, headers, n, concurrency}  n times: open, read hello, close
//           -> {ok, failed, errors, ms}
//   closesome {n, by: "client"|"backend", timeout}  close n of the open
//           connections, spread over them: "client" closes them here (close
//           frame, then the TCP close); "backend" sends "__close" so that ws.js
//           closes them -> {closed, codes: {code: count}, ms}
//   exit    -> {bye: true}, then the process exits

const WebSocket = require('ws');
const crypto = require('crypto');
const readline = require('readline');

function wsOpts(p) {
  return {
    headers: p.headers || {},
    perMessageDeflate: false,
    rejectUnauthorized: false,
    handshakeTimeout: p.timeout || 10000,
    maxPayload: 64 * 1024 * 1024,
  };
}

function payload(type, size, seed) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed * 17 + 11) & 0xff;
  if (type === 'text') {
    // printable ASCII: valid UTF-8
    for (let i = 0; i < size; i++) b[i] = 0x20 + (b[i] % 95);
    return b.toString('latin1');
  }
  return b;
}

// Open one WebSocket and read its hello. Resolves {ws, status, hello} or
// {ws: null, status, headers, body, error}.
function openOne(p) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
    let ws;
    try {
      ws = new WebSocket(p.url, wsOpts(p));
    } catch (e) {
      finish({ ws: null, status: 0, error: String(e.message || e) });
      return;
    }
    const timer = setTimeout(() => {
      try { ws.terminate(); } catch (e) { /* ignore */ }
      finish({ ws: null, status: 0, error: 'timeout' });
    }, (p.timeout || 10000) + 1000);
    ws.on('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      const end = () => finish({ ws: null, status: res.statusCode, headers: res.headers,
                                 body: Buffer.concat(chunks).toString('utf8') });
      res.on('end', end);
      res.on('error', end);
      res.on('close', end);
      setTimeout(end, 2000).unref();
    });
    ws.on('error', (e) => finish({ ws: null, status: 0, error: String(e.message || e) }));
    ws.on('close', (code) => finish({ ws: null, status: 101, error: 'closed before hello', close_code: code }));
    ws.once('message', (data, isBinary) => {
      let hello = null;
      try { hello = JSON.parse(data.toString()); } catch (e) { hello = { raw: data.toString() }; }
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      finish({ ws, status: 101, hello, isBinary });
    });
  });
}

// Send one message and wait for its echo.
function echoOnce(ws, type, size, seed, timeout) {
  return new Promise((resolve) => {
    const data = payload(type, size, seed);
    const t0 = Date.now();
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.removeListener('message', onMsg);
      ws.removeListener('close', onClose);
      r.ms = Date.now() - t0;
      resolve(r);
    };
    const onMsg = (got, isBinary) => {
      const gotType = isBinary ? 'binary' : 'text';
      const same = type === 'text'
        ? (!isBinary && got.toString('latin1') === data)
        : (isBinary && Buffer.compare(Buffer.isBuffer(got) ? got : Buffer.from(got), data) === 0);
      finish({ type, size, ok: same, got: { type: gotType, size: got.length } });
    };
    const onClose = (code) => finish({ type, size, ok: false, error: 'closed ' + code });
    const timer = setTimeout(() => finish({ type, size, ok: false, error: 'timeout' }), timeout || 10000);
    ws.on('message', onMsg);
    ws.on('close', onClose);
    ws.send(data, { binary: type === 'binary' }, (err) => { if (err) finish({ type, size, ok: false, error: String(err.message) }); });
  });
}

function closeWs(ws, timeout) {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(ws._npCloseCode || 1006); return; }
    const timer = setTimeout(() => { try { ws.terminate(); } catch (e) { /* */ } resolve(-1); }, timeout || 5000);
    ws.once('close', (code) => { clearTimeout(timer); resolve(code); });
    try { ws.close(1000, 'bye'); } catch (e) { clearTimeout(timer); resolve(-2); }
  });
}

async function opEcho(p) {
  const t0 = Date.now();
  const o = await openOne(p);
  const r = { opened: !!o.ws, status: o.status, hello: o.hello || null, echoes: [], all_ok: false };
  if (!o.ws) { r.error = o.error; r.body = o.body; r.ms = Date.now() - t0; return r; }
  let seed = 0;
  for (const m of p.messages || []) {
    for (let k = 0; k < (m.count || 1); k++) {
      r.echoes.push(await echoOnce(o.ws, m.type, m.size, seed++, p.timeout));
    }
  }
  r.all_ok = r.echoes.length > 0 && r.echoes.every((e) => e.ok);
  r.close_code = await closeWs(o.ws);
  r.ms = Date.now() - t0;
  return r;
}

async function opHandshake(p) {
  const o = await openOne(p);
  const r = { opened: !!o.ws, status: o.status, headers: o.headers || null,
              body: o.body === undefined ? null : o.body, error: o.error || null,
              hello: o.hello || null };
  if (o.ws) await closeWs(o.ws);
  return r;
}

async function opHold(p) {
  const o = await openOne(p);
  const r = { opened: !!o.ws, status: o.status, closed_after_ms: null, sent: 0, echoed: 0 };
  if (!o.ws) { r.error = o.error; return r; }
  const ws = o.ws;
  const t0 = Date.now();
  return new Promise((resolve) => {
    let iv = null;
    const finish = () => {
      if (iv) clearInterval(iv);
      clearTimeout(timer);
      resolve(r);
    };
    ws.on('message', () => { r.echoed++; });
    ws.on('close', (code) => { r.closed_after_ms = Date.now() - t0; r.close_code = code; finish(); });
    if (p.every > 0) {
      iv = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) { ws.send('tick ' + r.sent); r.sent++; }
      }, p.every);
    }
    const timer = setTimeout(async () => {
      ws.removeAllListeners('close');
      if (iv) clearInterval(iv);
      r.close_code = await closeWs(ws);
      resolve(r);
    }, p.duration || 5000);
  });
}

async function runPlan(p) {
  switch (p.op) {
    case 'echo': return opEcho(p);
    case 'handshake': return opHandshake(p);
    case 'hold': return opHold(p);
    case 'parallel': return { results: await Promise.all((p.plans || []).map(runPlan)) };
    default: return { error: 'unknown op ' + p.op };
  }
}

// ---- session ------------------------------------------------------------------

const conns = [];     // {ws, closedAt}
const closeMs = [];

async function pool(n, concurrency, fn) {
  let next = 0;
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, n); w++) {
    workers.push((async () => {
      while (next < n) { const i = next++; await fn(i); }
    })());
  }
  await Promise.all(workers);
}

function countErr(errors, e) {
  const k = String(e || 'unknown').slice(0, 120);
  errors[k] = (errors[k] || 0) + 1;
}

async function cmdOpen(c) {
  const t0 = Date.now();
  let opened = 0, failed = 0;
  const errors = {};
  const budget = c.budget || 60000;   // start no new handshake after this (ms)
  await pool(c.n || 1, c.concurrency || 50, async () => {
    if (Date.now() - t0 > budget) { failed++; countErr(errors, 'not tried: budget of ' + budget + ' ms spent'); return; }
    const o = await openOne(c);
    if (!o.ws) { failed++; countErr(errors, o.error || ('status ' + o.status)); return; }
    opened++;
    const e = { ws: o.ws, closedAt: null, hello: o.hello };
    o.ws.on('close', () => { e.closedAt = Date.now(); closeMs.push(e.closedAt); });
    conns.push(e);
  });
  return { opened, failed, errors, ms: Date.now() - t0,
           total_open: conns.filter((e) => e.closedAt === null).length,
           backends: conns.reduce((m, e) => { const h = e.hello && e.hello.hello; m[h] = (m[h] || 0) + 1; return m; }, {}) };
}

async function cmdEcho(c) {
  const t0 = Date.now();
  const open = conns.filter((e) => e.closedAt === null);
  const n = Math.min(c.sample || 1, open.length);
  const step = n ? open.length / n : 1;
  let ok = 0, failed = 0;
  const errors = {};
  await Promise.all(Array.from({ length: n }, async (_, k) => {
    const e = open[Math.floor(k * step)];
    const r = await echoOnce(e.ws, 'text', c.size || 16, k, c.timeout || 10000);
    if (r.ok) ok++; else { failed++; countErr(errors, r.error || 'mismatch'); }
  }));
  return { ok, failed, tried: n, errors, ms: Date.now() - t0, open: open.length };
}

function cmdState() {
  return { open: conns.filter((e) => e.closedAt === null).length,
           closed: conns.filter((e) => e.closedAt !== null).length,
           close_ms: closeMs.slice() };
}

async function cmdWaitClose(c) {
  const t0 = Date.now();
  const want = c.n || conns.length;
  while (conns.filter((e) => e.closedAt !== null).length < want && Date.now() - t0 < (c.timeout || 5000)) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return Object.assign(cmdState(), { waited_ms: Date.now() - t0 });
}

async function cmdClose() {
  const t0 = Date.now();
  const open = conns.filter((e) => e.closedAt === null);
  let closed = 0;
  await pool(open.length, 500, async (i) => { await closeWs(open[i].ws, 5000); closed++; });
  conns.length = 0;
  closeMs.length = 0;
  return { closed, ms: Date.now() - t0 };
}

async function cmdCycles(c) {
  const t0 = Date.now();
  let ok = 0, failed = 0;
  const errors = {};
  await pool(c.n || 1, c.concurrency || 10, async () => {
    const o = await openOne(c);
    if (!o.ws) { failed++; countErr(errors, o.error || ('status ' + o.status)); return; }
    const code = await closeWs(o.ws, 5000);
    if (code === 1000 || code === 1005) ok++;
    else { failed++; countErr(errors, 'close code ' + code); }
  });
  return { ok, failed, errors, ms: Date.now() - t0 };
}

async function cmdCloseSome(c) {
  const t0 = Date.now();
  const open = conns.filter((e) => e.closedAt === null);
  const n = Math.min(c.n || 1, open.length);
  const step = n ? open.length / n : 1;
  const codes = {};
  let closed = 0;
  await Promise.all(Array.from({ length: n }, (_, k) => new Promise((resolve) => {
    const e = open[Math.floor(k * step)];
    const timer = setTimeout(() => { codes.timeout = (codes.timeout || 0) + 1; resolve(); }, c.timeout || 5000);
    e.ws.once('close', (code) => {
      clearTimeout(timer);
      codes[code] = (codes[code] || 0) + 1;
      closed++;
      resolve();
    });
    try {
      if (c.by === 'backend') e.ws.send('__close'); else e.ws.close(1000, 'bye');
    } catch (err) { countErr(codes, err.message); }
  })));
  return { closed, codes, ms: Date.now() - t0 };
}

async function session() {
  const rl = readline.createInterface({ input: process.stdin });
  const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
  out({ ready: true, pid: process.pid });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let c;
    try { c = JSON.parse(line); } catch (e) { out({ error: 'bad JSON: ' + e.message }); continue; }
    let r;
    try {
      switch (c.cmd) {
        case 'open': r = await cmdOpen(c); break;
        case 'echo': r = await cmdEcho(c); break;
        case 'state': r = cmdState(); break;
        case 'waitclose': r = await cmdWaitClose(c); break;
        case 'close': r = await cmdClose(); break;
        case 'cycles': r = await cmdCycles(c); break;
        case 'closesome': r = await cmdCloseSome(c); break;
        case 'exit': out({ bye: true }); process.exit(0); break;
        default: r = { error: 'unknown cmd ' + c.cmd };
      }
    } catch (e) {
      r = { error: String(e && e.stack || e) };
    }
    out(r);
  }
  process.exit(0);
}

// never outlive the test that started us
const ppid = Number(process.env.NP_PARENT_PID || 0);
if (ppid > 0) {
  setInterval(() => { try { process.kill(ppid, 0); } catch (e) { process.exit(3); } }, 1000).unref();
}

const plan = JSON.parse(process.argv[2] || '{}');
if (plan.op === 'session') {
  session();
} else {
  const hard = setTimeout(() => { process.stdout.write(JSON.stringify({ error: 'client hard timeout' }) + '\n'); process.exit(2); },
                          plan.hard_timeout || 60000);
  runPlan(plan).then((r) => {
    clearTimeout(hard);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }, (e) => {
    process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) }) + '\n');
    process.exit(1);
  });
}
