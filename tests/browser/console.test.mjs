// Browser tests of the gridsight web console: playwright-core driving Debian's Chromium against a
// running gridsight server (GS_URL). Each test uses a fresh browser context. Run:
//   node --test tests/browser/console.test.mjs
// Environment: GS_URL, GS_{ADMIN,OPERATOR,VIEWER}_{USER,PASS}, GS_CAMERA_PASSWORD_SENTINEL,
// GS_NEW_CAMERA_URI (+ GS_NEW_CAMERA_USER / GS_NEW_CAMERA_PASSWORD when that source checks a
// login). Without GS_URL every test is skipped.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (k, d = '') => process.env[k] ?? d;
const BASE = env('GS_URL').replace(/\/$/, '');
const CHROMIUM = env('GS_CHROMIUM', '/usr/bin/chromium');
const USERS = {
  admin: [env('GS_ADMIN_USER'), env('GS_ADMIN_PASS')],
  operator: [env('GS_OPERATOR_USER'), env('GS_OPERATOR_PASS')],
  viewer: [env('GS_VIEWER_USER'), env('GS_VIEWER_PASS')],
};
const SENTINEL = env('GS_CAMERA_PASSWORD_SENTINEL');
const NEW_CAMERA_URI = env('GS_NEW_CAMERA_URI', 'test:ball');

const TEST_TIMEOUT_MS = 180_000;
const ACTION_TIMEOUT_MS = 15_000;
const CASE_WAIT_MS = 60_000;
const STREAM_WAIT_MS = 60_000;

const skip = BASE ? false : 'GS_URL is not set; start gridsight and set GS_URL to run the browser tests';

// Shared between test 2 (sets it) and test 4 (asserts it never appears).
const run = Math.random().toString(36).slice(2, 8);
const NEW_CAMERA_ID = `bt-${run}`;
// The camera's login: given when GS_NEW_CAMERA_URI is a server that checks it (the Rust harness
// serves RTSP with these credentials, so streaming proves the password reached the camera).
const NEW_CAMERA_USER = env('GS_NEW_CAMERA_USER', 'bt-user');
const NEW_CAMERA_PASSWORD = env('GS_NEW_CAMERA_PASSWORD') || `bt-secret-${run}-${Math.random().toString(36).slice(2, 10)}`;
const createdCameras = [];

let browser;

before(async () => {
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (!browser) return;
  await removeCreatedCameras().catch((e) => console.error('cleanup failed:', e.message));
  await browser.close();
});

// ---------------------------------------------------------------- helpers

async function newPage() {
  const context = await browser.newContext({ baseURL: BASE, viewport: { width: 1600, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  return { context, page };
}

/** Log in through the form with the keyboard only: type, Tab, type, Enter. */
async function login(page, role, hash = '#/queue') {
  const [user, pass] = USERS[role];
  assert.ok(user && pass, `GS_${role.toUpperCase()}_USER / _PASS must be set`);
  await page.goto(`${BASE}/${hash}`);
  const name = page.getByTestId('login-username');
  await name.waitFor();
  await name.focus();
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(pass);
  await page.keyboard.press('Enter');
  await page.getByTestId('user-name').filter({ hasText: user }).waitFor();
}

/** Call the API from inside the page: same origin, the page's own session cookie. */
async function apiFromPage(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: res.status, json, text };
  }, { method, path, body });
}

/** Wait for a candidate row, then move the selection (keys j) until a candidate is selected. */
async function selectCandidate(page) {
  await page.locator('[data-testid="case-row"][data-state="candidate"]').first().waitFor({ timeout: CASE_WAIT_MS });
  const detail = page.getByTestId('case-detail');
  await page.waitForFunction(() => document.querySelector('[data-testid="case-detail"]')?.dataset.caseId);
  for (let i = 0; i < 200; i += 1) {
    if ((await detail.getAttribute('data-state')) === 'candidate') break;
    await page.keyboard.press('j');
  }
  assert.equal(await detail.getAttribute('data-state'), 'candidate', 'a candidate case is selected');
  return Number(await detail.getAttribute('data-case-id'));
}

/** Run an action and return the next ok/error status-line message after it: {kind, status, text}. */
async function nextStatus(page, action) {
  const seq = Number((await page.getByTestId('status-line').getAttribute('data-seq')) || 0);
  await action();
  await page.waitForFunction((s) => {
    const n = document.getElementById('status-line');
    return Number(n.dataset.seq || 0) > s && ['ok', 'error'].includes(n.dataset.kind);
  }, seq);
  return page.evaluate(() => {
    const n = document.getElementById('status-line');
    return { kind: n.dataset.kind, status: n.dataset.status, text: n.textContent };
  });
}

async function waitForCaseState(page, id, state, timeoutMs = ACTION_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await apiFromPage(page, 'GET', `/api/v1/cases/${id}`);
    if (last.status === 200 && last.json.state === state) return last.json;
    await page.waitForTimeout(250);
  }
  assert.fail(`case ${id} did not become ${state}: HTTP ${last && last.status}, state ${last && last.json && last.json.state}`);
}

async function removeCreatedCameras() {
  if (!createdCameras.length) return;
  const { context, page } = await newPage();
  try {
    await login(page, 'admin');
    for (const id of createdCameras) await apiFromPage(page, 'DELETE', `/api/v1/cameras/${encodeURIComponent(id)}`);
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- tests

test('operator confirms a live candidate using only the keyboard', { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const { context, page } = await newPage();
  try {
    await login(page, 'operator');
    const id = await selectCandidate(page);
    const status = await nextStatus(page, () => page.keyboard.press('c'));
    assert.equal(status.kind, 'ok', `status line: ${status.text}`);
    const c = await waitForCaseState(page, id, 'confirmed');
    assert.equal(c.state, 'confirmed');
    // The next case is selected and the page still takes keys.
    assert.notEqual(await page.getByTestId('case-detail').getAttribute('data-case-id'), String(id));
  } finally {
    await context.close();
  }
});

test('admin adds a camera, sees it stream, draws a zone and saves it', { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const { context, page } = await newPage();
  try {
    await login(page, 'admin', '#/admin/cameras');
    await page.getByTestId('camera-add').click();
    await page.getByTestId('camera-id-input').fill(NEW_CAMERA_ID);
    await page.getByTestId('camera-name-input').fill(`browser test ${run}`);
    await page.getByTestId('camera-uri-input').fill(NEW_CAMERA_URI);
    await page.getByTestId('camera-username-input').fill(NEW_CAMERA_USER);
    await page.getByTestId('camera-password-input').fill(NEW_CAMERA_PASSWORD);
    await page.getByTestId('camera-save').click();
    createdCameras.push(NEW_CAMERA_ID);
    await page.waitForFunction(() => location.hash === '#/admin/cameras');

    const row = page.locator(`[data-testid="camera-row"][data-camera-id="${NEW_CAMERA_ID}"]`);
    await row.locator('[data-testid="camera-status"][data-status="streaming"]').waitFor({ timeout: STREAM_WAIT_MS });
    await row.locator('[data-testid="camera-snapshot"][data-loaded="true"]').waitFor({ timeout: STREAM_WAIT_MS });

    await row.getByTestId('camera-zones').click();
    await page.locator('[data-testid="zone-image"][data-loaded="true"]').waitFor({ timeout: STREAM_WAIT_MS });
    await page.getByTestId('zone-id-input').fill('bt-zone');
    await page.getByTestId('zone-kind-select').selectOption('no_vending');
    const canvas = page.getByTestId('zone-canvas');
    const box = await canvas.boundingBox();
    assert.ok(box && box.width > 50 && box.height > 50, 'zone canvas is laid out');
    for (const [fx, fy] of [[0.2, 0.6], [0.6, 0.6], [0.65, 0.9], [0.15, 0.9]]) {
      await page.mouse.click(box.x + fx * box.width, box.y + fy * box.height);
    }
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="zone-row"][data-zone-id="bt-zone"]').waitFor();
    const status = await nextStatus(page, () => page.getByTestId('zones-save').click());
    assert.equal(status.kind, 'ok', `status line: ${status.text}`);

    const res = await apiFromPage(page, 'GET', `/api/v1/cameras/${encodeURIComponent(NEW_CAMERA_ID)}`);
    assert.equal(res.status, 200);
    const zone = (res.json.zones || []).find((z) => z.id === 'bt-zone');
    assert.ok(zone, 'the saved zone is on the camera');
    assert.equal(zone.kind, 'no_vending');
    assert.equal(zone.polygon.length, 4);
    for (const [x, y] of zone.polygon) assert.ok(x >= 0 && x <= 1 && y >= 0 && y <= 1, 'zone points are normalised');
    assert.equal(res.json.status, 'streaming');
    assert.equal(res.json.has_password, true);
    assert.ok(!res.text.includes(NEW_CAMERA_PASSWORD), 'the camera JSON does not carry the password');
  } finally {
    await context.close();
  }
});

test('viewer cannot confirm: the status line shows the refusal and the API answers 403', { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const { context, page } = await newPage();
  try {
    await login(page, 'viewer');
    const id = await selectCandidate(page);
    const status = await nextStatus(page, () => page.keyboard.press('c'));
    assert.equal(status.kind, 'error', `status line: ${status.text}`);
    assert.equal(status.status, '403');
    assert.match(status.text, /403/);

    const direct = await apiFromPage(page, 'POST', `/api/v1/cases/${id}/transition`, { to: 'confirmed', expected_from: 'candidate' });
    assert.equal(direct.status, 403);
    assert.ok(direct.json && direct.json.error && direct.json.error.message, 'the 403 explains itself');

    const after = await apiFromPage(page, 'GET', `/api/v1/cases/${id}`);
    assert.equal(after.status, 200);
    assert.equal(after.json.state, 'candidate');
  } finally {
    await context.close();
  }
});

test('camera passwords never reach the browser', { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const secrets = [SENTINEL, NEW_CAMERA_PASSWORD].filter((s) => s && s.length >= 4);
  assert.ok(SENTINEL, 'GS_CAMERA_PASSWORD_SENTINEL must be set');
  const { context, page } = await newPage();
  const bodies = [];
  const pending = [];
  page.on('response', (r) => {
    const type = r.headers()['content-type'] || '';
    if (type.includes('event-stream') || type.startsWith('image/') || type.startsWith('video/')) return;
    pending.push(withTimeout(r.text(), 5_000).then((text) => bodies.push({ url: r.url(), text })).catch(() => {}));
  });
  const check = async (where) => {
    const html = await page.content();
    const values = await page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((i) => i.value).join('\n'));
    for (const s of secrets) {
      assert.ok(!html.includes(s), `a camera password is in the page HTML at ${where}`);
      assert.ok(!values.includes(s), `a camera password is in a form field at ${where}`);
    }
  };
  try {
    await login(page, 'admin', '#/admin/cameras');
    await page.getByTestId('camera-row').first().waitFor();
    await page.waitForTimeout(3_500); // one status poll
    await check('#/admin/cameras');
    const cams = (await apiFromPage(page, 'GET', '/api/v1/cameras')).json || [];
    for (const cam of cams.slice(0, 8)) {
      const id = encodeURIComponent(cam.id);
      for (const sub of ['edit', 'zones', 'calibration']) {
        await page.goto(`${BASE}/#/admin/cameras/${id}/${sub}`);
        await page.getByTestId(sub === 'edit' ? 'camera-form' : sub === 'zones' ? 'zone-editor' : 'calib-editor').waitFor();
        await check(`${cam.id}/${sub}`);
      }
    }
    for (const hash of ['#/admin/cameras/new', '#/admin/grid', '#/admin/categories', '#/admin/users', '#/queue', '#/map', '#/stats']) {
      await page.goto(`${BASE}/${hash}`);
      await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {}); // the live stream keeps a connection open
      await page.waitForTimeout(500);
      await check(hash);
    }
    await Promise.all(pending);
    assert.ok(bodies.some((b) => b.url.includes('/api/v1/cameras')), 'the camera API responses were seen');
    for (const { url, text } of bodies) {
      for (const s of secrets) assert.ok(!text.includes(s), `a camera password is in the response to ${url}`);
    }
  } finally {
    await context.close();
  }
});

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}
