'use strict';
// ws.js: WebSocket echo backend for the WebSocket tests (websocket*.t).
//
//   node ws.js --name NAME --port PORT      (the common.js command line)
//
// Plain HTTP (any request that is not a WebSocket handshake):
//   200 application/json {name, method, url, headers, upgrade}, with
//   `X-Backend: NAME`. `upgrade` is the Upgrade header the backend saw (null
//   when none): a request that reached the backend with an Upgrade it does not
//   tunnel (h2c, or a WebSocket handshake on a mapping with websocket=off)
//   gets a normal 200 answer too.
//
// WebSocket handshake (GET with Upgrade: websocket), by the LAST path segment:
//   .../reject403   answered `403 Forbidden` (X-Backend, a short body), closed
//   .../badaccept   answered `101 Switching Protocols` with a WRONG
//                   Sec-WebSocket-Accept, written raw on the socket (as a raw
//                   `net` server would), which then stays open for 5 s
//   anything else   accepted (ws WebSocketServer, no permessage-deflate); the
//                   backend first sends a text message
//                     {"hello": NAME, "url": ..., "headers": {...}}
//                   then echoes every message back with the same type
//                   (text/binary). A text message "__close" makes the backend
//                   close the WebSocket (code 1000).
//
// Control endpoints (send them to the backend directly, not through httpd):
//   /__np/stats   {name, open, opened, closed, upgrades, rejected, http,
//                  last_open_ms, last_close_ms, last_upgrade_headers}
//                 open: WebSockets open now; opened/closed: totals;
//                 upgrades: handshakes seen (any kind); http: plain requests;
//                 *_ms: Date.now() of the last open/close
//   /__np/reset   zero the totals (open stays: it is a state, not a count)

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');
const { parseArgs, listen, createServer, tlsInfo } = require('./common');

const o = parseArgs(process.argv.slice(2));
const st = {
  open: 0, opened: 0, closed: 0, upgrades: 0, rejected: 0, http: 0,
  last_open_ms: 0, last_close_ms: 0, last_upgrade_headers: null,
};

function lastSegment(url) {
  const path = (url || '').split('?')[0];
  const segs = path.split('/').filter((s) => s !== '');
  return segs.length ? segs[segs.length - 1] : '';
}

function sendJson(res, status, obj) {
  const body = Buffer.from(JSON.stringify(obj) + '\n');
  res.writeHead(status, {
    'X-Backend': o.name,
    'Content-Type': 'application/json',
    'Content-Length': body.length,
  });
  res.end(body);
}

function describe(req) {
  return {
    name: o.name, method: req.method, url: req.url, headers: req.headers,
    upgrade: req.headers.upgrade === undefined ? null : req.headers.upgrade,
  };
}

const server = createServer(o, (req, res) => {
  if (req.url === '/__np/stats') { sendJson(res, 200, Object.assign({ name: o.name }, st)); return; }
  if (req.url === '/__np/reset') {
    Object.assign(st, { opened: 0, closed: 0, upgrades: 0, rejected: 0, http: 0,
      last_open_ms: 0, last_close_ms: 0, last_upgrade_headers: null });
    sendJson(res, 200, { ok: true });
    return;
  }
  st.http++;
  req.resume();
  req.on('end', () => sendJson(res, 200, describe(req)));
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false,
                                  maxPayload: 64 * 1024 * 1024 });

wss.on('connection', (ws, req) => {
  st.open++;
  st.opened++;
  st.last_open_ms = Date.now();
  let closed = false;
  const onClose = () => {
    if (closed) return;
    closed = true;
    st.open--;
    st.closed++;
    st.last_close_ms = Date.now();
  };
  ws.on('close', onClose);
  ws.on('error', () => { /* a reset peer: 'close' follows */ });
  ws.send(JSON.stringify({ hello: o.name, url: req.url, headers: req.headers, tls: tlsInfo(req) }));
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length === 7 && data.toString() === '__close') {
      ws.close(1000, 'asked');
      return;
    }
    ws.send(data, { binary: isBinary });
  });
});

server.on('upgrade', (req, socket, head) => {
  st.upgrades++;
  st.last_upgrade_headers = req.headers;
  socket.on('error', () => { /* reset by the peer */ });
  const up = (req.headers.upgrade || '').toLowerCase();
  if (up !== 'websocket') {
    // not ours to switch to (h2c...): answer as a plain request
    st.http++;
    const body = Buffer.from(JSON.stringify(describe(req)) + '\n');
    socket.end('HTTP/1.1 200 OK\r\nX-Backend: ' + o.name +
               '\r\nContent-Type: application/json\r\nContent-Length: ' + body.length +
               '\r\nConnection: close\r\n\r\n' + body.toString());
    return;
  }
  const seg = lastSegment(req.url);
  if (seg === 'reject403') {
    st.rejected++;
    const body = 'forbidden by ' + o.name + '\n';
    socket.end('HTTP/1.1 403 Forbidden\r\nX-Backend: ' + o.name +
               '\r\nContent-Type: text/plain\r\nContent-Length: ' + body.length +
               '\r\nConnection: close\r\n\r\n' + body);
    return;
  }
  if (seg === 'badaccept') {
    st.rejected++;
    const wrong = crypto.createHash('sha1').update('not-the-key').digest('base64');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
                 'Connection: Upgrade\r\nX-Backend: ' + o.name +
                 '\r\nSec-WebSocket-Accept: ' + wrong + '\r\n\r\n');
    // a text frame "hi" right after, as a tunnel would carry it
    socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    setTimeout(() => socket.destroy(), 5000).unref();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.on('clientError', (err, socket) => { socket.destroy(); });
listen(server, o);
