'use strict';
// WebSocket helper for the benchmarks (uses the `ws` package).
//   node ws.js server PORT
//       echo server on 127.0.0.1:PORT
//   node ws.js hold URL COUNT
//       opens COUNT WebSockets (at most 200 handshakes in flight), prints
//       "OPEN n failed=f", then holds them until stdin closes or a line arrives.
//   node ws.js echo URL TUNNELS MESSAGES SIZE
//       opens TUNNELS WebSockets, prints "READY n", waits for a line on stdin,
//       then sends MESSAGES messages of SIZE bytes in total, spread over the
//       tunnels, each tunnel waiting for the echo before its next send;
//       prints "DONE echoed ms", and exits.
const path = require('path');
let WebSocket;
for (const p of ['ws', path.join(__dirname, 'node_modules', 'ws'),
                 path.join(__dirname, '..', 't', 'backends', 'node_modules', 'ws')]) {
  try { WebSocket = require(p); break; } catch (e) { /* next */ }
}
if (!WebSocket) { console.error('ws package not found'); process.exit(2); }

const mode = process.argv[2];
const readline = require('readline');

function waitLine() {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin });
    let done = false;
    const fin = () => { if (!done) { done = true; rl.close(); resolve(); } };
    rl.on('line', fin);
    rl.on('close', fin);
  });
}

function openMany(url, count) {
  return new Promise((resolve) => {
    const socks = [];
    let started = 0, finished = 0, failed = 0;
    const next = () => {
      while (started < count && started - finished < 200) {
        started++;
        const ws = new WebSocket(url, { perMessageDeflate: false });
        let settled = false;
        const settle = (ok) => {
          if (settled) return;
          settled = true;
          finished++;
          if (ok) socks.push(ws); else failed++;
          if (finished === count) resolve({ socks, failed });
          else next();
        };
        ws.on('open', () => settle(true));
        ws.on('error', () => settle(false));
        ws.on('close', () => settle(false));
      }
    };
    if (count === 0) resolve({ socks, failed });
    next();
  });
}

async function main() {
  if (mode === 'server') {
    const port = Number(process.argv[3]);
    const wss = new WebSocket.Server({ host: '127.0.0.1', port, perMessageDeflate: false });
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', () => {});
    });
    wss.on('listening', () => process.stdout.write(`listening ${port}\n`));
    process.on('SIGTERM', () => process.exit(0));
  } else if (mode === 'hold') {
    const url = process.argv[3];
    const count = Number(process.argv[4]);
    const { socks, failed } = await openMany(url, count);
    process.stdout.write(`OPEN ${socks.length} failed=${failed}\n`);
    await waitLine();
    for (const s of socks) s.terminate();
    process.exit(0);
  } else if (mode === 'echo') {
    const url = process.argv[3];
    const tunnels = Number(process.argv[4]);
    const messages = Number(process.argv[5]);
    const size = Number(process.argv[6] || 32);
    const { socks } = await openMany(url, tunnels);
    process.stdout.write(`READY ${socks.length}\n`);
    await waitLine();
    const payload = Buffer.alloc(size, 'm');
    const per = Math.ceil(messages / Math.max(1, socks.length));
    let echoed = 0;
    const t0 = Date.now();
    await Promise.all(socks.map((ws) => new Promise((resolve) => {
      let left = per;
      const timer = setTimeout(resolve, 60000);
      ws.on('message', () => {
        echoed++;
        if (--left > 0) ws.send(payload); else { clearTimeout(timer); resolve(); }
      });
      ws.on('close', () => { clearTimeout(timer); resolve(); });
      ws.send(payload);
    })));
    process.stdout.write(`DONE ${echoed} ${Date.now() - t0}\n`);
    for (const s of socks) s.terminate();
    process.exit(0);
  } else {
    console.error('usage: ws.js server PORT | hold URL COUNT | echo URL TUNNELS MESSAGES SIZE');
    process.exit(2);
  }
}
main();
