'use strict';
// deployload.js: steady keep-alive load of GETs and POSTs for the runtime
// control tests (t/modules/rolling_deploy.t, control_drain.t).
//
//   node deployload.js '<plan JSON>'
//
// plan:
//   url          base URL, e.g. http://127.0.0.1:29430/app/
//   lanes        connections (default 16), each one keep-alive socket with
//                requests one after another, alternately GET and POST
//   seconds      how long (default 20); lanes stop issuing after that
//   sticky       how many of the lanes (the first ones) keep the cookies
//                they are sent (sticky sessions); default 0
//   post_max     POST body sizes are 1..post_max bytes (default 65536)
//   stop_file    optional: stop early once this file exists
//   cookies      optional: per lane, the Cookie a sticky lane starts with
//                (e.g. "NPD=r123": a client already bound to a member)
//   sticky_pause_ms  sticky lanes wait this long between requests (a
//                browser, not a loop), so their member is often idle
// A POST carries Content-Length and X-Body-Sha256; it is ok when the answer
// is 200 and the backend saw exactly that body (its JSON ok:true, same sha).
// Prints one JSON line at the end:
//   {n, ok, failed, errors: {what: n}, by_backend: {name: n},
//    records: [[lane, sticky 0/1, start_ms, end_ms, backend, ok 0/1], ...]}
// (times in ms since the epoch)

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const plan = JSON.parse(process.argv[2] || '{}');
const lanes = plan.lanes || 16;
const until = Date.now() + (plan.seconds || 20) * 1000;
const postMax = plan.post_max || 65536;
const stickyLanes = plan.sticky || 0;
const out = { n: 0, ok: 0, failed: 0, errors: {}, by_backend: {}, records: [] };
let running = 0;

function fail(what) { out.errors[what] = (out.errors[what] || 0) + 1; }

function lane(k) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sticky = k < stickyLanes;
  let cookie = (plan.cookies && plan.cookies[k]) || '';
  let i = 0;
  running++;
  const next = () => {
    if (Date.now() >= until || (plan.stop_file && fs.existsSync(plan.stop_file))) {
      agent.destroy();
      if (--running === 0) done();
      return;
    }
    const post = (i++ % 2) === 1;
    const start = Date.now();
    let body = null;
    const headers = {};
    if (post) {
      body = crypto.randomBytes(1 + Math.floor(Math.random() * postMax));
      headers['Content-Type'] = 'application/octet-stream';
      headers['Content-Length'] = body.length;
      headers['X-Body-Sha256'] = crypto.createHash('sha256').update(body).digest('hex');
    }
    if (sticky && cookie) headers.Cookie = cookie;
    const url = plan.url + (post ? 'post' : 'get') + '?lane=' + k + '&i=' + i;
    let finished = false;
    const end = (ok, backend, what) => {
      if (finished) return;
      finished = true;
      out.n++;
      if (ok) out.ok++; else { out.failed++; fail(what); }
      if (backend) out.by_backend[backend] = (out.by_backend[backend] || 0) + 1;
      out.records.push([k, sticky ? 1 : 0, start, Date.now(), backend || '', ok ? 1 : 0]);
      if (sticky && plan.sticky_pause_ms) setTimeout(next, plan.sticky_pause_ms);
      else setImmediate(next);
    };
    const req = http.request(url, { method: post ? 'POST' : 'GET', agent, headers }, (res) => {
      const backend = res.headers['x-backend'] || '';
      if (sticky && res.headers['set-cookie']) {
        cookie = res.headers['set-cookie'].map((c) => c.split(';')[0]).join('; ');
      }
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) { end(false, backend, 'status ' + res.statusCode); return; }
        if (!post) { end(true, backend); return; }
        let j = null;
        try { j = JSON.parse(Buffer.concat(chunks).toString()); } catch (e) { /* below */ }
        if (!j || !j.ok || j.sha256 !== headers['X-Body-Sha256']) end(false, backend, 'POST body not whole at Node');
        else end(true, backend);
      });
      res.on('error', (e) => end(false, backend, 'response ' + (e.code || e.message)));
      res.on('aborted', () => end(false, backend, 'response aborted'));
    });
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => end(false, '', 'request ' + (e.code || e.message)));
    req.end(body || undefined);
  };
  next();
}

function done() {
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}
// the test process is gone: stop
const ppid = Number(process.env.NP_PARENT_PID || 0);
if (ppid > 0) {
  setInterval(() => { try { process.kill(ppid, 0); } catch (e) { process.exit(1); } }, 1000).unref();
}
for (let k = 0; k < lanes; k++) lane(k);
