'use strict';
// bad.js: a raw `net` server (not `http`) that misbehaves on purpose, chosen by
// the last path segment of the request:
//   /ok         a correct 200 (control), Connection: close
//   /garbage    a garbage status line
//   /close      closes the connection before sending any byte
//   /halfhead   sends half a response head, then closes
//   /clte       both Content-Length and Transfer-Encoding: chunked
//   /diffcl     two different Content-Length headers
//   /badchunk   a correct head, then a chunked body with a bad chunk size
//   /bigheader  a 100 KiB response header
//   /204body    204 No Content with Content-Length: 5 and a body
//   /diemid     Content-Length: 1000, sends 100 bytes, then destroys the socket
//   /never      reads the request, never answers (socket stays open)
// Every response head it does send carries `X-Backend: <name>`.

const net = require('net');
const { parseArgs, listen } = require('./common');

const o = parseArgs(process.argv.slice(2));
const XB = `X-Backend: ${o.name}\r\n`;
const held = new Set();

function behave(sock, path) {
  const what = path.replace(/\?.*$/, '').replace(/\/+$/, '').split('/').pop();
  switch (what) {
    case 'ok':
      sock.end(`HTTP/1.1 200 OK\r\n${XB}Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n`);
      break;
    case 'garbage':
      sock.end('HELLO THIS IS NOT HTTP AT ALL\r\nfoo bar baz\r\n\r\n');
      break;
    case 'close':
      sock.destroy();
      break;
    case 'halfhead':
      sock.write(`HTTP/1.1 200 OK\r\n${XB}Content-Type: text/pl`);
      setTimeout(() => sock.destroy(), 50);
      break;
    case 'clte':
      sock.end(`HTTP/1.1 200 OK\r\n${XB}Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
      break;
    case 'diffcl':
      sock.end(`HTTP/1.1 200 OK\r\n${XB}Content-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!`);
      break;
    case 'badchunk':
      sock.end(`HTTP/1.1 200 OK\r\n${XB}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`);
      break;
    case 'bigheader':
      sock.end(`HTTP/1.1 200 OK\r\n${XB}X-Huge: ${'a'.repeat(100 * 1024)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`);
      break;
    case '204body':
      sock.end(`HTTP/1.1 204 No Content\r\n${XB}Content-Length: 5\r\nConnection: close\r\n\r\nhello`);
      break;
    case 'diemid':
      sock.write(`HTTP/1.1 200 OK\r\n${XB}Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`);
      sock.write('x'.repeat(100), () => setTimeout(() => sock.destroy(), 100));
      break;
    case 'never':
      held.add(sock);
      sock.on('close', () => held.delete(sock));
      break;
    default:
      sock.end(`HTTP/1.1 404 Not Found\r\n${XB}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  }
}

const server = net.createServer((sock) => {
  let buf = '';
  let done = false;
  sock.setEncoding('latin1');
  sock.on('error', () => {});
  sock.on('data', (d) => {
    if (done) return;
    buf += d;
    if (buf.length > 1024 * 1024) { sock.destroy(); return; }
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    done = true;
    const line = buf.slice(0, buf.indexOf('\r\n'));
    const m = /^[A-Z]+ (\S+) HTTP\/1\.[01]$/.exec(line);
    behave(sock, m ? m[1] : '/');
  });
});
listen(server, o);
