'use strict';
// Shared helpers for the Node.js test backends (plain `http`/`net`, no framework).
//
// Command line of every backend:
//   node <script>.js --name NAME --port PORT [--host 127.0.0.1]
//   node <script>.js --name NAME --socket /path/to/app.sock
//   [--keep-alive-timeout MS]
//   [--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--tls-require-client-cert]]
//     https instead of http (createServer below); with --tls-require-client-cert
//     a client must present a certificate signed by --tls-ca
// Environment fallbacks: NP_NAME, NP_PORT, NP_SOCKET, NP_KEEPALIVE_MS.

const fs = require('fs');

function parseArgs(argv) {
  const o = {
    name: process.env.NP_NAME || 'backend',
    host: '127.0.0.1',
    port: process.env.NP_PORT ? Number(process.env.NP_PORT) : undefined,
    socket: process.env.NP_SOCKET,
    keepAliveTimeout: process.env.NP_KEEPALIVE_MS ? Number(process.env.NP_KEEPALIVE_MS) : undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--name') { o.name = v; i++; }
    else if (a === '--port') { o.port = Number(v); i++; }
    else if (a === '--host') { o.host = v; i++; }
    else if (a === '--socket') { o.socket = v; i++; }
    else if (a === '--keep-alive-timeout') { o.keepAliveTimeout = Number(v); i++; }
    else if (a === '--tls-cert') { o.tlsCert = v; i++; }
    else if (a === '--tls-key') { o.tlsKey = v; i++; }
    else if (a === '--tls-ca') { o.tlsCa = v; i++; }
    else if (a === '--tls-require-client-cert') { o.tlsRequireClientCert = true; }
    else { throw new Error('unknown argument ' + a); }
  }
  if (!o.socket && !o.port) throw new Error('need --port or --socket');
  return o;
}

// An http.Server, or an https.Server with --tls-cert. TLS facts are
// counted in tlsStats: connections, handshakes resumed, last server name.
const tlsStats = { connections: 0, resumed: 0, servernames: {}, client_certs: 0 };
function createServer(o, handler) {
  if (!o.tlsCert) return require('http').createServer(handler);
  const opts = {
    cert: fs.readFileSync(o.tlsCert),
    key: fs.readFileSync(o.tlsKey),
  };
  if (o.tlsCa) opts.ca = fs.readFileSync(o.tlsCa);
  if (o.tlsRequireClientCert) { opts.requestCert = true; opts.rejectUnauthorized = true; }
  const server = require('https').createServer(opts, handler);
  server.on('secureConnection', (s) => {
    tlsStats.connections++;
    if (s.isSessionReused()) tlsStats.resumed++;
    const sn = s.servername || '(none)';
    tlsStats.servernames[sn] = (tlsStats.servernames[sn] || 0) + 1;
    if (s.authorized && s.getPeerCertificate() && s.getPeerCertificate().subject) tlsStats.client_certs++;
  });
  return server;
}

// What TLS said about a request's connection (null over plain http).
function tlsInfo(req) {
  const s = req.socket;
  if (!s.encrypted) return null;
  const pc = s.getPeerCertificate ? s.getPeerCertificate() : null;
  return {
    servername: s.servername || null,
    resumed: s.isSessionReused(),
    protocol: s.getProtocol(),
    alpn: s.alpnProtocol || null,
    client_cn: pc && pc.subject ? pc.subject.CN : null,
  };
}

// Listen on a TCP port or a unix socket; the socket is made world-writable so
// that httpd children running as `nobody` can connect to it.
function listen(server, o) {
  const done = () => {
    if (o.socket) {
      try { fs.chmodSync(o.socket, 0o666); } catch (e) { /* ignore */ }
    }
    const where = o.socket ? o.socket : `${o.host}:${o.port}`;
    process.stdout.write(`${o.name} listening on ${where}\n`);
  };
  if (o.socket) {
    try { fs.unlinkSync(o.socket); } catch (e) { /* not there */ }
    server.listen(o.socket, done);
  } else {
    server.listen(o.port, o.host, done);
  }
  const stop = () => {
    if (o.socket) { try { fs.unlinkSync(o.socket); } catch (e) { /* ignore */ } }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // started by the test suite: go away when the test process is gone
  const ppid = Number(process.env.NP_PARENT_PID || 0);
  if (ppid > 0) {
    setInterval(() => {
      try { process.kill(ppid, 0); } catch (e) { stop(); }
    }, 1000).unref();
  }
}

// The deterministic byte pattern used by /big and by the upload tests:
// byte i of the stream is ((i % 65536) * 31 + 7) & 0xff.
function patternBlock() {
  const b = Buffer.alloc(65536);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

module.exports = { parseArgs, listen, patternBlock, createServer, tlsInfo, tlsStats };
