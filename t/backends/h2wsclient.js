'use strict';
// h2wsclient.js: RFC 8441 WebSocket client (WebSocket over an HTTP/2 stream,
// extended CONNECT), driven by websocket_h2.t. Node's http2 client opens the
// stream; the WebSocket frames are encoded and decoded here (client frames
// masked, RFC 6455 5.2), since `ws` only speaks over HTTP/1.1.
//
//   node h2wsclient.js '<JSON plan>'     prints one JSON result line, exits
//
// Plan keys: url (https://HOST:PORT/path; certificates are not checked),
// headers {name: value} (extra request headers, e.g. cookie), timeout (ms,
// default 10000: the whole run), op:
//   handshake  CONNECT only -> {settings_connect, status, headers, body}
//              (the stream is reset right after the response head of a 200)
//   echo       CONNECT, read the backend's hello, send `messages`
//              ([{type: "text"|"binary", size: N}]) one at a time, each
//              checked byte for byte against its echo, then end as `close`:
//                "client"   send a close frame (1000); wait for the backend's
//                           close frame and the end of the stream
//                "backend"  send "__close": the backend closes (1000); answer
//                           its close frame like a browser, do not end the
//                           stream ourselves; wait for the end of the stream
//                "end"      end our side of the stream (END_STREAM) with no
//                           close frame; wait for the end of the stream
//                "rst"      reset the stream (RST_STREAM CANCEL), at once
//              -> {settings_connect, status, headers, hello, echoes:
//                  [{type, size, ok}], all_ok, close_code (the backend's
//                  close frame, null if none), stream_ended (the server
//                  ended the stream), rst_code, error, ms}
//   hold       CONNECT, read the hello, then send nothing and wait at most
//              `duration` ms for the stream to end
//              -> {status, hello, closed_after_ms (null: still open), ...}

const http2 = require('http2');

const plan = JSON.parse(process.argv[2] || '{}');
const started = Date.now();
const out = {
  settings_connect: null, status: null, headers: null, hello: null,
  echoes: [], all_ok: false, close_code: null, stream_ended: false,
  rst_code: null, closed_after_ms: null, body: null, error: null, ms: 0,
};

function finish() {
  out.ms = Date.now() - started;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}
setTimeout(() => { out.error = out.error || 'timeout'; finish(); },
           plan.timeout || 10000);

// ---- frames ------------------------------------------------------------

function encode(opcode, payload) {
  const len = payload.length;
  let head;
  if (len < 126) {
    head = Buffer.alloc(2);
    head[1] = 0x80 | len;
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = 0x80 | opcode;           // FIN, no fragmentation
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

// Server frames are not masked; `ws` sends each message as one frame, but
// continuation frames are joined anyway.
function makeDecoder(onMessage) {
  let buf = Buffer.alloc(0);
  let frag = null, fragOp = 0;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0;
      const op = buf[0] & 0x0f;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2); off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2)); off = 10;
      }
      if (buf[1] & 0x80) off += 4;   // a masked server frame is an error; skip the key
      if (buf.length < off + len) return;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (op === 0) {
        frag = Buffer.concat([frag || Buffer.alloc(0), payload]);
        if (fin) { onMessage(fragOp, frag); frag = null; }
      } else if (!fin) {
        frag = Buffer.from(payload); fragOp = op;
      } else {
        onMessage(op, Buffer.from(payload));
      }
    }
  };
}

function pattern(type, size, seed) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed * 17 + 11) & 0xff;
  if (type === 'text') for (let i = 0; i < size; i++) b[i] = 0x20 + (b[i] % 95);
  return b;
}

// ---- the run -----------------------------------------------------------

const u = new URL(plan.url);
const session = http2.connect(u.origin, { rejectUnauthorized: false });
session.on('error', (e) => { out.error = out.error || 'session: ' + e.message; finish(); });

session.on('remoteSettings', (settings) => {
  if (out.settings_connect !== null) return;
  out.settings_connect = !!settings.enableConnectProtocol;
  if (!out.settings_connect) { out.error = 'no SETTINGS_ENABLE_CONNECT_PROTOCOL'; finish(); }
  run();
});

function run() {
  const headers = Object.assign({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https',
    ':authority': u.host, ':path': u.pathname + u.search,
    'sec-websocket-version': '13',
  }, plan.headers || {});
  let req;
  try {
    req = session.request(headers, { endStream: false });
  } catch (e) {
    out.error = 'request: ' + e.message; finish(); return;
  }
  const queue = [];           // messages received, for the waiters
  let waiter = null;
  let ended = null;           // resolve of the wait for the stream's end
  const deliver = () => {
    if (waiter && queue.length) { const w = waiter; waiter = null; w(queue.shift()); }
  };
  const next = () => new Promise((resolve) => { waiter = resolve; deliver(); });
  const onEnd = () => { if (ended) { const e = ended; ended = null; e(); } };

  const decode = makeDecoder((op, data) => {
    if (op === 8) {
      out.close_code = data.length >= 2 ? data.readUInt16BE(0) : 1005;
    }
    queue.push({ op, data });
    deliver();
  });
  req.on('response', (h) => {
    out.status = h[':status'];
    out.headers = {};
    for (const k of Object.keys(h)) if (k[0] !== ':') out.headers[k] = h[k];
    if (out.status !== 200) {
      const parts = [];
      req.on('data', (d) => parts.push(d));
      req.on('end', () => { out.body = Buffer.concat(parts).toString(); finish(); });
      return;
    }
    if (plan.op === 'handshake') { req.close(http2.constants.NGHTTP2_CANCEL); finish(); return; }
    req.on('data', decode);
    main().catch((e) => { out.error = String(e && e.message || e); finish(); });
  });
  req.on('end', () => { out.stream_ended = true; onEnd(); });
  req.on('close', () => { out.rst_code = req.rstCode; onEnd(); });
  req.on('error', (e) => { out.error = out.error || 'stream: ' + e.message; });

  const streamDone = () => new Promise((resolve) => {
    if (req.closed || req.readableEnded) { resolve(); return; }
    ended = resolve;
  });

  async function main() {
    const h = await next();
    try { out.hello = JSON.parse(h.data.toString()); } catch (e) { out.hello = h.data.toString(); }
    const t0 = Date.now();
    if (plan.op === 'hold') {
      const limit = new Promise((resolve) => setTimeout(resolve, plan.duration || 5000));
      let closed = false;
      await Promise.race([streamDone().then(() => { closed = true; }), limit]);
      if (closed) out.closed_after_ms = Date.now() - t0;
      finish();
      return;
    }
    let ok = true, seed = 1;
    for (const m of plan.messages || []) {
      const data = pattern(m.type, m.size, seed++);
      req.write(encode(m.type === 'text' ? 1 : 2, data));
      const got = await next();
      const good = got.op === (m.type === 'text' ? 1 : 2) && got.data.equals(data);
      out.echoes.push({ type: m.type, size: m.size, ok: good });
      ok = ok && good;
    }
    out.all_ok = ok && out.echoes.length === (plan.messages || []).length;
    const how = plan.close || 'client';
    if (how === 'rst') {
      req.close(http2.constants.NGHTTP2_CANCEL);
      // let the RST_STREAM leave before exiting
      setTimeout(finish, 300);
      return;
    }
    if (how === 'client') {
      const code = Buffer.alloc(2);
      code.writeUInt16BE(1000, 0);
      req.write(encode(8, code));
      await next();             // the backend's close frame
    } else if (how === 'backend') {
      req.write(encode(1, Buffer.from('__close')));
      const c = await next();   // its close frame: answer it, as browsers do
      req.write(encode(8, c.data.subarray(0, 2)));
    } else if (how === 'end') {
      req.end();
    }
    await streamDone();
    finish();
  }
}
