#!/usr/bin/env node
// Demo app for scripts/demo.sh: one small Node.js HTTP server that says who
// it is, so you can see which process mod_nodeproxy sent each request to.
//
//   node demo/app.js --name app1 --port 3001      # a server
//   node demo/app.js ws-client ws://127.0.0.1:8080/ws [message]
//                                                 # a WebSocket client
//
// Routes:
//   /             name, port, pid, the request line and the forwarding headers
//                 (?format=json or Accept: application/json for JSON); counts
//                 the visits of your session (cookie demo_sid) in this process
//   /events       Server-Sent Events: one event a second (?count=N to stop)
//   /ws           WebSocket echo (the ws package): replies "<name>: <message>"
//   /health       200 "ok", or 503 after /admin/down (until /admin/up)
//   /redirect     302 to this backend's own URL (see NodeProxyPass reverse=on)
//   /slow?ms=N    answers after N milliseconds (see NodeTimeout)
//   /upload       POST a body: counts its bytes as they stream in
'use strict';

const http = require('http');
const crypto = require('crypto');

function parseArgs(argv) {
  const opts = {
    name: process.env.DEMO_NAME || 'app',
    port: Number(process.env.DEMO_PORT || 3001),
    host: process.env.DEMO_HOST || '127.0.0.1',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--name' || a === '--port' || a === '--host') && i + 1 < argv.length) {
      opts[a.slice(2)] = a === '--port' ? Number(argv[++i]) : argv[++i];
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535) {
    throw new Error(`bad port ${opts.port}`);
  }
  return opts;
}

function wsClient(url, message) {
  const WebSocket = require('ws');
  const ws = new WebSocket(url);
  const timer = setTimeout(() => {
    console.error('no answer within 5s');
    process.exit(1);
  }, 5000);
  let greeted = false;
  ws.on('open', () => console.log(`connected to ${url}`));
  ws.on('message', (data) => {
    console.log(`< ${data}`);
    if (!greeted) {
      greeted = true;
      console.log(`> ${message}`);
      ws.send(message);
    } else {
      clearTimeout(timer);
      ws.close();
    }
  });
  ws.on('unexpected-response', (req, res) => {
    console.error(`no WebSocket: the server answered ${res.statusCode} ${res.statusMessage}`);
    process.exit(1);
  });
  ws.on('error', (err) => {
    console.error(`WebSocket error: ${err.message}`);
    process.exit(1);
  });
  ws.on('close', () => process.exit(0));
}

function server(opts) {
  const { name, port, host } = opts;
  const started = new Date();
  const sessions = new Map(); // demo_sid -> visits: in-memory, per process
  const sseTimers = new Set();
  let healthy = true;
  let requests = 0;

  function cookies(req) {
    const out = {};
    for (const part of (req.headers.cookie || '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return out;
  }

  function send(res, status, type, body, headers = {}) {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'X-Backend': name,
      ...headers,
    });
    res.end(body);
  }

  function info(req, res, url) {
    const jar = cookies(req);
    let sid = jar.demo_sid;
    const headers = {};
    if (!sid || !sessions.has(sid)) {
      sid = crypto.randomBytes(8).toString('hex');
      headers['Set-Cookie'] = `demo_sid=${sid}; Path=/; HttpOnly; SameSite=Lax`;
    }
    const visits = (sessions.get(sid) || 0) + 1;
    sessions.set(sid, visits);
    const fwd = {};
    for (const h of ['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
      'x-forwarded-port', 'x-forwarded-prefix', 'forwarded']) {
      if (req.headers[h] !== undefined) fwd[h] = req.headers[h];
    }
    const data = {
      name, port, pid: process.pid, method: req.method, url: req.url,
      remote: req.socket.remoteAddress, session_visits: visits, headers: fwd,
      requests, up_since: started.toISOString(),
    };
    const wantsJson = url.searchParams.get('format') === 'json' ||
      /application\/json/.test(req.headers.accept || '');
    if (wantsJson) {
      send(res, 200, 'application/json', JSON.stringify(data, null, 2) + '\n', headers);
      return;
    }
    const lines = [
      `Hello from ${name} (port ${port}, pid ${process.pid})`,
      `${req.method} ${req.url} from ${data.remote}`,
      `visits of your session on ${name}: ${visits}`,
      ...Object.entries(fwd).map(([k, v]) => `${k}: ${v}`),
    ];
    send(res, 200, 'text/plain; charset=utf-8', lines.join('\n') + '\n', headers);
  }

  function events(req, res, url) {
    const count = Number(url.searchParams.get('count') || 0);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      'X-Backend': name,
    });
    res.write(`retry: 2000\n: stream from ${name}\n\n`);
    let n = 0;
    const timer = setInterval(() => {
      n++;
      res.write(`event: tick\nid: ${n}\ndata: ${JSON.stringify({ name, port, n, time: new Date().toISOString() })}\n\n`);
      if (count && n >= count) stop();
    }, 1000);
    sseTimers.add(timer);
    function stop() {
      clearInterval(timer);
      sseTimers.delete(timer);
      res.end();
    }
    req.on('close', stop);
  }

  function upload(req, res) {
    let bytes = 0;
    req.on('data', (chunk) => { bytes += chunk.length; });
    req.on('end', () => send(res, 200, 'text/plain', `${name} received ${bytes} bytes\n`));
  }

  const srv = http.createServer((req, res) => {
    requests++;
    const url = new URL(req.url, 'http://placeholder');
    switch (url.pathname) {
      case '/health':
        send(res, healthy ? 200 : 503, 'text/plain', healthy ? 'ok\n' : 'down\n');
        return;
      case '/admin/down':
      case '/admin/up':
        healthy = url.pathname === '/admin/up';
        send(res, 200, 'text/plain', `${name}: /health now answers ${healthy ? 200 : 503}\n`);
        return;
      case '/events':
        events(req, res, url);
        return;
      case '/redirect':
        send(res, 302, 'text/plain', 'see /\n', { Location: `http://${host}:${port}/` });
        return;
      case '/slow': {
        const ms = Math.min(Number(url.searchParams.get('ms') || 2000), 600000);
        setTimeout(() => send(res, 200, 'text/plain', `${name} answered after ${ms}ms\n`), ms);
        return;
      }
      case '/upload':
        if (req.method === 'POST' || req.method === 'PUT') {
          upload(req, res);
          return;
        }
        break;
      default:
        break;
    }
    info(req, res, url);
  });

  // WebSocket echo on /ws; ws is loaded only when someone asks for it.
  let wss = null;
  srv.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url, 'http://placeholder');
    if (pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!wss) {
      const { WebSocketServer } = require('ws');
      wss = new WebSocketServer({ noServer: true });
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(`hello from ${name} (port ${port})`);
      ws.on('message', (data) => ws.send(`${name}: ${data}`));
    });
  });

  srv.on('error', (err) => {
    console.error(`${name}: ${err.message}`);
    process.exit(1);
  });
  srv.listen(port, host, () => console.log(`${name} listening on http://${host}:${port}/ (pid ${process.pid})`));

  function shutdown() {
    for (const t of sseTimers) clearInterval(t);
    if (wss) for (const c of wss.clients) c.terminate();
    srv.close(() => process.exit(0));
    srv.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === 'ws-client') {
    if (!argv[1]) {
      console.error('usage: node app.js ws-client ws://HOST:PORT/ws [message]');
      process.exit(2);
    }
    wsClient(argv[1], argv[2] || 'hello through mod_nodeproxy');
    return;
  }
  try {
    server(parseArgs(argv));
  } catch (err) {
    console.error(`${err.message}\nusage: node app.js --name NAME --port PORT [--host 127.0.0.1]`);
    process.exit(2);
  }
}

main();
