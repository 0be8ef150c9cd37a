// The console's static files: its stylesheet and script (here, so the build ships them), and uPlot from node_modules.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** One stylesheet: readable on a laptop and a phone, visible focus, contrast above WCAG AA. */
export const CONSOLE_CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #4a5360; --bg: #f6f7f9; --card: #fff; --line: #d4d9e0;
  --accent: #0b5cad; --bad: #a3161c; --ok: #1d6b32; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, [tabindex]:focus-visible {
  outline: 3px solid #f0a500; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
.skip:focus { left: .5rem; }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .5rem 1rem;
  background: #14263d; color: #fff; }
.top a { color: #fff; }
.brand { font-weight: 700; margin: 0; }
.top ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
.top a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
.who { margin: 0 0 0 auto; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
main:focus { outline: none; }
h1 { margin: .25rem 0 1rem; font-size: 1.6rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 0 0 1rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 1rem; }
.grid .card { margin: 0; }
.grid { margin-bottom: 1rem; }
.chart { min-height: 240px; width: 100%; }
figure { margin: 0; }
figcaption, .source, .hint { color: var(--muted); font-size: .9rem; }
.empty { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
form.filters, form.inline-form { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr));
  gap: .75rem; align-items: end; background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 1rem; margin-bottom: 1rem; }
.card form.inline-form { border: 0; padding: 0; margin: 0; }
.field { display: flex; flex-direction: column; gap: .2rem; }
label { font-weight: 600; font-size: .9rem; }
input, select, button { font: inherit; padding: .45rem .55rem; border: 1px solid #6b7580; border-radius: 4px;
  min-height: 2.5rem; background: #fff; color: var(--fg); }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; font-weight: 600; }
.actions { display: flex; gap: 1rem; align-items: center; }
.row-form { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; }
.row-form label { font-size: .8rem; }
.row-form input { min-width: 8rem; }
.notice { padding: .6rem .8rem; border-radius: 4px; border: 1px solid; }
.notice.ok { color: var(--ok); background: #eef8f0; }
.notice.error { color: var(--bad); background: #fdf0f0; }
.exports { margin: 0 0 1rem; }
@media (max-width: 640px) {
  .who { margin: 0; }
  main { padding: .5rem; }
  th, td { padding: .3rem; }
}
`;

/**
 * The page script (no framework, no inline code): local times, the overview chart (uPlot) and its
 * live updates from /console/events. Every value from the server goes into the page as text.
 */
export const CONSOLE_JS = `'use strict';
(function () {
  function localTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      if (isNaN(d.getTime())) return;
      el.textContent = d.toLocaleString();
    });
  }
  localTimes(document);

  var block = document.getElementById('overview-data');
  var holder = document.getElementById('chart');
  if (!block || !holder || typeof uPlot === 'undefined') return;
  var data = JSON.parse(block.textContent);
  var colors = { allow: '#1d6b32', unauthenticated: '#b35900', forbidden: '#a3161c', limited: '#6a3d9a',
    malformed: '#555555', error: '#000000', 'would-deny': '#0b5cad' };
  var xs = data.minutes.map(function (m) { return m / 1000; });
  var cols = [xs].concat(data.outcomes.map(function (o) { return data.series[o].slice(); }));
  function width() { return Math.max(200, holder.clientWidth || 600); }
  var plot = new uPlot({
    width: width(), height: 240,
    series: [{}].concat(data.outcomes.map(function (o) {
      return { label: o, stroke: colors[o] || '#333', width: 2 };
    })),
    axes: [{}, { label: 'per minute' }],
  }, cols, holder);
  window.addEventListener('resize', function () { plot.setSize({ width: width(), height: 240 }); });

  var rows = document.getElementById('live-rows');
  var status = document.getElementById('live-status');
  if (typeof EventSource === 'undefined' || !rows) return;
  var es = new EventSource('/console/events');
  es.addEventListener('open', function () { status.textContent = 'Live: new decisions appear here and in the chart.'; });
  es.addEventListener('error', function () { status.textContent = 'Live feed interrupted; retrying…'; });
  es.addEventListener('decision', function (ev) {
    var d = JSON.parse(ev.data);
    var t = Date.parse(d.time);
    var minute = Math.floor(t / 60000) * 60;
    var last = xs[xs.length - 1];
    while (minute > last) {
      last += 60; xs.push(last); xs.shift();
      for (var i = 1; i < cols.length; i++) { cols[i].push(0); cols[i].shift(); }
    }
    var idx = xs.indexOf(minute);
    var s = data.outcomes.indexOf(d.decision);
    if (idx !== -1 && s !== -1) cols[s + 1][idx] += d.sample;
    plot.setData(cols);
    var empty = document.getElementById('no-decisions');
    if (empty) empty.remove();
    status.textContent = d.sample > 1
      ? 'Live, sampled: showing 1 decision in ' + d.sample + ' (more than 20 a second).'
      : 'Live: every decision is shown.';
    var tr = document.createElement('tr');
    var time = document.createElement('time');
    time.setAttribute('datetime', d.time);
    time.title = d.time.replace('T', ' ').slice(0, 19) + ' UTC';
    time.textContent = new Date(t).toLocaleTimeString();
    var cells = [time, d.decision, String(d.status), d.path || '', d.identity || ''];
    cells.forEach(function (c) {
      var td = document.createElement('td');
      if (typeof c === 'string') td.textContent = c; else td.appendChild(c);
      tr.appendChild(td);
    });
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > 50) rows.removeChild(rows.lastChild);
  });
  window.addEventListener('pagehide', function () { es.close(); });
})();
`;

const require = createRequire(import.meta.url);

/** uPlot's script and stylesheet, read once from the installed package (never a CDN). */
export function uplotFiles(): { js: string; css: string } {
  return {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}
