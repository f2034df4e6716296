// e2e-app.test.mjs — the web app shell in a real browser (headless
// Chromium) against a whole cluster (redis, PostgreSQL, worker, two
// gateways requiring room access lists, nginx serving web/).
//
// Pages use the default WebSocket URL (the load balancer, no ?ws=).
// Covers: form validation and API errors on register and sign-in, sign-out
// and the redirect to sign-in, members and roles (invite, change role,
// remove, leave) with the errors the role rules produce, a removed member
// cut off from a room live, rooms of other kinds opening in their own apps, and
// the connection banner: offline while the browser has no network, and with
// every gateway down the app says it is reconnecting, keeps a message as
// pending, and sends it once they are back.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as h from './harness.mjs';
import * as app from './e2e/app.mjs';
import { appUrl, closeBrowsers, launchBrowser, newUser } from './e2e/browser.mjs';
import { startCluster } from './e2e/cluster.mjs';

const sfx = crypto.randomBytes(2).toString('hex');
const OWNER = { username: `olivia${sfx}`, displayName: 'Olivia Owner' };
const ADMIN = { username: `adam${sfx}`, displayName: 'Adam Admin' };
const MEMBER = { username: `mia${sfx}`, displayName: 'Mia Member' };

let cluster;
let browser;
let O; let D; let M; // pages of the owner, the admin-to-be and the member
let wsId;

h.setup(async () => {
  [cluster, browser] = await Promise.all([startCluster({ gateways: 2 }), launchBrowser()]);
  O = (await newUser(browser, 'owner')).page;
  D = (await newUser(browser, 'admin')).page;
  M = (await newUser(browser, 'member')).page;
  for (const p of [O, D, M]) p.appBase = appUrl(cluster.url);
}, 90000);

after(async () => {
  await closeBrowsers();
  await h.cleanup();
});

/** Page errors other than the browser's log lines for API answers the test provoked (401, 403, 404, 409). */
const unexpected = (p) => p.errors.filter((e) => !/Failed to load resource: the server responded with a status of 40[1349]/.test(e));

h.itest('register and sign-in show clear errors; sign-out returns to sign-in', { timeout: 45000 }, async () => {
  // A signed-out visitor is sent to sign-in.
  await O.goto(O.appBase + '#/w');
  await O.getByRole('heading', { name: 'Sign in' }).waitFor();

  // Client-side validation, then the server's answers.
  await O.getByRole('link', { name: 'Create an account' }).click();
  await O.getByLabel('Username').fill('ab');
  await O.getByLabel('Password').fill('short');
  await O.getByRole('button', { name: 'Create account' }).click();
  await O.getByText('Use 3 to 32 characters').first().waitFor();
  await O.getByText('Use at least 8 characters.').waitFor();

  await app.register(O, OWNER);
  await app.register(D, ADMIN);
  await app.register(M, MEMBER);

  // The same username again is refused with a message on the field.
  await O.getByRole('button', { name: /Sign out/ }).click();
  await O.getByRole('heading', { name: 'Sign in' }).waitFor();
  await O.getByRole('link', { name: 'Create an account' }).click();
  await O.getByLabel('Username').fill(OWNER.username);
  await O.getByLabel('Password').fill(app.PASSWORD);
  await O.getByRole('button', { name: 'Create account' }).click();
  await O.getByText('That username is taken').waitFor();

  // A wrong password.
  await O.goto(O.appBase + '#/login');
  await O.getByLabel('Username').fill(OWNER.username);
  await O.getByLabel('Password').fill('not the password');
  await O.getByRole('button', { name: 'Sign in' }).click();
  await O.getByText('Wrong username or password.').waitFor();

  // Signed out, protected routes go to sign-in.
  await O.goto(O.appBase + '#/w');
  await O.getByRole('heading', { name: 'Sign in' }).waitFor();
  await app.login(O, OWNER);
  assert.equal(await O.locator('[data-testid="me"]').textContent(), OWNER.displayName);
  // A reload stays signed in.
  await O.reload();
  await O.getByRole('heading', { name: 'Your workspaces' }).waitFor();
  for (const p of [O, D, M]) assert.deepEqual(unexpected(p), [], `${p.label} had page errors`);
});

h.itest('members and roles: invite, change roles, remove; forbidden actions explain why', { timeout: 45000 }, async () => {
  wsId = await app.createWorkspace(O, 'Operations');
  await O.getByRole('link', { name: /Members/ }).first().click();
  assert.match(await app.invite(O, ADMIN.username, 'admin'), /was added as admin/);
  await O.reload();
  await O.locator(`.member-row[data-username="${ADMIN.username}"]`).waitFor();
  assert.match(await app.invite(O, MEMBER.username, 'member'), /was added as member/);
  await O.reload();
  assert.match(await app.invite(O, MEMBER.username), /already a member/);
  await O.reload();
  assert.match(await app.invite(O, `nobody${sfx}`), /No user with that username/);

  // The member may not invite.
  await M.goto(M.appBase + `#/w/${wsId}/members`);
  await M.locator(`.member-row[data-username="${OWNER.username}"]`).waitFor();
  assert.match(await app.invite(M, `someone${sfx}`), /Your role does not allow this/);
  // ... and sees no role controls for others, only "Leave" for themself.
  assert.equal(await M.locator('.member-row select').count(), 0);
  assert.equal(await M.locator(`.member-row[data-username="${OWNER.username}"] button`).count(), 0);
  assert.equal(await M.locator(`.member-row[data-username="${MEMBER.username}"] button`, { hasText: 'Leave' }).count(), 1);

  // The admin may invite members but not admins.
  const extra = `extra${sfx}`;
  const r = await cluster.api('POST', '/auth/register', { body: { username: extra, password: app.PASSWORD } });
  assert.equal(r.status, 201, r.body);
  await D.goto(D.appBase + `#/w/${wsId}/members`);
  await D.locator(`.member-row[data-username="${OWNER.username}"]`).waitFor();
  assert.match(await app.invite(D, extra, 'admin'), /Your role does not allow this/);
  await D.reload();
  assert.match(await app.invite(D, extra, 'member'), /was added as member/);
  await D.locator(`.member-row[data-username="${extra}"]`).waitFor();

  // The only owner cannot step down.
  const ownRole = O.locator(`.member-row[data-username="${OWNER.username}"] select`);
  await ownRole.selectOption('member');
  await O.getByText('A workspace needs at least one owner').waitFor();
  assert.equal(await ownRole.inputValue(), 'owner');

  // The owner promotes the member to admin; the member's page follows.
  await O.locator(`.member-row[data-username="${MEMBER.username}"] select`).selectOption('admin');
  await O.getByText(`${MEMBER.displayName} is now admin`).waitFor();
  await M.reload();
  await M.locator('.sidebar .badge', { hasText: 'Admin' }).waitFor();

  // The owner removes the admin (two clicks: confirm).
  const remove = O.locator(`.member-row[data-username="${ADMIN.username}"] button`, { hasText: /Remove/ });
  await remove.click();
  await O.locator(`.member-row[data-username="${ADMIN.username}"] button`, { hasText: 'Confirm remove' }).click();
  await O.locator(`.member-row[data-username="${ADMIN.username}"]`).waitFor({ state: 'detached' });
  await D.goto(D.appBase + '#/w');
  await D.locator('.ws-card').first().waitFor({ state: 'detached' }).catch(() => {});
  await D.goto(D.appBase + `#/w/${wsId}`);
  await D.getByText('This workspace is not available').waitFor();
  for (const p of [O, D, M]) assert.deepEqual(unexpected(p), [], `${p.label} had page errors`);
});

h.itest('a removed member is cut off from the room live; a whiteboard opens in its own app', { timeout: 45000 }, async () => {
  // Mia is in #general when the owner removes her.
  await M.goto(M.appBase + `#/w/${wsId}`);
  await app.openRoom(M, 'general');
  await app.openRoom(O, 'general');
  await app.send(O, 'hello Mia');
  await app.waitForMessage(M, 'hello Mia', 2000);
  await O.goto(O.appBase + `#/w/${wsId}/members`);
  const remove = O.locator(`.member-row[data-username="${MEMBER.username}"] button`, { hasText: /Remove/ });
  await remove.click();
  await O.locator(`.member-row[data-username="${MEMBER.username}"] button`, { hasText: 'Confirm remove' }).click();
  await M.getByText('You no longer have access to this room').waitFor({ timeout: 3000 });
  assert.equal(await M.locator('textarea.composer-input').isDisabled(), true);

  // Rooms of other kinds.
  await O.goto(O.appBase + `#/w/${wsId}`);
  await O.getByLabel('Room name').fill('Sketches');
  await O.getByLabel('Room kind').selectOption('whiteboard');
  await O.getByRole('button', { name: 'Create room' }).click();
  await O.getByRole('heading', { name: 'Sketches' }).waitFor();
  await O.locator('.wb-app[data-room^="whiteboard."]').waitFor();
  await O.locator('.sidebar a[data-kind="whiteboard"]', { hasText: 'Sketches' }).waitFor();

  // Its shared link opens it from the rooms page; something else is refused.
  const link = O.url();
  const id = await O.locator('.wb-app').getAttribute('data-room');
  await O.goto(O.appBase + `#/w/${wsId}`);
  await O.getByLabel('Room id or link').fill('not a room');
  await O.getByRole('button', { name: 'Open', exact: true }).click();
  await O.getByText('Paste a room id such as').waitFor();
  await O.getByLabel('Room id or link').fill(link);
  await O.getByRole('button', { name: 'Open', exact: true }).click();
  await O.locator(`.wb-app[data-room="${id}"]`).waitFor();
});

h.itest('offline and reconnecting banners; a message written with every gateway down is sent once they are back', { timeout: 60000 }, async () => {
  await O.goto(O.appBase + `#/w/${wsId}`);
  await app.openRoom(O, 'general');
  await h.waitFor(async () => (await app.connection(O)).state === 'connected', { what: 'connected' });
  const banner = O.locator('#conn-banner');
  assert.equal(await banner.isHidden(), true);

  // The browser reports no network: the app says it is offline.
  await O.context().setOffline(true);
  await banner.waitFor({ state: 'visible', timeout: 3000 });
  assert.match(await banner.textContent(), /You are offline/);
  assert.equal((await app.connection(O)).state, 'offline');
  await O.context().setOffline(false);
  await banner.waitFor({ state: 'hidden', timeout: 15000 });
  await h.waitFor(async () => (await app.connection(O)).state === 'connected', { timeout: 15000, what: 'connected again' });

  await Promise.all(cluster.gateways.map((g) => g.stop({ timeoutMs: 5000 })));
  await banner.waitFor({ state: 'visible', timeout: 5000 });
  assert.match(await banner.textContent(), /Reconnecting/);
  assert.notEqual((await app.connection(O)).state, 'connected');

  await app.send(O, 'written while offline');
  const pending = O.locator('.msg[data-pending]', { hasText: 'written while offline' });
  await pending.waitFor();
  assert.match(await pending.textContent(), /Waiting for connection/);

  for (const g of cluster.gateways) await g.start();
  await banner.waitFor({ state: 'hidden', timeout: 25000 });
  await app.waitForMessage(O, 'written while offline', 5000);
  await pending.waitFor({ state: 'detached' });
  const list = await app.messages(O);
  assert.equal(list.filter((m) => m.text === 'written while offline').length, 1);
  app.assertSeqOrder(list, 'after the outage');
});
