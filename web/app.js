// swarm dashboard: the page's logic. One WebSocket to the dashboard (src/host/dash.h has the
// protocol); every node operation is a "call" the dashboard makes on its own link to the node.
// Values from nodes are shown with textContent only (never as HTML): they are untrusted.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const token = new URLSearchParams(location.search).get('token') || '';
  const S = { nodes: new Map(), hello: null, ws: null, nextId: 1, pending: new Map(),
              view: 'fleet', node: null, logPos: null, logTimer: null, plot: null,
              plotCalls: [], plotPoints: 0, push: new Map(), renderQueued: false,
              filesDir: '/' };

  // ---- connection
  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(proto + '//' + location.host + '/ws' +
                             (token ? '?token=' + encodeURIComponent(token) : ''));
    S.ws = ws;
    ws.onopen = () => { $('conn').textContent = 'connected'; $('conn').className = 'conn on'; };
    ws.onclose = () => {
      $('conn').textContent = 'disconnected (retrying)'; $('conn').className = 'conn off';
      for (const [, p] of S.pending) p.cb({ error: 'connection to the dashboard lost' });
      S.pending.clear();
      setTimeout(connect, 1000);
    };
    ws.onmessage = (e) => { let m; try { m = JSON.parse(e.data); } catch (x) { return; } onMessage(m); };
  }

  // A request; cb gets every answer ({reply}|{error}|{stream}|{end}).
  function request(obj, cb) {
    const id = S.nextId++;
    obj.id = id;
    S.pending.set(id, { cb: cb || (() => {}) });
    if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(obj));
    else { S.pending.delete(id); (cb || (() => {}))({ error: 'not connected to the dashboard' }); }
    return id;
  }
  const call = (node, path, args, cb, every) =>
    request({ op: 'call', node, path, args: args === undefined ? null : args, every: every || 0 }, cb);
  const callP = (node, path, args) => new Promise((res, rej) =>
    call(node, path, args, (a) => (a.error !== undefined ? rej(new Error(a.error)) : res(a.reply))));

  function onMessage(m) {
    if (m.id !== undefined && m.id !== null && S.pending.has(m.id)) {
      const p = S.pending.get(m.id);
      if (m.reply !== undefined || m.error !== undefined || m.end) S.pending.delete(m.id);
      p.cb(m);
      return;
    }
    switch (m.ev) {
      case 'hello': S.hello = m; fillProjects(); if (!m.plot) noPlotLib(); break;
      case 'fleet': S.nodes.clear(); for (const n of m.nodes) setNode(n); queueRender(); break;
      case 'node': setNode(m.node); queueRender(); break;
      case 'gone': S.nodes.delete(m.key); queueRender(); break;
      case 'push_start': S.push.clear(); for (const d of m.devices) S.push.set(d.key, d);
        $('push-state').textContent = (m.dry_run ? 'dry run' : 'push') + ' of ' + m.project + ' running…';
        renderPush(); break;
      case 'push': S.push.set(m.dev.key, m.dev); renderPush(); break;
      case 'push_done': $('push-state').textContent = 'done'; break;
      case 'console': if (S.node === m.node) appendLog(m.text); break;
    }
  }

  function setNode(n) { n.at = performance.now(); S.nodes.set(n.key, n); }

  // ---- fleet
  function fmtUptime(n) {
    if (n.uptime_ms === null || n.uptime_ms === undefined) return '-';
    let s = Math.floor((n.uptime_ms + (n.online ? performance.now() - n.at : 0)) / 1000);
    const d = Math.floor(s / 86400); s %= 86400;
    const h = Math.floor(s / 3600); s %= 3600;
    const mi = Math.floor(s / 60); s %= 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + (d || h || mi ? mi + 'm ' : '') + s + 's';
  }
  function natCmp(a, b) { return String(a).localeCompare(String(b), undefined, { numeric: true }); }
  function sorted() {
    const q = $('filter').value.trim().toLowerCase();
    let list = [...S.nodes.values()];
    if (q) list = list.filter((n) => [n.name, n.ip, n.uri, n.app, n.board, n.version, n.key]
      .some((v) => String(v || '').toLowerCase().includes(q)));
    const k = $('sort').value;
    const cmp = {
      name: (a, b) => natCmp(a.name || a.key, b.name || b.key),
      ip: (a, b) => natCmp(a.ip, b.ip) || natCmp(a.name, b.name),
      app: (a, b) => natCmp(a.app, b.app) || natCmp(a.name, b.name),
      board: (a, b) => natCmp(a.board, b.board) || natCmp(a.name, b.name),
      uptime: (a, b) => (b.uptime_ms || 0) - (a.uptime_ms || 0),
      online: (a, b) => (b.online - a.online) || natCmp(a.name, b.name),
    }[k];
    list.sort(cmp);
    if ($('group').checked) list.sort((a, b) => natCmp(a.app || '~', b.app || '~'));
    return list;
  }
  function queueRender() {
    if (S.renderQueued) return;
    S.renderQueued = true;
    requestAnimationFrame(() => { S.renderQueued = false; renderFleet(); renderChecks(); });
  }
  function renderFleet() {
    const body = $('fleet-body');
    const frag = document.createDocumentFragment();
    const list = sorted();
    let group = null;
    for (const n of list) {
      if ($('group').checked && (n.app || '') !== group) {
        group = n.app || '';
        const g = el('tr', 'grp');
        const c = el('td', null, (group || '(no app)') + ' — ' +
          list.filter((x) => (x.app || '') === group).length);
        c.colSpan = 8; g.appendChild(c); frag.appendChild(g);
      }
      const tr = el('tr', 'node' + (n.online ? '' : ' offline'));
      tr.dataset.key = n.key;
      tr.appendChild(el('td', 'name', n.name || n.key));
      // a node reached through a broker says so (its link, in full, on hover)
      const addr = el('td', 'addr', (n.ip || n.uri) + (n.source === 'mqtt' ? ' via mqtt' : ''));
      addr.title = n.uri || '';
      tr.appendChild(addr);
      tr.appendChild(el('td', 'app', n.app));
      tr.appendChild(el('td', 'version mono', n.version));
      tr.appendChild(el('td', 'board', n.board));
      tr.appendChild(el('td', 'uptime', fmtUptime(n)));
      tr.appendChild(el('td', 'state st-' + (n.online ? 'online' : 'offline'), n.online ? 'online' : 'offline'));
      tr.appendChild(el('td', 'lock lock-' + (n.locked ? 'locked' : 'open'), n.locked ? 'locked' : 'open'));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    const on = list.filter((n) => n.online).length;
    $('count').textContent = list.length + ' nodes, ' + on + ' online';
    if (S.node && S.nodes.has(S.node)) {
      const n = S.nodes.get(S.node);
      $('node-state').textContent = (n.online ? 'online' : 'offline') + ' · ' + (n.locked ? 'locked' : 'open') +
        ' · ' + (n.app || '-') + ' ' + (n.version || '');
    }
  }
  function tickUptime() {
    for (const tr of $('fleet-body').children) {
      const n = tr.dataset.key && S.nodes.get(tr.dataset.key);
      if (n) tr.children[5].textContent = fmtUptime(n);
    }
  }

  // ---- views
  function show(view) {
    S.view = view;
    for (const v of ['fleet', 'node', 'plot', 'push']) $('view-' + v).classList.toggle('hidden', v !== view);
    for (const t of document.querySelectorAll('.tab')) t.classList.toggle('on', t.dataset.view === view);
    if (view !== 'node') stopLog();
  }

  // ---- a node
  function openNode(key) {
    S.node = key;
    const n = S.nodes.get(key);
    $('node-title').textContent = n ? (n.name || n.key) : key;
    for (const id of ['node-info', 'call-reply', 'node-log', 'cfg-err', 'files-err']) $(id).textContent = '';
    $('node-dir').replaceChildren(); $('node-cfg').replaceChildren(); $('files-body').replaceChildren();
    show('node');
    renderFleet();
    call(key, 'sys.info', null, (a) => {
      $('node-info').textContent = a.error !== undefined ? 'error: ' + a.error : JSON.stringify(a.reply, null, 2);
    });
    loadDir([], $('node-dir'));
    loadCfg([], $('node-cfg'));
    S.filesDir = '/';
    loadFiles();
    S.logPos = null;
    pollLog();
  }

  function loadDir(prefix, into) {
    const path = prefix.length ? prefix.join('.') + '._dir' : '_dir';
    call(S.node, path, null, (a) => {
      if (a.error !== undefined) { into.textContent = 'error: ' + a.error; return; }
      const r = a.reply || {};
      const ul = el('ul');
      const docs = r.h || {};
      for (const d of (r.d || [])) {
        const li = el('li');
        const name = el('span', 'dirname', '▸ ' + d + '/');
        const sub = el('div');
        name.addEventListener('click', () => {
          if (sub.childElementCount) { sub.replaceChildren(); return; }
          loadDir(prefix.concat([d]), sub);
        });
        li.append(name, el('span', 'doc', docs[d] || ''), sub);
        ul.appendChild(li);
      }
      for (const c of (r.c || [])) {
        const li = el('li');
        const full = prefix.concat([c]).join('.');
        const name = el('span', 'cmd', full);
        name.addEventListener('click', () => { $('call-path').value = full; $('call-args').focus(); });
        li.append(name, el('span', 'doc', docs[c] || ''));
        ul.appendChild(li);
      }
      into.replaceChildren(ul);
    });
  }

  // "key=value …" or one JSON value → the arguments
  function parseArgs(text) {
    text = text.trim();
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { /* key=value */ }
    const out = {};
    for (const part of text.split(/\s+/)) {
      const i = part.indexOf('=');
      if (i <= 0) return text; // one plain value
      const v = part.slice(i + 1);
      try { out[part.slice(0, i)] = JSON.parse(v); } catch (e) { out[part.slice(0, i)] = v; }
    }
    return out;
  }

  function doCall(ev) {
    ev.preventDefault();
    const path = $('call-path').value.trim();
    if (!path || !S.node) return;
    $('call-reply').textContent = '…';
    call(S.node, path, parseArgs($('call-args').value), (a) => {
      $('call-reply').textContent = a.error !== undefined ? 'error: ' + a.error : JSON.stringify(a.reply, null, 2);
    });
  }

  // config: MoaT's part form, one level at a time (docs/PROTOCOL.md, Config)
  function loadCfg(path, into) {
    call(S.node, 'sys.cfg', { p: path }, (a) => {
      if (a.error !== undefined) { into.textContent = 'error: ' + a.error; return; }
      const r = a.reply;
      const ul = el('ul');
      let scalars = [], subs = [];
      if (Array.isArray(r) && r.length === 2 && Array.isArray(r[1])) {
        if (Array.isArray(r[0])) { // an array
          r[0].forEach((v, i) => { if (!r[1].includes(i)) scalars.push([i, v]); });
        } else if (r[0] && typeof r[0] === 'object') {
          scalars = Object.entries(r[0]);
        }
        subs = r[1];
      }
      for (const k of subs) {
        const li = el('li');
        const name = el('span', 'dirname', '▸ ' + k);
        const sub = el('div');
        name.addEventListener('click', () => {
          if (sub.childElementCount) { sub.replaceChildren(); return; }
          loadCfg(path.concat([k]), sub);
        });
        li.append(name, sub);
        ul.appendChild(li);
      }
      for (const [k, v] of scalars) {
        const li = el('li');
        const inp = el('input', 'val');
        inp.value = JSON.stringify(v);
        inp.dataset.path = path.concat([k]).join('.');
        inp.addEventListener('change', () => setCfg(path.concat([k]), inp));
        li.append(el('span', 'key', k + ' = '), inp);
        ul.appendChild(li);
      }
      into.replaceChildren(ul);
    });
  }
  function setCfg(path, inp) {
    let v;
    try { v = JSON.parse(inp.value); } catch (e) { v = inp.value; }
    $('cfg-err').textContent = '';
    inp.classList.remove('saved');
    call(S.node, 'sys.cfg', { p: path, d: v }, (a) => {
      if (a.error !== undefined) { $('cfg-err').textContent = path.join('.') + ': ' + a.error; return; }
      inp.value = JSON.stringify(v);
      inp.classList.add('saved');
    });
  }

  // files
  const b64 = {
    enc(bytes) { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)); return btoa(s); },
    dec(s) { const t = atob(s); const u = new Uint8Array(t.length); for (let i = 0; i < t.length; i++) u[i] = t.charCodeAt(i); return u; },
  };
  function joinPath(dir, name) { return (dir.endsWith('/') ? dir : dir + '/') + name; }
  function loadFiles() {
    $('files-path').textContent = S.filesDir;
    call(S.node, 'f.ls', { p: S.filesDir, x: true }, (a) => {
      const body = $('files-body');
      if (a.error !== undefined) { $('files-err').textContent = 'error: ' + a.error; return; }
      $('files-err').textContent = '';
      const frag = document.createDocumentFragment();
      for (const f of (a.reply || [])) {
        const tr = el('tr');
        const link = el('a', null, f.n + (f.m === 'd' ? '/' : ''));
        link.addEventListener('click', () => {
          if (f.m === 'd') { S.filesDir = joinPath(S.filesDir, f.n); loadFiles(); } else download(joinPath(S.filesDir, f.n), f.n);
        });
        const td = el('td'); td.appendChild(link);
        tr.append(td, el('td', null, f.m === 'f' ? f.s + ' B' : ''));
        frag.appendChild(tr);
      }
      body.replaceChildren(frag);
    });
  }
  async function download(path, name) {
    const node = S.node;
    try {
      const fd = await callP(node, 'f.open', { p: path, m: 'r' });
      const parts = [];
      for (let off = 0; ;) {
        const r = await callP(node, 'f.rd', { fd, off, n: 8192 });
        const bytes = r && r.$bin !== undefined ? b64.dec(r.$bin) : new TextEncoder().encode(String(r || ''));
        if (!bytes.length) break;
        parts.push(bytes); off += bytes.length;
      }
      await callP(node, 'f.cl', { fd });
      const a = el('a');
      a.href = URL.createObjectURL(new Blob(parts));
      a.download = name;
      document.body.appendChild(a); a.click(); a.remove();
    } catch (e) { $('files-err').textContent = path + ': ' + e.message; }
  }
  async function upload() {
    const f = $('upload').files[0];
    if (!f || !S.node) return;
    const node = S.node, path = joinPath(S.filesDir, f.name);
    try {
      const data = new Uint8Array(await f.arrayBuffer());
      const fd = await callP(node, 'f.open', { p: path, m: 'W' }); // atomic replace at close
      for (let off = 0; off < data.length; off += 8192)
        await callP(node, 'f.wr', { fd, off, data: { $bin: b64.enc(data.subarray(off, off + 8192)) } });
      await callP(node, 'f.cl', { fd });
      $('files-err').textContent = 'uploaded ' + path + ' (' + data.length + ' B)';
      loadFiles();
    } catch (e) { $('files-err').textContent = path + ': ' + e.message; }
  }

  // log: the node's sys.log, followed
  function appendLog(text) {
    const pre = $('node-log');
    pre.textContent = (pre.textContent + text).slice(-100000);
    if ($('log-follow').checked) pre.scrollTop = pre.scrollHeight;
  }
  function pollLog() {
    stopLog();
    const node = S.node;
    call(node, 'sys.log', S.logPos === null ? { n: 8192 } : { p: S.logPos }, (a) => {
      if (S.node !== node || S.view !== 'node') return;
      if (a.reply && typeof a.reply === 'object') {
        if (typeof a.reply.d === 'string') appendLog(a.reply.d);
        if (typeof a.reply.p === 'number') S.logPos = a.reply.p;
      }
      S.logTimer = setTimeout(pollLog, 1000);
    });
  }
  function stopLog() { if (S.logTimer) clearTimeout(S.logTimer); S.logTimer = null; }

  // ---- plot
  function renderChecks() {
    for (const [box, cls] of [[$('plot-nodes'), 'plot-node'], [$('push-nodes'), 'push-node']]) {
      const was = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
      const first = !box.childElementCount;
      const frag = document.createDocumentFragment();
      for (const n of [...S.nodes.values()].sort((a, b) => natCmp(a.name, b.name))) {
        const lab = el('label');
        const i = el('input', cls);
        i.type = 'checkbox'; i.value = n.key;
        i.checked = was.has(n.key) || (first && cls === 'push-node' && n.online);
        lab.append(i, document.createTextNode(' ' + (n.name || n.key) + (n.online ? '' : ' (offline)')));
        frag.appendChild(lab);
      }
      box.replaceChildren(frag);
    }
  }
  function noPlotLib() {
    $('plot').replaceChildren(el('div', 'nolib',
      'plot library not bundled: this swarm was built without npm (run scripts/setup, then build again)'));
  }
  function stopPlot() {
    for (const id of S.plotCalls) request({ op: 'cancel', ref: id });
    S.plotCalls = [];
  }
  function startPlot() {
    stopPlot();
    $('plot-err').textContent = '';
    if (!window.uPlot) { noPlotLib(); return; }
    const keys = [...document.querySelectorAll('.plot-node:checked')].map((i) => i.value);
    if (!keys.length) { $('plot-err').textContent = 'pick one or more nodes'; return; }
    const path = $('plot-path').value.trim(), field = $('plot-field').value.trim();
    const every = Math.max(50, parseInt($('plot-every').value, 10) || 500);
    const data = [[]].concat(keys.map(() => []));
    const colors = ['#3a6ff7', '#e4572e', '#17a34a', '#a855f7', '#f59e0b', '#0ea5e9', '#db2777', '#64748b'];
    const opts = { width: Math.max(400, $('plot').clientWidth - 10), height: 340,
      series: [{}].concat(keys.map((k, i) => ({ label: (S.nodes.get(k) || {}).name || k,
        stroke: colors[i % colors.length], width: 2, spanGaps: true }))),
      axes: [{}, {}], scales: { x: { time: true } } };
    $('plot').replaceChildren();
    S.plot = new window.uPlot(opts, data, $('plot'));
    S.plotPoints = 0;
    keys.forEach((k, i) => {
      const id = call(k, path, null, (a) => {
        if (a.error !== undefined) { $('plot-err').textContent = k + ': ' + a.error; return; }
        const v0 = a.stream !== undefined ? a.stream : a.reply;
        if (v0 === undefined) return;
        let v = field ? (v0 || {})[field] : v0;
        v = typeof v === 'number' ? v : parseFloat(v);
        if (!isFinite(v)) return;
        data[0].push(Date.now() / 1000);
        for (let s = 1; s < data.length; s++) data[s].push(s === i + 1 ? v : null);
        if (data[0].length > 2000) for (const col of data) col.shift();
        S.plotPoints++;
        $('plot-count').textContent = S.plotPoints + ' points';
        S.plot.setData(data);
      }, every);
      S.plotCalls.push(id);
    });
  }

  // ---- push
  function fillProjects() {
    const sel = $('push-project');
    sel.replaceChildren();
    for (const p of (S.hello.projects || [])) { const o = el('option', null, p); o.value = p; sel.appendChild(o); }
    if (!(S.hello.projects || []).length) $('push-err').textContent = 'no project: start the dashboard with --project DIR';
  }
  function startPush(dry) {
    $('push-err').textContent = '';
    const nodes = [...document.querySelectorAll('.push-node:checked')].map((i) => i.value);
    if (!nodes.length) { $('push-err').textContent = 'pick one or more nodes'; return; }
    $('push-state').textContent = (dry ? 'dry run' : 'push') + ' starting…';
    request({ op: 'push', project: $('push-project').value, nodes, dry_run: dry,
      canary: parseInt($('push-canary').value, 10) || 0,
      max_failures: parseInt($('push-maxfail').value, 10) || 0,
      parallel: parseInt($('push-parallel').value, 10) || 0 }, (a) => {
      if (a.error !== undefined) { $('push-err').textContent = a.error; $('push-state').textContent = ''; return; }
      for (const d of a.reply.devices) S.push.set(d.key, d);
      renderPush();
      $('push-state').textContent = (dry ? 'dry run' : 'push') + ' done';
    });
  }
  function renderPush() {
    const frag = document.createDocumentFragment();
    for (const d of S.push.values()) {
      const n = S.nodes.get(d.key);
      const tr = el('tr');
      tr.dataset.key = d.key;
      tr.appendChild(el('td', null, (n && n.name) || d.key));
      tr.appendChild(el('td', null, d.app));
      tr.appendChild(el('td', 'step', d.step));
      const pc = el('td');
      const bar = el('progress');
      bar.max = Math.max(1, d.bytes_total); bar.value = d.result === 'ok' || d.result === 'unchanged' ? bar.max : d.bytes;
      pc.append(bar, document.createTextNode(' ' + d.files + '/' + d.files_total + ' files'));
      tr.appendChild(pc);
      tr.appendChild(el('td', 'result res-' + d.result, d.result + (d.canary ? ' (canary)' : '')));
      tr.appendChild(el('td', 'changes', (d.reason ? d.reason + '\n' : '') + (d.changes || []).join('\n')));
      frag.appendChild(tr);
    }
    $('push-body').replaceChildren(frag);
  }

  // ---- wiring
  for (const t of document.querySelectorAll('.tab')) t.addEventListener('click', () => show(t.dataset.view));
  $('fleet-body').addEventListener('click', (e) => {
    const tr = e.target.closest('tr.node');
    if (tr) openNode(tr.dataset.key);
  });
  for (const id of ['filter', 'sort', 'group']) $(id).addEventListener('input', queueRender);
  $('node-back').addEventListener('click', () => show('fleet'));
  $('call-form').addEventListener('submit', doCall);
  $('upload').addEventListener('change', upload);
  $('files-up').addEventListener('click', () => {
    const p = S.filesDir.replace(/\/+$/, '');
    S.filesDir = p.slice(0, p.lastIndexOf('/') + 1) || '/';
    loadFiles();
  });
  $('plot-start').addEventListener('click', startPlot);
  $('plot-stop').addEventListener('click', stopPlot);
  $('push-dry').addEventListener('click', () => startPush(true));
  $('push-go').addEventListener('click', () => startPush(false));
  setInterval(tickUptime, 1000);
  // for the end-to-end test and the 200-node measurement (tests/e2e/dashboard.mjs)
  window.swarmDash = { state: S, onMessage, plotPoints: () => S.plotPoints };
  connect();
})();
