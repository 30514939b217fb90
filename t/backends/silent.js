'use strict';
// silent.js: a raw `net` server that accepts TCP connections and never sends
// a byte (nor closes them): a TLS client's handshake gets no answer, like a
// backend whose process is wedged or a port behind a black-holing proxy.
// It logs each connection accepted and closed by the client.

const net = require('net');
const { parseArgs, listen } = require('./common');

const o = parseArgs(process.argv.slice(2));
let accepted = 0;
const server = net.createServer((sock) => {
  const n = ++accepted;
  process.stdout.write(`${o.name}: connection ${n} accepted\n`);
  sock.on('error', () => {});
  sock.on('close', () => process.stdout.write(`${o.name}: connection ${n} closed by the client\n`));
  sock.resume();   // read (and drop) what comes, answer nothing
});
listen(server, o);
