// browser.mjs — headless Chromium (Debian's /usr/bin/chromium) through
// playwright-core, with the flags our machines need, plus page helpers for
// the web app tests.
//
// Playwright starts the browser with a fresh --user-data-dir of its own in
// the system temp folder and deletes it on close; the extra flags keep
// Chromium off the network (without them it tries to reach the internet
// and stalls). Each browser context is a separate user: its own
// localStorage, cookies and WebSocket.
//
// Environment: CHORUS_CHROMIUM (browser binary, default /usr/bin/chromium),
// CHORUS_ARTIFACTS_DIR (where screenshots are kept after the run, default
// build/artifacts; screenshots go to its screenshots/ folder),
// CHORUS_DOC_SCREENSHOTS=1 (also refresh the copies in docs/screenshots/).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { chromium } from 'playwright-core';
import * as h from '../harness.mjs';
import { REPO_ROOT } from './cluster.mjs';

export const CHROMIUM = process.env.CHORUS_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const VIEWPORT = { width: 1280, height: 800 };
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'docs', 'screenshots');
const ARTIFACT_DIR = path.join(process.env.CHORUS_ARTIFACTS_DIR ?? path.join(REPO_ROOT, 'build', 'artifacts'),
  'screenshots');

const browsers = new Set();

/** Launches headless Chromium; it is closed after the test file. */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set CHORUS_CHROMIUM`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30000,
  });
  browsers.add(browser);
  return browser;
}

export async function closeBrowsers() {
  await Promise.all([...browsers].map((b) => b.close().catch(() => {})));
  browsers.clear();
}

after(() => closeBrowsers());

/**
 * A new user: its own browser context and page. Console errors and page
 * errors are collected in page.errors (tests assert there are none).
 */
export async function newUser(browser, label) {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`${label}: page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`${label}: console error: ${msg.text()}`);
  });
  page.label = label;
  return { context, page };
}

/**
 * Alice and Bob, each a new user (newUser), for tests where every change
 * crosses gateways through Redis: Alice's page is pinned to gateway 1 and
 * Bob's to gateway 2 with the ?ws= override, the load balancer being each
 * page's fallback (page.appBase). A dialog the test did not expect is
 * dismissed and counted in page.errors. Resolves {alice, bob}, each
 * {context, page}.
 */
export async function twoUsersOnTwoGateways(cluster, browser) {
  const lb = `${cluster.url.replace(/^http/, 'ws')}/ws`;
  const alice = await newUser(browser, 'alice');
  const bob = await newUser(browser, 'bob');
  alice.page.appBase = appUrl(cluster.url, { ws: [cluster.gateways[0].wsUrl, lb] });
  bob.page.appBase = appUrl(cluster.url, { ws: [cluster.gateways[1].wsUrl, lb] });
  for (const p of [alice.page, bob.page]) {
    p.on('dialog', (d) => { p.errors.push(`${p.label}: unexpected dialog: ${d.message()}`); d.dismiss(); });
  }
  return { alice, bob };
}

/** Fails the test on the pages' errors, except those matching one of allow (regexps). */
export function assertNoPageErrors(pages, allow = []) {
  for (const p of pages) {
    const bad = p.errors.filter((e) => !allow.some((re) => re.test(e)));
    assert.deepEqual(bad, [], `${p.label} had page errors`);
  }
}

/** The app URL with the gateway override (?ws=...), then a hash route. */
export function appUrl(base, { ws = [], route = '' } = {}) {
  const q = ws.length ? `?ws=${ws.map(encodeURIComponent).join(',')}` : '';
  return `${base}/${q}${route ? `#${route}` : ''}`;
}

/**
 * Saves a PNG of the page into the test's temporary folder and copies it
 * to docs/screenshots/ (overwriting). Returns both paths.
 */
export async function screenshot(page, name) {
  const dir = ARTIFACT_DIR;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  // No hover effects from the last click.
  const vp = page.viewportSize() ?? VIEWPORT;
  await page.mouse.move(vp.width - 1, vp.height - 1);
  await page.screenshot({ path: file, type: 'png', animations: 'disabled', caret: 'hide' });
  let copy = null;
  if (process.env.CHORUS_DOC_SCREENSHOTS === '1') {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    copy = path.join(SCREENSHOT_DIR, `${name}.png`);
    fs.copyFileSync(file, copy);
  }
  return { file, copy };
}
