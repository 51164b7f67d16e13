// The reports dashboard (#/reports): headline figures and daily charts of
// GET /api/reports/summary over a range of UTC days, for users with can_view_reports; CSV
// downloads for those with can_export_data. Anyone may open the route: the API decides, and its
// refusal is shown as it is. Charts are plain SVG, their numbers also in a table.

import { h } from './dom.js';
import { t, lang } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

// s builds an SVG element with attributes and children.
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
  for (const c of children) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

// day is the UTC date n days from today, as YYYY-MM-DD.
function day(n = 0) {
  return new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
}

// duration formats seconds for people: 45 s, 3 min 20 s, 2 h 5 min, 1 d 4 h; null is a dash.
export function duration(sec) {
  if (sec == null) return '—';
  const x = Math.round(sec);
  if (x < 60) return `${x} s`;
  if (x < 3600) return x % 60 ? `${Math.floor(x / 60)} min ${x % 60} s` : `${x / 60} min`;
  if (x < 86400) return `${Math.floor(x / 3600)} h ${Math.floor((x % 3600) / 60)} min`;
  return `${Math.floor(x / 86400)} d ${Math.floor((x % 86400) / 3600)} h`;
}

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const SERIES = [
  { key: 'opened', cls: 'bar-opened' },
  { key: 'messages_in', cls: 'bar-in' },
  { key: 'messages_out', cls: 'bar-out' },
];

export class Reports {
  constructor(app) {
    this.app = app;
    this.api = app.api;
    this.loads = 0;
    this.seq = 0;
    const perms = app.me.permissions || {};
    this.from = h('input', { type: 'date', class: 'range-from', value: day(-6), 'aria-label': t('reports.from') });
    this.to = h('input', { type: 'date', class: 'range-to', value: day(0), 'aria-label': t('reports.to') });
    this.team = h('select', { class: 'range-team', 'aria-label': t('list.team') },
      h('option', { value: '' }, t('list.anyteam')),
      (app.groups || []).map((g) => h('option', { value: g.id }, g.name)));
    this.agent = h('select', { class: 'range-agent', 'aria-label': t('reports.agent') },
      h('option', { value: '' }, t('reports.anyagent')),
      [...app.users].map(([id, name]) => h('option', { value: id }, id === app.me.id ? app.me.name || app.me.email : name)));
    // Opened straight at #/reports, the inbox may not have its teams yet.
    if (!app.groups) {
      this.api.get('/api/groups').then((r) => this.team.append(...(r.data || []).map((g) => h('option', { value: g.id }, g.name)))).catch(() => {});
    }
    // Shown once a summary says the team has working hours (BUSINESS_HOURS).
    this.business = h('input', { type: 'checkbox', class: 'range-business' });
    this.businessLabel = h('label', { class: 'range-business-label', hidden: true }, this.business, ' ', t('reports.business'));
    const form = h('form', { class: 'reports-range' },
      h('label', null, t('reports.from'), ' ', this.from),
      h('label', null, t('reports.to'), ' ', this.to),
      this.team, this.agent, this.businessLabel,
      h('button', { type: 'button', onclick: () => this.preset(7) }, t('reports.days', { n: 7 })),
      h('button', { type: 'button', onclick: () => this.preset(30) }, t('reports.days', { n: 30 })));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.load(); });
    form.addEventListener('change', () => this.load());
    const exports = perms.can_export_data ? h('div', { class: 'exports' },
      h('button', { type: 'button', class: 'export-summary', onclick: () => this.download('/api/reports/summary') }, t('reports.export_summary')),
      h('button', { type: 'button', class: 'export-conversations', onclick: () => this.download('/api/reports/conversations') }, t('reports.export_conversations'))) : null;
    this.status = h('p', { class: 'reports-status', role: 'status' });
    this.figures = h('ul', { class: 'kpis' });
    this.charts = h('div', { class: 'charts' });
    this.table = h('div', { class: 'table-wrap' });
    this.el = h('section', { class: 'reports', 'aria-label': t('reports.title') },
      h('header', { class: 'admin-head' },
        h('h2', null, t('reports.title')),
        h('a', { href: '#', class: 'back-inbox' }, t('admin.back'))),
      form, exports, this.status, this.figures, this.charts, this.table);
  }

  preset(n) {
    this.to.value = day(0);
    this.from.value = day(1 - n);
    this.load();
  }

  query() {
    const q = new URLSearchParams({ from: this.from.value, to: this.to.value });
    if (this.team.value) q.set('team', this.team.value);
    if (this.agent.value) q.set('agent', this.agent.value);
    if (this.business.checked) q.set('hours', 'business');
    return q;
  }

  async load() {
    const seq = ++this.seq;
    const q = this.query();
    this.el.setAttribute('aria-busy', 'true');
    try {
      const r = await this.api.get(`/api/reports/summary?${q}`);
      if (seq !== this.seq) return;
      this.status.textContent = '';
      this.status.className = 'reports-status';
      delete this.status.dataset.error;
      this.render(r);
    } catch (e) {
      if (seq !== this.seq) return;
      this.figures.replaceChildren();
      this.charts.replaceChildren();
      this.table.replaceChildren();
      this.status.className = 'reports-status bad';
      this.status.dataset.error = String(e.status || '');
      this.status.textContent = e.status === 403 ? t('reports.forbidden', { reason: e.message }) : t('error.generic', { reason: e.message });
    } finally {
      if (seq === this.seq) {
        this.el.removeAttribute('aria-busy');
        this.el.dataset.loads = String(++this.loads);
        this.el.dataset.query = q.toString();
      }
    }
  }

  // download fetches a CSV with the bearer token (a plain link cannot carry it) and saves it
  // from a blob: URL under the server's file name.
  async download(path) {
    const q = this.query();
    q.set('format', 'csv');
    try {
      const r = await this.api.request('GET', `${path}?${q}`, undefined, { raw: true });
      const name = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '')?.[1] || 'wainbox.csv';
      const url = URL.createObjectURL(await r.blob());
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      this.status.className = 'reports-status bad';
      this.status.textContent = t('error.generic', { reason: e.message });
    }
  }

  render(r) {
    if (r.business_hours) {
      this.businessLabel.hidden = false;
      this.businessLabel.title = r.business_hours;
    }
    const n = new Intl.NumberFormat(lang);
    const tot = r.totals;
    const fig = (key, value, text, note) => h('li', { dataset: { figure: key, value: value ?? '' } },
      h('span', { class: 'kpi-label' }, t(`reports.fig.${key}`)),
      h('strong', { class: 'kpi-value' }, text),
      note ? h('span', { class: 'kpi-note' }, note) : null);
    this.figures.replaceChildren(
      fig('opened', tot.opened, n.format(tot.opened), tot.reopened ? t('reports.reopened', { n: n.format(tot.reopened) }) : null),
      fig('resolved', tot.resolved, n.format(tot.resolved)),
      fig('messages_in', tot.messages_in, n.format(tot.messages_in)),
      fig('messages_out', tot.messages_out, n.format(tot.messages_out)),
      fig('first_response', tot.first_response.median_seconds, duration(tot.first_response.median_seconds),
        tot.first_response.count ? t('reports.p90', { d: duration(tot.first_response.p90_seconds) }) : null),
      fig('resolution', tot.resolution.median_seconds, duration(tot.resolution.median_seconds),
        tot.resolution.count ? t('reports.p90', { d: duration(tot.resolution.p90_seconds) }) : null),
      fig('bot_containment', tot.bot_containment, tot.bot_containment == null ? '—' : `${Math.round(tot.bot_containment * 100)} %`,
        tot.bot_handled ? t('reports.contained', { a: tot.bot_contained, b: tot.bot_handled }) : null),
      fig('handoffs', tot.handoffs, n.format(tot.handoffs)));
    const days = r.by_day || [];
    this.charts.replaceChildren(this.volumeChart(days), this.responseChart(days));
    this.table.replaceChildren(this.dayTable(days, n));
  }

  // frame draws a chart's left axis with three grid lines up to max, labelled by fmt.
  frame(title, w, ht, pad, max, fmt) {
    const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, role: 'img', 'aria-label': title, class: 'chart' }, s('title', null, title));
    const plotH = ht - pad.top - pad.bottom;
    for (const f of [0, 0.5, 1]) {
      const y = pad.top + plotH * (1 - f);
      svg.append(s('line', { x1: pad.left, x2: w - pad.right, y1: y, y2: y, class: 'grid' }),
        s('text', { x: pad.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, fmt(max * f)));
    }
    return svg;
  }

  // dayLabels writes the days under the chart, thinned to about ten labels.
  dayLabels(svg, days, x, y) {
    const every = Math.max(1, Math.ceil(days.length / 10));
    days.forEach((d, i) => {
      if (i % every === 0 || i === days.length - 1) svg.append(s('text', { x: x(i), y, class: 'axis', 'text-anchor': 'middle' }, d.day.slice(5)));
    });
  }

  volumeChart(days) {
    const w = 720, ht = 220, pad = { top: 12, right: 12, bottom: 28, left: 40 };
    const max = niceMax(Math.max(0, ...days.flatMap((d) => SERIES.map((x) => d[x.key]))));
    const svg = this.frame(t('reports.chart_volume'), w, ht, pad, max, (v) => String(Math.round(v)));
    svg.classList.add('chart-volume');
    const slot = (w - pad.left - pad.right) / Math.max(1, days.length);
    const bw = Math.min(14, (slot * 0.8) / SERIES.length);
    const plotH = ht - pad.top - pad.bottom;
    const cx = (i) => pad.left + slot * (i + 0.5);
    days.forEach((d, i) => {
      const g = s('g', { class: 'day', 'data-day': d.day });
      SERIES.forEach((x, j) => {
        const bh = (d[x.key] / max) * plotH;
        g.append(s('rect', { class: x.cls, x: cx(i) + (j - SERIES.length / 2) * bw, y: pad.top + plotH - bh, width: bw - 1, height: bh },
          s('title', null, `${d.day} · ${t(`reports.fig.${x.key}`)}: ${d[x.key]}`)));
      });
      svg.append(g);
    });
    this.dayLabels(svg, days, cx, ht - 8);
    return h('figure', null, svg, h('figcaption', null, h('ul', { class: 'legend' },
      SERIES.map((x) => h('li', null, h('span', { class: `swatch ${x.cls}` }), t(`reports.fig.${x.key}`))))));
  }

  responseChart(days) {
    const w = 720, ht = 160, pad = { top: 12, right: 12, bottom: 28, left: 64 };
    const vals = days.map((d) => d.first_response.median_seconds);
    // The axis counts in the unit of the longest median: seconds, minutes, hours or days.
    const top = Math.max(0, ...vals.filter((v) => v != null));
    const [unit, name] = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']].find(([u]) => top >= u) || [1, 's'];
    const max = niceMax(top / unit) * unit;
    const svg = this.frame(t('reports.chart_response'), w, ht, pad, max, (v) => `${+(v / unit).toFixed(1)} ${name}`);
    svg.classList.add('chart-response');
    const slot = (w - pad.left - pad.right) / Math.max(1, days.length);
    const plotH = ht - pad.top - pad.bottom;
    const cx = (i) => pad.left + slot * (i + 0.5);
    const cy = (v) => pad.top + plotH * (1 - v / max);
    // The line breaks over days without a first response.
    let run = [];
    const flush = () => {
      if (run.length > 1) svg.append(s('polyline', { class: 'line-response', points: run.join(' ') }));
      run = [];
    };
    vals.forEach((v, i) => { if (v == null) flush(); else run.push(`${cx(i)},${cy(v)}`); });
    flush();
    days.forEach((d, i) => {
      const v = vals[i];
      const p = v == null
        ? s('circle', { class: 'point none', cx: cx(i), cy: pad.top + plotH, r: 2 })
        : s('circle', { class: 'point', cx: cx(i), cy: cy(v), r: 4 });
      p.setAttribute('data-day', d.day);
      p.append(s('title', null, `${d.day} · ${t('reports.fig.first_response')}: ${duration(v)}`));
      svg.append(p);
    });
    this.dayLabels(svg, days, cx, ht - 8);
    return h('figure', null, svg, h('figcaption', null, h('ul', { class: 'legend' },
      h('li', null, h('span', { class: 'swatch line-response' }), t('reports.fig.first_response')))));
  }

  dayTable(days, n) {
    const cols = ['opened', 'reopened', 'resolved', 'messages_in', 'messages_out', 'first_response', 'handoffs'];
    return h('table', { class: 'users report-days' },
      h('caption', null, t('reports.by_day')),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('reports.day')), cols.map((c) => h('th', { scope: 'col' }, t(`reports.fig.${c}`))))),
      h('tbody', null, days.map((d) => h('tr', { 'data-day': d.day },
        h('th', { scope: 'row' }, d.day),
        cols.map((c) => h('td', null, c === 'first_response' ? duration(d.first_response.median_seconds) : n.format(d[c])))))));
  }
}
