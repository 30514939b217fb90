'use strict';
// Turns bench/run.sh's results (key<TAB>value lines) into tables.
//   node report.js RESULTS.tsv markdown|text
const fs = require('fs');
const [file, mode = 'text'] = process.argv.slice(2);
const R = {};
const prof = {};
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  if (!line) continue;
  const i = line.indexOf('\t');
  const k = line.slice(0, i), v = line.slice(i + 1);
  if (k.startsWith('prof.')) {
    const key = k.slice(5);
    const j = v.indexOf('\t');
    (prof[key] = prof[key] || []).push([Number(v.slice(0, j)), v.slice(j + 1)]);
  } else R[k] = v;
}
const num = (k) => (R[k] === undefined || R[k] === '' ? NaN : Number(R[k]));
const has = (k) => Number.isFinite(num(k));
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtK = (x) => (Number.isFinite(x) ? (x / 1000).toFixed(1) + ' k' : 'n/a');
const fmtUs = (x) => (!Number.isFinite(x) ? 'n/a' : x >= 10000 ? (x / 1000).toFixed(1) + ' ms' : x >= 1000 ? (x / 1000).toFixed(2) + ' ms' : Math.round(x) + ' us');
const fmtR = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) + 'x' : 'n/a');
const fx = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const smoke = R['meta.smoke'] === '1';

const NAMES = { np: 'mod_nodeproxy', mp: 'mod_proxy_http', ng: 'nginx', direct: 'direct', static: 'httpd static file' };
const out = [];
const P = (s = '') => out.push(s);
function table(head, rows) {
  if (mode === 'markdown') {
    P('| ' + head.join(' | ') + ' |');
    P('|' + head.map((h, i) => (i === 0 ? '---' : '---:')).join('|') + '|');
    for (const r of rows) P('| ' + r.join(' | ') + ' |');
  } else {
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
    P(line(head));
    P(w.map((n) => '-'.repeat(n)).join('  '));
    for (const r of rows) P(line(r));
  }
  P();
}
const H = (lvl, s) => { P(mode === 'markdown' ? '#'.repeat(lvl) + ' ' + s : '== ' + s + ' =='); P(); };

// ------------------------------------------------------------ targets
const targets = [];
function target(name, met, measured, detail) {
  targets.push([name, measured, met === null ? 'not measured' : met ? 'met' : 'MISSED', detail]);
}
{
  for (const size of ['100', '16k']) {
    const np = num(`cg.np.${size}.per_req`), mp = num(`cg.mp.${size}.per_req`);
    const label = size === '100' ? '100 B' : '16 KiB';
    if (!Number.isFinite(np)) { target(`instructions/request <= 45 k and <= 0.67x mod_proxy_http (${label})`, null, 'n/a', ''); continue; }
    const limit = Math.min(45000, Number.isFinite(mp) ? 0.67 * mp : 45000);
    const ok = np <= limit;
    target(`instructions/request <= 45 k and <= 0.67x mod_proxy_http (${label})`, ok,
      `${fmtK(np)} (${fmtR(np, mp)} of mod_proxy_http's ${fmtK(mp)})`,
      ok ? `${fmtK(limit - np)} under the limit of ${fmtK(limit)}` : `${fmtK(np - limit)} over the limit of ${fmtK(limit)} (${((np / limit - 1) * 100).toFixed(0)} %)`);
  }
  const k = (s) => `wrk.${s}.node.100.c32.rps`;
  const np1 = num(k('np')), mp1 = num(k('mp')), ng = num(k('ng')), d = num(k('direct'));
  // With --repeat: the median over the first run and the alternating ones.
  const reps = num('rep.count') || 0;
  const median = (xs) => { const v = xs.filter(Number.isFinite).sort((a, b) => a - b); return v.length ? (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : NaN; };
  const runs = (s, first) => [first].concat(Array.from({ length: reps }, (_, i) => num(`rep.${s}.${i + 1}.rps`)));
  const np = reps ? median(runs('np', np1)) : np1, mp = reps ? median(runs('mp', mp1)) : mp1;
  if (Number.isFinite(np) && Number.isFinite(mp)) {
    const r = np / mp;
    // CPU per request moves less with the machine's other load than req/s does.
    const cpus = (s) => [num(`wrk.${s}.node.100.c32.cpu_us`)].concat(Array.from({ length: reps }, (_, i) => num(`rep.${s}.${i + 1}.cpu_us`)));
    const cnp = median(cpus('np')), cmp = median(cpus('mp'));
    const how = (reps ? ` (median of ${reps + 1} alternating runs each: ${runs('np', np1).map(fmtInt).join(', ')} vs ${runs('mp', mp1).map(fmtInt).join(', ')})` : '')
      + (Number.isFinite(cnp) && Number.isFinite(cmp) ? `; httpd CPU per request ${fx(cnp)} vs ${fx(cmp)} us (${fmtR(cnp, cmp)})` : '');
    target('throughput in front of Node (c=32, 100 B) >= 1.25x mod_proxy_http', r >= 1.25,
      `${fmtInt(np)} vs ${fmtInt(mp)} req/s = ${r.toFixed(2)}x${how}`,
      r >= 1.25 ? `${((r / 1.25 - 1) * 100).toFixed(0)} % above` : `${((1 - r / 1.25) * 100).toFixed(0)} % short (needs ${fmtInt(1.25 * mp)} req/s)`);
    const rn = np / d, rg = ng / d;
    const want = Math.max(0.75, Number.isFinite(rg) ? rg : 0.75);
    target("throughput ratio to direct >= nginx's (and >= 0.75x)", rn >= want,
      `${rn.toFixed(2)}x of direct; nginx ${fx(rg, 2)}x`,
      `${(rn - rg) >= 0 ? '+' : ''}${(rn - rg).toFixed(2)} vs nginx's ratio in this run, ${(rn - 0.75) >= 0 ? '+' : ''}${(rn - 0.75).toFixed(2)} vs the 0.75x reference`);
  } else {
    target('throughput in front of Node (c=32, 100 B) >= 1.25x mod_proxy_http', null, 'n/a', '');
  }
  const p99 = [];
  let p99ok = true, any = false;
  for (const be of ['node', 'fast']) for (const size of ['100', '16k']) {
    const a = num(`wrk.np.${be}.${size}.c32.p99_us`), b = num(`wrk.mp.${be}.${size}.c32.p99_us`);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    any = true;
    if (a > b) { p99ok = false; p99.push(`${be} ${size}: ${fmtUs(a)} vs ${fmtUs(b)}`); }
  }
  target('p99 latency at c=32 no worse than mod_proxy_http', any ? p99ok : null,
    any ? (p99ok ? 'all four cases' : 'worse in ' + p99.length + ' of 4') : 'n/a', p99.join('; '));
  let errs = 0, mperrs = 0, anyc = false;
  for (const be of ['node', 'fast']) for (const size of ['100', '16k']) {
    if (!has(`wrk.np.${be}.${size}.c128.sockerr`)) continue;
    anyc = true;
    errs += num(`wrk.np.${be}.${size}.c128.sockerr`) + (num(`wrk.np.${be}.${size}.c128.non2xx`) || 0);
    mperrs += num(`wrk.mp.${be}.${size}.c128.sockerr`) + (num(`wrk.mp.${be}.${size}.c128.non2xx`) || 0);
  }
  target('no socket errors at c=128', anyc ? errs === 0 : null,
    anyc ? `mod_nodeproxy ${errs}, mod_proxy_http ${mperrs} errors` : 'n/a', '');
  const counts = Object.keys(R).filter((x) => /^ws\.np\.\d+\.delta_kib$/.test(x)).map((x) => Number(x.split('.')[2])).sort((a, b) => b - a);
  if (counts.length) {
    const n = counts[0];
    const v = num(`ws.np.${n}.delta_kib`);
    target(`idle WebSocket <= 16 KiB httpd memory per tunnel (at ${n.toLocaleString('en-US')}${n < 10000 ? '; target is at 10,000' : ''})`,
      n >= 10000 ? v <= 16 : v <= 16 ? null : false, `${fx(v)} KiB/tunnel`,
      v <= 16 ? `${fx(16 - v)} KiB under` : `${fx(v - 16)} KiB over (${((v / 16 - 1) * 100).toFixed(0)} %)`);
  } else target('idle WebSocket <= 16 KiB per tunnel at 10,000', null, 'n/a', '');
  // With --echo-repeat: the median over the first run and the alternating ones.
  const ereps = num('ws.echo.rep.count') || 0;
  const eruns = (s) => [num(`ws.echo.${s}.cpu_us`)].concat(Array.from({ length: ereps }, (_, i) => num(`ws.echo.rep.${s}.${i + 1}.cpu_us`)));
  const e1 = ereps ? median(eruns('np')) : num('ws.echo.np.cpu_us');
  const e2 = ereps ? median(eruns('ng')) : num('ws.echo.ng.cpu_us');
  const ehow = ereps ? ` (median of ${ereps + 1} alternating runs each: ${eruns('np').map((x) => fx(x)).join(', ')} vs ${eruns('ng').map((x) => fx(x)).join(', ')})` : '';
  if (Number.isFinite(e1) && Number.isFinite(e2)) {
    target("WebSocket echo CPU per message <= nginx's", e1 <= e2, `${fx(e1)} us vs nginx ${fx(e2)} us${ehow}`,
      e1 <= e2 ? `${fx(e2 - e1)} us under` : `${fx(e1 - e2)} us over (${((e1 / e2 - 1) * 100).toFixed(0)} %)`);
  } else target("WebSocket echo CPU per message <= nginx's", null, 'n/a', '');
}

// ------------------------------------------------------------ output
if (mode === 'markdown') {
  P('# Benchmarks');
  P();
  P('mod_nodeproxy side by side with mod_proxy_http (same `apache2` binary, same event MPM');
  P('settings), nginx as a reverse proxy, and the backend alone. Produced by `bench/run.sh`;');
  P('everything below is from one run on the machine described. Benchmarks are not tests: the');
  P('script is not run by `.ci/run`.');
  if (smoke) { P(); P('**This is a smoke run (a few hundred requests per setup): the numbers mean nothing.**'); }
  P();
  H(2, 'Machine and versions');
  table(['', ''], [
    ['date', R['meta.date']], ['CPU', `${R['meta.nproc']} x ${R['meta.cpu']}`], ['memory', R['meta.mem']],
    ['OS / kernel', `${R['meta.os']} / ${R['meta.kernel']}`], ['apache2 -v', R['meta.apache']],
    ['nginx -v', R['meta.nginx']], ['node -v', R['meta.node']], ['wrk --version', R['meta.wrk']],
    ['valgrind', R['meta.valgrind']], ['mod_nodeproxy tree', '`' + R['meta.module'] + '`'],
    ['load average at start / end', `${R['meta.load_start']} / ${R['meta.load_end'] || 'n/a'}`],
  ]);
  H(2, 'How to reproduce');
  P('As root, from the repository root (installs wrk, nginx-light, apache2-utils if missing,');
  P('builds with `make`, uses ports 27101-27152 on 127.0.0.1, stops only what it started):');
  P();
  P('    ' + R['meta.cmd']);
  P();
  P('Plain `bench/run.sh` builds the module with `make` first and writes this file; `--keep` keeps the work');
  P('directory (configs, logs, callgrind files) in /tmp.');
  P();
  P('`bench/run.sh --smoke` checks the harness in under a minute (a few hundred requests per');
  P('setup, nothing written to this file); `--skip wrk,cg,bal,ws` leaves parts out,');
  P('`--no-build` uses the module already built, `--duration S` changes the wrk run length,');
  P('`--repeat N` and `--echo-repeat N` set how many more alternating runs the throughput and echo');
  P('targets take their medians over (8 and 4).');
  P();
  H(2, 'Targets (issue 7)');
}
if (mode === 'text') H(1, 'targets');
table(['target', 'measured', 'result', 'margin'], targets);

if (mode === 'markdown') {
  H(2, 'Instructions per proxied request (callgrind)');
  P('`apache2 -X` under `valgrind --tool=callgrind`, driven by `ab -k -c1 -n N` in one run and');
  P(`-n 2N in another (N = ${R['meta.cg_n']}); the figure is (Ir(2N) - Ir(N)) / N, so start-up and`);
  P('shutdown cancel. User-space instructions of every httpd thread, libraries included.');
  P('Backend: nginx fixed body (the balancer rows: three Node processes). Not disturbed by load.');
  P();
} else H(1, 'callgrind: instructions per request');
{
  const rows = [];
  const mp100 = num('cg.mp.100.per_req');
  for (const [k, label] of [['np.100', 'mod_nodeproxy, 100 B'], ['mp.100', 'mod_proxy_http, 100 B'],
    ['np.16k', 'mod_nodeproxy, 16 KiB'], ['mp.16k', 'mod_proxy_http, 16 KiB'],
    ['np.bal', 'mod_nodeproxy, balancer of 3, 100 B'], ['mp.bal', 'mod_proxy_balancer of 3, 100 B'],
    ['static.100', 'httpd static file, 100 B (floor)']]) {
    if (!has(`cg.${k}.per_req`)) continue;
    const v = num(`cg.${k}.per_req`);
    const ref = num(`cg.mp.${k.split('.')[1]}.per_req`);
    rows.push([label, fmtInt(v), k.startsWith('np') ? fmtR(v, ref) : k.startsWith('static') ? fmtR(v, mp100) : '1.00x',
      fmtInt(num(`cg.${k}.ir_n`)), fmtInt(num(`cg.${k}.ir_2n`))]);
  }
  table(['setup', 'Ir / request', 'vs mod_proxy_http', 'Ir(N)', 'Ir(2N)'], rows);
  if (mode === 'markdown') {
    P('Reference (issue 7, same kind of machine): mod_proxy_http 66.9 k (70.4 k at 16 KiB), nginx');
    P('22.1 k, HAProxy 31.9 k, httpd static file 38.3 k.');
    P();
  }
}

function loadTable(prefix, title, be) {
  const rows = [];
  const conns = smoke ? ['32'] : ['32', '128'];
  const sizes = smoke ? ['100'] : ['100', '16k'];
  for (const size of sizes) for (const c of conns) for (const s of ['np', 'mp', 'ng', 'direct']) {
    const k = `${prefix}.${s}.${be}.${size}.c${c}`;
    if (!has(`${k}.rps`)) continue;
    const rps = num(`${k}.rps`);
    const base = (x) => num(`${prefix}.${x}.${be}.${size}.c${c}.rps`);
    rows.push([`${NAMES[s]}`, size === '100' ? '100 B' : '16 KiB', c, fmtInt(rps), fmtUs(num(`${k}.p50_us`)), fmtUs(num(`${k}.p99_us`)),
      String(num(`${k}.sockerr`) + (num(`${k}.non2xx`) || 0)), fx(num(`${k}.cpu_us`)), fx(num(`${k}.cs`), 2),
      s === 'direct' ? '' : fmtR(rps, base('mp')), s === 'direct' ? '' : fmtR(rps, base('ng')), fmtR(rps, base('direct')),
      R[`${k}.loadavg`] + (R[`${k}.suite`] ? ' (t/TEST running)' : '')]);
  }
  if (!rows.length) return;
  if (mode === 'markdown') H(3, title); else H(1, title);
  table(['setup', 'body', 'conns', 'req/s', 'p50', 'p99', 'errors', 'CPU us/req', 'cs/req', 'vs mod_proxy_http', 'vs nginx', 'vs direct', 'load avg at start'], rows);
}
if (mode === 'markdown') {
  H(2, 'Throughput and latency (wrk)');
  P(smoke ? 'Smoke run: `ab -k -n 300` per setup instead of wrk.' :
    `\`wrk -t2 -cC -d${R['meta.duration']}s --latency\` after a ${R['meta.warmup']} s warm-up at the same concurrency, one setup at a time. ` +
    '"CPU us/req" is utime+stime of all the proxy\'s processes (httpd parent and children, nginx master and workers; for "direct" the backend itself) ' +
    'from /proc/PID/stat before and after the run, over the requests wrk counted; "cs/req" is voluntary+nonvoluntary context switches of all their threads ' +
    '(/proc/PID/task/*/status). "errors" is wrk socket errors plus non-2xx answers. The 2 cores are shared by wrk, the backend and the proxy, ' +
    'so req/s is a whole-system figure; CPU and context switches per request are the proxy\'s own. ' +
    'The run waits (at most 15 minutes in total) while a `perl t/TEST` run is in progress; a load average well above 2 ' +
    'in the last column means other work (usually the test suite of another session) shared the 2 cores, so those rows are ' +
    'noisy. Callgrind counts are not affected by load.');
  P();
}
loadTable('wrk', 'In front of Node (one node process, keep-alive)', 'node');
loadTable('wrk', 'In front of a fast fixed-body backend (nginx `return 200`): the proxy\'s own cost', 'fast');

{
  const rows = [];
  for (const c of ['32', '128']) for (const s of ['np', 'mp']) {
    const k = `bal.${s}.c${c}`;
    if (!has(`${k}.rps`)) continue;
    rows.push([s === 'np' ? 'mod_nodeproxy <NodeBalancer> round-robin' : 'mod_proxy_balancer byrequests', c, fmtInt(num(`${k}.rps`)),
      fmtUs(num(`${k}.p50_us`)), fmtUs(num(`${k}.p99_us`)), String(num(`${k}.sockerr`) + (num(`${k}.non2xx`) || 0)),
      fx(num(`${k}.cpu_us`)), fx(num(`${k}.cs`), 2), s === 'np' ? fmtR(num(`${k}.rps`), num(`bal.mp.c${c}.rps`)) : '1.00x', R[`${k}.loadavg`]]);
  }
  if (rows.length) {
    if (mode === 'markdown') { H(3, 'Balancer of three Node processes (100 B)'); } else H(1, 'balancer of 3 (100 B)');
    table(['setup', 'conns', 'req/s', 'p50', 'p99', 'errors', 'CPU us/req', 'cs/req', 'vs mod_proxy_balancer', 'load avg at start'], rows);
  }
}

{
  const counts = [...new Set(Object.keys(R).filter((x) => /^ws\.\w+\.\d+\.opened$/.test(x)).map((x) => Number(x.split('.')[2])))].sort((a, b) => a - b);
  const rows = [];
  for (const n of counts) for (const s of ['np', 'mp', 'ng']) {
    const k = `ws.${s}.${n}`;
    if (R[`${k}.opened`] === undefined) continue;
    rows.push([s === 'mp' ? 'mod_proxy_wstunnel' : NAMES[s], n.toLocaleString('en-US'), R[`${k}.opened`] + (Number(R[`${k}.failed`]) ? ` (${R[`${k}.failed`]} failed)` : ''),
      fmtInt(num(`${k}.rss0_kb`) / 1024) + ' MiB', fmtInt(num(`${k}.rss1_kb`) / 1024) + ' MiB', fx(num(`${k}.delta_kib`)), fx(num(`${k}.total_kib`)),
      R[`${k}.procs`], R[`${k}.threads`]]);
  }
  if (rows.length) {
    if (mode === 'markdown') {
      H(2, 'WebSocket');
      P('Idle tunnels: a Node client (`bench/ws.js hold`) opens COUNT WebSockets through the proxy to a Node `ws` echo server and');
      P('keeps them open; RSS is summed over all the proxy\'s processes (VmRSS) before and 2 s after. A fresh proxy');
      P('instance for each count. mod_nodeproxy: event MPM, ThreadsPerChild 25, AsyncRequestWorkerFactor 200, one child per');
      P('2,500 tunnels. mod_proxy_wstunnel holds a thread per tunnel: ThreadsPerChild 500, ThreadStackSize 256 KiB, enough children');
      P('for COUNT threads, all started (and counted in "before") ahead of the tunnels. nginx: 2 workers, `reuseport`.');
      P('Kernel socket buffers are not in RSS.');
      P();
    } else H(1, 'WebSocket idle tunnels');
    table(['setup', 'tunnels', 'opened', 'RSS before', 'RSS after', 'KiB/tunnel (after-before)', 'KiB/tunnel (after total)', 'processes', 'threads'], rows);
  }
  const er = [];
  for (const s of ['np', 'mp', 'ng']) {
    if (R[`ws.echo.${s}.msgs`] === undefined) continue;
    er.push([s === 'mp' ? 'mod_proxy_wstunnel' : NAMES[s], fmtInt(num(`ws.echo.${s}.msgs`)), R[`ws.echo.${s}.ms`] + ' ms',
      fx(num(`ws.echo.${s}.cpu_us`)), fx(num(`ws.echo.${s}.cs`), 2),
      s === 'np' ? fmtR(num('ws.echo.np.cpu_us'), num('ws.echo.ng.cpu_us')) : '', R[`ws.echo.${s}.loadavg`]]);
  }
  if (er.length) {
    if (mode === 'markdown') {
      H(3, 'Echo CPU per message');
      P('`bench/ws.js echo`: the tunnels are opened first (not measured), then each sends 32-byte messages and waits');
      P('for the echo before the next; proxy CPU (utime+stime of all its processes) over the echoed messages, so');
      P('one "message" is a round trip: client to backend and back.');
      P();
    } else H(1, 'WebSocket echo');
    table(['setup', 'messages', 'time', 'proxy CPU us/msg', 'cs/msg', 'vs nginx', 'load avg at start'], er);
  }
}

const anyMissed = targets.some((t) => t[2] === 'MISSED');
for (const key of ['np.100', 'np.16k']) {
  if (!prof[key]) continue;
  if (mode === 'markdown') {
    if (key === 'np.100') {
      H(2, 'Where mod_nodeproxy spends its instructions');
      P(anyMissed ? 'At least one target is missed; this is the request path\'s profile.' : 'For reference.');
      P('Per-function self cost (exclusive Ir) per request: `callgrind_annotate --threshold=100` of the 2N run minus');
      P('that of the N run, over N, so start-up cancels. Top 25.');
      P();
    }
    H(3, key === 'np.100' ? '100 B body' : '16 KiB body');
  } else H(1, `profile ${key} (Ir/request, self)`);
  const total = num(`cg.${key}.per_req`);
  table(['Ir / request', 'share', 'function [object]'], prof[key].map(([ir, fn]) =>
    [fmtInt(ir), Number.isFinite(total) ? (100 * ir / total).toFixed(1) + ' %' : '', mode === 'markdown' ? '`' + fn.replace(/`/g, "'") + '`' : fn]));
}
if (prof['mp.100'] && mode === 'markdown') {
  H(3, 'mod_proxy_http, 100 B, for comparison (top 25)');
  const total = num('cg.mp.100.per_req');
  table(['Ir / request', 'share', 'function [object]'], prof['mp.100'].map(([ir, fn]) =>
    [fmtInt(ir), Number.isFinite(total) ? (100 * ir / total).toFixed(1) + ' %' : '', '`' + fn.replace(/`/g, "'") + '`']));
}
if (mode === 'markdown') {
  const notes = [];
  const c128 = (s) => ['node', 'fast'].flatMap((be) => ['100', '16k'].map((z) => `wrk.${s}.${be}.${z}.c128`))
    .filter((k) => num(`${k}.sockerr`) > 0);
  for (const s of ['np', 'mp']) {
    const ks = c128(s);
    if (!ks.length) continue;
    const det = ks.map((k) => `${k.split('.').slice(2, 4).join(' ')}: ${R[`${k}.sockerr_detail`] || num(`${k}.sockerr`)}`).join('; ');
    const why = s === 'mp'
      ? 'mod_proxy_http holds the worker while the backend answers, so with 2 x 64 = 128 worker threads and 128 clients ' +
        'every worker is busy at times, and the event MPM then closes idle keep-alive connections (wrk counts read errors).'
      : 'mod_nodeproxy suspends requests (without a thread) once three quarters of a child\'s threads wait on the backend, ' +
        'but a backend that answers within NodeAsyncDelay keeps every request on its thread; with 128 threads for 128 ' +
        'clients the event MPM then still finds no idle worker at moments and closes idle keep-alive connections.';
    notes.push(`${NAMES[s]} at c=128 has socket errors (${det}). ` + why + ' The MPM settings are the same for all set-ups.');
  }
  if (notes.length) { H(2, 'Observations'); for (const n of notes) { P('- ' + n); } P(); }
  H(2, 'Set-ups');
  P('- (a) mod_nodeproxy: `NodeProxyPass / http://127.0.0.1:PORT/` (defaults: forwarded headers on, Host preserved,');
  P('  backend keep-alive 4 s); balancer `<NodeBalancer>` with `NodeMember http://127.0.0.1:27111-27113`, round-robin.');
  P('- (b) mod_proxy + mod_proxy_http: `ProxyPass / http://127.0.0.1:PORT/ keepalive=On enablereuse=on ttl=4`,');
  P('  `ProxyPreserveHost On`; balancer `<Proxy balancer://bench>` with three `BalancerMember`s, byrequests.');
  P('- (a) and (b) share: event MPM, 2 children x 64 threads (StartServers = ServerLimit 2), AsyncRequestWorkerFactor 200,');
  P('  KeepAlive On, MaxKeepAliveRequests 0, LogLevel warn, no access log; besides the proxy modules only authn_core,');
  P('  authz_core, authz_host and mime are loaded (the same for both).');
  P('- (c) nginx: 2 workers, upstream `keepalive 32`, `proxy_http_version 1.1`, `proxy_set_header Connection ""`,');
  P('  `keepalive_requests` 100000000 on both sides, no access log.');
  P('- (d) direct: wrk to the backend itself.');
  P('- Backends: `bench/backend.js` (Node 20 `http`, Content-Length bodies of 100 B or 16 KiB, default 5 s keepAliveTimeout),');
  P('  nginx (1 worker) `return 200` for 100 B and a cached 16 KiB file (nginx caps a config string at 4 KiB),');
  P('  `bench/ws.js server` (Node `ws` echo).');
  P();
}
process.stdout.write(out.join('\n') + '\n');
