// e2e-chat.test.mjs — the chat app in a real browser (headless Chromium)
// against a whole cluster: redis, PostgreSQL, the worker, two gateways
// (room access lists required) and nginx serving web/ with /api and /ws.
//
// Two users in two browser contexts: Alice's page is pinned to gateway 1
// and Bob's to gateway 2 with the ?ws= override (the load balancer is each
// page's fallback), so every message crosses gateways through Redis.
//
// The tests run in order and share the users, workspace and rooms:
// register + invite + chat both ways (each message within 1 s), HTML shown
// as text, mentions, edit and delete, typing and presence that expire,
// unread counts, reload + scroll-back through history pages, and finally
// gateway 1 killed under Alice: she reconnects through the load balancer
// and gets what Bob sent meanwhile exactly once, in order, while her own
// message sent offline goes out once. Screenshots of the main screens are
// saved into the test's temporary folder and docs/screenshots/.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as h from './harness.mjs';
import * as app from './e2e/app.mjs';
import {
  assertNoPageErrors as assertNoErrors, closeBrowsers, launchBrowser, screenshot, twoUsersOnTwoGateways,
} from './e2e/browser.mjs';
import { startCluster } from './e2e/cluster.mjs';

const sfx = crypto.randomBytes(2).toString('hex');
const ALICE = { username: `alice${sfx}`, displayName: 'Alice Liddell' };
const BOB = { username: `bob${sfx}`, displayName: 'Bob Builder' };

let cluster;
let A; // Alice's page (gateway 1)
let B; // Bob's page (gateway 2)
let wsId;
let apiToken; // Bob's API token, for bulk publishing
const shots = [];

h.setup(async () => {
  let browser;
  [cluster, browser] = await Promise.all([startCluster({ gateways: 2 }), launchBrowser()]);
  const { alice, bob } = await twoUsersOnTwoGateways(cluster, browser);
  A = alice.page;
  B = bob.page;
}, 90000);

after(async () => {
  if (shots.length) process.stdout.write(`# screenshots:\n${shots.map((s) => `#   ${s.file}${s.copy ? ` -> ${s.copy}` : ''}`).join('\n')}\n`);
  await closeBrowsers();
  await h.cleanup();
});

const shot = async (page, name) => shots.push(await screenshot(page, name));

/** Fails the test on page errors (console errors from a refused WebSocket to a dead gateway are expected). */
const assertNoPageErrors = (allow) => assertNoErrors([A, B], allow);

h.itest('register both users, create a workspace, invite, chat both ways across two gateways', { timeout: 60000 }, async () => {
  // The sign-in screen, as a new visitor sees it.
  await B.goto(B.appBase + '#/login');
  await B.getByRole('button', { name: 'Sign in' }).waitFor();
  await shot(B, 'login');

  await app.register(A, ALICE);
  await app.register(B, BOB);
  assert.equal(await A.locator('[data-testid="me"]').textContent(), ALICE.displayName);

  wsId = await app.createWorkspace(A, 'Design team');
  // Alice is the owner; invite Bob as a member from the members page.
  await A.getByRole('link', { name: /Members/ }).first().click();
  const note = await app.invite(A, BOB.username);
  assert.match(note, new RegExp(`@${BOB.username} was added as member`));
  await A.locator(`.member-row[data-username="${BOB.username}"]`).waitFor();

  // A second chat room and a board (it opens in the board app).
  await A.getByRole('link', { name: 'Design team' }).first().click();
  await A.getByLabel('Room name').fill('random');
  await A.getByRole('button', { name: 'Create room' }).click();
  await A.locator('.chat-head h1:text-is("random")').waitFor();
  await A.locator('.sidebar a', { hasText: 'Design team' }).first().click();
  await A.getByLabel('Room name').fill('Roadmap');
  await A.getByLabel('Room kind').selectOption('board');
  await A.getByRole('button', { name: 'Create room' }).click();
  await A.locator('.board-app[data-room^="board."]').waitFor();
  await A.locator('.sidebar a', { hasText: 'Design team' }).first().click();
  await A.locator('.room-card', { hasText: 'Roadmap' }).waitFor();

  // Bob sees the workspace without reloading (the list refreshes on focus).
  await B.evaluate(() => window.dispatchEvent(new Event('focus')));
  await B.locator('.ws-card', { hasText: 'Design team' }).click();
  await B.locator('.sidebar').waitFor();

  await app.openRoom(A, 'general');
  await app.openRoom(B, 'general');
  // Each page is on its own gateway.
  await h.waitFor(async () => (await app.connection(A)).node === 'gw1', { what: "Alice's page on gw1" });
  await h.waitFor(async () => (await app.connection(B)).node === 'gw2', { what: "Bob's page on gw2" });

  // Alice -> Bob and Bob -> Alice, each within 1 s. Alice's message shows
  // at once as pending, then confirmed.
  await app.recordPending(A);
  await app.send(A, 'Hello Bob, this is Alice on gateway 1');
  const ab = await app.waitForMessage(B, 'Hello Bob, this is Alice on gateway 1', 1000);
  await app.waitForMessage(A, 'Hello Bob, this is Alice on gateway 1', 1000);
  assert.deepEqual(await app.pendingSeen(A), ['Hello Bob, this is Alice on gateway 1'], 'shown as pending before its event');
  assert.equal(await A.locator('.msg[data-pending]').count(), 0, 'confirmed');
  await app.send(B, 'Hi Alice! Bob here, on gateway 2');
  const ba = await app.waitForMessage(A, 'Hi Alice! Bob here, on gateway 2', 1000);
  process.stdout.write(`# delivery across gateways: A->B ${ab} ms, B->A ${ba} ms\n`);

  // A burst keeps server order on both sides.
  for (let i = 1; i <= 5; i++) await app.send(A, `burst ${i}`);
  await app.waitForMessage(B, 'burst 5', 3000);
  await app.waitForMessage(A, 'burst 5', 3000);
  for (const p of [A, B]) {
    const list = await app.messages(p);
    app.assertSeqOrder(list, p.label);
    const bursts = list.filter((m) => m.text.startsWith('burst ')).map((m) => m.text);
    assert.deepEqual(bursts, ['burst 1', 'burst 2', 'burst 3', 'burst 4', 'burst 5'], p.label);
  }
  // Both are online in the room.
  await h.waitFor(async () => (await A.locator('[data-testid="room-presence"]').getAttribute('data-users'))?.split(',').length === 2,
    { what: 'two users online in #general' });
  assertNoPageErrors();
});

h.itest('a message with HTML in it shows as text', async () => {
  const evil = '<script>alert(1)</script><b>x</b>';
  await app.send(A, evil);
  await app.waitForMessage(B, evil, 2000);
  await app.waitForMessage(A, evil, 2000);
  for (const p of [A, B]) {
    const found = await p.evaluate((want) => {
      const el = [...document.querySelectorAll('.msg[data-seq] .msg-text')].find((n) => n.textContent.includes(want));
      return el && { text: el.textContent, b: el.querySelectorAll('b').length, script: el.querySelectorAll('script').length };
    }, evil);
    assert.ok(found, `${p.label}: message not shown`);
    assert.equal(found.text, evil);
    assert.equal(found.b, 0, `${p.label}: a <b> element was created`);
    assert.equal(found.script, 0, `${p.label}: a <script> element was created`);
    assert.equal(await p.locator('.msg-list b, .msg-list script').count(), 0, `${p.label}: markup in the message list`);
  }
  assertNoPageErrors();
});

h.itest('keyboard: Shift+Enter, @mention completion; mentions highlighted; edit and delete own messages', async () => {
  // Shift+Enter is a new line, Enter sends.
  const box = A.locator('textarea.composer-input');
  await box.pressSequentially('first line');
  await box.press('Shift+Enter');
  await box.pressSequentially('second line');
  await box.press('Enter');
  await app.waitForMessage(B, 'first line\nsecond line', 2000);

  // "@bo" offers Bob; Enter completes the name instead of sending.
  await box.pressSequentially('@' + BOB.username.slice(0, 2));
  await A.getByRole('option', { name: new RegExp(BOB.displayName) }).waitFor();
  await box.press('Enter');
  assert.equal(await box.inputValue(), `@${BOB.username} `);
  await box.pressSequentially('can you review the mockups?');
  await box.press('Enter');
  await app.waitForMessage(B, `@${BOB.username} can you review the mockups?`, 2000);
  const mention = B.locator('.msg.msg-mention .mention-me', { hasText: `@${BOB.username}` });
  await mention.waitFor();
  await A.locator('.msg[data-seq] .mention', { hasText: `@${BOB.username}` }).first().waitFor();

  // Bob sees no edit/delete controls on Alice's messages; Alice does on hers.
  const aliceMsg = (text) => A.locator('.msg[data-seq]', { hasText: text }).last();
  const bobView = B.locator('.msg[data-seq]', { hasText: 'can you review the mockups' }).last();
  assert.equal(await bobView.locator('[data-action="edit"]').count(), 0);

  // Edit: Escape cancels, Enter saves.
  await aliceMsg('can you review the mockups').hover();
  await aliceMsg('can you review the mockups').locator('[data-action="edit"]').click();
  const editor = A.locator('textarea.edit-input');
  await editor.fill('this edit is cancelled');
  await editor.press('Escape');
  await A.locator('textarea.edit-input').waitFor({ state: 'detached' });
  await aliceMsg('can you review the mockups').hover();
  await aliceMsg('can you review the mockups').locator('[data-action="edit"]').click();
  await A.locator('textarea.edit-input').fill(`@${BOB.username} can you review the new mockups?`);
  await A.locator('textarea.edit-input').press('Enter');
  await app.waitForMessage(B, `@${BOB.username} can you review the new mockups?`, 2000);
  assert.equal(await B.locator('.msg[data-seq]', { hasText: 'new mockups' }).locator('.msg-edited').count(), 1);
  assert.equal(await B.getByText('this edit is cancelled').count(), 0);

  // Delete needs a second click to confirm.
  await app.send(A, 'a message to delete');
  await app.waitForMessage(B, 'a message to delete', 2000);
  const doomed = aliceMsg('a message to delete');
  await doomed.hover();
  await doomed.locator('[data-action="delete"]').click();
  await doomed.locator('[data-action="delete"]').click();
  await B.waitForFunction(() => [...document.querySelectorAll('.msg.is-deleted .msg-text')]
    .some((el) => el.textContent === 'This message was deleted.'));
  assert.equal(await B.getByText('a message to delete').count(), 0);
  assertNoPageErrors();
});

h.itest('typing indicator and presence appear and expire; unread counts update live', { timeout: 60000 }, async () => {
  // Typing: Bob types without sending; Alice sees it, and it expires.
  // Keys pressed within 1.5 s send one "typing" event; the indicator
  // lasts 3 s from the last one it got.
  const typing = A.locator('[data-testid="typing"]');
  await B.locator('textarea.composer-input').pressSequentially('I am thinking about', { delay: 10 });
  await typing.getByText(`${BOB.displayName} is typing`).waitFor({ timeout: 3000 });
  const t0 = Date.now();
  await shot(A, 'chat-typing');
  await typing.getByText('is typing').waitFor({ state: 'detached', timeout: 9000 });
  const expiredAfter = Date.now() - t0;
  process.stdout.write(`# typing indicator disappeared ${expiredAfter} ms after it appeared\n`);
  // About 3 s; the upper bound leaves room for a loaded CI machine.
  assert.ok(expiredAfter >= 2000 && expiredAfter <= 7000, `typing indicator expired after ${expiredAfter} ms`);
  // Sending clears it at once on the other side.
  await B.locator('textarea.composer-input').pressSequentially(' it', { delay: 15 });
  await typing.getByText('is typing').waitFor({ timeout: 3000 });
  await B.locator('textarea.composer-input').press('Enter');
  await app.waitForMessage(A, 'I am thinking about it', 3000);
  await typing.getByText('is typing').waitFor({ state: 'detached', timeout: 2000 });

  // Presence: Bob leaves the workspace page, then comes back.
  const users = () => A.locator('[data-testid="room-presence"]').getAttribute('data-users');
  await B.goto(B.appBase + '#/w');
  await h.waitFor(async () => (await users()).split(',').filter(Boolean).length === 1, { timeout: 5000, what: 'Bob to leave the presence list' });
  await A.locator('[data-testid="online-list"] li', { hasText: BOB.displayName }).waitFor({ state: 'detached' });
  await B.goto(B.appBase + `#/w/${wsId}`);
  await B.locator('.sidebar').waitFor();
  await h.waitFor(async () => (await users()).split(',').filter(Boolean).length === 2, { timeout: 5000, what: 'Bob back in the presence list' });
  await A.locator('[data-testid="online-list"] li', { hasText: BOB.displayName }).waitFor();

  // Unread: Bob writes in #random while Alice reads #general.
  await app.openRoom(B, 'random');
  assert.equal(await app.unreadBadge(A, 'random'), 0);
  for (let i = 1; i <= 3; i++) await app.send(B, `random note ${i}`);
  await app.waitForMessage(B, 'random note 3', 3000);
  await h.waitFor(async () => (await app.unreadBadge(A, 'random')) === 3, { timeout: 5000, what: "Alice's unread badge on #random = 3" });
  // ... and Alice writes in #general while Bob is in #random.
  await app.send(A, 'ping in general');
  await h.waitFor(async () => (await app.unreadBadge(B, 'general')) === 1, { timeout: 5000, what: "Bob's unread badge on #general = 1" });
  await shot(A, 'chat');
  await shot(B, 'chat-bob');

  // Opening the room clears the badge, and the read marker survives a reload.
  await app.openRoom(A, 'random');
  await h.waitFor(async () => (await app.unreadBadge(A, 'random')) === 0, { what: 'badge cleared' });
  await app.openRoom(A, 'general');
  await h.waitFor(async () => {
    const r = await cluster.api('GET', `/workspaces/${wsId}/unread`, { token: await A.evaluate(() => JSON.parse(localStorage.getItem('chorus.auth')).access_token) });
    const chats = r.status === 200 ? r.json.filter((u) => u.kind === 'chat') : [];
    return chats.length === 2 && chats.every((u) => u.unread === 0 && u.read_seq === u.last_seq);
  }, { timeout: 5000, what: "Alice's read markers stored (nothing unread)" });
  await A.reload();
  await app.waitLoaded(A);
  await A.locator('.sidebar a[data-kind="chat"]', { hasText: 'random' }).waitFor();
  assert.equal(await app.unreadBadge(A, 'random'), 0);
  await app.openRoom(B, 'general');
  await h.waitFor(async () => (await app.unreadBadge(B, 'general')) === 0, { what: "Bob's badge cleared" });
  assertNoPageErrors();
});

h.itest('reload keeps the history; scroll-back loads older pages', { timeout: 60000 }, async () => {
  // 240 messages by Bob through the API: more than the 200 the snapshot
  // holds, so scrolling back also reads history pages.
  const login = await cluster.api('POST', '/auth/login', { body: { username: BOB.username, password: app.PASSWORD } });
  assert.equal(login.status, 200, login.body);
  apiToken = login.json.access_token;
  const rooms = await cluster.api('GET', `/workspaces/${wsId}/rooms?kind=chat`, { token: apiToken });
  const general = rooms.json.rooms.find((r) => r.name === 'general').id;
  const N = 240;
  for (let i = 0; i < N; i++) {
    const r = await cluster.api('POST', `/rooms/${general}/events`, {
      token: apiToken,
      body: { kind: 'message.create', cid: `bulk-${sfx}-${i}`, payload: { text: `bulk ${String(i).padStart(3, '0')}` } },
    });
    assert.equal(r.status, 201, r.body);
  }
  await app.waitForMessage(A, `bulk ${String(N - 1).padStart(3, '0')}`, 5000);

  const historyRequests = [];
  A.on('request', (req) => { if (/\/rooms\/[^/]+\/events\?/.test(req.url()) && req.url().includes('before=')) historyRequests.push(req.url()); });
  await A.reload();
  await app.waitLoaded(A);
  await app.waitForMessage(A, `bulk ${String(N - 1).padStart(3, '0')}`, 5000);
  const first = await app.messages(A);
  assert.equal(first.length, 50, 'the room opens on the last 50 messages');
  assert.equal(first.at(-1).text, `bulk ${String(N - 1).padStart(3, '0')}`);
  app.assertSeqOrder(first, 'after reload');

  // Scroll to the top until the beginning of the room shows.
  const scroller = A.locator('.chat-scroll');
  await h.waitFor(async () => {
    await scroller.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    return A.locator('[data-testid="chat-begin"]').isVisible();
  }, { timeout: 20000, intervalMs: 150, what: 'the beginning of #general after scrolling back' });
  const all = await app.messages(A);
  app.assertSeqOrder(all, 'after scroll-back');
  const bulk = all.filter((m) => m.text.startsWith('bulk ')).map((m) => m.text);
  assert.equal(bulk.length, N, 'every bulk message exactly once');
  assert.deepEqual(bulk, Array.from({ length: N }, (_, i) => `bulk ${String(i).padStart(3, '0')}`));
  // Earlier messages (edited and deleted ones included) are back too.
  assert.ok(all.some((m) => m.text === 'Hello Bob, this is Alice on gateway 1'));
  assert.ok(all.some((m) => m.text === `@${BOB.username} can you review the new mockups?` && m.edited));
  assert.ok(all.some((m) => m.deleted));
  assert.ok(historyRequests.length >= 1, 'scroll-back read at least one history page');

  await scroller.evaluate((el) => { el.scrollTop = el.scrollHeight; });
  assertNoPageErrors();
});

h.itest('gateway 1 dies: Alice reconnects through the load balancer and misses nothing', { timeout: 60000 }, async () => {
  await app.openRoom(A, 'general');
  await app.openRoom(B, 'general');
  assert.equal((await app.connection(A)).node, 'gw1');
  const before = await app.messages(A);

  await cluster.gateways[0].kill9();
  await A.locator('#conn-banner:not([hidden])').waitFor({ timeout: 5000 });

  // Bob keeps talking; Alice sends one while she is cut off.
  const sent = [];
  for (let i = 1; i <= 5; i++) {
    sent.push(`while gw1 was down ${i}`);
    await app.send(B, sent.at(-1));
  }
  await app.send(A, 'sent by Alice while reconnecting');

  await h.waitFor(async () => {
    const c = await app.connection(A);
    return c.state === 'connected' && c.node === 'gw2';
  }, { timeout: 15000, what: 'Alice reconnected to gw2 through the load balancer' });
  await A.locator('#conn-banner').waitFor({ state: 'hidden' });
  for (const text of sent) await app.waitForMessage(A, text, 5000);
  await app.waitForMessage(A, 'sent by Alice while reconnecting', 5000);
  await app.waitForMessage(B, 'sent by Alice while reconnecting', 5000);
  await A.locator('.msg[data-pending]').waitFor({ state: 'detached', timeout: 5000 });

  for (const p of [A, B]) {
    const list = await app.messages(p);
    app.assertSeqOrder(list, `${p.label} after the gateway died`);
    const got = list.filter((m) => m.text.startsWith('while gw1 was down')).map((m) => m.text);
    assert.deepEqual(got, sent, `${p.label}: Bob's messages exactly once, in order`);
    assert.equal(list.filter((m) => m.text === 'sent by Alice while reconnecting').length, 1, `${p.label}: Alice's message once`);
  }
  const after = await app.messages(A);
  assert.ok(after.length >= before.length + sent.length + 1);

  // The refused connections to the dead gateway are logged by the browser.
  assertNoPageErrors([/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/]);
});

h.itest('screenshots of the members and rooms pages', async () => {
  await A.goto(A.appBase + `#/w/${wsId}/members`);
  await A.locator(`.member-row[data-username="${BOB.username}"]`).waitFor();
  await shot(A, 'members');
  await A.goto(A.appBase + `#/w/${wsId}`);
  await A.locator('.room-card', { hasText: 'Roadmap' }).waitFor();
  await shot(A, 'workspace');
  await A.goto(A.appBase + '#/w');
  await A.locator('.ws-card').waitFor();
  await shot(A, 'workspaces');
});
