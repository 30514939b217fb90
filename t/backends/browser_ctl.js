'use strict';
// browser_ctl.js: drives the status page's control buttons in a real
// headless Chromium (puppeteer-core, Debian's /usr/bin/chromium), for
// t/modules/control_browser.t.
//
//   node browser_ctl.js '{"url":"http://127.0.0.1:P/np-admin","member":"http://...",
//                         "chromium":"/usr/bin/chromium"}'
//
// Opens the page, clicks the member's "drain" button, then "ready", then
// sets its weight to 3 with the weight field and "set weight"; after each
// the browser follows the 303 back to the page, and the member's row is
// read from that fresh page. Prints one JSON line:
//   {steps: [{click, status, url, admin, weight}...], error}
// (status: the HTTP status of the page the browser ended on).

const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const o = JSON.parse(process.argv[2] || '{}');
const out = { steps: [], error: null };

async function row(page) {
  return page.evaluate((member) => {
    const tr = [...document.querySelectorAll('tr[data-member]')]
      .find((r) => r.getAttribute('data-member') === member);
    if (!tr) return null;
    const admin = tr.querySelector('span[class^="admin-"]');
    const cells = tr.querySelectorAll('td');
    return { admin: admin ? admin.textContent : null, weight: cells[3] ? cells[3].textContent : null };
  }, o.member);
}

async function click(page, what, fill) {
  const sel = `tr[data-member="${o.member}"] button[value="${what}"]`;
  if (fill !== undefined) {
    const input = `tr[data-member="${o.member}"] input[name="weight"]`;
    await page.click(input, { clickCount: 3 });
    await page.type(input, String(fill));
  }
  const [resp] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: 30000 }),
    page.click(sel),
  ]);
  const r = await row(page);
  out.steps.push(Object.assign({ click: what, status: resp ? resp.status() : 0, url: page.url() }, r || {}));
}

(async () => {
  const udd = fs.mkdtempSync(path.join(os.tmpdir(), 'np-chromium-ctl-'));
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath: o.chromium || '/usr/bin/chromium',
      headless: true,
      userDataDir: udd,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--disable-dev-shm-usage'],
      timeout: 60000,
    });
    const page = await browser.newPage();
    const resp = await page.goto(o.url, { waitUntil: 'load', timeout: 30000 });
    out.steps.push(Object.assign({ click: 'open', status: resp.status(), url: page.url() }, (await row(page)) || {}));
    await click(page, 'drain');
    await click(page, 'ready');
    await click(page, 'weight', 3);
  } catch (e) {
    out.error = String(e && e.stack || e);
  } finally {
    if (browser) await browser.close().catch(() => {});
    fs.rmSync(udd, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
})();
