// The live dashboard's static files, served by HttpServer as they are: no CDN, no build
// step, nothing fetched from elsewhere. The page is a static asset of the daemon, not code
// it runs; it reads the updates on `events` (Server-Sent Events) and draws them. Event
// data is shown with textContent only, never parsed as HTML: types and fields come from
// whoever sends events.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ziggyd</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body data-state="connecting">
<header>
  <h1>ziggyd <span id="daemon"></span></h1>
  <p id="summary"><span id="state" class="state">connecting…</span></p>
</header>
<main>
  <section>
    <h2>Events per second <span id="total-rate" class="big"></span></h2>
    <canvas id="chart" width="900" height="120" aria-label="events per second, last two minutes"></canvas>
    <table id="rates">
      <thead><tr><th>type</th><th class="num">events/s</th><th class="bar"></th><th class="num">received</th><th class="num">dropped</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="rejects" class="note"></p>
  </section>
  <section>
    <h2>Timing of <form id="field-form"><input id="field" name="field" value="request_time" spellcheck="false" autocomplete="off" list="field-names" size="18"><datalist id="field-names"></datalist></form> over the last 10 s</h2>
    <p id="field-problem" class="problem" hidden></p>
    <table id="timings">
      <thead><tr><th>type</th><th class="num">events</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="note">From a sample of each type's events per second (weighted by each second's count).</p>
  </section>
  <section>
    <h2>Latest events</h2>
    <ol id="latest"></ol>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7385; --bg: #f7f8fa; --card: #fff; --line: #e2e5ea; --accent: #2f6fde; --warn: #c2410c; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ee; --muted: #9aa3b5; --bg: #14171d; --card: #1c2029; --line: #2c3240; --accent: #6ea0ff; --warn: #fb923c; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1.5em; padding: 0.8em 1.5em; border-bottom: 1px solid var(--line); background: var(--card); flex-wrap: wrap; }
h1 { font-size: 1.2em; margin: 0; }
h1 span, #summary { color: var(--muted); font-weight: normal; }
#summary { margin: 0; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; padding: 1em 1.5em; }
@media (max-width: 960px) { main { grid-template-columns: 1fr; } }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.8em 1em; min-width: 0; overflow-x: auto; }
section:last-child { grid-column: 1 / -1; }
h2 { font-size: 1em; margin: 0 0 0.6em; display: flex; align-items: center; gap: 0.4em; flex-wrap: wrap; }
h2 form { display: inline; }
.big { margin-left: auto; font-size: 1.3em; font-variant-numeric: tabular-nums; color: var(--accent); }
canvas { width: 100%; height: 120px; display: block; margin-bottom: 0.6em; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 0.2em 0.4em; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 0.85em; }
td:first-child { font-family: ui-monospace, Menlo, Consolas, monospace; overflow: hidden; text-overflow: ellipsis; max-width: 22em; }
.num { text-align: right; }
.bar { width: 35%; }
.bar div { height: 0.7em; background: var(--accent); border-radius: 2px; min-width: 1px; }
input { font: inherit; font-family: ui-monospace, Menlo, Consolas, monospace; padding: 0.1em 0.3em; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
.note { color: var(--muted); font-size: 0.85em; margin: 0.5em 0 0; }
.problem { color: var(--warn); margin: 0 0 0.5em; }
.state::before { content: "●"; margin-right: 0.3em; color: var(--muted); }
body[data-state="live"] .state::before { color: #16a34a; }
body[data-state="lost"] .state::before { color: var(--warn); }
#latest { list-style: none; margin: 0; padding: 0; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; }
#latest li { display: grid; grid-template-columns: 7em 14em 9em 1fr; gap: 0.8em; padding: 0.25em 0; border-bottom: 1px solid var(--line); }
#latest .host { color: var(--muted); overflow: hidden; text-overflow: ellipsis; }
#latest .time { color: var(--muted); }
#latest .type { color: var(--accent); overflow: hidden; text-overflow: ellipsis; }
#latest .json { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
`;

export const DASHBOARD_JS = `'use strict';
(function () {
  var HISTORY = 120; // chart points (one per update)
  var LATEST_SHOWN = 15;
  var history = [];
  var source = null;
  var field = '';
  var rows = { rates: new Map(), timings: new Map() };
  var fieldNames = new Set();

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmt(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '–';
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + 'M';
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    if (Number.isInteger(n)) return String(n);
    return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
  }

  function duration(s) {
    if (s < 60) return Math.floor(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
  }

  // One row per key, kept across updates (so the table does not flicker), in 'order'.
  function syncRows(tbody, map, order, cells, fill) {
    var wanted = new Set(order);
    map.forEach(function (tr, key) { if (!wanted.has(key)) { tr.remove(); map.delete(key); } });
    order.forEach(function (key) {
      var tr = map.get(key);
      if (!tr) {
        tr = el('tr');
        tr.dataset.type = key;
        tr.appendChild(el('td', '', key));
        for (var i = 0; i < cells.length; i++) tr.appendChild(el('td', cells[i]));
        map.set(key, tr);
      }
      fill(tr.children, key);
      tbody.appendChild(tr); // moves it into place
    });
  }

  function drawChart() {
    var canvas = $('chart');
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var style = getComputedStyle(document.documentElement);
    var max = 1;
    history.forEach(function (v) { if (v > max) max = v; });
    ctx.strokeStyle = style.getPropertyValue('--line');
    ctx.fillStyle = style.getPropertyValue('--muted');
    ctx.font = '11px system-ui, sans-serif';
    ctx.beginPath(); ctx.moveTo(0, 12.5); ctx.lineTo(w, 12.5); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
    ctx.fillText(fmt(max) + '/s', 4, 10);
    if (history.length < 2) return;
    var step = w / (HISTORY - 1);
    var x0 = w - (history.length - 1) * step;
    ctx.beginPath();
    history.forEach(function (v, i) {
      var x = x0 + i * step, y = h - 1 - (v / max) * (h - 16);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = style.getPropertyValue('--accent');
    ctx.lineWidth = 2;
    ctx.stroke();
  }

  function showRates(u) {
    var types = Object.keys(u.events);
    types.sort(function (a, b) { return (u.events[b].rate - u.events[a].rate) || (u.events[b].received - u.events[a].received) || (a < b ? -1 : 1); });
    var top = 1, total = 0;
    types.forEach(function (t) { top = Math.max(top, u.events[t].rate); total += u.events[t].rate; });
    syncRows($('rates').tBodies[0], rows.rates, types, ['num', 'bar', 'num', 'num'], function (td, t) {
      var e = u.events[t];
      td[1].textContent = fmt(e.rate);
      if (!td[2].firstChild) td[2].appendChild(el('div'));
      td[2].firstChild.style.width = (100 * e.rate / top).toFixed(1) + '%';
      td[3].textContent = fmt(e.received);
      td[4].textContent = fmt(e.dropped);
    });
    $('total-rate').textContent = fmt(total) + '/s';
    history.push(total);
    if (history.length > HISTORY) history.shift();
    drawChart();
    var r = u.rejects, rejected = r.frame + r.document + r.type;
    $('rejects').textContent = 'received ' + fmt(u.totals.received) + ' · written ' + fmt(u.totals.written) + ' · forwarded ' + fmt(u.totals.forwarded) +
      ' · dropped ' + fmt(u.totals.dropped) + ' · rejected ' + fmt(rejected) + (rejected > 0 ? ' (frame ' + r.frame + ', document ' + r.document + ', type ' + r.type + ')' : '');
  }

  function showTimings(u) {
    var types = Object.keys(u.timings);
    types.sort(function (a, b) { return u.timings[b].count - u.timings[a].count || (a < b ? -1 : 1); });
    syncRows($('timings').tBodies[0], rows.timings, types, ['num', 'num', 'num', 'num', 'num'], function (td, t) {
      var s = u.timings[t];
      td[1].textContent = fmt(s.count);
      td[2].textContent = fmt(s.p50);
      td[3].textContent = fmt(s.p90);
      td[4].textContent = fmt(s.p99);
      td[5].textContent = fmt(s.max);
    });
  }

  // Numeric fields of the events seen, offered as choices for the timing field.
  function learnFields(obj, prefix, depth) {
    if (depth > 3 || fieldNames.size > 200) return;
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      var name = prefix + k;
      if (typeof v === 'number' && !fieldNames.has(name)) {
        fieldNames.add(name);
        var o = document.createElement('option');
        o.value = name;
        $('field-names').appendChild(o);
      } else if (v && typeof v === 'object' && !Array.isArray(v)) learnFields(v, name + '.', depth + 1);
    });
  }

  function showLatest(u) {
    var list = $('latest');
    u.latest.forEach(function (e) {
      var li = el('li');
      li.dataset.type = e.type;
      var when = isFinite(e.end) && e.end > 0 ? new Date(e.end * 1000).toISOString().slice(11, 23) : '';
      var doc = null;
      try { doc = JSON.parse(e.json); } catch (err) { /* cut short: shown as it is */ }
      var hasBody = doc && typeof doc.body === 'object' && doc.body !== null;
      li.appendChild(el('span', 'time', when));
      li.appendChild(el('span', 'type', e.type));
      li.appendChild(el('span', 'host', doc && typeof doc.host === 'string' ? doc.host : ''));
      // the body is what differs from event to event; the whole event is in the tooltip
      li.appendChild(el('span', 'json', hasBody ? JSON.stringify(doc.body) : e.json));
      li.title = e.json;
      list.insertBefore(li, list.firstChild);
      if (hasBody) learnFields(doc.body, '', 0);
    });
    while (list.children.length > LATEST_SHOWN) list.lastChild.remove();
  }

  function onUpdate(msg) {
    var u = JSON.parse(msg.data);
    document.body.dataset.state = 'live';
    $('daemon').textContent = u.daemon.host + ' · ' + u.daemon.version;
    $('state').textContent = 'live · up ' + duration(u.daemon.uptime) + ' · pid ' + u.daemon.pid;
    showRates(u);
    showTimings(u);
    showLatest(u);
  }

  function connect() {
    if (source) source.close();
    field = $('field').value.trim() || 'request_time';
    rows.timings.forEach(function (tr) { tr.remove(); });
    rows.timings.clear();
    $('field-problem').hidden = true;
    source = new EventSource('events?field=' + encodeURIComponent(field));
    source.addEventListener('update', onUpdate);
    source.addEventListener('problem', function (msg) {
      var p = $('field-problem');
      p.textContent = JSON.parse(msg.data).error;
      p.hidden = false;
    });
    source.onerror = function () {
      document.body.dataset.state = 'lost';
      $('state').textContent = 'connection lost, retrying…';
    };
  }

  $('field-form').addEventListener('submit', function (ev) { ev.preventDefault(); connect(); });
  $('field').addEventListener('change', function () { if ($('field').value.trim() !== field) connect(); });
  window.addEventListener('resize', drawChart);
  connect();
})();
`;
