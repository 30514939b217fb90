'use strict';
// rl_latency.js URL N: N sequential GETs over one kept-alive connection;
// prints {n, ok, p50_us, p90_us, p99_us, max_us} (latency per request).
const http = require('http');
const [url, nStr] = process.argv.slice(2);
const n = Number(nStr || 5000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const lat = [];
let ok = 0;
function one(i) {
  if (i >= n) {
    lat.sort((a, b) => a - b);
    const q = (p) => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]);
    console.log(JSON.stringify({ n, ok, p50_us: q(0.5), p90_us: q(0.9), p99_us: q(0.99), max_us: q(1) }));
    agent.destroy();
    return;
  }
  const t = process.hrtime.bigint();
  http.get(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (i >= 200) lat.push(Number(process.hrtime.bigint() - t) / 1000);  // after a warm-up
      if (res.statusCode === 200) ok++;
      one(i + 1);
    });
  }).on('error', (e) => { console.error(e.message); process.exit(1); });
}
one(0);
