// map.js — the map page (#/map) and the small maps other pages embed.
// Owns: the Web-Mercator projection (into local "zoom-20 pixel" units around an origin so SVG's
// single-precision coordinates stay exact at street scale), drawing the unit-grid GeoJSON,
// cameras (only when the API gives them a position) and cases as SVG, pan (drag) / zoom
// (wheel, buttons), optional raster tiles from GET /api/v1/config tile_url, the grid hover card,
// and renderMiniMap() used by the queue (case spot) and the admin calibration (footprint).

import { api, t, el, svgEl, button, showError, getGrid, getConfig, getCameras, fmtNumber, tOr } from './app.js';

const BASE_ZOOM = 20;
const SCALE = 256 * 2 ** BASE_ZOOM; // local units per world width (pixels at zoom 20)
const MAX_TILES = 120;
const ESCALATION_COLOURS = { blue: '#1e6fd9', yellow: '#e0a800', red: '#d32f2f' };

// ---------------------------------------------------------------- projection

function mercX(lon) {
  return (lon + 180) / 360;
}

function mercY(lat) {
  const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
  return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
}

/** Projection to local units: x right, y down, origin at (lat0, lon0). */
export function makeProjection(lat0, lon0) {
  const ox = mercX(lon0);
  const oy = mercY(lat0);
  return {
    ox, oy,
    project: (lat, lon) => [(mercX(lon) - ox) * SCALE, (mercY(lat) - oy) * SCALE],
    /** metres per local unit near the origin */
    metresPerUnit: (40075016.686 * Math.cos((lat0 * Math.PI) / 180)) / SCALE,
  };
}

/** All rings of a GeoJSON feature as arrays of [lon, lat]. */
export function featureRings(f) {
  const g = f && f.geometry;
  if (!g) return [];
  if (g.type === 'Polygon') return g.coordinates;
  if (g.type === 'MultiPolygon') return g.coordinates.flat();
  return [];
}

function boundsOfLatLons(points) {
  const b = { minLat: Infinity, maxLat: -Infinity, minLon: Infinity, maxLon: -Infinity };
  for (const [lat, lon] of points) {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
    b.minLat = Math.min(b.minLat, lat); b.maxLat = Math.max(b.maxLat, lat);
    b.minLon = Math.min(b.minLon, lon); b.maxLon = Math.max(b.maxLon, lon);
  }
  return Number.isFinite(b.minLat) ? b : null;
}

function gridLatLons(grid) {
  const out = [];
  for (const f of (grid && grid.features) || []) for (const ring of featureRings(f)) for (const [lon, lat] of ring) out.push([lat, lon]);
  return out;
}

function ringPath(ring, proj) {
  return ring.map(([lon, lat], i) => {
    const [x, y] = proj.project(lat, lon);
    return `${i ? 'L' : 'M'}${x.toFixed(2)} ${y.toFixed(2)}`;
  }).join('') + 'Z';
}

function featurePath(f, proj) {
  return featureRings(f).map((r) => ringPath(r, proj)).join('');
}

/** Local-unit box {x, y, w, h} of some [lat, lon] points, padded by a fraction. */
function boxOf(points, proj, pad = 0.06, minSize = 50) {
  let x1 = Infinity; let y1 = Infinity; let x2 = -Infinity; let y2 = -Infinity;
  for (const [lat, lon] of points) {
    const [x, y] = proj.project(lat, lon);
    x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y);
  }
  if (!Number.isFinite(x1)) return { x: -500, y: -500, w: 1000, h: 1000 };
  const w = Math.max(x2 - x1, minSize); const h = Math.max(y2 - y1, minSize);
  const cx = (x1 + x2) / 2; const cy = (y1 + y2) / 2;
  return { x: cx - (w * (1 + 2 * pad)) / 2, y: cy - (h * (1 + 2 * pad)) / 2, w: w * (1 + 2 * pad), h: h * (1 + 2 * pad) };
}

function caseColour(c) {
  if (c.state === 'rejected') return '#8a8f98';
  return ESCALATION_COLOURS[c.escalation] || ESCALATION_COLOURS.blue;
}

// ---------------------------------------------------------------- mini maps

/**
 * Draw a small, static map into `box`: the grid cells near the subject, plus
 * opts.point [lat, lon] (a case), opts.polygon [[lat, lon]...] (a footprint),
 * opts.points [[lat, lon]...] (calibration pairs) and opts.highlight (a grid code).
 */
export function renderMiniMap(box, grid, opts = {}) {
  const subject = [
    ...(opts.point ? [opts.point] : []),
    ...(opts.polygon || []),
    ...(opts.points || []),
  ].filter((p) => p && Number.isFinite(Number(p[0])) && Number.isFinite(Number(p[1]))).map((p) => [Number(p[0]), Number(p[1])]);
  const anchor = subject.length ? subject : gridLatLons(grid);
  const b = boundsOfLatLons(anchor);
  if (!b) {
    box.replaceChildren(el('p', { class: 'muted' }, t('map.nothing')));
    return;
  }
  const proj = makeProjection((b.minLat + b.maxLat) / 2, (b.minLon + b.maxLon) / 2);
  const minUnits = (opts.windowMetres || 250) / proj.metresPerUnit;
  const view = boxOf(anchor, proj, 0.15, minUnits);
  const svg = svgEl('svg', { class: 'map-svg mini', viewBox: `${view.x} ${view.y} ${view.w} ${view.h}`, 'data-testid': opts.testid || 'mini-map-svg' });
  const unit = view.w / 300; // roughly one screen pixel in a 300 px wide box
  const g = svgEl('g', { class: 'grid-layer' });
  for (const f of (grid && grid.features) || []) {
    if (!featureNear(f, proj, view)) continue;
    const code = f.properties && f.properties.code;
    g.append(svgEl('path', { d: featurePath(f, proj), class: code && code === opts.highlight ? 'cell highlight' : 'cell' }));
  }
  svg.append(g);
  if (opts.polygon && opts.polygon.length > 2) {
    const pts = opts.polygon.map(([lat, lon]) => proj.project(lat, lon).map((v) => v.toFixed(2)).join(',')).join(' ');
    svg.append(svgEl('polygon', { points: pts, class: 'footprint', 'data-testid': 'footprint' }));
  }
  for (const p of opts.points || []) {
    const [x, y] = proj.project(p[0], p[1]);
    svg.append(svgEl('circle', { cx: x, cy: y, r: 3 * unit, class: 'calib-point' }));
  }
  if (opts.point) {
    const [x, y] = proj.project(opts.point[0], opts.point[1]);
    svg.append(svgEl('circle', { cx: x, cy: y, r: 5 * unit, class: 'case-dot', 'stroke-width': 1.5 * unit }));
  }
  box.replaceChildren(svg);
}

function featureNear(f, proj, view) {
  for (const ring of featureRings(f)) {
    for (const [lon, lat] of ring) {
      const [x, y] = proj.project(lat, lon);
      if (x >= view.x - view.w && x <= view.x + 2 * view.w && y >= view.y - view.h && y <= view.y + 2 * view.h) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- map page

let M = null; // state of the mounted map page

export async function mount(root) {
  M = { root, view: null, proj: null, tiles: new Map(), tileUrl: null, frame: 0, dom: {} };
  buildLayout(root);
  const [grid, config, cameras, cases] = await Promise.allSettled([
    getGrid(), getConfig(), getCameras(), api('GET', '/api/v1/cases?state=candidate,field_check,confirmed&limit=500'),
  ]);
  for (const r of [grid, cases]) if (r.status === 'rejected') showError(r.reason);
  if (!M || M.root !== root) return undefined;
  M.grid = grid.status === 'fulfilled' ? grid.value : null;
  M.config = config.status === 'fulfilled' ? config.value || {} : {};
  M.cameras = cameras.status === 'fulfilled' ? cameras.value || [] : [];
  M.cases = cases.status === 'fulfilled' ? (cases.value && cases.value.cases) || [] : [];
  M.tileUrl = M.config.tile_url || null;
  draw();
  const mine = M;
  const onResize = () => scheduleViewUpdate();
  window.addEventListener('resize', onResize);
  return () => {
    window.removeEventListener('resize', onResize);
    if (M === mine) M = null;
  };
}

function buildLayout(root) {
  const d = M.dom;
  d.svg = svgEl('svg', { class: 'map-svg', 'data-testid': 'map-svg' });
  d.tiles = svgEl('g', { class: 'tile-layer' });
  d.gridLayer = svgEl('g', { class: 'grid-layer' });
  d.camLayer = svgEl('g', { class: 'camera-layer' });
  d.caseLayer = svgEl('g', { class: 'case-layer' });
  d.svg.append(d.tiles, d.gridLayer, d.camLayer, d.caseLayer);
  d.card = el('div', { class: 'hover-card', 'data-testid': 'grid-card', hidden: true });
  d.info = el('span', { class: 'muted', 'data-testid': 'map-info' });
  const stage = el('div', { class: 'map-stage' }, d.svg, d.card);
  root.append(
    el('div', { class: 'toolbar' },
      button('map.zoom_in', 'map-zoom-in', () => zoomBy(1 / 1.5)),
      button('map.zoom_out', 'map-zoom-out', () => zoomBy(1.5)),
      button('map.fit', 'map-fit', () => { fit(); }),
      el('span', { class: 'legend' },
        ['blue', 'yellow', 'red'].map((e) => el('span', { class: 'legend-item' }, el('span', { class: `esc esc-${e}` }), t(`escalation.${e}`)))),
      el('div', { class: 'spacer' }), d.info),
    stage);
  wirePanZoom(d.svg);
}

function draw() {
  const pts = gridLatLons(M.grid);
  const casePts = M.cases.filter((c) => c.lat != null && c.lon != null).map((c) => [c.lat, c.lon]);
  const center = M.config.center;
  const all = pts.length ? pts : casePts.length ? casePts : center ? [center] : [];
  const b = boundsOfLatLons(all);
  if (!b) {
    M.dom.info.textContent = t('map.nothing');
    return;
  }
  M.proj = makeProjection((b.minLat + b.maxLat) / 2, (b.minLon + b.maxLon) / 2);
  M.fitBox = boxOf(all, M.proj, 0.04, 200 / M.proj.metresPerUnit);
  drawGrid();
  drawCameras();
  drawCases();
  fit();
}

function drawGrid() {
  const layer = M.dom.gridLayer;
  layer.replaceChildren();
  for (const f of (M.grid && M.grid.features) || []) {
    const p = f.properties || {};
    const path = svgEl('path', { d: featurePath(f, M.proj), class: 'cell', 'data-testid': 'map-cell', 'data-code': p.code || '' });
    path.addEventListener('mousemove', (e) => showCard(e, p));
    path.addEventListener('mouseleave', hideCard);
    layer.append(path);
  }
}

function cameraPosition(cam) {
  if (Number.isFinite(cam.lat) && Number.isFinite(cam.lon)) return [cam.lat, cam.lon];
  if (Array.isArray(cam.position) && cam.position.length === 2) return cam.position.map(Number);
  const p = cam.position;
  if (p && Number.isFinite(p.lat) && Number.isFinite(p.lon)) return [p.lat, p.lon];
  return null;
}

function drawCameras() {
  const layer = M.dom.camLayer;
  layer.replaceChildren();
  let skipped = 0;
  for (const cam of M.cameras) {
    const pos = cameraPosition(cam);
    if (!pos) { skipped += 1; continue; }
    const [x, y] = M.proj.project(pos[0], pos[1]);
    const r = svgEl('rect', { class: 'camera-mark', 'data-testid': 'map-camera', 'data-cx': x, 'data-cy': y });
    r.append(svgEl('title', {}, cam.name || cam.id));
    layer.append(r);
  }
  M.dom.info.textContent = t('map.summary', { cells: ((M.grid && M.grid.features) || []).length, cases: M.cases.length, hidden: skipped });
}

function drawCases() {
  const layer = M.dom.caseLayer;
  layer.replaceChildren();
  for (const c of M.cases) {
    if (c.lat == null || c.lon == null) continue;
    const [x, y] = M.proj.project(c.lat, c.lon);
    const dot = svgEl('circle', { cx: x, cy: y, class: `case-dot state-${c.state}`, fill: caseColour(c), 'data-testid': 'map-case', 'data-case-id': c.id });
    dot.addEventListener('click', (e) => {
      if (M.dragged) return;
      e.stopPropagation();
      location.hash = `#/queue/${c.id}`;
    });
    dot.addEventListener('mousemove', (e) => showCaseCard(e, c));
    dot.addEventListener('mouseleave', hideCard);
    layer.append(dot);
  }
}

// ---------------------------------------------------------------- hover card

function showCard(e, p) {
  const rows = [['grid.code', p.code], ['grid.name', p.name], ['grid.community', p.community], ['grid.street', p.street], ['grid.unit', p.unit]];
  fillCard(e, rows);
}

function showCaseCard(e, c) {
  fillCard(e, [['case.id', `#${c.id}`], ['case.event', `${c.event_code || ''} ${c.event_name || ''}`], ['case.state', tOr(`state.${c.state}`, c.state)], ['case.score', fmtNumber(c.score, 2)]]);
}

function fillCard(e, rows) {
  const card = M.dom.card;
  card.replaceChildren(el('table', {}, rows.filter(([, v]) => v).map(([k, v]) => el('tr', {}, el('th', {}, t(k)), el('td', {}, String(v))))));
  const stage = card.parentElement.getBoundingClientRect();
  card.style.left = `${e.clientX - stage.left + 14}px`;
  card.style.top = `${e.clientY - stage.top + 14}px`;
  card.hidden = false;
}

function hideCard() {
  if (M) M.dom.card.hidden = true;
}

// ---------------------------------------------------------------- view: fit, pan, zoom

function fit() {
  if (!M.fitBox) return;
  M.view = { ...M.fitBox };
  applyView();
}

/** Local units per screen pixel (the viewBox is letterboxed with "meet"). */
function unitsPerPixel() {
  const r = M.dom.svg.getBoundingClientRect();
  if (!r.width || !r.height) return 1;
  return Math.max(M.view.w / r.width, M.view.h / r.height);
}

function applyView() {
  const v = M.view;
  M.dom.svg.setAttribute('viewBox', `${v.x} ${v.y} ${v.w} ${v.h}`);
  scheduleViewUpdate();
}

function scheduleViewUpdate() {
  if (!M || M.frame) return;
  M.frame = requestAnimationFrame(() => {
    if (!M) return;
    M.frame = 0;
    sizeMarkers();
    drawTiles();
  });
}

function sizeMarkers() {
  if (!M.view) return;
  const u = unitsPerPixel();
  for (const c of M.dom.caseLayer.children) {
    c.setAttribute('r', String(6 * u));
    c.setAttribute('stroke-width', String(1.5 * u));
  }
  for (const r of M.dom.camLayer.children) {
    const s = 10 * u;
    r.setAttribute('x', String(Number(r.dataset.cx) - s / 2));
    r.setAttribute('y', String(Number(r.dataset.cy) - s / 2));
    r.setAttribute('width', String(s));
    r.setAttribute('height', String(s));
  }
}

function toSvgPoint(clientX, clientY) {
  const svg = M.dom.svg;
  const ctm = svg.getScreenCTM();
  if (!ctm) return { x: M.view.x + M.view.w / 2, y: M.view.y + M.view.h / 2 };
  const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
  return { x: p.x, y: p.y };
}

function zoomAt(factor, p) {
  const v = M.view;
  M.view = { x: p.x - (p.x - v.x) * factor, y: p.y - (p.y - v.y) * factor, w: v.w * factor, h: v.h * factor };
  applyView();
}

function zoomBy(factor) {
  if (!M.view) return;
  zoomAt(factor, { x: M.view.x + M.view.w / 2, y: M.view.y + M.view.h / 2 });
}

function wirePanZoom(svg) {
  svg.addEventListener('wheel', (e) => {
    if (!M.view) return;
    e.preventDefault();
    zoomAt(e.deltaY > 0 ? 1.25 : 0.8, toSvgPoint(e.clientX, e.clientY));
  }, { passive: false });
  let drag = null;
  svg.addEventListener('pointerdown', (e) => {
    if (!M.view || e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, view: { ...M.view }, upp: unitsPerPixel(), id: e.pointerId };
    M.dragged = false;
  });
  svg.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x; const dy = e.clientY - drag.y;
    if (!M.dragged && Math.hypot(dx, dy) < 4) return;
    if (!M.dragged) svg.setPointerCapture(drag.id);
    M.dragged = true;
    M.view = { ...drag.view, x: drag.view.x - dx * drag.upp, y: drag.view.y - dy * drag.upp };
    applyView();
  });
  const end = () => {
    drag = null;
    setTimeout(() => { if (M) M.dragged = false; }, 0);
  };
  svg.addEventListener('pointerup', end);
  svg.addEventListener('pointercancel', end);
}

// ---------------------------------------------------------------- tiles

function drawTiles() {
  if (!M.tileUrl || !M.view) return;
  const r = M.dom.svg.getBoundingClientRect();
  const a = toSvgPoint(r.left, r.top);
  const b = toSvgPoint(r.right, r.bottom);
  const z = Math.max(0, Math.min(19, Math.round(BASE_ZOOM - Math.log2(unitsPerPixel()))));
  const n = 2 ** z;
  const size = SCALE / n; // one tile in local units
  const tx = (x) => Math.floor((x / SCALE + M.proj.ox) * n);
  const ty = (y) => Math.floor((y / SCALE + M.proj.oy) * n);
  const [x0, x1, y0, y1] = [tx(a.x), tx(b.x), ty(a.y), ty(b.y)].map((v) => Math.max(0, Math.min(n - 1, v)));
  const wanted = new Set();
  for (let x = x0; x <= x1; x += 1) {
    for (let y = y0; y <= y1; y += 1) {
      if (wanted.size >= MAX_TILES) break;
      const key = `${z}/${x}/${y}`;
      wanted.add(key);
      if (!M.tiles.has(key)) M.tiles.set(key, tileImage(z, x, y, size, n));
    }
  }
  for (const [key, img] of M.tiles) {
    if (!wanted.has(key)) { img.remove(); M.tiles.delete(key); }
  }
  M.dom.tiles.replaceChildren(...[...wanted].map((k) => M.tiles.get(k)));
}

function tileImage(z, x, y, size, n) {
  const href = M.tileUrl.replace('{z}', z).replace('{x}', x).replace('{y}', y).replace('{s}', 'a');
  return svgEl('image', {
    href, x: (x / n - M.proj.ox) * SCALE, y: (y / n - M.proj.oy) * SCALE,
    width: size, height: size, preserveAspectRatio: 'none', class: 'tile',
  });
}
