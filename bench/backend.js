'use strict';
// Benchmark backend: plain Node http server, keep-alive, fixed bodies.
//   node backend.js PORT [NAME]
// GET /16k (or any path containing "16k") -> 16384-byte body, anything else -> 100 bytes.
// Content-Length is always set (no chunking), so every proxy sees the same framing.
// With BENCH_TLS_CERT and BENCH_TLS_KEY (PEM files) it serves https instead.
const http = require('http');
const https = require('https');
const fs = require('fs');
const port = Number(process.argv[2]);
const name = process.argv[3] || 'node';
const small = Buffer.alloc(100, 'a');
const big = Buffer.alloc(16384, 'b');
const tls = process.env.BENCH_TLS_CERT
  ? { cert: fs.readFileSync(process.env.BENCH_TLS_CERT), key: fs.readFileSync(process.env.BENCH_TLS_KEY) }
  : null;
const handler = (req, res) => {
  const body = req.url.indexOf('16k') >= 0 ? big : small;
  res.writeHead(200, {
    'Content-Type': 'text/plain',
    'Content-Length': body.length,
    'X-Backend': name,
  });
  res.end(body);
};
const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
// Node's default keepAliveTimeout (5 s) is kept on purpose: the proxies are
// configured to drop idle backend connections after 4 s, as in production.
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
