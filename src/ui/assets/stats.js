// stats.js — the statistics page (#/stats). Owns: the since/until picker and the tables built
// from GET /api/v1/stats (counts per grid, street, unit, category and day; precision per camera
// and category; median review time; recurrences).

import { api, t, el, button, showError, fmtNumber, inputToIso, getCategories, categoryLabel } from './app.js';

const COUNT_TABLES = ['by_grid', 'by_street', 'by_unit', 'by_category', 'by_day'];
const DAY_MS = 24 * 3600 * 1000;

// The chosen range survives page changes within the session.
const range = { since: isoDay(Date.now() - 7 * DAY_MS), until: '' };

function isoDay(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export async function mount(root) {
  const since = el('input', { type: 'date', value: range.since, 'data-testid': 'stats-since', id: 'stats-since' });
  const until = el('input', { type: 'date', value: range.until, 'data-testid': 'stats-until', id: 'stats-until' });
  const out = el('div', { class: 'stats', 'data-testid': 'stats-out' });
  const load = async () => {
    range.since = since.value;
    range.until = until.value;
    await loadStats(out);
  };
  const form = el('form', { class: 'toolbar' },
    el('h2', {}, t('stats.title')),
    el('label', { for: 'stats-since', class: 'inline' }, t('filter.since'), since),
    el('label', { for: 'stats-until', class: 'inline' }, t('filter.until'), until),
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'stats-load' }, t('stats.load')),
    button('stats.last7', 'stats-last7', () => { since.value = isoDay(Date.now() - 7 * DAY_MS); until.value = ''; load(); }, { class: 'ghost' }),
    button('stats.last30', 'stats-last30', () => { since.value = isoDay(Date.now() - 30 * DAY_MS); until.value = ''; load(); }, { class: 'ghost' }));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  root.append(form, out);
  await load();
  return () => {};
}

/** until is a day: include all of it by asking up to the next midnight. */
function queryString() {
  const p = new URLSearchParams();
  if (range.since) p.set('since', inputToIso(`${range.since}T00:00`));
  if (range.until) p.set('until', new Date(Date.parse(`${range.until}T00:00`) + DAY_MS).toISOString());
  return p.toString();
}

async function loadStats(out) {
  let stats;
  let categories = [];
  try {
    [stats, categories] = await Promise.all([api('GET', `/api/v1/stats?${queryString()}`), getCategories().catch(() => [])]);
  } catch (e) {
    showError(e);
    out.replaceChildren(el('p', { class: 'empty' }, t('stats.failed')));
    return;
  }
  out.replaceChildren(
    el('div', { class: 'cards' },
      card('stats.median_review', stats.median_review_s == null ? t('stats.none') : t('stats.seconds', { n: fmtNumber(stats.median_review_s, 1) }), 'stats-median'),
      card('stats.recurrences', fmtNumber(stats.recurrences ?? 0, 0), 'stats-recurrences')),
    el('div', { class: 'stats-grid' },
      COUNT_TABLES.map((k) => countTable(k, stats[k] || [], k === 'by_category' ? (key) => categoryLabel(categories, key) : null)),
      precisionTable(stats.by_camera_category || [], categories)));
}

function card(key, value, testid) {
  return el('div', { class: 'card', 'data-testid': testid }, el('div', { class: 'card-label' }, t(key)), el('div', { class: 'card-value' }, value));
}

function countTable(key, rows, label) {
  const max = Math.max(1, ...rows.map((r) => Number(r.count) || 0));
  return el('section', { class: 'panel' }, el('h3', {}, t(`stats.${key}`)),
    rows.length ? el('table', { class: 'dense', 'data-testid': 'stats-table', 'data-stat': key },
      el('thead', {}, el('tr', {}, el('th', {}, t('stats.key')), el('th', { class: 'num' }, t('stats.count')), el('th', {}, ''))),
      el('tbody', {}, rows.map((r) => el('tr', {},
        el('td', { class: key === 'by_grid' ? 'mono' : '' }, label ? `${label(r.key)}` : String(r.key ?? '')),
        el('td', { class: 'num' }, fmtNumber(r.count, 0)),
        el('td', { class: 'barcell' }, el('span', { class: 'bar', style: { width: `${(100 * (Number(r.count) || 0)) / max}%` } }))))))
      : el('p', { class: 'muted' }, t('stats.none')));
}

function precisionTable(rows, categories) {
  return el('section', { class: 'panel wide' }, el('h3', {}, t('stats.by_camera_category')),
    rows.length ? el('table', { class: 'dense', 'data-testid': 'stats-table', 'data-stat': 'by_camera_category' },
      el('thead', {}, el('tr', {}, ['camera', 'category', 'reviewed', 'confirmed', 'precision'].map((k) => el('th', { class: k === 'camera' || k === 'category' ? '' : 'num' }, t(`stats.${k}`))))),
      el('tbody', {}, rows.map((r) => el('tr', {},
        el('td', {}, r.camera), el('td', {}, categoryLabel(categories, r.category)),
        el('td', { class: 'num' }, fmtNumber(r.reviewed, 0)), el('td', { class: 'num' }, fmtNumber(r.confirmed, 0)),
        el('td', { class: 'num' }, r.precision == null ? '' : `${fmtNumber(100 * r.precision, 1)}%`)))))
      : el('p', { class: 'muted' }, t('stats.none')));
}
