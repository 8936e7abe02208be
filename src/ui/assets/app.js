// app.js — the console shell. Owns: boot, the session (login form, logout, who am I),
// i18n (message files, language switch remembered in localStorage), the hash router,
// the header and the status line, and the small helpers every page module shares
// (api(), el()/svgEl(), time formatting, cached look-ups of categories/grid/config/cameras).
// Page modules (queue.js, map.js, admin.js, stats.js) export mount(root, params) -> unmount.

const LANG_KEY = 'gs.lang';
const LANGS = ['zh-CN', 'en'];
const DEFAULT_LANG = 'zh-CN';

let messages = {};
let lang = DEFAULT_LANG;
let user = null; // {name, role, groups}
let page = null; // {name, unmount}
let routeSeq = 0;

// ---------------------------------------------------------------- i18n

/** Look up a message and fill {placeholders}. Missing keys show the key (and warn). */
export function t(key, params) {
  let s = messages[key];
  if (s === undefined) {
    console.warn('gridsight: missing message', key);
    return key;
  }
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

/** Message if the key exists, else the fallback (for open-ended values such as states). */
export function tOr(key, fallback, params) {
  return key in messages ? t(key, params) : String(fallback ?? '');
}

export function currentLang() {
  return lang;
}

async function loadMessages(wanted) {
  const res = await fetch(`/ui/i18n/${wanted}.json`, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`/ui/i18n/${wanted}.json: HTTP ${res.status}`);
  messages = await res.json();
  lang = wanted;
  document.documentElement.lang = wanted;
}

/** Fill elements marked data-i18n / data-i18n-placeholder / data-i18n-title / data-i18n-aria. */
export function applyI18n(root = document) {
  root.querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.dataset.i18n); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
  root.querySelectorAll('[data-i18n-title]').forEach((n) => { n.title = t(n.dataset.i18nTitle); });
  root.querySelectorAll('[data-i18n-aria]').forEach((n) => { n.setAttribute('aria-label', t(n.dataset.i18nAria)); });
  if (root === document) document.title = t('app.title');
}

async function switchLang(wanted) {
  if (!LANGS.includes(wanted) || wanted === lang) return;
  await loadMessages(wanted);
  localStorage.setItem(LANG_KEY, wanted);
  applyI18n();
  renderUserBox();
  if (user) await route();
  else showLogin();
}

// ---------------------------------------------------------------- DOM helpers

/** Create an element: el('button', {class:'x', 'data-testid':'y', onclick: f}, 'child', node). */
export function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  setAttrs(n, attrs);
  appendChildren(n, children);
  return n;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an SVG element with attributes (same conventions as el()). */
export function svgEl(tag, attrs, ...children) {
  const n = document.createElementNS(SVG_NS, tag);
  setAttrs(n, attrs);
  appendChildren(n, children);
  return n;
}

function setAttrs(n, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') n.setAttribute('class', v);
    else if (k === 'text') n.textContent = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(n.style, v);
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in n) n.value = v;
    else if (k === 'checked' || k === 'selected') n[k] = Boolean(v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendChildren(n, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    n.append(c instanceof Node ? c : String(c));
  }
}

/** A <button type=button> with a message-file label. */
export function button(labelKey, testid, onclick, extra = {}) {
  return el('button', { type: 'button', 'data-testid': testid, onclick, ...extra }, t(labelKey));
}

/** <option>s from [{value, label}] with one selected. */
export function options(list, selected) {
  return list.map((o) => el('option', { value: o.value, selected: String(o.value) === String(selected) }, o.label));
}

/** Format an RFC 3339 time in the console language; empty for null. */
export function fmtTime(iso, withDate = true) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const opts = withDate
    ? { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
    : { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
  return new Intl.DateTimeFormat(lang, opts).format(d);
}

export function fmtNumber(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return '';
  return new Intl.NumberFormat(lang, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(Number(x));
}

/** datetime-local / date input value -> RFC 3339 UTC, or '' when empty. */
export function inputToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** True when a key event comes from a place where the user types text. */
export function isTypingTarget(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName.toLowerCase();
  return tag === 'input' || tag === 'textarea' || tag === 'select' || target.isContentEditable;
}

// ---------------------------------------------------------------- status line

let statusTimer = null;

/** Show a message in the status line (kind: info | ok | error). Info/ok messages fade after 8 s. */
export function setStatus(text, kind = 'info', httpStatus = '') {
  const n = document.getElementById('status-line');
  if (!n) return;
  clearTimeout(statusTimer);
  n.textContent = text;
  n.dataset.kind = kind;
  n.dataset.status = String(httpStatus || '');
  n.classList.toggle('visible', Boolean(text));
  if (text) n.dataset.seq = String(Number(n.dataset.seq || 0) + 1); // lets tests wait for the next message
  if (kind !== 'error' && text) statusTimer = setTimeout(() => setStatus('', 'info'), 8000);
}

/** Show an error (ApiError or other) in the status line; 4xx keep the server's sentence. */
export function showError(e) {
  if (e instanceof ApiError) {
    const key = e.status === 0 ? 'error.network' : e.status === 403 ? 'error.forbidden' : e.status === 409 ? 'error.conflict' : 'error.http';
    setStatus(t(key, { status: e.status, message: e.message }), 'error', e.status);
  } else {
    setStatus(t('error.unexpected', { message: e && e.message ? e.message : String(e) }), 'error');
  }
}

// ---------------------------------------------------------------- API

export class ApiError extends Error {
  constructor(status, message, problems) {
    super(message);
    this.status = status;
    this.problems = problems || [];
  }
}

/**
 * Call the JSON API. body: object (sent as JSON) or string (sent as is).
 * Resolves to parsed JSON (null for 204); rejects with ApiError carrying status/message/problems.
 * A 401 outside the login flow sends the user back to the login form.
 */
export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['Content-Type'] = opts.contentType || 'application/json';
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, e && e.message ? e.message : 'network', []);
  }
  const data = await readJson(res);
  if (!res.ok) {
    const err = (data && data.error) || {};
    const problems = err.problems || (data && data.problems) || [];
    if (res.status === 401 && !opts.allow401) onUnauthorized();
    throw new ApiError(res.status, err.message || res.statusText || String(res.status), problems);
  }
  return data;
}

async function readJson(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A list of problems (validation errors) as a <ul>, or nothing. */
export function problemList(e, testid = 'problems') {
  const problems = e instanceof ApiError && e.problems.length ? e.problems : [];
  if (!problems.length) return el('div', { class: 'problems', 'data-testid': testid }, e && e.message ? e.message : '');
  return el('ul', { class: 'problems', 'data-testid': testid }, problems.map((p) => el('li', {}, p)));
}

// ---------------------------------------------------------------- cached look-ups

const cache = new Map();

function cached(key, loader) {
  if (!cache.has(key)) {
    const p = loader().catch((e) => { cache.delete(key); throw e; });
    cache.set(key, p);
  }
  return cache.get(key);
}

export function invalidate(key) {
  cache.delete(key);
}

export const getCategories = () => cached('categories', () => api('GET', '/api/v1/categories'));
export const getGrid = () => cached('grid', () => api('GET', '/api/v1/grid'));
export const getConfig = () => cached('config', () => api('GET', '/api/v1/config'));
export const getCameras = () => cached('cameras', () => api('GET', '/api/v1/cameras'));

/** Display label of an internal category: "0501 无照经营游商", falling back to the case fields. */
export function categoryLabel(categories, category, c) {
  const row = (categories || []).find((r) => r.category === category);
  if (row) return `${row.code} ${row.name}`;
  if (c && (c.event_code || c.event_name)) return `${c.event_code || ''} ${c.event_name || ''}`.trim();
  return category || '';
}

export function currentUser() {
  return user;
}

export function isAdmin() {
  return Boolean(user && user.role === 'admin');
}

// ---------------------------------------------------------------- session

function onUnauthorized() {
  if (!user) return;
  user = null;
  unmountPage();
  renderUserBox();
  showLogin();
  setStatus(t('auth.expired'), 'error', 401);
}

function showLogin() {
  unmountPage();
  const main = document.getElementById('main');
  const name = el('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, 'data-testid': 'login-username' });
  const pass = el('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
  const error = el('div', { class: 'login-error', 'data-testid': 'login-error', role: 'alert' });
  const form = el('form', { class: 'login-card', 'data-testid': 'login-form' },
    el('h1', {}, t('auth.title')),
    el('label', { for: 'login-user' }, t('auth.username')), name,
    el('label', { for: 'login-pass' }, t('auth.password')), pass,
    error,
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, t('auth.login')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    login(name.value, pass.value, error);
  });
  main.replaceChildren(el('section', { class: 'login-page' }, form));
  document.body.dataset.page = 'login';
  name.focus();
}

async function login(username, password, errorBox) {
  errorBox.textContent = '';
  try {
    user = await api('POST', '/api/v1/session', { username, password }, { allow401: true });
  } catch (e) {
    errorBox.textContent = e.status === 401 ? t('auth.wrong') : t('error.http', { status: e.status, message: e.message });
    return;
  }
  if (document.activeElement) document.activeElement.blur();
  renderUserBox();
  setStatus(t('auth.welcome', { name: user.name }), 'ok');
  if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = '#/queue';
  else await route();
}

async function logout() {
  try {
    await api('DELETE', '/api/v1/session', undefined, { allow401: true });
  } catch (e) {
    showError(e);
  }
  user = null;
  cache.clear();
  renderUserBox();
  showLogin();
}

function renderUserBox() {
  const box = document.getElementById('user-box');
  const nav = document.getElementById('nav');
  const out = document.getElementById('logout');
  box.hidden = !user;
  nav.hidden = !user;
  out.hidden = !user;
  if (!user) return;
  document.getElementById('user-name').textContent = user.name;
  const role = document.getElementById('user-role');
  role.textContent = tOr(`role.${user.role}`, user.role);
  role.dataset.role = user.role;
  nav.querySelectorAll('[data-admin-only]').forEach((a) => { a.hidden = user.role !== 'admin'; });
}

// ---------------------------------------------------------------- router

const ROUTES = [
  { name: 'queue', re: /^#\/queue(?:\/(\d+))?$/, load: () => import('./queue.js'), params: (m) => ({ caseId: m[1] ? Number(m[1]) : null }) },
  { name: 'map', re: /^#\/map$/, load: () => import('./map.js'), params: () => ({}) },
  { name: 'stats', re: /^#\/stats$/, load: () => import('./stats.js'), params: () => ({}) },
  { name: 'admin', re: /^#\/admin(?:\/(.*))?$/, load: () => import('./admin.js'), params: (m) => ({ path: m[1] || 'cameras' }), admin: true },
];

function unmountPage() {
  if (page && page.unmount) {
    try {
      page.unmount();
    } catch (e) {
      console.error(e);
    }
  }
  page = null;
}

async function route() {
  if (!user) return;
  const hash = location.hash || '#/queue';
  const r = ROUTES.find((x) => x.re.test(hash));
  if (!r) {
    location.hash = '#/queue';
    return;
  }
  const seq = ++routeSeq;
  unmountPage();
  markNav(r.name);
  const main = document.getElementById('main');
  const root = el('div', { class: `page page-${r.name}`, 'data-testid': `page-${r.name}` });
  main.replaceChildren(root);
  document.body.dataset.page = r.name;
  if (r.admin && !isAdmin()) {
    root.append(el('p', { class: 'empty', 'data-testid': 'forbidden' }, t('admin.forbidden')));
    return;
  }
  try {
    const mod = await r.load();
    if (seq !== routeSeq) return;
    const unmount = await mod.mount(root, r.params(hash.match(r.re)));
    if (seq !== routeSeq) {
      if (unmount) unmount();
      return;
    }
    page = { name: r.name, unmount };
  } catch (e) {
    showError(e);
    console.error(e);
  }
}

function markNav(name) {
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.route === name));
}

// ---------------------------------------------------------------- boot

async function boot() {
  const saved = localStorage.getItem(LANG_KEY);
  try {
    await loadMessages(LANGS.includes(saved) ? saved : DEFAULT_LANG);
  } catch (e) {
    document.getElementById('main').textContent = e.message;
    return;
  }
  applyI18n();
  wireHeader();
  await preferServerLang(saved);
  try {
    user = await api('GET', '/api/v1/me', undefined, { allow401: true });
  } catch (e) {
    user = null;
    if (e.status !== 401) showError(e);
  }
  renderUserBox();
  if (user) await route();
  else showLogin();
  window.addEventListener('hashchange', () => route());
}

/** When the user never chose a language, follow the server's configured default. */
async function preferServerLang(saved) {
  if (saved) return;
  try {
    const cfg = await api('GET', '/api/v1/config', undefined, { allow401: true });
    if (cfg && LANGS.includes(cfg.lang) && cfg.lang !== lang) {
      await loadMessages(cfg.lang);
      applyI18n();
    }
  } catch {
    // not logged in yet or no server: keep the default language
  }
}

function wireHeader() {
  const select = document.getElementById('lang-select');
  select.value = lang;
  select.addEventListener('change', () => {
    switchLang(select.value).then(() => { select.value = lang; }).catch(showError);
    select.blur();
  });
  document.getElementById('logout').addEventListener('click', logout);
}

boot();
