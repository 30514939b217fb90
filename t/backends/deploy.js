'use strict';
// deploy.js: a Node app that shuts down gracefully, for the rolling-deploy
// tests (t/modules/rolling_deploy.t, control_drain.t).
//
//   node deploy.js --name NAME --port PORT
//
// Every response carries `X-Backend: <name>` and is JSON.
//   GET  any path        {name, pid, url} after 0-15 ms
//   POST any path        the body is read streaming and hashed; answered
//                        {name, len, sha256, expect_len, ok} after 0-15 ms;
//                        ok: the body is exactly Content-Length bytes and
//                        its sha256 is the X-Body-Sha256 request header
//   GET  .../healthz     200 {"ok":true}; 503 once shutting down
// On SIGTERM (a deploy): /healthz answers 503, the server stops accepting
// (server.close), idle keep-alive sockets are closed at once, requests in
// flight are finished, then the process exits. At exit it appends one JSON
// line to t/logs/deploy-NAME.jsonl: {pid, gets, posts, bad_bodies,
// aborted, in_flight_at_term} (aborted: requests whose connection closed
// before their body or answer was complete).

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

let name = 'deploy';
let port = 0;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--name') name = process.argv[++i];
  else if (process.argv[i] === '--port') port = Number(process.argv[++i]);
  else throw new Error('unknown argument ' + process.argv[i]);
}
const st = { pid: process.pid, gets: 0, posts: 0, bad_bodies: 0, aborted: 0, in_flight_at_term: 0 };
let inFlight = 0;
let shuttingDown = false;

function send(res, status, obj) {
  const body = Buffer.from(JSON.stringify(obj) + '\n');
  res.writeHead(status, { 'X-Backend': name, 'Content-Type': 'application/json',
                          'Content-Length': body.length });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (/\/healthz$/.test(req.url.split('?')[0])) {
    req.resume();
    send(res, shuttingDown ? 503 : 200, { ok: !shuttingDown });
    return;
  }
  inFlight++;
  let done = false;
  const finish = () => { if (!done) { done = true; inFlight--; } };
  res.on('finish', finish);
  res.on('close', () => { if (!res.writableFinished) st.aborted++; finish(); });
  const delay = Math.floor(Math.random() * 16);
  if (req.method === 'POST') {
    st.posts++;
    const h = crypto.createHash('sha256');
    let n = 0;
    req.on('data', (c) => { n += c.length; h.update(c); });
    req.on('aborted', () => { st.bad_bodies++; });
    req.on('end', () => {
      const sha = h.digest('hex');
      const expectLen = Number(req.headers['content-length'] || -1);
      const ok = n === expectLen && sha === req.headers['x-body-sha256'];
      if (!ok) st.bad_bodies++;
      setTimeout(() => send(res, 200, { name, len: n, sha256: sha, expect_len: expectLen, ok }), delay);
    });
    return;
  }
  st.gets++;
  req.resume();
  setTimeout(() => send(res, 200, { name, pid: process.pid, url: req.url }), delay);
});
server.keepAliveTimeout = 5000;

function writeStats() {
  try {
    fs.appendFileSync(path.join(__dirname, '..', 'logs', `deploy-${name}.jsonl`),
                      JSON.stringify(st) + '\n');
  } catch (e) { /* the test will miss it */ }
}

process.on('SIGTERM', () => {
  if (shuttingDown) return;
  shuttingDown = true;
  st.in_flight_at_term = inFlight;
  server.close(() => { writeStats(); process.exit(0); });
  server.closeIdleConnections();
  // keep-alive sockets that become idle after their last response
  setInterval(() => server.closeIdleConnections(), 50).unref();
  // never hang a test: give up after 10 s
  setTimeout(() => { writeStats(); process.exit(1); }, 10000).unref();
});
// started by the test suite: go away when the test process is gone
const ppid = Number(process.env.NP_PARENT_PID || 0);
if (ppid > 0) {
  setInterval(() => { try { process.kill(ppid, 0); } catch (e) { process.exit(0); } }, 1000).unref();
}
server.listen(port, '127.0.0.1', () => process.stdout.write(`${name} listening on 127.0.0.1:${port}\n`));
