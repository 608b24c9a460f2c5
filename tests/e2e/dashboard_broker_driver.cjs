// The browser half of test_dashboard.py's TestDashboardBroker.test_browser: Debian's chromium,
// headless, driven by playwright-core, against a `swarm dashboard --broker` whose only node is
// reached through the broker. Steps, each waiting for an event on the page (never for a time):
//   fleet    the node (DASH_NODE) is listed online, its address marked "via mqtt"
//   call     `ping` from the node page's form shows the reply (over the mqtt:// link)
//   offline  after the test kills the node (it says "kill NAME" on stdout and waits for a line
//            on stdin), the row turns offline (the node's last will)
// Prints "RESULT {json}" at the end; exits non-zero on the first failed step.
'use strict';
const { T, stdinLines, until, openPage } = require('./dashboard_page.cjs');

const url = process.env.DASH_URL;
const name = process.env.DASH_NODE;
const stdin = stdinLines();

async function main() {
  const { browser, page, errors } = await openPage();
  const out = {};
  try {
    await page.goto(url);
    const row = `#fleet-body tr.node:has(td.name:text-is("${name}"))`;
    await page.waitForSelector(`${row} td.st-online`, { timeout: T });
    out.addr = await page.textContent(`${row} td.addr`);
    if (!out.addr.endsWith('via mqtt')) throw new Error('address column: ' + out.addr);
    console.log('step fleet: ' + name + ' online, ' + out.addr);
    await page.click(row);
    await page.fill('#call-path', 'ping');
    await page.fill('#call-args', '{"m": "through the broker"}');
    await page.click('#call-go');
    await until(page, () => document.getElementById('call-reply').textContent.includes('through the broker'), null);
    out.ping = (await page.textContent('#call-reply')).trim();
    console.log('step call: ping answered ' + out.ping);
    await page.click('#node-back');
    console.log('kill ' + name);
    await stdin.nextLine();
    await page.waitForSelector(`${row} td.st-offline`, { timeout: T });
    console.log('step offline: ' + name + ' offline');
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    console.log('RESULT ' + JSON.stringify(out));
  } finally {
    await browser.close();
    stdin.close();
  }
}

main().catch((e) => { console.log('FAILED: ' + (e && e.stack || e)); process.exit(1); });
