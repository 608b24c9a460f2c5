// What the browser drivers of test_dashboard.py share (dashboard_driver.cjs against the LAN lab,
// dashboard_broker_driver.cjs against a node behind a broker): Debian's chromium, headless,
// driven by playwright-core; a page whose errors are collected; the test's lines on stdin; and
// waiting for a condition in the page (an event, never a time).
'use strict';
const path = require('path');
const readline = require('readline');
const { chromium } = require(path.join(process.env.SWARM_SRC, 'web', 'node_modules', 'playwright-core'));

const T = 60000; // longest wait for one event (a failure, not a measurement)

// The lines the test writes on stdin, in order: nextLine() resolves with the next one (a line
// that came before it was asked for is kept). close() lets the process end.
function stdinLines() {
  const rl = readline.createInterface({ input: process.stdin });
  const lines = [];
  let waiter = null;
  rl.on('line', (l) => { if (waiter) { const w = waiter; waiter = null; w(l); } else lines.push(l); });
  return {
    nextLine: () => new Promise((res) => (lines.length ? res(lines.shift()) : (waiter = res))),
    close: () => rl.close(),
  };
}

// Waits until fn (run in the page) is true. page.waitForFunction would compile its predicate
// inside the page, which the page's Content-Security-Policy (no eval) forbids; evaluate() goes
// through the DevTools protocol instead.
async function until(page, fn, arg, what) {
  const end = Date.now() + T;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error('never happened: ' + (what || fn.toString()));
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Chromium and a blank 1280x800 page; errors collects the page's uncaught exceptions (and with
// consoleErrors what it logs as errors). The caller goes to the URL and closes the browser.
async function openPage({ consoleErrors = false } = {}) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    if (consoleErrors) page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    return { browser, page, errors };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

module.exports = { T, stdinLines, until, openPage };
