'use strict';
// hostile.js: a raw `net` backend (not `http`) for t/modules/hardening.t. It
// keeps connections alive (several requests per connection, each answered in
// turn) and misbehaves on purpose, chosen by the last path segment:
//   /ok              200, Content-Length: 3, "ok\n"
//   /lfheader        a header line ended by a bare LF inside the head:
//                    "X-A: a\nX-Injected: yes\r\n"
//   /interim?n=N     N interim "102 Processing" heads, then a 200
//   /drip?every=MS   a response head dripped one byte every MS ms (default
//                    200), never ending (at most 60 s)
//   /ws101bad        101 Switching Protocols with a wrong Sec-WebSocket-Accept
//   /ws101noaccept   101 Switching Protocols without Sec-WebSocket-Accept
//   /any101          101 Switching Protocols (Upgrade: websocket) to any request
//                    (all three: "BOGUS-TUNNEL-BYTES\r\n" right after the head
//                    and every 100 ms, as if a tunnel were open)
//   /early413        413 (Connection: close) as soon as the head is read,
//                    without reading the body; then reads and discards
//   /early401        401 as soon as the head is read; the connection stays
//                    open and the body is read and discarded
//   /body204         204 with Content-Length: 5 and "hello" after the head
//   /body304         304 with "hello" after the head
//   /headbody        200 with Content-Length: 5 and "hello" (also to HEAD)
//   /__conn?id=N     {"open": true|false}: is connection N still open?
//                    (answered with Connection: close, and closed)
// Every response carries `X-Backend: <name>`, `X-Conn: <connection id>`
// and `X-Req: <request number on that connection>`.

const net = require('net');
const { parseArgs, listen } = require('./common');

const o = parseArgs(process.argv.slice(2));
const open = new Map();   // connection id -> socket
let nextId = 1;

function q(path, name, dflt) {
  const m = path.match(new RegExp('[?&]' + name + '=([^&]*)'));
  return m ? decodeURIComponent(m[1]) : dflt;
}

const server = net.createServer((sock) => {
  const id = nextId++;
  let nreq = 0;
  let buf = Buffer.alloc(0);
  let skip = 0;          // body bytes of the current request still to skip
  let discard = false;   // read and drop everything from now on
  let busy = false;
  const timers = [];
  open.set(id, sock);
  sock.on('error', () => {});
  sock.on('close', () => { open.delete(id); timers.forEach(clearTimeout); });

  const hdr = () => `X-Backend: ${o.name}\r\nX-Conn: ${id}\r\nX-Req: ${nreq}\r\n`;

  // a 101 head, then the "tunnel" talks at once (in the same write) and
  // again every 100 ms: none of it may reach the client
  function bogusTunnel(head) {
    busy = true;   // whatever comes now is tunnel data, not requests
    sock.write(head + 'BOGUS-TUNNEL-BYTES\r\n');
    const tick = () => {
      if (sock.destroyed) return;
      sock.write('BOGUS-TUNNEL-BYTES\r\n');
      timers.push(setTimeout(tick, 100));
    };
    timers.push(setTimeout(tick, 100));
  }

  function answer(method, path, heads) {
    const what = path.replace(/\?.*$/, '').replace(/\/+$/, '').split('/').pop();
    switch (what) {
      case 'ok':
        return sock.write(`HTTP/1.1 200 OK\r\n${hdr()}Content-Length: 3\r\n\r\nok\n`);
      case 'lfheader':
        return sock.write(`HTTP/1.1 200 OK\r\n${hdr()}X-A: a\nX-Injected: yes\r\nContent-Length: 3\r\n\r\nok\n`);
      case 'interim': {
        const n = Number(q(path, 'n', '1'));
        sock.write('HTTP/1.1 102 Processing\r\n\r\n'.repeat(n));
        return sock.write(`HTTP/1.1 200 OK\r\n${hdr()}Content-Length: 3\r\n\r\nok\n`);
      }
      case 'drip': {
        const every = Number(q(path, 'every', '200'));
        const head = `HTTP/1.1 200 OK\r\n${hdr()}X-Drip: ${'d'.repeat(5000)}`;
        let i = 0;
        const t0 = Date.now();
        const tick = () => {
          if (sock.destroyed || i >= head.length || Date.now() - t0 > 60000) return;
          sock.write(head[i++]);
          timers.push(setTimeout(tick, every));
        };
        busy = true;   // nothing else on this connection
        return tick();
      }
      case 'ws101bad':
        return bogusTunnel(`HTTP/1.1 101 Switching Protocols\r\n${hdr()}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
                           'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
      case 'ws101noaccept':
      case 'any101':
        return bogusTunnel(`HTTP/1.1 101 Switching Protocols\r\n${hdr()}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
      case 'early413':
        discard = true;
        return sock.write(`HTTP/1.1 413 Payload Too Large\r\n${hdr()}Content-Length: 9\r\nConnection: close\r\n\r\ntoo large`,
                          () => setTimeout(() => sock.end(), 200));
      case 'early401':
        discard = true;
        return sock.write(`HTTP/1.1 401 Unauthorized\r\n${hdr()}Content-Length: 6\r\n\r\ndenied`);
      case 'body204':
        return sock.write(`HTTP/1.1 204 No Content\r\n${hdr()}Content-Length: 5\r\n\r\nhello`);
      case 'body304':
        return sock.write(`HTTP/1.1 304 Not Modified\r\n${hdr()}\r\nhello`);
      case 'headbody':
        return sock.write(`HTTP/1.1 200 OK\r\n${hdr()}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`);
      case '__conn': {
        // answered, then closed: the test polls this, and each poll must
        // end at once (a kept-alive answer left the poller waiting out its
        // read timeout, 5 s per poll)
        const body = JSON.stringify({ open: open.has(Number(q(path, 'id', '0'))) });
        busy = true;
        return sock.end(`HTTP/1.1 200 OK\r\n${hdr()}Content-Type: application/json\r\n` +
                        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      }
      default:
        return sock.write(`HTTP/1.1 404 Not Found\r\n${hdr()}Content-Length: 0\r\n\r\n`);
    }
  }

  sock.on('data', (d) => {
    if (discard || busy) return;
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        skip -= n;
        buf = buf.subarray(n);
        if (skip > 0) return;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 1024 * 1024) sock.destroy();
        return;
      }
      const head = buf.subarray(0, end).toString('latin1');
      buf = buf.subarray(end + 4);
      const lines = head.split('\r\n');
      const [method, path] = lines[0].split(' ');
      const heads = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) heads[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      nreq++;
      answer(method, path || '/', heads);
      if (discard || busy) return;
      // a body we were sent: skip it (chunked bodies are not used here)
      skip = Number(heads['content-length'] || 0);
    }
  });
});

listen(server, o);
