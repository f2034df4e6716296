// e2e-whiteboard.test.mjs — the whiteboard app in a real browser (headless
// Chromium) against a whole cluster: redis, PostgreSQL, the worker, two
// gateways and nginx serving web/.
//
// Alice's page is pinned to gateway 1 and Bob's to gateway 2, so every
// stroke crosses gateways through Redis. What each user sees is checked on
// the board canvas's pixels, and the folded state through the app's
// read-only digest (window.__chorusWhiteboard). Bob's page draws every full
// render of the committed layer in the workers (localStorage
// chorus.wb.parallel = always; render.js, raster.js), Alice's on the main
// thread (a small board), so the pixel checks cover both, and the last
// comparison of their canvases compares the two. The tests run in order on
// one board:
//   live stroke visible to the other user before pen-up, then committed;
//   per-user undo/redo; clear + a stroke drawn after it + undo of the clear;
//   PNG download; versions (save, view read-only, restore) and reload;
//   Alice offline while Bob draws, then exact catch-up;
//   live cursors with names, gone when their user leaves the board, who
//   then leaves the room's presence too, and joins it again on return.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after } from 'node:test';
import * as h from './harness.mjs';
import * as app from './e2e/app.mjs';
import {
  assertNoPageErrors as assertNoErrors, closeBrowsers, launchBrowser, screenshot, twoUsersOnTwoGateways,
} from './e2e/browser.mjs';
import { startCluster } from './e2e/cluster.mjs';
import * as wb from './e2e/whiteboard.mjs';

const sfx = crypto.randomBytes(2).toString('hex');
const ALICE = { username: `wbalice${sfx}`, displayName: 'Alice Artist' };
const BOB = { username: `wbbob${sfx}`, displayName: 'Bob Painter' };

let cluster;
let A; // Alice's page (gateway 1)
let B; // Bob's page (gateway 2)
let actx; // Alice's browser context
let wsId;
let roomId;
const shots = [];

// Strokes, in canvas CSS pixels: [points, a point on the line to probe].
const S1 = { pts: [[160, 120], [260, 160], [360, 130]], probe: [260, 160] }; // Alice
const S2 = { pts: [[160, 300], [260, 330], [360, 300]], probe: [260, 330] }; // Bob
const S3 = { pts: [[500, 120], [600, 160], [700, 120]], probe: [600, 160] }; // Bob, after the clear
const S4 = { pts: [[500, 300], [600, 340], [700, 300]], probe: [600, 340] }; // Alice, after version v1
const S5 = { pts: [[160, 460], [260, 500], [360, 460]], probe: [260, 500] }; // Bob, while Alice is offline
const S6 = { pts: [[500, 460], [600, 500], [700, 460]], probe: [600, 500] }; // Bob, while Alice is offline

h.setup(async () => {
  let browser;
  [cluster, browser] = await Promise.all([startCluster({ gateways: 2 }), launchBrowser()]);
  const { alice, bob } = await twoUsersOnTwoGateways(cluster, browser);
  A = alice.page;
  actx = alice.context;
  B = bob.page;
  await B.addInitScript(() => localStorage.setItem('chorus.wb.parallel', 'always'));
}, 90000);

after(async () => {
  if (shots.length) process.stdout.write(`# screenshots:\n${shots.map((s) => `#   ${s.file}${s.copy ? ` -> ${s.copy}` : ''}`).join('\n')}\n`);
  await closeBrowsers();
  await h.cleanup();
});

const assertNoPageErrors = (allow) => assertNoErrors([A, B], allow);

/** Both pages have folded exactly the same state. */
async function sameState(what) {
  let da;
  let db;
  await h.waitFor(async () => {
    [da, db] = await Promise.all([wb.digest(A), wb.digest(B)]);
    return da && db && da.seq === db.seq && da.pending === 0 && db.pending === 0;
  }, { timeoutMs: 8000, what: `${what}: both pages at the same seq` });
  assert.deepEqual(da.visible, db.visible, `${what}: visible objects`);
  assert.deepEqual(da.seqs, db.seqs, `${what}: object seqs`);
  return da;
}

const ink = (p, s) => wb.waitInk(p, ...s.probe, true);
const blank = (p, s) => wb.waitInk(p, ...s.probe, false);

h.itest('set up: two users, a workspace and a whiteboard room', { timeout: 60000 }, async () => {
  await app.register(A, ALICE);
  await app.register(B, BOB);
  wsId = await app.createWorkspace(A, 'Studio');
  await A.getByRole('link', { name: /Members/ }).first().click();
  assert.match(await app.invite(A, BOB.username), /was added as member/);
  await A.locator('.sidebar a', { hasText: 'Studio' }).first().click();
  await A.getByLabel('Room name').fill('Sketchpad');
  await A.getByLabel('Room kind').selectOption('whiteboard');
  await A.getByRole('button', { name: 'Create room' }).click();
  await A.getByRole('heading', { name: 'Sketchpad' }).waitFor();
  const el = A.locator('section.wb-app[data-room^="whiteboard."]');
  await el.waitFor();
  roomId = await el.getAttribute('data-room');
  await wb.waitRendered(A, roomId);
  await wb.openBoard(B, wsId, roomId);
  await B.getByRole('heading', { name: 'Sketchpad' }).waitFor();
  // Both present.
  await h.waitFor(async () => (await A.locator('[data-testid="room-presence"]').getAttribute('data-users'))?.split(',').length === 2,
    { what: 'two users on the board' });
  // The toolbar: labelled buttons with pressed state; the brush is on.
  assert.equal(await A.getByRole('button', { name: 'Brush' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await A.getByRole('button', { name: 'Eraser' }).getAttribute('aria-pressed'), 'false');
  assertNoPageErrors();
});

h.itest("a stroke in progress shows live on the other gateway, then commits", async () => {
  // Alice presses and moves without releasing: Bob's live layer has ink.
  await wb.drawStroke(A, S1.pts, { release: false });
  await ink(B, S1);
  const live = await wb.digest(B);
  assert.equal(live.visible.length, 0, 'not committed yet');
  await wb.release(A);
  // Committed: one object on both sides, same seq.
  await h.waitFor(async () => (await wb.digest(B)).visible.length === 1, { what: 'stroke committed at Bob' });
  await ink(A, S1);
  await ink(B, S1);
  const d = await sameState('after the first stroke');
  assert.equal(d.visible.length, 1);
  assert.equal((await wb.inkAt(B, 700, 500)), 0, 'elsewhere is blank');
  assertNoPageErrors();
});

h.itest("undo and redo are per user: Bob's undo never removes Alice's stroke", async () => {
  await wb.drawStroke(B, S2.pts);
  await ink(A, S2);
  await sameState('two strokes');
  // Bob undoes twice: his stroke goes, Alice's stays (he has nothing else to undo).
  await B.locator('[data-testid="wb-canvas"]').focus();
  await B.keyboard.press('Control+z');
  await blank(A, S2);
  await blank(B, S2);
  await B.keyboard.press('Control+z');
  await A.waitForTimeout(300);
  await ink(A, S1);
  await ink(B, S1);
  // Alice's undo removes hers; redo (toolbar button) restores it.
  await A.locator('[data-testid="wb-canvas"]').focus();
  await A.keyboard.press('Control+z');
  await blank(A, S1);
  await blank(B, S1);
  await A.getByRole('button', { name: 'Redo' }).click();
  await ink(A, S1);
  await ink(B, S1);
  // Bob's redo (Ctrl+Y) brings his stroke back, then Ctrl+Z takes it away again.
  await B.keyboard.press('Control+y');
  await ink(A, S2);
  await B.keyboard.press('Control+Shift+Z');
  await B.keyboard.press('Control+z');
  await blank(A, S2);
  await blank(B, S2);
  await sameState('after undo/redo');
  assertNoPageErrors();
});

h.itest('clear is confirmed, spares a stroke drawn after it, and undoing it brings the board back', async () => {
  const clear = A.getByRole('button', { name: 'Clear board' });
  await clear.click();
  await A.getByRole('button', { name: 'Confirm clear board' }).click();
  await blank(A, S1);
  await blank(B, S1);
  // Bob draws right after the clear: sequenced after it, never hidden by it.
  await wb.drawStroke(B, S3.pts);
  await ink(A, S3);
  await ink(B, S3);
  await sameState('after clear + new stroke');
  // Alice undoes the clear: her stroke is back and Bob's new one stays.
  await A.locator('[data-testid="wb-canvas"]').focus();
  await A.keyboard.press('Control+z');
  await ink(A, S1);
  await ink(B, S1);
  await ink(A, S3);
  await ink(B, S3);
  const d = await sameState('after undoing the clear');
  assert.equal(d.visible.length, 2);
  assertNoPageErrors();
});

h.itest('download PNG: the file holds the drawing on white', async () => {
  const [download] = await Promise.all([
    A.waitForEvent('download'),
    A.getByRole('button', { name: 'Download PNG' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^Sketchpad-\d{4}-\d{2}-\d{2}\.png$/);
  const file = await download.path();
  const bytes = fs.readFileSync(file);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  // The drawing's box (S1 and S3, 160..700 x 120..160 plus line width) plus a 32 px margin.
  const img = await wb.decodePng(A, bytes, [[2, 2]]);
  assert.ok(img.width > 540 && img.width < 660, `width ${img.width}`);
  assert.ok(img.height > 40 && img.height < 160, `height ${img.height}`);
  assert.equal(img.transparent, 0, 'opaque');
  assert.deepEqual(img.at[0], [255, 255, 255, 255], 'white background');
  assert.ok(img.ink > 400, `ink pixels: ${img.ink}`);
  // SVG too.
  const [svgDl] = await Promise.all([A.waitForEvent('download'), A.getByRole('button', { name: 'Download SVG' }).click()]);
  const svg = fs.readFileSync(await svgDl.path(), 'utf8');
  assert.match(svg, /^<\?xml/);
  assert.equal((svg.match(/<path /g) ?? []).length, 2, 'two strokes in the SVG');
  assertNoPageErrors();
});

h.itest('versions: save v1, draw more, view v1 read-only, restore it; a reload shows the same board', { timeout: 45000 }, async () => {
  await A.getByRole('button', { name: 'Versions' }).click();
  await A.getByLabel('Version name').fill('v1');
  await A.getByRole('button', { name: 'Save version' }).click();
  await A.locator('.wb-version[data-name="v1"]').waitFor();
  // More drawing after v1.
  await wb.drawStroke(A, S4.pts);
  await ink(B, S4);
  await sameState('after S4');
  // View v1: read-only, S4 absent on Alice's canvas, Bob unaffected.
  await A.getByRole('button', { name: 'View version v1' }).click();
  await A.locator('[data-testid="wb-version-banner"]').waitFor();
  await blank(A, S4);
  await ink(A, S1);
  await ink(A, S3);
  await ink(B, S4);
  assert.equal(await A.getByRole('button', { name: 'Brush' }).isDisabled(), true, 'drawing is off while viewing');
  await shot(A, 'whiteboard-version');
  await A.getByRole('button', { name: 'Back to live board' }).click();
  await ink(A, S4);
  // Restore v1 for everyone (a second click confirms).
  await A.getByRole('button', { name: 'Restore version v1' }).click();
  await A.getByRole('button', { name: 'Confirm restore version v1' }).click();
  await blank(A, S4);
  await blank(B, S4);
  await ink(A, S1);
  await ink(B, S1);
  await ink(A, S3);
  await ink(B, S3);
  const d = await sameState('after restoring v1');
  assert.equal(d.visible.length, 2, 'the two objects of v1, re-added');
  await A.getByRole('button', { name: 'Close versions' }).click();

  // A reload shows the same board.
  const before = await wb.canvasHash(B);
  await B.reload();
  await wb.waitRendered(B, roomId);
  await ink(B, S1);
  await ink(B, S3);
  await blank(B, S4);
  const afterReload = await wb.digest(B);
  assert.deepEqual(afterReload.visible, d.visible);
  assert.equal((await wb.canvasHash(B)).ink, before.ink, 'same pixels after the reload');
  assertNoPageErrors();
});

h.itest('shapes, text, colour; select, move, delete and undo; zoom keys', { timeout: 45000 }, async () => {
  const canvasA = A.locator('[data-testid="wb-canvas"]');
  await canvasA.focus();
  // A red rectangle.
  await A.keyboard.press('r');
  assert.equal(await A.getByRole('button', { name: 'Rectangle' }).getAttribute('aria-pressed'), 'true');
  await A.getByRole('button', { name: 'Colour Red' }).click();
  await wb.drag(A, [780, 200], [900, 280]);
  await wb.waitInk(B, 780, 240, true);
  const red = await B.evaluate(() => {
    const c = document.querySelector('[data-testid="wb-canvas"]');
    const d = c.getContext('2d').getImageData(779, 239, 3, 3).data;
    let best = [255, 255, 255];
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < best[0] + best[1] + best[2]) best = [d[i], d[i + 1], d[i + 2]];
    return best;
  });
  assert.ok(red[0] > 150 && red[1] < 120 && red[2] < 120, `red outline at Bob: ${red}`);
  // An ellipse (O), an arrow (A), text (T).
  await A.getByRole('button', { name: 'Colour Blue' }).click();
  await A.keyboard.press('o');
  await wb.drag(A, [780, 320], [900, 400]);
  await wb.waitInk(B, 840, 320, true);
  await A.keyboard.press('a');
  await wb.drag(A, [560, 230], [700, 400]);
  await wb.waitInk(B, 630, 315, true);
  await A.keyboard.press('t');
  const box = await wb.canvasBox(A);
  await A.mouse.click(box.x + 200, box.y + 220);
  await A.locator('textarea.wb-text-editor').waitFor();
  await A.keyboard.type('Hello team');
  await A.keyboard.press('Enter');
  await A.locator('textarea.wb-text-editor').waitFor({ state: 'detached' });
  await h.waitFor(async () => (await wb.inkAt(B, 230, 232, 12)) > 20, { what: 'text at Bob' });
  await sameState('after shapes and text');

  // Select the rectangle by its outline (V), drag it 60 px right.
  await A.keyboard.press('v');
  await wb.drag(A, [780, 240], [840, 240]);
  await wb.waitInk(B, 840, 240, true);
  await wb.waitInk(B, 780, 240, false);
  // Delete it (Delete key), then undo the delete.
  await A.keyboard.press('Delete');
  await wb.waitInk(B, 840, 240, false);
  await A.keyboard.press('Control+z');
  await wb.waitInk(B, 840, 240, true);
  await sameState('after move, delete, undo');

  // Zoom keys: + zooms in around the centre, 0 goes back to 100%.
  const label = A.getByRole('button', { name: 'Reset zoom to 100%' });
  await A.keyboard.press('+');
  await h.waitFor(async () => (await label.textContent()) === '125%', { what: 'zoomed to 125%' });
  await A.keyboard.press('0');
  await h.waitFor(async () => (await label.textContent()) === '100%', { what: 'back to 100%' });
  await A.keyboard.press('b');
  assertNoPageErrors();
});

h.itest('Alice offline while Bob draws: she catches up exactly', { timeout: 45000 }, async () => {
  const count = (await wb.digest(B)).visible.length;
  await actx.setOffline(true);
  // The page knows it is offline (navigator.onLine) and says so.
  await A.locator('#conn-banner[data-state="offline"]:not([hidden])').waitFor({ timeout: 10000 });
  await wb.drawStroke(B, S5.pts);
  await wb.drawStroke(B, S6.pts);
  await ink(B, S5);
  await ink(B, S6);
  await h.waitFor(async () => (await wb.digest(B)).pending === 0, { what: "Bob's strokes acknowledged" });
  const dA = await wb.digest(A);
  assert.ok(!dA.visible.includes((await wb.digest(B)).visible.at(-1)), 'Alice has not seen them yet');
  await new Promise((r) => setTimeout(r, 1500));
  await actx.setOffline(false);
  await wb.waitInk(A, ...S5.probe, true, { timeout: 20000 });
  await ink(A, S6);
  const d = await sameState('after catching up');
  assert.equal(d.visible.length, count + 2);
  // The same pixels on both canvases.
  const [pa, pb] = await Promise.all([wb.canvasPixels(A), wb.canvasPixels(B)]);
  const diff = wb.pixelDiff(pa, pb);
  assert.ok(diff < pa.length / 4 / 2000, `pixels differ: ${diff}`);
  // ... Alice's drawn on the main thread, Bob's in the workers.
  const [sa, sb] = await Promise.all([A, B].map((p) => p.evaluate(() => window.__chorusWhiteboard.stats())));
  assert.equal(sa.parallelRenders, 0);
  assert.ok(sb.parallelRenders > 0, `Bob's full renders in workers: ${sb.parallelRenders}`);
  await shot(A, 'whiteboard');
  assertNoPageErrors([/WebSocket|ERR_INTERNET_DISCONNECTED|net::ERR/]);
});

h.itest("live cursors: Bob sees Alice's pointer with her name, until she leaves the board; leaving it leaves the room", { timeout: 45000 }, async () => {
  const box = await wb.canvasBox(A);
  const label = B.locator('.wb-cursor .wb-cursor-name', { hasText: ALICE.displayName });
  for (const [x, y] of [[380, 240], [400, 250]]) await A.mouse.move(box.x + x, box.y + y, { steps: 4 });
  await label.waitFor();
  // Where Alice points (both pages show the board at 100% from the origin).
  await h.waitFor(async () => {
    const at = await B.evaluate(() => {
      const c = document.querySelector('[data-testid="wb-canvas"]').getBoundingClientRect();
      const names = [...document.querySelectorAll('.wb-cursor')];
      return names.map((el) => {
        const r = el.getBoundingClientRect();
        return { name: el.textContent, x: r.left - c.left, y: r.top - c.top };
      });
    });
    return at.length === 1 && at[0].name === ALICE.displayName && Math.abs(at[0].x - 400) <= 4 && Math.abs(at[0].y - 250) <= 4;
  }, { timeoutMs: 3000, what: "Alice's cursor at (400, 250) on Bob's board" });
  // Alice leaves the board for the room list: her cursor goes well before
  // an idle cursor would (5 s).
  await A.mouse.move(box.x + 410, box.y + 255);
  const aliceId = await A.evaluate(() => String(JSON.parse(localStorage.getItem('chorus.auth')).user.id));
  const presentAtB = async () => ((await B.locator('[data-testid="room-presence"]').getAttribute('data-users')) ?? '').split(',');
  assert.ok((await presentAtB()).includes(aliceId), 'Alice present on the board');
  await A.goto(A.appBase + `#/w/${wsId}`);
  await label.waitFor({ state: 'detached', timeout: 2500 });
  // The page leaves the room shortly after (not at once: a quick re-open
  // reuses it): Bob no longer sees her among those on the board.
  await h.waitFor(async () => !(await presentAtB()).includes(aliceId), { timeoutMs: 3500, what: 'Alice gone from the board\'s presence at Bob' });
  // Opening it again joins it again: present, and live again.
  await A.goto(A.appBase + `#/w/${wsId}/r/${roomId}`);
  await wb.waitRendered(A, roomId);
  await h.waitFor(async () => (await presentAtB()).includes(aliceId), { timeoutMs: 5000, what: 'Alice back in the board\'s presence' });
  const before = (await wb.digest(A)).visible.length;
  await wb.drawStroke(B, [[160, 390], [260, 410], [360, 390]]);
  await wb.waitInk(A, 260, 410, true);
  await sameState('after re-opening the board');
  assert.equal((await wb.digest(A)).visible.length, before + 1);
  assertNoPageErrors([/WebSocket|ERR_INTERNET_DISCONNECTED|net::ERR/]); // from Alice's time offline above
});

const shot = async (page, name) => {
  // Without the notices of the last steps.
  await page.locator('#toasts .toast').first().waitFor({ state: 'detached', timeout: 6000 }).catch(() => {});
  shots.push(await screenshot(page, name));
};
