'use strict';
// echo.js: answers with a JSON description of the request it received.
//
//   every response carries `X-Backend: <name>`.
//   default: 200 application/json
//     {conn: {remotePort, seq}, name, method, url, httpVersion, headers, rawHeaders,
//      body_length, body_sha256}
//     (the body is read streaming: counted and hashed, never buffered)
// Special endpoints, recognised by the LAST path segment(s), whatever prefix
// precedes them (so /base/cookie and /cookie both work):
//   .../sse               text/event-stream; one event at once, then every 200 ms, 5 in all
//   .../big?bytes=N       N bytes of the pattern (common.js), with Content-Length, streamed
//   .../chunked           chunked response (no Content-Length), 3 chunks
//   .../redirect?to=URL   302 with Location: URL
//   .../cookie[?p=PATH]   Set-Cookie a=1; Path=/  and  b=2; Path=/sub (or Path=PATH)
//   .../status/NNN        status NNN with a short JSON body (none for 204/304)
//   .../slow?ms=N         wait N ms, then the default JSON answer
//   .../count             {"count": number of non-/count requests seen so far}
//   .../reset-count       resets the counter
//   ...?close=1           (any path) answered with Connection: close
//   .../healthz           the health endpoint: 200 {"ok":true} (mode ok), 503 (mode
//                         fail), or no answer at all until the client gives up (hang)
// Control endpoints (send them to the backend directly, not through httpd):
//   /__np/stats           {name, counts: {path: n}, first: {path: ms}, last: {path: ms},
//                          health_mode, delay_ms, hung: [ms a hung /healthz was held]}
//                         (every request but /__np/* is counted by its path;
//                         times are Date.now() of its arrival)
//   /__np/reset           zero the counters and times
//   /__np/health?mode=ok|fail|hang
//   /__np/delay?ms=N      answer every other request N ms late (0: no delay)
//   /__np/drop?how=end|rst  close every other connection now, as a backend
//                         closing idle keep-alive connections does: `end` a
//                         clean close (over https a close_notify, then FIN),
//                         `rst` an abrupt reset (TCP RST); {dropped: n}
//   (stats also give `open`: connections open now, this one included, and
//   `app_connections`: connections that carried a request other than /__np/*)
// --keep-alive-timeout MS closes idle connections exactly MS after the last
// response (Node itself would wait about MS + 1000).

const http = require('http');
const crypto = require('crypto');
const { parseArgs, listen, patternBlock, createServer, tlsInfo, tlsStats } = require('./common');

const o = parseArgs(process.argv.slice(2));
let count = 0;
// per-path counters and the switches, see /__np/* above
const ctl = { counts: {}, first: {}, last: {}, hung: [], health: 'ok', delay: 0 };
function ctlReset() { ctl.counts = {}; ctl.first = {}; ctl.last = {}; ctl.hung = []; }
const block = patternBlock();

function send(res, status, obj, extra) {
  const body = Buffer.from(JSON.stringify(obj) + '\n');
  res.writeHead(status, Object.assign({
    'X-Backend': o.name,
    'Content-Type': 'application/json',
    'Content-Length': body.length,
  }, extra || {}));
  res.end(body);
}

// which backend connection carried the request: its client port and the
// number of requests it has carried so far (seq > 1: a reused connection)
function connInfo(req) {
  const sock = req.socket;
  sock.npSeq = (sock.npSeq || 0) + 1;
  if (sock.npSeq === 1) appConnections++;
  return { remotePort: sock.remotePort, seq: sock.npSeq };
}

function describe(req, extra) {
  return Object.assign({
    conn: req.npConn,
    name: o.name,
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    tls: tlsInfo(req),
  }, extra || {});
}

// Read the request body streaming; count and hash it.
function readBody(req, cb) {
  const h = crypto.createHash('sha256');
  let n = 0;
  req.on('data', (c) => { n += c.length; h.update(c); });
  req.on('end', () => cb(null, n, h.digest('hex')));
  req.on('error', (e) => cb(e));
  req.on('aborted', () => cb(new Error('aborted')));
}

function control(req, res, u) {
  const p = u.pathname;
  if (p === '/__np/reset') ctlReset();
  else if (p === '/__np/health') {
    const mode = u.searchParams.get('mode');
    if (!['ok', 'fail', 'hang'].includes(mode)) { send(res, 400, { error: 'mode' }); return; }
    ctl.health = mode;
  }
  else if (p === '/__np/delay') ctl.delay = Number(u.searchParams.get('ms') || 0);
  else if (p === '/__np/drop') {
    const how = u.searchParams.get('how');
    if (!['end', 'rst'].includes(how)) { send(res, 400, { error: 'how' }); return; }
    send(res, 200, { dropped: drop(how, req.socket.remotePort) });
    return;
  }
  else if (p !== '/__np/stats') { send(res, 404, { error: 'unknown control' }); return; }
  send(res, 200, { name: o.name, counts: ctl.counts, first: ctl.first, last: ctl.last,
                   hung: ctl.hung, health_mode: ctl.health, delay_ms: ctl.delay,
                   connections, app_connections: appConnections, open: rawSocks.size,
                   tls: tlsStats });
}

// Close every connection but the one on port `keep` (the control request's):
// `end` through the TLS layer when there is one (close_notify + FIN), `rst`
// on the TCP socket underneath (RST).
function drop(how, keep) {
  let n = 0;
  const socks = how === 'end' && o.tlsCert ? secureSocks : rawSocks;
  for (const s of socks) {
    if (s.remotePort === keep) continue;
    n++;
    if (how === 'rst') s.resetAndDestroy();
    else s.end();
  }
  return n;
}

function health(req, res) {
  if (ctl.health === 'hang') {
    const t0 = Date.now();
    req.resume();
    req.socket.on('close', () => { ctl.hung.push(Date.now() - t0); });
    return;
  }
  readBody(req, () => {
    if (ctl.health === 'fail') send(res, 503, { ok: false });
    else send(res, 200, { ok: true });
  });
}

let connections = 0;
let appConnections = 0;   // connections that carried a request other than /__np/*
const server = createServer(o, (req, res) => {
  const u0 = new URL(req.url, 'http://x');
  if (u0.pathname.startsWith('/__np/')) { req.resume(); control(req, res, u0); return; }
  if (u0.searchParams.get('close') === '1') res.setHeader('Connection', 'close');
  {
    const k = u0.pathname;
    const now = Date.now();
    ctl.counts[k] = (ctl.counts[k] || 0) + 1;
    if (!(k in ctl.first)) ctl.first[k] = now;
    ctl.last[k] = now;
  }
  if (/\/healthz$/.test(u0.pathname)) { health(req, res); return; }
  if (ctl.delay > 0) { setTimeout(() => handle(req, res), ctl.delay); return; }
  handle(req, res);
});

function handle(req, res) {
  req.npConn = connInfo(req);
  const u = new URL(req.url, 'http://x');
  const p = u.pathname;
  let m;

  if (/\/count$/.test(p)) {
    readBody(req, () => send(res, 200, { name: o.name, count }));
    return;
  }
  if (/\/reset-count$/.test(p)) {
    count = 0;
    readBody(req, () => send(res, 200, { name: o.name, count }));
    return;
  }
  count++;

  if (/\/sse$/.test(p)) {
    res.writeHead(200, {
      'X-Backend': o.name,
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
    });
    let i = 0;
    const total = Number(u.searchParams.get('n') || 5);
    const tick = () => {
      i++;
      res.write(`id: ${i}\ndata: event ${i} at ${Date.now()}\n\n`);
      if (i >= total) { res.end(); return; }
      setTimeout(tick, 200);
    };
    tick();
    req.on('close', () => { i = total; });
    return;
  }

  if (/\/big$/.test(p)) {
    const total = Number(u.searchParams.get('bytes') || 1048576);
    res.writeHead(200, {
      'X-Backend': o.name,
      'Content-Type': 'application/octet-stream',
      'Content-Length': total,
    });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(block.length, total - sent);
        const chunk = n === block.length ? block : block.subarray(0, n);
        sent += n;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    req.resume();
    pump();
    return;
  }

  if (/\/chunked$/.test(p)) {
    res.writeHead(200, { 'X-Backend': o.name, 'Content-Type': 'text/plain' });
    res.write('chunk-one\n');
    setTimeout(() => { res.write('chunk-two\n'); }, 50);
    setTimeout(() => { res.end('chunk-three\n'); }, 100);
    req.resume();
    return;
  }

  if (/\/redirect$/.test(p)) {
    const to = u.searchParams.get('to') || '/';
    readBody(req, () => send(res, 302, describe(req), { Location: to }));
    return;
  }

  if (/\/cookie$/.test(p)) {
    const sub = u.searchParams.get('p') || '/sub';
    const root = u.searchParams.get('root') || '/';
    readBody(req, () => send(res, 200, describe(req), {
      'Set-Cookie': [`a=1; Path=${root}`, `b=2; Path=${sub}; HttpOnly`],
    }));
    return;
  }

  if ((m = /\/status\/(\d{3})$/.exec(p))) {
    const st = Number(m[1]);
    readBody(req, () => {
      if (st === 204 || st === 304) {
        res.writeHead(st, { 'X-Backend': o.name });
        res.end();
      } else {
        send(res, st, describe(req, { status: st }));
      }
    });
    return;
  }

  if (/\/slow$/.test(p)) {
    const ms = Number(u.searchParams.get('ms') || 1000);
    readBody(req, (err, n, sha) => {
      setTimeout(() => send(res, 200, describe(req, { body_length: n, body_sha256: sha })), ms);
    });
    return;
  }

  readBody(req, (err, n, sha) => {
    if (err) { res.destroy(); return; }
    send(res, 200, describe(req, { body_length: n, body_sha256: sha }));
  });
}

if (o.keepAliveTimeout !== undefined) {
  // Node advertises `Keep-Alive: timeout=N` but closes an idle connection
  // only about 1 s later; close it exactly keepAliveTimeout ms after the last
  // response instead, so the proxy's pooled connection really is closed when
  // it comes back (keepalive.t).
  server.keepAliveTimeout = o.keepAliveTimeout;
  server.on('request', (req, res) => {
    const sock = req.socket;
    if (sock.npIdle) { clearTimeout(sock.npIdle); sock.npIdle = null; }
    res.on('finish', () => {
      if (sock.npIdle) clearTimeout(sock.npIdle);
      sock.npIdle = setTimeout(() => sock.end(), o.keepAliveTimeout);
    });
  });
}
server.headersTimeout = 60000;
server.requestTimeout = 0;   // large uploads must not be cut off
server.on('clientError', (err, sock) => {
  if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nX-Backend: ' + o.name + '\r\nConnection: close\r\n\r\n');
});
// every connection accepted (TCP; over https: completed handshakes too, in tls)
const rawSocks = new Set();
const secureSocks = new Set();
server.on('connection', (s) => {
  connections++;
  rawSocks.add(s);
  s.on('close', () => rawSocks.delete(s));
});
server.on('secureConnection', (s) => {
  secureSocks.add(s);
  s.on('close', () => secureSocks.delete(s));
});
listen(server, o);
