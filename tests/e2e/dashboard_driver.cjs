// The browser half of tests/e2e/test_dashboard.py: Debian's chromium, headless, driven by
// playwright-core (web/node_modules, from the npm registry) against a running
// `swarm dashboard`. Steps, each waiting for an event on the page (never for a time):
//   fleet    every node of the lab is listed, online
//   sort     grouped by app then by name, by name, by app; the filter leaves one node
//   call     `ping` from the node page's form shows the reply
//   config   editing dash.x in the config tree is acknowledged (the test reads it back on the node)
//   files    a file uploaded from the page is listed and downloads back the same (the test
//            reads it on the node too)
//   plot     a stream on two nodes puts points on the chart
//   push     dry run lists the changes, the push ends ok on every node, the table shows the
//            new version
//   canary   with canary 1, a push of a broken app: the canary rolls back, the others are
//            skipped (the test breaks the project when the driver says "break-project")
//   maxfail  with max failures 1 and one node at a time, a push of the broken app: the first
//            node fails, the rest are skipped (the page shows "--max-failures 1" as the reason)
//   offline  after the test kills a node (it says "kill NAME" on stdout and waits for a line on
//            stdin), that node's row turns offline
//   perf     200 FAKE entries (labelled so; fed to the page's own message handler, never to the
//            dashboard) are rendered: render time and page memory printed
// Prints "RESULT {json}" at the end; exits non-zero on the first failed step.
'use strict';
const path = require('path');
const { T, stdinLines, until, openPage } = require('./dashboard_page.cjs');

const url = process.env.DASH_URL;
const shots = process.env.DASH_SHOTS; // folder for the screenshots
const names = JSON.parse(process.env.DASH_NODES); // [{name, key}] of the lab
const oldVersion = process.env.DASH_OLD_VERSION || '';
const stdin = stdinLines();
const log = (...a) => console.log(...a);

async function main() {
  const { browser, page, errors } = await openPage({ consoleErrors: true });
  const out = {};
  try {
    await page.goto(url);

    // ---- fleet
    for (const n of names)
      await page.waitForSelector(`#fleet-body tr.node:has(td.name:text-is("${n.name}")) td.st-online`, { timeout: T });
    out.listed = names.length;
    log('step fleet: ' + names.length + ' nodes listed online');
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-fleet.png') });

    // ---- sort, group by app, filter
    // (the table is drawn on the next animation frame after a change: wait for two)
    const rows = async () => {
      await page.evaluate(() => new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res))));
      return page.$$eval('#fleet-body tr.node', (trs) => trs.map((t) =>
        [t.querySelector('td.name').textContent, t.querySelector('td.app').textContent]));
    };
    const nat = (a, b) => a.localeCompare(b, 'en', { numeric: true });
    const sorted = (l, c) => l.every((x, i) => i === 0 || c(l[i - 1], x) <= 0);
    await page.selectOption('#sort', 'name');
    let r = await rows();
    if (r.length !== names.length || !sorted(r, (a, b) => nat(a[1], b[1]) || nat(a[0], b[0])))
      throw new Error('grouped by app, by name: ' + JSON.stringify(r));
    await page.uncheck('#group');
    r = await rows();
    if (!sorted(r, (a, b) => nat(a[0], b[0]))) throw new Error('by name: ' + JSON.stringify(r));
    await page.selectOption('#sort', 'app');
    r = await rows();
    if (!sorted(r, (a, b) => nat(a[1], b[1]))) throw new Error('by app: ' + JSON.stringify(r));
    await page.fill('#filter', names[1].name);
    await until(page, (n) => [...document.querySelectorAll('#fleet-body tr.node td.name')].map((t) => t.textContent).join() === n,
      names[1].name, 'the filter leaves ' + names[1].name);
    await page.fill('#filter', '');
    await page.selectOption('#sort', 'name');
    await page.check('#group');
    log('step sort: grouped, by name, by app, filtered');

    // ---- call ping
    const first = names[0].name;
    await page.click(`#fleet-body tr.node:has(td.name:text-is("${first}"))`);
    await until(page, () => document.getElementById('node-info').textContent.includes('host_name'), null);
    await page.fill('#call-path', 'ping');
    await page.fill('#call-args', '{"m": "hello from the page"}');
    await page.click('#call-go');
    await until(page, () => document.getElementById('call-reply').textContent.includes('hello from the page'), null);
    out.ping = await page.textContent('#call-reply');
    log('step call: ping answered ' + out.ping.trim());

    // ---- config edit
    await page.click('#node-cfg .dirname:text-is("▸ dash")');
    const inp = page.locator('#node-cfg input.val[data-path="dash.x"]');
    await inp.waitFor({ timeout: T });
    await inp.fill('42');
    await inp.press('Enter');
    await page.waitForSelector('#node-cfg input.val.saved[data-path="dash.x"]', { timeout: T });
    log('step config: dash.x = 42 acknowledged');
    await until(page, () => document.getElementById('node-log').textContent.length > 0, null);
    await page.waitForSelector('#node-dir .cmd', { timeout: T });
    await page.waitForSelector('#files-body tr', { timeout: T });

    // ---- files: upload (atomic on the node), listed, downloaded back byte for byte
    const content = Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 7) & 255));
    await page.setInputFiles('#upload', { name: 'from-page.bin', mimeType: 'application/octet-stream', buffer: content });
    await page.waitForSelector('#files-body a:text-is("from-page.bin")', { timeout: T });
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T }),
      page.click('#files-body a:text-is("from-page.bin")')]);
    const got = await new Promise((res, rej) => {
      dl.createReadStream().then((st) => { const parts = []; st.on('data', (c) => parts.push(c)); st.on('end', () => res(Buffer.concat(parts))); st.on('error', rej); }, rej);
    });
    if (!got.equals(content)) throw new Error('download differs from upload: ' + got.length + ' bytes');
    out.files = content.length;
    log('step files: uploaded and downloaded ' + content.length + ' bytes');
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-node.png'), fullPage: true });

    // ---- plot: two nodes on one chart
    await page.click('#tab-plot');
    await page.waitForSelector('.plot-node', { timeout: T });
    for (const n of names.slice(0, 2)) await page.check(`.plot-node[value="${n.key}"]`);
    await page.fill('#plot-path', 'sys.info');
    await page.fill('#plot-field', 'uptime_ms');
    await page.fill('#plot-every', '200');
    await page.click('#plot-start');
    await until(page, () => window.swarmDash.plotPoints() >= 20, null);
    const series = await page.evaluate(() => {
      const p = window.swarmDash.state.plot;
      return p.data.slice(1).map((col) => col.filter((v) => v !== null).length);
    });
    if (series.length !== 2 || series.some((c) => c === 0)) throw new Error('plot series without points: ' + series);
    out.plot = series;
    log('step plot: points per node ' + series.join(', '));
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-plot.png') });
    await page.click('#plot-stop');

    // ---- push: dry run, then the push
    await page.click('#tab-push');
    await page.waitForSelector('.push-node', { timeout: T });
    for (const n of names) await page.check(`.push-node[value="${n.key}"]`);
    await page.click('#push-dry');
    await until(page, () => document.getElementById('push-state').textContent === 'dry run done', null);
    const dry = await page.$$eval('#push-body td.result', (tds) => tds.map((t) => t.textContent));
    if (!dry.length || dry.some((r) => !r.startsWith('dry-run'))) throw new Error('dry run results: ' + dry);
    const changes = await page.textContent('#push-body');
    if (!changes.includes('dash_marker.lua')) throw new Error('the dry run does not list the changed file');
    log('step push: dry run ' + dry.join(', '));
    await page.click('#push-go');
    await until(page, () => document.getElementById('push-state').textContent === 'push done', null);
    const res = await page.$$eval('#push-body td.result', (tds) => tds.map((t) => t.textContent));
    if (res.some((r) => !r.startsWith('ok'))) throw new Error('push results: ' + res);
    out.push = res;
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-push.png') });
    await page.click('#tab-fleet');
    for (const n of names)
      await until(page, ([name, old]) => {
        const tr = [...document.querySelectorAll('#fleet-body tr.node')].find((r) => r.querySelector('td.name').textContent === name);
        const v = tr && tr.querySelector('td.version').textContent;
        return v && v !== old;
      }, [n.name, oldVersion]);
    out.versions = await page.$$eval('#fleet-body td.version', (tds) => tds.map((t) => t.textContent));
    log('step push: ' + res.join(', ') + '; versions now ' + out.versions.join(', '));

    // ---- a canary push of a broken version: the canary rolls back, the rollout stops there
    log('break-project');
    await stdin.nextLine();
    await page.click('#tab-push');
    await page.fill('#push-canary', '1');
    await page.click('#push-go');
    await until(page, () => document.getElementById('push-state').textContent === 'push done', null);
    const res2 = await page.$$eval('#push-body td.result', (tds) => tds.map((t) => t.textContent));
    const canaries = res2.filter((r) => r.endsWith('(canary)'));
    if (canaries.length !== 1 || !canaries[0].startsWith('rolled-back') ||
        res2.filter((r) => r.startsWith('skipped')).length !== names.length - 1)
      throw new Error('canary push of a broken app: ' + res2.join(', '));
    out.canary = res2;
    log('step canary: ' + res2.join(', '));
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-rollback.png') });
    await page.fill('#push-canary', '0');

    // ---- max failures 1, one node at a time: the first broken node fails (rolled back),
    // the rollout stops there, the others are not pushed, and the page says why
    await page.fill('#push-maxfail', '1');
    await page.fill('#push-parallel', '1');
    await page.click('#push-go');
    await until(page, () => document.getElementById('push-state').textContent === 'push done', null);
    const res3 = await page.$$eval('#push-body tr', (trs) => trs.map((t) => [t.querySelector('td.result').textContent,
      t.querySelector('td.changes').textContent]));
    const failed = res3.filter(([r]) => !r.startsWith('skipped'));
    const skipped = res3.filter(([r, why]) => r.startsWith('skipped') && why.includes('max-failures 1'));
    if (failed.length !== 1 || !/^(rolled-back|failed)/.test(failed[0][0]) || skipped.length !== names.length - 1)
      throw new Error('max-failures push of a broken app: ' + JSON.stringify(res3));
    out.maxfail = res3.map(([r]) => r);
    log('step max-failures: ' + out.maxfail.join(', '));
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-maxfail.png') });
    await page.fill('#push-maxfail', '0');
    await page.fill('#push-parallel', '0');
    await page.click('#tab-fleet');

    // ---- a killed node turns offline
    const victim = names[names.length - 1].name;
    log('kill ' + victim);
    await stdin.nextLine();
    await page.waitForSelector(`#fleet-body tr.node:has(td.name:text-is("${victim}")) td.st-offline`, { timeout: T });
    log('step offline: ' + victim + ' offline');
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-offline.png') });

    // ---- 200 nodes: render time and page memory (FAKE entries, fed to the page only)
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const before = (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'JSHeapUsedSize').value;
    const perf = await page.evaluate(() => new Promise((resolve) => {
      const nodes = [];
      for (let i = 0; i < 200; i++)
        nodes.push({ key: 'FAKE-perf-' + i, name: 'FAKE-perf-' + i, uri: 'tcp://192.0.2.' + (i % 250) + ':27587',
          ip: '192.0.2.' + (i % 250), app: ['FAKE-blink', 'FAKE-counter', 'FAKE-sensor', 'FAKE-relay'][i % 4], version: 'fake' + (i % 7),
          hash: '', node: '0.1.0', board: 'FAKE', uptime_ms: i * 1000, online: i % 9 !== 0, locked: i % 5 === 0,
          swarm: true, source: 'FAKE (perf test)' });
      const t0 = performance.now();
      window.swarmDash.onMessage({ ev: 'fleet', nodes });
      requestAnimationFrame(() => {
        const t1 = performance.now();
        // a filter keystroke over 200 rows
        const f = document.getElementById('filter');
        f.value = 'FAKE-counter'; // no real node matches (one may send an event meanwhile)
        f.dispatchEvent(new Event('input'));
        requestAnimationFrame(() => {
          const t2 = performance.now();
          resolve({ rows: document.querySelectorAll('#fleet-body tr.node').length, render_ms: t1 - t0, filter_ms: t2 - t1 });
        });
      });
    }));
    const after = (await cdp.send('Performance.getMetrics')).metrics;
    const m = (k) => after.find((x) => x.name === k).value;
    out.perf = { fake_nodes: 200, render_ms: +perf.render_ms.toFixed(1), filter_ms: +perf.filter_ms.toFixed(1),
      filtered_rows: perf.rows, js_heap_used_bytes: m('JSHeapUsedSize'), js_heap_growth_bytes: m('JSHeapUsedSize') - before,
      dom_nodes: m('Nodes') };
    if (perf.rows !== 50) throw new Error('filter over 200 fake nodes: ' + perf.rows + ' rows, not 50');
    log('step perf: ' + JSON.stringify(out.perf));
    if (errors.length) throw new Error('page errors: ' + errors.join(' | '));
  } catch (e) {
    // what the page showed, for the test's log
    const texts = await page.evaluate(() => ['conn', 'push-state', 'push-err', 'push-body', 'plot-err', 'cfg-err', 'call-reply']
      .map((id) => id + ': ' + (document.getElementById(id) || {}).textContent).join('\n')).catch(() => '');
    console.error(texts);
    if (shots) await page.screenshot({ path: path.join(shots, 'dashboard-failure.png') }).catch(() => {});
    throw e;
  } finally {
    await browser.close();
    stdin.close();
  }
  console.log('RESULT ' + JSON.stringify(out));
}

main().catch((e) => { console.error('FAILED: ' + (e && e.stack || e)); process.exit(1); });
