'use strict';
// express.js: a real Express app behind the proxy (issue 14 tests).
//
//   app.set('trust proxy', '127.0.0.1'): the proxy (httpd, connecting from
//   127.0.0.1) is trusted, nobody else; every response has `X-Backend: NAME`.
//   GET .../whoami         {name, ip, ips, protocol, hostname, headers}
//                          (req.ip, req.protocol, req.hostname as Express
//                          derives them from X-Forwarded-*)
//   GET .../cacheable      200 "cacheable from NAME", Cache-Control: public,
//                          max-age=300 (a shared cache may store it)
//   GET .../fail/NNN       status NNN with a body naming the backend
//                          ("stack trace from NAME"); Content-Length framed
//   GET .../failchunked/NNN  the same, chunked (no Content-Length)
//   GET .../failbig/NNN    status NNN with a 2 MiB body (Content-Length)
//   GET .../count          {count: requests served so far on this process}
//   whoami also reports conns (TCP connections accepted so far) and seq
//   (requests seen on this request's connection, 1 = a new connection)
//   anything else          {name, url}
// Command line as every backend (common.js).

const http = require('http');
const express = require('express');
const { parseArgs, listen } = require('./common');

const o = parseArgs(process.argv.slice(2));
const app = express();
let count = 0;

app.set('trust proxy', '127.0.0.1');
app.set('etag', false);
app.disable('x-powered-by');

let conns = 0;
app.use((req, res, next) => {
  req.socket.npSeq = (req.socket.npSeq || 0) + 1;
  res.set('X-Backend', o.name);
  if (!/\/count$/.test(req.path)) count++;
  next();
});

app.get(/\/whoami$/, (req, res) => {
  res.json({ name: o.name, ip: req.ip, ips: req.ips, protocol: req.protocol,
             hostname: req.hostname, headers: req.headers, conns,
             seq: req.socket.npSeq, port: req.socket.remotePort });
});

app.get(/\/cacheable$/, (req, res) => {
  res.set('Cache-Control', 'public, max-age=300');
  res.type('text/plain').send(`cacheable from ${o.name}\n`);
});

app.get(/\/fail\/(\d{3})$/, (req, res) => {
  res.status(Number(req.params[0])).type('text/plain')
    .send(`stack trace from ${o.name}\n`);
});

app.get(/\/failbig\/(\d{3})$/, (req, res) => {
  res.status(Number(req.params[0])).type('text/plain')
    .send(Buffer.alloc(2 * 1024 * 1024, 'x'));
});

app.get(/\/failchunked\/(\d{3})$/, (req, res) => {
  res.status(Number(req.params[0])).type('text/plain');
  res.write(`stack trace from ${o.name}\n`);
  setTimeout(() => res.end('at Object.<anonymous> (app.js:1:1)\n'), 20);
});

app.get(/\/count$/, (req, res) => res.json({ name: o.name, count }));

app.use((req, res) => res.json({ name: o.name, url: req.originalUrl }));

const server = http.createServer(app);
server.on('connection', () => { conns++; });
if (o.keepAliveTimeout) server.keepAliveTimeout = o.keepAliveTimeout;
listen(server, o);
