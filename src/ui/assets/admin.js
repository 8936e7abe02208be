// admin.js — the admin console (#/admin/...), shown to role admin only. Owns: the camera list
// (live status + failure reason polled every 3 s, latest snapshot, enable/disable, delete,
// signage baseline), the camera form (password write-only, never prefilled), the zone editor
// (polygons drawn on the snapshot), the calibration editor (pixel↔lat/lon pairs, check, save,
// footprint on a mini map), grid upload, the category table and users (+ API tokens).

import {
  api, t, tOr, el, svgEl, button, options, setStatus, showError, problemList, fmtNumber,
  isTypingTarget, invalidate, getGrid,
} from './app.js';
import { renderMiniMap } from './map.js';

const ZONE_KINDS = ['no_vending', 'no_signage', 'allowed_vending', 'facade', 'mask'];
const ROLES = ['admin', 'operator', 'inspector', 'viewer'];
const DETECTORS = ['objects', 'text', 'static'];
const POLL_MS = 3000;
const SECTIONS = ['cameras', 'grid', 'categories', 'users'];

let A = null; // state of the mounted admin page: timers, listeners, object URLs

export async function mount(root, params) {
  A = { timers: [], listeners: [], urls: [] };
  const mine = A;
  const path = params.path || 'cameras';
  const content = el('div', { class: 'admin-content' });
  root.append(el('div', { class: 'admin' }, subnav(path.split('/')[0]), content));
  try {
    await dispatch(content, path);
  } catch (e) {
    showError(e);
  }
  return () => {
    mine.timers.forEach((id) => clearInterval(id));
    mine.listeners.forEach(([type, fn]) => document.removeEventListener(type, fn));
    mine.urls.forEach((u) => URL.revokeObjectURL(u));
    if (A === mine) A = null;
  };
}

function dispatch(box, path) {
  const m = path.match(/^cameras\/([^/]+)\/(edit|zones|calibration)$/);
  if (m) {
    const id = decodeURIComponent(m[1]);
    if (m[2] === 'edit') return cameraFormPage(box, id);
    if (m[2] === 'zones') return zoneEditorPage(box, id);
    return calibrationPage(box, id);
  }
  if (path === 'cameras/new') return cameraFormPage(box, null);
  if (path === 'grid') return gridPage(box);
  if (path === 'categories') return categoriesPage(box);
  if (path === 'users') return usersPage(box);
  return camerasPage(box);
}

function subnav(active) {
  return el('nav', { class: 'subnav', 'data-testid': 'admin-nav' }, SECTIONS.map((s) => el('a', {
    href: `#/admin/${s}`, class: s === active ? 'active' : '', 'data-testid': `admin-nav-${s}`,
  }, t(`admin.nav.${s}`))));
}

function every(ms, fn) {
  A.timers.push(setInterval(fn, ms));
}

function onDocument(type, fn) {
  document.addEventListener(type, fn);
  A.listeners.push([type, fn]);
}

const enc = encodeURIComponent;
const camPath = (id) => `/api/v1/cameras/${enc(id)}`;
const clone = (x) => JSON.parse(JSON.stringify(x));

/** Show an API error in the status line and its problem list in `box`. */
function fail(box, e) {
  showError(e);
  if (box) box.replaceChildren(problemList(e));
}

// ---------------------------------------------------------------- snapshots

/**
 * Load the camera's latest frame into `img` through a blob URL (no flicker, no stale cache).
 * Sets data-loaded="true" once a frame showed; resolves to true when this attempt got one.
 */
async function loadSnapshot(img, id) {
  if (img.dataset.busy === '1') return false;
  img.dataset.busy = '1';
  try {
    const res = await fetch(`${camPath(id)}/snapshot`, { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) return false;
    const url = URL.createObjectURL(await res.blob());
    if (!A) {
      URL.revokeObjectURL(url);
      return false;
    }
    A.urls.push(url);
    const old = img.dataset.blob;
    await new Promise((resolve) => {
      img.onload = () => resolve();
      img.onerror = () => resolve();
      img.src = url;
    });
    if (old) {
      URL.revokeObjectURL(old);
      A.urls = A.urls.filter((u) => u !== old);
    }
    img.dataset.blob = url;
    const ok = img.naturalWidth > 0;
    if (ok) img.dataset.loaded = 'true';
    return ok;
  } catch {
    return false;
  } finally {
    img.dataset.busy = '';
  }
}

// ---------------------------------------------------------------- cameras list

async function camerasPage(box) {
  const tbody = el('tbody', { 'data-testid': 'camera-list' });
  const rows = new Map();
  box.append(
    el('div', { class: 'toolbar' }, el('h2', {}, t('admin.cameras.title')), el('div', { class: 'spacer' }),
      button('admin.cameras.add', 'camera-add', () => { location.hash = '#/admin/cameras/new'; }, { class: 'primary' })),
    el('table', { class: 'dense cameras' },
      el('thead', {}, el('tr', {}, ['snapshot', 'id', 'name', 'uri', 'group', 'status', 'reason', 'enabled', 'source', 'actions']
        .map((k) => el('th', {}, t(`camera.${k}`))))),
      tbody));
  const refresh = async () => {
    let cams;
    try {
      cams = await api('GET', '/api/v1/cameras');
    } catch (e) {
      showError(e);
      return;
    }
    if (!A) return;
    invalidate('cameras');
    syncRows(tbody, rows, cams || []);
  };
  await refresh();
  every(POLL_MS, refresh);
}

function syncRows(tbody, rows, cams) {
  const seen = new Set();
  for (const cam of cams) {
    seen.add(cam.id);
    let row = rows.get(cam.id);
    if (!row) {
      row = cameraRow(cam, () => { rows.delete(cam.id); row.tr.remove(); });
      rows.set(cam.id, row);
    }
    row.update(cam);
    tbody.append(row.tr); // keeps server order; moving a node keeps its state
  }
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
}

function cameraRow(initial, onDeleted) {
  let cam = initial;
  const snap = el('img', { class: 'thumb', alt: '', 'data-testid': 'camera-snapshot' });
  const noFrame = el('span', { class: 'muted' }, t('camera.no_frame'));
  const status = el('span', { class: 'badge', 'data-testid': 'camera-status' });
  const reason = el('td', { class: 'reason', 'data-testid': 'camera-reason' });
  const cells = { name: el('td'), uri: el('td', { class: 'mono' }), group: el('td'), enabled: el('td'), source: el('td') };
  const toggle = button('camera.disable', 'camera-toggle', () => toggleEnabled(cam));
  const del = deleteButton('camera-delete', async () => {
    await api('DELETE', camPath(cam.id));
    setStatus(t('camera.deleted', { id: cam.id }), 'ok');
    onDeleted();
  });
  const go = (what) => () => { location.hash = `#/admin/cameras/${enc(cam.id)}/${what}`; };
  const tr = el('tr', { 'data-testid': 'camera-row', 'data-camera-id': cam.id },
    el('td', { class: 'snapcell' }, snap, noFrame),
    el('td', { class: 'mono' }, cam.id), cells.name, cells.uri, cells.group,
    el('td', {}, status), reason, cells.enabled, cells.source,
    el('td', { class: 'row-actions' },
      button('camera.edit', 'camera-edit', go('edit')),
      button('camera.zones', 'camera-zones', go('zones')),
      button('camera.calibration', 'camera-calibration', go('calibration')),
      button('camera.baseline', 'camera-baseline', () => captureBaseline(cam.id)),
      toggle, del));
  snap.hidden = true;
  const update = (next) => {
    cam = next;
    tr.dataset.status = cam.status || '';
    status.textContent = tOr(`camera.status.${cam.status}`, cam.status);
    status.dataset.status = cam.status || '';
    status.className = `badge status-${cam.status}`;
    reason.textContent = cam.reason || '';
    cells.name.textContent = cam.name || '';
    cells.uri.textContent = cam.uri || '';
    cells.group.textContent = cam.group || '';
    cells.enabled.textContent = cam.enabled ? t('common.yes') : t('common.no');
    cells.source.textContent = tOr(`camera.source.${cam.source}`, cam.source || '');
    toggle.textContent = t(cam.enabled ? 'camera.disable' : 'camera.enable');
    if (cam.enabled !== false) {
      loadSnapshot(snap, cam.id).then((ok) => {
        if (ok || snap.dataset.loaded) { snap.hidden = false; noFrame.hidden = true; }
      });
    }
  };
  return { tr, update };
}

/** A delete button that asks for a second click within 4 s. */
function deleteButton(testid, action) {
  let armed = null;
  const b = button('common.delete', testid, async () => {
    if (!armed) {
      b.textContent = t('common.confirm_delete');
      b.classList.add('danger');
      armed = setTimeout(() => { armed = null; b.textContent = t('common.delete'); b.classList.remove('danger'); }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    try {
      await action();
    } catch (e) {
      showError(e);
      b.textContent = t('common.delete');
      b.classList.remove('danger');
    }
  });
  return b;
}

/** Body for PUT /cameras/{id}: the writable fields; zones and calibration kept as they are. */
function cameraPutBody(cam, changes) {
  return {
    id: cam.id, name: cam.name, uri: cam.uri, username: cam.username ?? null, enabled: cam.enabled,
    group: cam.group ?? null, detectors: cam.detectors || {}, zones: cam.zones || [], calibration: cam.calibration ?? null,
    ...changes,
  };
}

async function toggleEnabled(cam) {
  try {
    const fresh = await api('GET', camPath(cam.id));
    await api('PUT', camPath(cam.id), cameraPutBody(fresh, { enabled: !fresh.enabled }));
    setStatus(t(fresh.enabled ? 'camera.disabled_done' : 'camera.enabled_done', { id: cam.id }), 'ok');
  } catch (e) {
    showError(e);
  }
}

async function captureBaseline(id) {
  try {
    setStatus(t('camera.baseline_running', { id }));
    const res = await api('POST', `${camPath(id)}/baseline`);
    const done = res && res.picture ? 'camera.baseline_done_picture' : 'camera.baseline_done';
    setStatus(t(done, { id, n: ((res && res.regions) || []).length }), 'ok');
    return res;
  } catch (e) {
    showError(e);
    return null;
  }
}

// ---------------------------------------------------------------- camera form

async function cameraFormPage(box, id) {
  const cam = id ? await api('GET', camPath(id)) : null;
  const field = (name, key, attrs = {}) => {
    const input = el('input', { name, id: `cam-${name}`, 'data-testid': `camera-${name}-input`, ...attrs });
    return [el('label', { for: `cam-${name}` }, t(key)), input];
  };
  const det = (cam && cam.detectors) || {};
  const errors = el('div', { class: 'form-errors', 'data-testid': 'camera-form-errors' });
  const form = el('form', { class: 'form-grid', 'data-testid': 'camera-form', autocomplete: 'off' },
    field('id', 'camera.id', { required: true, value: cam ? cam.id : '', readonly: Boolean(cam) }),
    field('name', 'camera.name', { value: cam ? cam.name || '' : '' }),
    field('uri', 'camera.uri', { required: true, value: cam ? cam.uri || '' : '', class: 'wide' }),
    field('username', 'camera.username', { value: cam ? cam.username || '' : '', autocomplete: 'off' }),
    // Write-only: never prefilled, never echoed.
    field('password', 'camera.password', {
      type: 'password', autocomplete: 'new-password',
      placeholder: cam ? t(cam.has_password ? 'camera.password_unchanged' : 'camera.password_none') : '',
    }),
    field('group', 'camera.group', { value: cam ? cam.group || '' : '' }),
    el('label', { for: 'cam-enabled' }, t('camera.enabled')),
    el('input', { type: 'checkbox', name: 'enabled', id: 'cam-enabled', 'data-testid': 'camera-enabled-input', checked: cam ? cam.enabled !== false : true }),
    DETECTORS.map((d) => field(`det-${d}`, `camera.detector.${d}`, {
      type: 'number', min: '0', step: '0.1', value: det[d] ?? '', placeholder: t('camera.detector_default'),
    })),
    el('div', { class: 'form-actions' },
      el('button', { type: 'submit', class: 'primary', 'data-testid': 'camera-save' }, t('common.save')),
      button('common.cancel', 'camera-cancel', () => { location.hash = '#/admin/cameras'; })),
    errors);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    saveCamera(form, cam, errors);
  });
  box.append(el('h2', {}, cam ? t('camera.edit_title', { id: cam.id }) : t('camera.new_title')), form);
  form.elements[cam ? 'name' : 'id'].focus();
}

async function saveCamera(form, cam, errors) {
  const v = (n) => form.elements[n].value.trim();
  const detectors = { ...((cam && cam.detectors) || {}) };
  for (const d of DETECTORS) {
    const raw = v(`det-${d}`);
    if (raw === '') delete detectors[d];
    else detectors[d] = Number(raw);
  }
  const fields = {
    id: v('id'), name: v('name'), uri: v('uri'), username: v('username') || null, enabled: form.elements.enabled.checked,
    group: v('group') || null, detectors,
  };
  const body = cam ? cameraPutBody(cam, fields) : fields;
  const password = form.elements.password.value;
  if (password) body.password = password;
  errors.replaceChildren();
  try {
    const saved = cam ? await api('PUT', camPath(cam.id), body) : await api('POST', '/api/v1/cameras', body);
    form.elements.password.value = '';
    invalidate('cameras');
    setStatus(t('camera.saved', { id: saved ? saved.id : fields.id }), 'ok');
    location.hash = '#/admin/cameras';
  } catch (e) {
    fail(errors, e);
  }
}

// ---------------------------------------------------------------- image stage (zones, calibration)

/**
 * The snapshot with an SVG overlay in image-pixel units. Retries the snapshot every 3 s until a
 * frame arrives; onReady(w, h) runs once with the image size.
 */
function imageStage(id, testidPrefix, onReady) {
  const img = el('img', { class: 'snapshot', alt: '', 'data-testid': `${testidPrefix}-image` });
  const svg = svgEl('svg', { class: 'overlay', 'data-testid': `${testidPrefix}-canvas`, viewBox: '0 0 1600 900', preserveAspectRatio: 'none' });
  const waiting = el('p', { class: 'stage-waiting' }, t('camera.waiting_frame'));
  const stage = el('div', { class: 'image-stage waiting' }, img, svg, waiting);
  let ready = false;
  const attempt = async () => {
    if (ready || !A) return;
    if (await loadSnapshot(img, id)) {
      ready = true;
      stage.classList.remove('waiting');
      waiting.remove();
      onReady(img.naturalWidth, img.naturalHeight);
    }
  };
  attempt();
  every(POLL_MS, attempt);
  return { stage, svg, img, refresh: () => loadSnapshot(img, id) };
}

/** Normalised [x, y] of a mouse event on the overlay. */
function normPoint(svg, e) {
  const r = svg.getBoundingClientRect();
  const clamp = (v) => Math.max(0, Math.min(1, v));
  return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
}

const round4 = (v) => Math.round(v * 10000) / 10000;

// ---------------------------------------------------------------- zone editor

async function zoneEditorPage(box, id) {
  const cam = await api('GET', camPath(id));
  const Z = { zones: clone(cam.zones || []), draft: [], selected: -1, w: 1600, h: 900, baseline: [] };
  const view = imageStage(id, 'zone', (w, h) => { Z.w = w; Z.h = h; view.svg.setAttribute('viewBox', `0 0 ${w} ${h}`); draw(); });
  const idInput = el('input', { 'data-testid': 'zone-id-input', id: 'zone-id', value: nextZoneId(Z.zones) });
  const kindSel = el('select', { 'data-testid': 'zone-kind-select', id: 'zone-kind' },
    options(ZONE_KINDS.map((k) => ({ value: k, label: t(`zone.kind.${k}`) })), 'no_vending'));
  const list = el('tbody', { 'data-testid': 'zone-list' });
  const errors = el('div', { class: 'form-errors', 'data-testid': 'zone-errors' });
  const pointsInfo = el('span', { class: 'muted', 'data-testid': 'zone-draft-count' });

  const draw = () => { drawZones(view.svg, Z); renderZoneList(list, Z, draw); pointsInfo.textContent = t('zone.draft_points', { n: Z.draft.length }); };
  const closeDraft = () => {
    if (Z.draft.length < 3) { setStatus(t('zone.need_three'), 'error'); return; }
    const zid = idInput.value.trim() || nextZoneId(Z.zones);
    if (Z.zones.some((z) => z.id === zid)) { setStatus(t('zone.duplicate', { id: zid }), 'error'); return; }
    Z.zones.push({ id: zid, kind: kindSel.value, polygon: Z.draft.map(([x, y]) => [round4(x), round4(y)]) });
    Z.draft = [];
    Z.selected = Z.zones.length - 1;
    idInput.value = nextZoneId(Z.zones);
    setStatus(t('zone.added', { id: zid }), 'info');
    draw();
  };
  const save = async () => {
    errors.replaceChildren();
    try {
      const updated = await api('PUT', `${camPath(id)}/zones`, Z.zones);
      Z.zones = clone((updated && updated.zones) || Z.zones);
      setStatus(t('zone.saved', { n: Z.zones.length, id }), 'ok');
      draw();
    } catch (e) {
      fail(errors, e);
    }
  };
  view.svg.addEventListener('click', (e) => {
    const p = normPoint(view.svg, e);
    const last = Z.draft[Z.draft.length - 1];
    if (last && Math.hypot(last[0] - p[0], last[1] - p[1]) < 0.004) return; // second click of a double-click
    Z.draft.push(p);
    draw();
  });
  view.svg.addEventListener('dblclick', (e) => { e.preventDefault(); closeDraft(); });
  onDocument('keydown', (e) => zoneKeys(e, Z, { closeDraft, draw, idInput }));

  box.append(
    el('div', { class: 'toolbar' }, el('h2', {}, t('zone.title', { id })), el('div', { class: 'spacer' }),
      button('camera.baseline', 'camera-baseline', async () => {
        const res = await captureBaseline(id);
        if (res) { Z.baseline = res.regions || []; view.refresh(); draw(); }
      }),
      button('common.back', 'back-to-cameras', () => { location.hash = '#/admin/cameras'; })),
    el('div', { class: 'editor', 'data-testid': 'zone-editor' },
      view.stage,
      el('aside', { class: 'editor-side' },
        el('p', { class: 'muted' }, t('zone.howto')),
        el('div', { class: 'form-grid' },
          el('label', { for: 'zone-id' }, t('zone.id')), idInput,
          el('label', { for: 'zone-kind' }, t('zone.kind')), kindSel),
        el('div', { class: 'row-actions' }, pointsInfo,
          button('zone.close', 'zone-close', closeDraft),
          button('zone.undo', 'zone-undo', () => { Z.draft.pop(); draw(); }),
          button('zone.cancel', 'zone-cancel', () => { Z.draft = []; draw(); })),
        el('table', { class: 'dense' }, el('thead', {}, el('tr', {},
          el('th', {}, t('zone.id')), el('th', {}, t('zone.kind')), el('th', {}, t('zone.points')), el('th', {}, ''))), list),
        el('div', { class: 'form-actions' }, button('common.save', 'zones-save', save, { class: 'primary' })),
        errors)));
  draw();
}

function nextZoneId(zones) {
  for (let i = zones.length + 1; ; i += 1) if (!zones.some((z) => z.id === `zone-${i}`)) return `zone-${i}`;
}

function zoneKeys(e, Z, { closeDraft, draw, idInput }) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (isTypingTarget(e.target)) {
    if (e.key === 'Enter' && e.target === idInput && Z.draft.length) { e.preventDefault(); closeDraft(); }
    return;
  }
  if (e.key === 'Enter' && Z.draft.length) { e.preventDefault(); closeDraft(); }
  else if (e.key === 'Escape') { Z.draft = []; draw(); }
  else if (e.key === 'Backspace' && Z.draft.length) { e.preventDefault(); Z.draft.pop(); draw(); }
  else if (e.key === 'Delete' && Z.selected >= 0) { Z.zones.splice(Z.selected, 1); Z.selected = -1; draw(); }
}

function drawZones(svg, Z) {
  const sx = (x) => x * Z.w;
  const sy = (y) => y * Z.h;
  const pts = (poly) => poly.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  const r = Z.w / 250;
  const nodes = [];
  for (const [x1, y1, x2, y2] of Z.baseline) {
    nodes.push(svgEl('rect', { x: sx(x1), y: sy(y1), width: sx(x2 - x1), height: sy(y2 - y1), class: 'baseline-region' }));
  }
  Z.zones.forEach((z, i) => {
    nodes.push(svgEl('polygon', { points: pts(z.polygon || []), class: `zone kind-${z.kind} ${i === Z.selected ? 'selected' : ''}`, 'data-testid': 'zone-polygon', 'data-zone-id': z.id }));
    const c = centroid(z.polygon || []);
    if (c) nodes.push(svgEl('text', { x: sx(c[0]), y: sy(c[1]), class: 'zone-label', 'font-size': r * 4 }, z.id));
  });
  if (Z.draft.length) {
    nodes.push(svgEl('polyline', { points: pts(Z.draft), class: 'draft' }));
    for (const [x, y] of Z.draft) nodes.push(svgEl('circle', { cx: sx(x), cy: sy(y), r, class: 'draft-vertex' }));
  }
  svg.replaceChildren(...nodes);
}

function centroid(poly) {
  if (!poly.length) return null;
  const s = poly.reduce((a, [x, y]) => [a[0] + x, a[1] + y], [0, 0]);
  return [s[0] / poly.length, s[1] / poly.length];
}

function renderZoneList(tbody, Z, draw) {
  tbody.replaceChildren(...Z.zones.map((z, i) => {
    const idIn = el('input', { value: z.id, size: 8, onchange: (e) => { z.id = e.target.value.trim(); draw(); } });
    const kind = el('select', { onchange: (e) => { z.kind = e.target.value; draw(); } },
      options(ZONE_KINDS.map((k) => ({ value: k, label: t(`zone.kind.${k}`) })), z.kind));
    return el('tr', { 'data-testid': 'zone-row', 'data-zone-id': z.id, class: i === Z.selected ? 'selected' : '', onclick: () => { if (Z.selected !== i) { Z.selected = i; draw(); } } },
      el('td', {}, idIn), el('td', {}, kind), el('td', { class: 'num' }, String((z.polygon || []).length)),
      el('td', {}, button('common.delete', 'zone-delete', (e) => { e.stopPropagation(); Z.zones.splice(i, 1); Z.selected = -1; draw(); })));
  }));
}

// ---------------------------------------------------------------- calibration editor

async function calibrationPage(box, id) {
  const [cam, grid] = await Promise.all([api('GET', camPath(id)), getGrid().catch(() => null)]);
  const C = {
    pairs: clone((cam.calibration && cam.calibration.points) || []),
    w: cam.calibration ? cam.calibration.image_width : 0,
    h: cam.calibration ? cam.calibration.image_height : 0,
    pending: null,
    footprint: null,
  };
  const view = imageStage(id, 'calib', (w, h) => {
    if (!C.w || !C.h) { C.w = w; C.h = h; }
    draw();
  });
  const lat = el('input', { type: 'number', step: 'any', id: 'calib-lat', 'data-testid': 'calib-lat', placeholder: t('calib.lat') });
  const lon = el('input', { type: 'number', step: 'any', id: 'calib-lon', 'data-testid': 'calib-lon', placeholder: t('calib.lon') });
  const pendingLabel = el('span', { class: 'mono', 'data-testid': 'calib-pending' });
  const list = el('tbody', { 'data-testid': 'calib-pairs' });
  const result = el('div', { class: 'calib-result', 'data-testid': 'calib-result' });
  const mapBox = el('div', { class: 'mini-map', 'data-testid': 'calib-map' });
  const errors = el('div', { class: 'form-errors', 'data-testid': 'calib-errors' });

  const draw = () => {
    if (C.w && C.h) view.svg.setAttribute('viewBox', `0 0 ${C.w} ${C.h}`);
    drawPairs(view.svg, C);
    renderPairList(list, C, draw);
    pendingLabel.textContent = C.pending ? `(${C.pending[0]}, ${C.pending[1]})` : t('calib.click_image');
    renderMiniMap(mapBox, grid, { polygon: C.footprint || undefined, points: C.pairs.map((p) => [p.lat, p.lon]), testid: 'calib-map-svg' });
  };
  const addPair = () => {
    const la = Number(lat.value); const lo = Number(lon.value);
    if (!C.pending) { setStatus(t('calib.need_pixel'), 'error'); return; }
    if (lat.value === '' || lon.value === '' || !(Math.abs(la) <= 90) || !(Math.abs(lo) <= 180)) { setStatus(t('calib.bad_latlon'), 'error'); return; }
    C.pairs.push({ pixel: C.pending, lat: la, lon: lo });
    C.pending = null;
    lat.value = '';
    lon.value = '';
    lat.blur();
    lon.blur();
    draw();
  };
  const body = () => ({ image_width: C.w, image_height: C.h, points: C.pairs });
  const run = async (method, path, savedKey) => {
    errors.replaceChildren();
    if (!C.w || !C.h) { setStatus(t('calib.need_frame'), 'error'); return; }
    try {
      const res = await api(method, path, body());
      C.footprint = res.footprint || null;
      showCalibResult(result, res);
      setStatus(t(savedKey, { id }), 'ok');
      draw();
    } catch (e) {
      fail(errors, e);
    }
  };
  view.svg.addEventListener('click', (e) => {
    if (!C.w || !C.h) return;
    const [nx, ny] = normPoint(view.svg, e);
    C.pending = [Math.round(nx * C.w), Math.round(ny * C.h)];
    draw();
    lat.focus();
  });
  for (const input of [lat, lon]) input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); addPair(); } });

  box.append(
    el('div', { class: 'toolbar' }, el('h2', {}, t('calib.title', { id })), el('div', { class: 'spacer' }),
      button('camera.baseline', 'camera-baseline', () => captureBaseline(id)),
      button('common.back', 'back-to-cameras', () => { location.hash = '#/admin/cameras'; })),
    el('div', { class: 'editor', 'data-testid': 'calib-editor' },
      view.stage,
      el('aside', { class: 'editor-side' },
        el('p', { class: 'muted' }, t('calib.howto')),
        el('div', { class: 'form-grid' },
          el('span', {}, t('calib.pixel')), pendingLabel,
          el('label', { for: 'calib-lat' }, t('calib.lat')), lat,
          el('label', { for: 'calib-lon' }, t('calib.lon')), lon),
        el('div', { class: 'row-actions' }, button('calib.add', 'calib-add', addPair)),
        el('table', { class: 'dense' }, el('thead', {}, el('tr', {},
          ['#', 'calib.pixel', 'calib.lat', 'calib.lon', ''].map((k) => el('th', {}, k.startsWith('calib.') ? t(k) : k)))), list),
        el('div', { class: 'form-actions' },
          button('calib.check', 'calib-check', () => run('POST', `${camPath(id)}/calibration/check`, 'calib.checked')),
          button('common.save', 'calib-save', () => run('PUT', `${camPath(id)}/calibration`, 'calib.saved'), { class: 'primary' })),
        errors, result, mapBox)));
  draw();
}

function drawPairs(svg, C) {
  const r = Math.max(C.w, 1) / 200;
  const nodes = [];
  C.pairs.forEach((p, i) => {
    nodes.push(svgEl('circle', { cx: p.pixel[0], cy: p.pixel[1], r, class: 'calib-vertex' }));
    nodes.push(svgEl('text', { x: p.pixel[0] + r * 1.5, y: p.pixel[1] - r, class: 'zone-label', 'font-size': r * 3.5 }, String(i + 1)));
  });
  if (C.pending) {
    const [x, y] = C.pending;
    nodes.push(svgEl('path', { d: `M${x - 3 * r} ${y}H${x + 3 * r}M${x} ${y - 3 * r}V${y + 3 * r}`, class: 'crosshair', 'stroke-width': r / 2 }));
  }
  svg.replaceChildren(...nodes);
}

function renderPairList(tbody, C, draw) {
  tbody.replaceChildren(...C.pairs.map((p, i) => el('tr', { 'data-testid': 'calib-pair' },
    el('td', { class: 'num' }, String(i + 1)),
    el('td', { class: 'mono' }, `${p.pixel[0]}, ${p.pixel[1]}`),
    el('td', { class: 'mono' }, String(p.lat)),
    el('td', { class: 'mono' }, String(p.lon)),
    el('td', {}, button('common.delete', 'calib-delete', () => { C.pairs.splice(i, 1); C.footprint = null; draw(); })))));
}

function showCalibResult(box, res) {
  const row = (k, v, unit) => el('tr', {}, el('th', {}, t(k)), el('td', { class: 'num' }, v == null ? '' : `${fmtNumber(v, 2)} ${t(unit)}`));
  box.replaceChildren(el('table', { class: 'dense' },
    row('calib.rms_px', res.rms_px, 'unit.px'), row('calib.rms_m', res.rms_m, 'unit.m'), row('calib.max_m', res.max_m, 'unit.m')));
}

// ---------------------------------------------------------------- grid

async function gridPage(box) {
  const file = el('input', { type: 'file', accept: '.geojson,.json,application/geo+json,application/json', 'data-testid': 'grid-file' });
  const result = el('div', { class: 'form-errors', 'data-testid': 'grid-result' });
  const summary = el('div', { 'data-testid': 'grid-summary' });
  const upload = async () => {
    const f = file.files && file.files[0];
    if (!f) { setStatus(t('grid.choose_file'), 'error'); return; }
    result.replaceChildren();
    try {
      const res = await api('PUT', '/api/v1/grid', await f.text());
      invalidate('grid');
      setStatus(t('grid.uploaded', { n: res ? res.cells : '?' }), 'ok');
      result.replaceChildren(el('p', { class: 'ok' }, t('grid.uploaded', { n: res ? res.cells : '?' })));
      showGridSummary(summary);
    } catch (e) {
      fail(result, e);
    }
  };
  box.append(el('h2', {}, t('grid.title')), el('p', { class: 'muted' }, t('grid.howto')),
    el('div', { class: 'toolbar' }, file, button('grid.upload', 'grid-upload', upload, { class: 'primary' })),
    result, summary);
  await showGridSummary(summary);
}

async function showGridSummary(box) {
  let grid;
  try {
    grid = await getGrid();
  } catch (e) {
    showError(e);
    return;
  }
  const features = (grid && grid.features) || [];
  const map = el('div', { class: 'mini-map wide-map' });
  renderMiniMap(map, grid, { windowMetres: 500, testid: 'grid-map-svg' });
  const shown = features.slice(0, 300);
  box.replaceChildren(el('p', {}, t('grid.count', { n: features.length })), map,
    el('table', { class: 'dense' },
      el('thead', {}, el('tr', {}, ['code', 'name', 'community', 'street', 'unit'].map((k) => el('th', {}, t(`grid.${k}`))))),
      el('tbody', {}, shown.map((f) => {
        const p = f.properties || {};
        return el('tr', { 'data-testid': 'grid-row' }, el('td', { class: 'mono' }, p.code || ''), el('td', {}, p.name || ''),
          el('td', {}, p.community || ''), el('td', {}, p.street || ''), el('td', {}, p.unit || ''));
      }))),
    features.length > shown.length ? el('p', { class: 'muted' }, t('grid.more', { n: features.length - shown.length })) : null);
}

// ---------------------------------------------------------------- categories

async function categoriesPage(box) {
  let rows = clone(await api('GET', '/api/v1/categories'));
  const tbody = el('tbody', { 'data-testid': 'category-list' });
  const errors = el('div', { class: 'form-errors', 'data-testid': 'categories-errors' });
  const draw = () => tbody.replaceChildren(...rows.map((r, i) => {
    const cell = (k, size) => el('td', {}, el('input', { value: r[k] ?? '', size, 'data-testid': `category-${k}`, oninput: (e) => { r[k] = e.target.value; } }));
    return el('tr', { 'data-testid': 'category-row' }, el('td', { class: 'num' }, String(i + 1)),
      cell('category', 28), cell('code', 8), cell('name', 20),
      el('td', {}, button('common.delete', 'category-delete', () => { rows.splice(i, 1); draw(); })));
  }));
  const save = async () => {
    errors.replaceChildren();
    try {
      rows = clone(await api('PUT', '/api/v1/categories', rows.map((r) => ({ ...r, category: r.category.trim(), code: r.code.trim(), name: r.name.trim() }))));
      invalidate('categories');
      setStatus(t('categories.saved', { n: rows.length }), 'ok');
      draw();
    } catch (e) {
      fail(errors, e);
    }
  };
  box.append(el('h2', {}, t('categories.title')), el('p', { class: 'muted' }, t('categories.howto')),
    el('table', { class: 'dense' }, el('thead', {}, el('tr', {}, el('th', {}, '#'),
      ['category', 'code', 'name'].map((k) => el('th', {}, t(`categories.${k}`))), el('th', {}, ''))), tbody),
    el('div', { class: 'form-actions' },
      button('categories.add', 'category-add', () => { rows.push({ category: '', code: '', name: '' }); draw(); }),
      button('common.save', 'categories-save', save, { class: 'primary' })),
    errors);
  draw();
}

// ---------------------------------------------------------------- users

async function usersPage(box) {
  const tbody = el('tbody', { 'data-testid': 'user-list' });
  const errors = el('div', { class: 'form-errors', 'data-testid': 'user-errors' });
  const token = el('div', { class: 'token-box', 'data-testid': 'token-box' });
  const load = async () => {
    try {
      const users = await api('GET', '/api/v1/users');
      tbody.replaceChildren(...(users || []).map((u) => userRow(u, load, token)));
    } catch (e) {
      showError(e);
    }
  };
  const form = el('form', { class: 'inline-form', 'data-testid': 'user-form', autocomplete: 'off' },
    el('input', { name: 'name', required: true, placeholder: t('users.name'), 'data-testid': 'user-name-input' }),
    el('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', placeholder: t('users.password'), 'data-testid': 'user-password-input' }),
    el('select', { name: 'role', 'data-testid': 'user-role-select' }, options(ROLES.map((r) => ({ value: r, label: t(`role.${r}`) })), 'operator')),
    el('input', { name: 'groups', placeholder: t('users.groups_hint'), 'data-testid': 'user-groups-input' }),
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'user-add' }, t('users.add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    const groups = f.groups.value.split(/[,，\s]+/).map((g) => g.trim()).filter(Boolean);
    errors.replaceChildren();
    try {
      await api('POST', '/api/v1/users', { name: f.name.value.trim(), password: f.password.value, role: f.role.value, groups });
      setStatus(t('users.added', { name: f.name.value.trim() }), 'ok');
      form.reset();
      await load();
    } catch (err) {
      fail(errors, err);
    }
  });
  box.append(el('h2', {}, t('users.title')), form, errors, token,
    el('table', { class: 'dense' }, el('thead', {}, el('tr', {},
      ['name', 'role', 'groups', 'token_label', ''].map((k) => el('th', {}, k ? t(`users.${k}`) : '')))), tbody));
  await load();
}

function userRow(u, reload, tokenBox) {
  const label = el('input', { size: 12, placeholder: t('users.token_label'), 'data-testid': 'token-label' });
  const makeToken = async () => {
    try {
      const res = await api('POST', `/api/v1/users/${enc(u.name)}/tokens`, { label: label.value.trim() });
      tokenBox.replaceChildren(el('p', {}, t('users.token_once', { name: u.name })),
        el('input', { class: 'wide mono', readonly: true, value: res.token, 'data-testid': 'token-value', onfocus: (e) => e.target.select() }));
      label.value = '';
    } catch (e) {
      showError(e);
    }
  };
  return el('tr', { 'data-testid': 'user-row', 'data-user-name': u.name },
    el('td', {}, u.name), el('td', {}, tOr(`role.${u.role}`, u.role)), el('td', {}, (u.groups || []).join(', ')),
    el('td', {}, label, button('users.token', 'user-token', makeToken)),
    el('td', {}, deleteButton('user-delete', async () => {
      await api('DELETE', `/api/v1/users/${enc(u.name)}`);
      setStatus(t('users.deleted', { name: u.name }), 'ok');
      await reload();
    })));
}
