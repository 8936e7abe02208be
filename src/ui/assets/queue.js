// queue.js — the operator queue (#/queue, #/queue/{id}). Owns: the case list and its filters,
// live updates from EventSource('/api/v1/live'), the case detail pane (evidence frame with the
// box, crop, clip, location, recurrences, mini map, notes, timeline) and keyboard-first triage:
// j/k move, c/Enter confirm, r reject (reason picker), f field check, e reclassify, n note,
// x mark, Shift+C / Shift+R batch, ? help. Decisions advance to the next case by themselves.

import {
  api, t, tOr, el, button, options, setStatus, showError, fmtTime, fmtNumber, inputToIso,
  isTypingTarget, getCategories, getCameras, getGrid, categoryLabel, ApiError,
} from './app.js';
import { renderMiniMap } from './map.js';

const OPEN_STATES = 'candidate,field_check';
const STATE_CHOICES = [OPEN_STATES, 'candidate', 'field_check', 'confirmed', 'rejected', ''];
const REJECT_REASONS = [1, 2, 3, 4, 5];
const PAGE_SIZE = 100;

// Filters survive page changes within the session.
const filters = { state: OPEN_STATES, category: '', grid: '', street: '', camera: '', since: '', until: '', q: '' };

let S = null; // state of the mounted page

export async function mount(root, params) {
  S = {
    root, cases: [], next: null, selectedId: null, marked: new Set(), details: new Map(),
    modal: null, es: null, detailSeq: 0, busy: new Set(), categories: [], cameras: [], grid: null, dom: {},
  };
  buildLayout(root);
  const onKey = (e) => handleKey(e);
  document.addEventListener('keydown', onKey);
  await loadLookups();
  await reload(params.caseId);
  openLive();
  const mine = S;
  return () => {
    document.removeEventListener('keydown', onKey);
    if (mine.es) mine.es.close();
    if (S === mine) S = null;
  };
}

// ---------------------------------------------------------------- layout

function buildLayout(root) {
  const d = S.dom;
  d.filters = buildFilters();
  d.live = el('span', { class: 'live-dot', 'data-testid': 'live-indicator', 'data-live': 'connecting', title: t('queue.live.connecting') });
  d.count = el('span', { class: 'muted', 'data-testid': 'case-count' });
  d.rows = el('tbody', { 'data-testid': 'case-list' });
  d.empty = el('div', { class: 'empty', 'data-testid': 'queue-empty', hidden: true }, t('queue.empty'));
  d.more = button('queue.load_more', 'load-more', () => loadMore(), { hidden: true, class: 'ghost' });
  d.detail = el('section', { class: 'case-detail', 'data-testid': 'case-detail', tabindex: '-1' });
  const head = el('tr', {},
    el('th', {}, ''), el('th', {}, t('case.id')), el('th', {}, t('case.arrived')), el('th', {}, t('case.category')),
    el('th', {}, t('case.grid')), el('th', {}, t('case.camera')),
    el('th', { class: 'num' }, t('case.score')), el('th', {}, t('case.state')));
  const list = el('div', { class: 'case-list' },
    el('table', { class: 'dense rows' }, el('thead', {}, head), d.rows), d.empty, d.more);
  root.append(
    el('div', { class: 'toolbar' }, d.filters, el('div', { class: 'spacer' }), d.live, d.count,
      button('queue.help', 'help-button', () => toggleHelp(), { class: 'ghost' })),
    el('div', { class: 'queue-body' }, list, d.detail),
    keyBar());
  renderDetailEmpty();
}

function buildFilters() {
  const f = el('form', { class: 'filters', 'data-testid': 'queue-filters' });
  const stateSel = el('select', { name: 'state', 'data-testid': 'filter-state', title: t('filter.state') },
    options(STATE_CHOICES.map((v) => ({ value: v, label: stateChoiceLabel(v) })), filters.state));
  S.dom.catSel = el('select', { name: 'category', 'data-testid': 'filter-category', title: t('filter.category') });
  S.dom.camSel = el('select', { name: 'camera', 'data-testid': 'filter-camera', title: t('filter.camera') });
  const text = (name, key) => el('input', { name, value: filters[name], placeholder: t(key), title: t(key), 'data-testid': `filter-${name}`, size: 12 });
  const time = (name, key) => el('label', { class: 'inline' }, t(key),
    el('input', { name, type: 'datetime-local', value: filters[name], 'data-testid': `filter-${name}` }));
  f.append(stateSel, S.dom.catSel, text('grid', 'filter.grid'), text('street', 'filter.street'), S.dom.camSel,
    time('since', 'filter.since'), time('until', 'filter.until'), text('q', 'filter.q'),
    el('button', { type: 'submit', 'data-testid': 'filter-apply' }, t('filter.apply')),
    button('filter.reset', 'filter-reset', () => resetFilters(f), { class: 'ghost' }));
  f.addEventListener('change', () => applyFilters(f));
  f.addEventListener('submit', (e) => { e.preventDefault(); applyFilters(f); });
  return f;
}

function stateChoiceLabel(v) {
  if (v === OPEN_STATES) return t('state.open');
  if (v === '') return t('state.all');
  return tOr(`state.${v}`, v);
}

function applyFilters(form) {
  const data = new FormData(form);
  for (const k of Object.keys(filters)) filters[k] = String(data.get(k) ?? '').trim();
  reload();
}

function resetFilters(form) {
  Object.assign(filters, { state: OPEN_STATES, category: '', grid: '', street: '', camera: '', since: '', until: '', q: '' });
  for (const k of Object.keys(filters)) if (form.elements[k]) form.elements[k].value = filters[k];
  reload();
}

async function loadLookups() {
  const [cats, cams, grid] = await Promise.allSettled([getCategories(), getCameras(), getGrid()]);
  if (!S) return;
  S.categories = cats.status === 'fulfilled' ? cats.value || [] : [];
  S.cameras = cams.status === 'fulfilled' ? cams.value || [] : [];
  S.grid = grid.status === 'fulfilled' ? grid.value : null;
  S.dom.catSel.replaceChildren(...options([{ value: '', label: t('filter.any_category') },
    ...S.categories.map((c) => ({ value: c.category, label: `${c.code} ${c.name}` }))], filters.category));
  S.dom.camSel.replaceChildren(...options([{ value: '', label: t('filter.any_camera') },
    ...S.cameras.map((c) => ({ value: c.id, label: c.name || c.id }))], filters.camera));
  for (const r of [cats, cams]) if (r.status === 'rejected') showError(r.reason);
}

function keyBar() {
  const hints = [
    ['key.next', 'help.next'], ['key.prev', 'help.prev'], ['key.confirm', 'help.confirm'], ['key.reject', 'help.reject'],
    ['key.field', 'help.field'], ['key.reclassify', 'help.reclassify'], ['key.note', 'help.note'],
    ['key.mark', 'help.mark'], ['key.batch', 'help.batch'], ['key.help', 'help.help'],
  ];
  return el('footer', { class: 'keybar', 'data-testid': 'key-bar' },
    hints.map(([k, h]) => el('span', { class: 'hint' }, el('kbd', {}, t(k)), t(h))));
}

// ---------------------------------------------------------------- loading

function queryString(cursor) {
  const p = new URLSearchParams();
  if (filters.state) p.set('state', filters.state);
  for (const k of ['category', 'camera', 'grid', 'street', 'q']) if (filters[k]) p.set(k, filters[k]);
  if (filters.since) p.set('since', inputToIso(filters.since));
  if (filters.until) p.set('until', inputToIso(filters.until));
  p.set('limit', String(PAGE_SIZE));
  if (cursor) p.set('cursor', cursor);
  return p.toString();
}

async function reload(wantId) {
  const mine = S;
  let res;
  try {
    res = await api('GET', `/api/v1/cases?${queryString()}`);
  } catch (e) {
    showError(e);
    res = { cases: [], next: null };
  }
  if (S !== mine) return;
  S.cases = res.cases || [];
  S.next = res.next || null;
  S.details.clear();
  const keep = wantId ?? S.selectedId;
  if (wantId && !S.cases.some((c) => c.id === wantId)) await pinCase(wantId);
  renderRows();
  const target = S.cases.find((c) => c.id === keep) || S.cases[0];
  select(target ? target.id : null);
}

async function loadMore() {
  if (!S.next) return;
  try {
    const res = await api('GET', `/api/v1/cases?${queryString(S.next)}`);
    const known = new Set(S.cases.map((c) => c.id));
    S.cases.push(...(res.cases || []).filter((c) => !known.has(c.id)));
    S.next = res.next || null;
    renderRows();
  } catch (e) {
    showError(e);
  }
}

/** Put a case that the filters do not show (opened from the map or a recurrence) on top. */
async function pinCase(id) {
  try {
    const c = await api('GET', `/api/v1/cases/${id}`);
    S.details.set(c.id, c);
    S.cases = [c, ...S.cases.filter((x) => x.id !== c.id)];
  } catch (e) {
    showError(e);
  }
}

// ---------------------------------------------------------------- live updates

function openLive() {
  if (typeof EventSource === 'undefined') return;
  const es = new EventSource('/api/v1/live');
  S.es = es;
  let hadError = false;
  es.addEventListener('open', () => {
    setLive('open');
    if (hadError) reload();
    hadError = false;
  });
  es.addEventListener('error', () => { hadError = true; setLive('down'); });
  es.addEventListener('case', (ev) => {
    try {
      onLiveCase(JSON.parse(ev.data));
    } catch (e) {
      console.error('gridsight: bad live event', e);
    }
  });
}

function setLive(state) {
  const dot = S && S.dom.live;
  if (!dot) return;
  dot.dataset.live = state;
  dot.title = t(`queue.live.${state === 'open' ? 'open' : 'down'}`);
}

function matchesFilters(c) {
  if (filters.state && !filters.state.split(',').includes(c.state)) return false;
  if (filters.category && c.category !== filters.category) return false;
  if (filters.camera && c.camera !== filters.camera) return false;
  if (filters.grid && !String(c.grid_code || '').startsWith(filters.grid)) return false;
  if (filters.street && !String(c.street || '').includes(filters.street)) return false;
  const at = Date.parse(c.arrived_at || c.created_at || '');
  if (filters.since && at < Date.parse(inputToIso(filters.since))) return false;
  if (filters.until && at > Date.parse(inputToIso(filters.until))) return false;
  return true;
}

function onLiveCase(c) {
  if (!S || !c || c.id === undefined) return;
  const idx = S.cases.findIndex((x) => x.id === c.id);
  const prev = idx >= 0 ? S.cases[idx] : null;
  // Our own action's echo (or one still on its way) is not news for the operator.
  const echo = S.busy.has(c.id) || (prev && prev.updated_at === c.updated_at && prev.state === c.state
    && prev.category === c.category && prev.notes === c.notes);
  S.details.delete(c.id);
  if (matchesFilters(c)) {
    if (idx >= 0) S.cases[idx] = c;
    else S.cases.unshift(c);
  } else if (idx >= 0) {
    if (c.id === S.selectedId) S.cases[idx] = c; // keep it visible; the operator sees it moved
    else S.cases.splice(idx, 1);
  } else {
    return;
  }
  renderRows();
  if (S.selectedId === null) select(c.id);
  else if (c.id === S.selectedId) {
    if (S.modal === null && !echo) setStatus(t('queue.changed_elsewhere', { id: c.id, state: tOr(`state.${c.state}`, c.state) }), 'info');
    select(c.id);
  }
}

// ---------------------------------------------------------------- list rendering

function renderRows() {
  const d = S.dom;
  d.rows.replaceChildren(...S.cases.map(rowFor));
  d.empty.hidden = S.cases.length > 0;
  d.more.hidden = !S.next;
  d.count.textContent = t('queue.count', { n: S.cases.length, marked: S.marked.size });
}

function rowFor(c) {
  const selected = c.id === S.selectedId;
  const cls = ['case-row', selected ? 'selected' : '', S.marked.has(c.id) ? 'marked' : ''].join(' ');
  return el('tr', {
    class: cls, 'data-testid': 'case-row', 'data-case-id': c.id, 'data-state': c.state,
    'aria-selected': String(selected), onclick: () => select(c.id),
  },
  el('td', { class: 'mark' }, el('span', { class: 'markbox', 'aria-hidden': 'true' }),
    el('span', { class: `esc esc-${c.escalation || 'blue'}`, title: tOr(`escalation.${c.escalation}`, '') })),
  el('td', { class: 'num' }, String(c.id)),
  el('td', {}, fmtTime(c.arrived_at || c.created_at, false)),
  el('td', { class: 'clip-text' }, categoryLabel(S.categories, c.category, c)),
  el('td', { class: 'mono' }, c.grid_code || ''),
  el('td', { class: 'clip-text' }, c.camera_name || c.camera || ''),
  el('td', { class: 'num' }, fmtNumber(c.score, 2)),
  el('td', {}, el('span', { class: `state state-${c.state}` }, tOr(`state.${c.state}`, c.state))));
}

function indexOfSelected() {
  return S.cases.findIndex((c) => c.id === S.selectedId);
}

function selectedCase() {
  return S.cases.find((c) => c.id === S.selectedId) || null;
}

function move(delta) {
  if (!S.cases.length) return;
  const i = indexOfSelected();
  const next = Math.max(0, Math.min(S.cases.length - 1, (i < 0 ? 0 : i + delta)));
  select(S.cases[next].id);
}

function select(id) {
  if (!S) return;
  S.selectedId = id;
  for (const tr of S.dom.rows.children) {
    const on = Number(tr.dataset.caseId) === id;
    tr.classList.toggle('selected', on);
    tr.setAttribute('aria-selected', String(on));
    if (on) tr.scrollIntoView({ block: 'nearest' });
  }
  if (id === null) {
    renderDetailEmpty();
    return;
  }
  history.replaceState(null, '', `#/queue/${id}`);
  showDetail(id);
}

// ---------------------------------------------------------------- detail pane

function renderDetailEmpty() {
  const d = S.dom.detail;
  d.dataset.caseId = '';
  d.dataset.state = '';
  d.replaceChildren(el('p', { class: 'empty' }, t('queue.no_selection')));
}

async function loadDetail(id) {
  if (S.details.has(id)) return S.details.get(id);
  const p = api('GET', `/api/v1/cases/${id}`);
  S.details.set(id, p);
  try {
    const v = await p;
    if (S && S.details.get(id) === p) S.details.set(id, v);
    return v;
  } catch (e) {
    if (S) S.details.delete(id);
    throw e;
  }
}

async function showDetail(id) {
  const seq = ++S.detailSeq;
  const base = S.cases.find((c) => c.id === id);
  if (base) renderDetail({ ...base, evidence: null, events: null, recurrences: null });
  try {
    const full = await loadDetail(id);
    if (!S || seq !== S.detailSeq) return;
    renderDetail(full);
    prefetchNext();
  } catch (e) {
    if (S && seq === S.detailSeq) showError(e);
  }
}

/** Warm the next case's detail and frame so triage does not wait on the network. */
function prefetchNext() {
  const i = indexOfSelected();
  const n = S.cases[i + 1];
  if (!n || S.details.has(n.id)) return;
  loadDetail(n.id).then((c) => {
    const frame = framePicture(c.evidence || []);
    if (frame) new Image().src = frame.url;
  }).catch(() => {});
}

function renderDetail(c) {
  const d = S.dom.detail;
  d.dataset.caseId = String(c.id);
  d.dataset.state = c.state;
  const evidence = c.evidence || [];
  d.replaceChildren(
    el('div', { class: 'detail-head' },
      el('h2', {}, t('case.title', { id: c.id }), ' ', el('span', { class: `state state-${c.state}`, 'data-testid': 'case-state' }, tOr(`state.${c.state}`, c.state))),
      el('span', { class: 'big-category', 'data-testid': 'case-category' }, categoryLabel(S.categories, c.category, c))),
    actionButtons(c),
    el('div', { class: 'detail-grid' },
      el('div', { class: 'evidence' }, framePanel(c, evidence), mediaStrip(evidence)),
      el('div', { class: 'facts' }, factsTable(c), recurrencePanel(c), miniMapPanel(c), notesPanel(c), timelinePanel(c))));
}

function actionButtons(c) {
  const act = (key, hint, testid, fn) => el('button', { type: 'button', 'data-testid': testid, class: `action ${testid}`, onclick: (e) => { e.currentTarget.blur(); fn(); } },
    el('kbd', {}, t(hint)), t(key));
  const next = c.next_states || [];
  const bar = el('div', { class: 'actions', 'data-testid': 'case-actions' },
    act('action.confirm', 'key.confirm', 'action-confirm', () => transition('confirmed')),
    act('action.reject', 'key.reject', 'action-reject', () => openRejectPicker(false)),
    act('action.field', 'key.field', 'action-field', () => transition('field_check')),
    act('action.reclassify', 'key.reclassify', 'action-reclassify', () => openReclassifyPicker()),
    act('action.note', 'key.note', 'action-note', () => openNoteBox()),
    act(S.marked.has(c.id) ? 'action.unmark' : 'action.mark', 'key.mark', 'action-mark', () => toggleMark()));
  for (const [to, testid] of [['confirmed', 'action-confirm'], ['rejected', 'action-reject'], ['field_check', 'action-field']]) {
    const b = bar.querySelector(`[data-testid="${testid}"]`);
    if (c.next_states && !next.includes(to)) b.classList.add('unavailable');
  }
  return bar;
}

/** The picture to judge: the clean frame (the box is drawn over it here), else the frame with the box burnt in. */
function framePicture(evidence) {
  return evidence.find((e) => e.kind === 'scene') || evidence.find((e) => e.kind === 'frame');
}

function framePanel(c, evidence) {
  const frame = framePicture(evidence);
  if (!frame) {
    const msg = c.evidence === null ? t('queue.loading') : t('case.no_frame');
    return el('div', { class: 'frame-wrap empty-frame', 'data-testid': 'case-frame-missing' }, msg);
  }
  const wrap = el('div', { class: 'frame-wrap', 'data-testid': 'case-frame' },
    el('img', { src: frame.url, alt: t('case.frame_alt', { id: c.id }), 'data-testid': 'case-frame-image' }));
  if (Array.isArray(c.bbox) && c.bbox.length === 4) {
    const [x1, y1, x2, y2] = c.bbox.map(Number);
    wrap.append(el('div', {
      class: 'bbox', 'data-testid': 'case-bbox',
      style: { left: pct(x1), top: pct(y1), width: pct(x2 - x1), height: pct(y2 - y1) },
    }));
  }
  return wrap;
}

function pct(x) {
  return `${(Math.max(0, Math.min(1, x)) * 100).toFixed(3)}%`;
}

function mediaStrip(evidence) {
  const crop = evidence.find((e) => e.kind === 'crop');
  const clip = evidence.find((e) => e.kind === 'clip');
  if (!crop && !clip) return null;
  return el('div', { class: 'media-strip' },
    crop ? el('figure', {}, el('img', { src: crop.url, alt: t('case.crop'), 'data-testid': 'case-crop' }), el('figcaption', {}, t('case.crop'))) : null,
    clip ? el('figure', {}, el('video', { src: clip.url, controls: true, muted: true, preload: 'metadata', 'data-testid': 'case-clip' }), el('figcaption', {}, t('case.clip'))) : null);
}

function factsTable(c) {
  const row = (key, value, cls) => el('tr', {}, el('th', {}, t(key)), el('td', { class: cls || '' }, value ?? ''));
  return el('table', { class: 'facts-table', 'data-testid': 'case-facts' },
    row('case.event', `${c.event_code || ''} ${c.event_name || ''}`.trim()),
    row('case.category_key', c.category, 'mono'),
    row('case.grid', c.grid_code, 'mono'),
    row('case.community', c.community),
    row('case.street', c.street),
    row('case.unit', c.unit),
    row('case.zone', c.zone),
    row('case.camera', c.camera_name ? `${c.camera_name} (${c.camera})` : c.camera),
    row('case.score', fmtNumber(c.score, 3)),
    row('case.arrived', fmtTime(c.arrived_at)),
    row('case.detected', fmtTime(c.detected_at)),
    row('case.position', c.lat != null && c.lon != null ? `${fmtNumber(c.lat, 6)}, ${fmtNumber(c.lon, 6)}` : ''),
    c.external_id ? row('case.external', c.external_id, 'mono') : null);
}

function recurrencePanel(c) {
  const esc = c.escalation || 'blue';
  const list = (c.recurrences || []).map((r) => el('li', {},
    el('a', { href: `#/queue/${r.id}`, onclick: (e) => { e.preventDefault(); openCase(r.id); } }, t('case.title', { id: r.id })),
    ' ', fmtTime(r.arrived_at || r.created_at), ' ', tOr(`state.${r.state}`, r.state)));
  return el('section', { class: 'panel', 'data-testid': 'case-recurrence' },
    el('h3', {}, t('case.recurrence')),
    el('p', {}, el('span', { class: `escalation esc-${esc}`, 'data-testid': 'case-escalation', 'data-escalation': esc }, tOr(`escalation.${esc}`, esc)),
      ' ', t('case.recurrence_count', { n: c.recurrence_count ?? 1 })),
    list.length ? el('ol', { class: 'recurrences' }, list) : null);
}

async function openCase(id) {
  if (!S.cases.some((c) => c.id === id)) {
    await pinCase(id);
    renderRows();
  }
  select(id);
}

function miniMapPanel(c) {
  const box = el('div', { class: 'mini-map', 'data-testid': 'case-map' });
  if (c.lat == null || c.lon == null) box.append(el('p', { class: 'muted' }, t('case.no_position')));
  else renderMiniMap(box, S.grid, { point: [c.lat, c.lon], highlight: c.grid_code });
  return el('section', { class: 'panel' }, el('h3', {}, t('case.map')), box);
}

function notesPanel(c) {
  return el('section', { class: 'panel' }, el('h3', {}, t('case.notes')),
    el('div', { class: 'notes', 'data-testid': 'case-notes' }, c.notes || el('span', { class: 'muted' }, t('case.no_notes'))));
}

function timelinePanel(c) {
  if (c.events === null) return null;
  const items = (c.events || []).map((ev) => el('li', {},
    el('time', {}, fmtTime(ev.at)), ' ', el('strong', {}, tOr(`event.${ev.kind}`, ev.kind)), ' ',
    ev.from_state || ev.to_state ? `${tOr(`state.${ev.from_state}`, ev.from_state || '')} → ${tOr(`state.${ev.to_state}`, ev.to_state || '')} ` : '',
    ev.actor ? el('span', { class: 'muted' }, t('case.by', { actor: ev.actor })) : '',
    ev.reason ? el('div', { class: 'reason' }, ev.reason) : null));
  return el('section', { class: 'panel' }, el('h3', {}, t('case.timeline')),
    el('ol', { class: 'timeline', 'data-testid': 'case-timeline' }, items));
}

// ---------------------------------------------------------------- actions

/** Replace a case after an action; decisions move the selection to the next case. */
function applyUpdated(updated, advance) {
  const i = S.cases.findIndex((c) => c.id === updated.id);
  S.details.delete(updated.id);
  if (i < 0) return;
  if (matchesFilters(updated)) {
    S.cases[i] = updated;
    renderRows();
    if (advance && i + 1 < S.cases.length) select(S.cases[i + 1].id);
    else select(updated.id);
  } else {
    S.cases.splice(i, 1);
    S.marked.delete(updated.id);
    renderRows();
    const n = S.cases[Math.min(i, S.cases.length - 1)];
    select(n ? n.id : null);
  }
}

async function transition(to, reason) {
  const c = selectedCase();
  if (!c) {
    setStatus(t('queue.none_selected'), 'info');
    return;
  }
  if (S.busy.has(c.id)) return; // a second key press while the first is on its way
  const body = { to, expected_from: c.state };
  if (reason) body.reason = reason;
  const mine = S;
  mine.busy.add(c.id);
  try {
    const updated = await api('POST', `/api/v1/cases/${c.id}/transition`, body);
    setStatus(t(`queue.done.${to}`, { id: c.id }), 'ok');
    if (S === mine) applyUpdated(updated, true);
  } catch (e) {
    showError(e);
    if (e instanceof ApiError && e.status === 409 && S === mine) refreshCase(c.id);
  } finally {
    mine.busy.delete(c.id);
  }
}

async function refreshCase(id) {
  S.details.delete(id);
  try {
    const fresh = await loadDetail(id);
    const i = S.cases.findIndex((c) => c.id === id);
    if (i >= 0) S.cases[i] = fresh;
    renderRows();
    if (S.selectedId === id) renderDetail(fresh);
  } catch (e) {
    showError(e);
  }
}

/** Run a non-deciding action on a case (note, reclassify); the selection stays on it. */
async function whileBusy(id, fn) {
  const mine = S;
  mine.busy.add(id);
  try {
    const updated = await fn();
    if (S === mine) applyUpdated(updated, false);
  } catch (e) {
    showError(e);
  } finally {
    mine.busy.delete(id);
  }
}

async function reclassify(category) {
  const c = selectedCase();
  if (!c) return;
  await whileBusy(c.id, async () => {
    const updated = await api('POST', `/api/v1/cases/${c.id}/reclassify`, { category, reason: t('reclassify.reason') });
    setStatus(t('queue.done.reclassified', { id: c.id, category: categoryLabel(S.categories, updated.category, updated) }), 'ok');
    return updated;
  });
}

async function addNote(text) {
  const c = selectedCase();
  if (!c || !text.trim()) return;
  await whileBusy(c.id, async () => {
    const updated = await api('POST', `/api/v1/cases/${c.id}/notes`, { text: text.trim() });
    setStatus(t('queue.done.note', { id: c.id }), 'ok');
    return updated;
  });
}

function toggleMark() {
  const id = S.selectedId;
  if (id === null) return;
  if (S.marked.has(id)) S.marked.delete(id);
  else S.marked.add(id);
  renderRows();
  const b = S.dom.detail.querySelector('[data-testid="action-mark"]');
  if (b && b.lastChild) b.lastChild.textContent = t(S.marked.has(id) ? 'action.unmark' : 'action.mark');
}

async function batch(to, reason) {
  const ids = [...S.marked];
  if (!ids.length) {
    setStatus(t('queue.batch_empty'), 'info');
    return;
  }
  const body = { ids, to };
  if (reason) body.reason = reason;
  try {
    const res = await api('POST', '/api/v1/cases/batch', body);
    applyBatch(res.results || [], to);
  } catch (e) {
    showError(e);
  }
}

function applyBatch(results, to) {
  const ok = results.filter((r) => r.ok).map((r) => r.id);
  const failed = results.filter((r) => !r.ok);
  const current = indexOfSelected();
  for (const id of ok) {
    S.marked.delete(id);
    S.details.delete(id);
    const i = S.cases.findIndex((c) => c.id === id);
    if (i >= 0) S.cases[i] = { ...S.cases[i], state: to };
  }
  S.cases = S.cases.filter((c) => !ok.includes(c.id) || matchesFilters(c));
  renderRows();
  const n = S.cases.find((c) => c.id === S.selectedId) || S.cases[Math.min(Math.max(current, 0), S.cases.length - 1)];
  select(n ? n.id : null);
  const first = failed[0];
  const msg = t('queue.batch_done', { ok: ok.length, failed: failed.length });
  setStatus(first ? `${msg} ${t('queue.batch_first_error', { id: first.id, error: first.error || '' })}` : msg, failed.length ? 'error' : 'ok');
}

// ---------------------------------------------------------------- modals (pickers, note, help)

function openModal(modal) {
  closeModal();
  S.modal = modal;
  S.root.append(modal.node);
  if (modal.focus) modal.focus.focus();
}

function closeModal() {
  if (!S || !S.modal) return;
  S.modal.node.remove();
  S.modal = null;
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
}

/**
 * A numbered picker: digits highlight an item (several digits in a row for 10+ items),
 * ArrowUp/Down move, Enter confirms, Esc cancels, a click confirms at once.
 */
function openPicker({ title, items, testid, onPick, initial = 0 }) {
  let current = items.length ? initial : -1;
  let digits = '';
  let digitTimer = null;
  const lis = items.map((it, i) => el('li', { 'data-index': i, 'data-testid': `${testid}-item`, onclick: () => { current = i; pick(); } },
    el('kbd', {}, String(i + 1)), it.label));
  const paint = () => lis.forEach((li, i) => li.classList.toggle('current', i === current));
  const pick = () => {
    if (current < 0) return;
    closeModal();
    onPick(items[current].value);
  };
  const node = el('div', { class: 'modal', 'data-testid': testid, role: 'dialog', 'aria-label': title },
    el('h3', {}, title), el('ol', { class: 'picker' }, lis), el('p', { class: 'muted' }, t('picker.hint')));
  paint();
  openModal({
    node,
    onKey(e) {
      if (e.key === 'Escape') closeModal();
      else if (e.key === 'Enter') pick();
      else if (e.key === 'ArrowDown' || e.key === 'j') current = Math.min(items.length - 1, current + 1);
      else if (e.key === 'ArrowUp' || e.key === 'k') current = Math.max(0, current - 1);
      else if (/^[0-9]$/.test(e.key)) {
        clearTimeout(digitTimer);
        digits = items.length > 9 ? digits + e.key : e.key;
        digitTimer = setTimeout(() => { digits = ''; }, 900);
        const n = Number(digits);
        if (n >= 1 && n <= items.length) current = n - 1;
        else digits = e.key;
      } else return false;
      paint();
      return true;
    },
  });
}

function openRejectPicker(forBatch) {
  if (!forBatch && !selectedCase()) return;
  if (forBatch && !S.marked.size) {
    setStatus(t('queue.batch_empty'), 'info');
    return;
  }
  openPicker({
    title: forBatch ? t('reject.title_batch', { n: S.marked.size }) : t('reject.title'),
    testid: 'reject-picker',
    items: REJECT_REASONS.map((n) => ({ value: t(`reject.reason.${n}`), label: t(`reject.reason.${n}`) })),
    onPick: (reason) => (forBatch ? batch('rejected', reason) : transition('rejected', reason)),
  });
}

function openReclassifyPicker() {
  const c = selectedCase();
  if (!c) return;
  if (!S.categories.length) {
    setStatus(t('reclassify.no_table'), 'error');
    return;
  }
  const initial = Math.max(0, S.categories.findIndex((x) => x.category === c.category));
  openPicker({
    title: t('reclassify.title', { id: c.id }),
    testid: 'reclassify-picker',
    items: S.categories.map((x) => ({ value: x.category, label: `${x.code} ${x.name} (${x.category})` })),
    initial,
    onPick: (category) => reclassify(category),
  });
}

function openNoteBox() {
  const c = selectedCase();
  if (!c) return;
  const input = el('input', { type: 'text', class: 'wide', 'data-testid': 'note-input', placeholder: t('note.placeholder') });
  const node = el('div', { class: 'modal', 'data-testid': 'note-box', role: 'dialog', 'aria-label': t('note.title') },
    el('h3', {}, t('note.title', { id: c.id })), input, el('p', { class: 'muted' }, t('note.hint')));
  openModal({
    node,
    focus: input,
    onKey(e) {
      if (e.key === 'Escape') closeModal();
      else if (e.key === 'Enter') {
        const text = input.value;
        closeModal();
        addNote(text);
      } else return 'typing';
      return true;
    },
  });
}

function toggleHelp() {
  if (S.modal && S.modal.help) {
    closeModal();
    return;
  }
  const rows = [
    ['key.next', 'help.next'], ['key.prev', 'help.prev'], ['key.confirm', 'help.confirm'], ['key.reject', 'help.reject_long'],
    ['key.field', 'help.field'], ['key.reclassify', 'help.reclassify_long'], ['key.note', 'help.note_long'],
    ['key.mark', 'help.mark'], ['key.batch_confirm', 'help.batch_confirm'], ['key.batch_reject', 'help.batch_reject'],
    ['key.help', 'help.help'], ['key.escape', 'help.escape'],
  ];
  const node = el('div', { class: 'modal help', 'data-testid': 'key-help', role: 'dialog', 'aria-label': t('help.title') },
    el('h3', {}, t('help.title')),
    el('table', { class: 'keys' }, rows.map(([k, h]) => el('tr', {}, el('td', {}, el('kbd', {}, t(k))), el('td', {}, t(h))))));
  openModal({ node, help: true, onKey(e) { if (e.key === 'Escape' || e.key === '?') closeModal(); return true; } });
}

// ---------------------------------------------------------------- keyboard

function handleKey(e) {
  if (!S || e.ctrlKey || e.metaKey || e.altKey) return;
  if (S.modal) {
    const r = S.modal.onKey(e);
    if (r === true) e.preventDefault();
    return;
  }
  if (isTypingTarget(e.target)) {
    if (e.key === 'Escape') e.target.blur();
    return;
  }
  const onButton = e.target && (e.target.tagName === 'BUTTON' || e.target.tagName === 'A');
  if (e.key === 'Enter' && onButton) return; // let the focused button/link act
  if (dispatchKey(e)) e.preventDefault();
}

/** Map one key press to an action; true when handled. */
function dispatchKey(e) {
  if (e.key === '?') { toggleHelp(); return true; }
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.shiftKey && k === 'c') { batch('confirmed'); return true; }
  if (e.shiftKey && k === 'r') { openRejectPicker(true); return true; }
  switch (k) {
    case 'j': case 'ArrowDown': move(1); return true;
    case 'k': case 'ArrowUp': move(-1); return true;
    case 'c': case 'Enter': transition('confirmed'); return true;
    case 'r': openRejectPicker(false); return true;
    case 'f': transition('field_check'); return true;
    case 'e': openReclassifyPicker(); return true;
    case 'n': openNoteBox(); return true;
    case 'x': toggleMark(); return true;
    case 'Escape':
      if (S.marked.size) { S.marked.clear(); renderRows(); }
      return true;
    default: return false;
  }
}
