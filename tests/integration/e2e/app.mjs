// app.mjs — what a person does in the Chorus web app, as Playwright steps,
// and what the tests read back from the page.

import assert from 'node:assert/strict';

export const PASSWORD = 'correct horse battery';

/** Registers through the form; ends on the workspace list. */
export async function register(page, { username, displayName, password = PASSWORD }) {
  await page.goto(page.appBase + '#/register');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Your workspaces' }).waitFor();
}

/** Signs in through the form; ends on the workspace list. */
export async function login(page, { username, password = PASSWORD }) {
  await page.goto(page.appBase + '#/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your workspaces' }).waitFor();
}

/** Creates a workspace from the list page; resolves its id (from the route). */
export async function createWorkspace(page, name) {
  await page.getByLabel('Workspace name').fill(name);
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await page.locator('.sidebar').waitFor();
  const m = /#\/w\/(\d+)/.exec(page.url());
  assert.ok(m, `no workspace route in ${page.url()}`);
  return Number(m[1]);
}

/** Invites username from the members page; resolves the alert text (success or error). */
export async function invite(page, username, role = 'member') {
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  await page.getByRole('button', { name: 'Invite' }).click();
  const box = page.locator('.alert:visible').first();
  await box.waitFor();
  return (await box.textContent()).trim();
}

/** Opens a chat room from the sidebar and waits until its messages are loaded. */
export async function openRoom(page, name) {
  await page.locator('.sidebar a[data-kind="chat"]', { hasText: name }).first().click();
  await page.locator(`.chat-head h1:text-is("${name}")`).waitFor();
  await waitLoaded(page);
}

/** Waits until the chat view shows messages (not the loading spinner). */
export async function waitLoaded(page) {
  await page.waitForFunction(() => {
    const list = document.querySelector('.msg-list');
    return list && list.querySelector('[data-key]') !== null;
  });
}

/** Types text into the composer and presses Enter. */
export async function send(page, text) {
  const box = page.locator('textarea.composer-input');
  await box.fill(text);
  await box.press('Enter');
}

/** The confirmed messages shown: [{seq, author, text, deleted, edited}] in DOM order. */
export function messages(page) {
  return page.$$eval('.msg-list .msg[data-seq]', (els) => els.map((el) => ({
    seq: Number(el.dataset.seq),
    author: el.dataset.author,
    text: el.querySelector('.msg-text')?.childNodes
      ? [...el.querySelector('.msg-text').childNodes]
        .filter((n) => !(n.nodeType === 1 && n.classList.contains('msg-edited')))
        .map((n) => n.textContent).join('').trim()
      : '',
    deleted: el.classList.contains('is-deleted'),
    edited: el.querySelector('.msg-edited') !== null,
  })));
}

/** Resolves when a confirmed message with exactly this text is shown; returns the time it took. */
export async function waitForMessage(page, text, timeout = 5000) {
  const t0 = Date.now();
  await page.waitForFunction((want) => [...document.querySelectorAll('.msg-list .msg[data-seq] .msg-text')]
    .some((el) => [...el.childNodes].filter((n) => !(n.nodeType === 1 && n.classList.contains('msg-edited')))
      .map((n) => n.textContent).join('').trim() === want), text, { timeout, polling: 'raf' });
  return Date.now() - t0;
}

/** Asserts seqs strictly ascend (server order, no duplicates). */
export function assertSeqOrder(list, what) {
  for (let i = 1; i < list.length; i++) {
    assert.ok(list[i].seq > list[i - 1].seq, `${what}: seq ${list[i].seq} after ${list[i - 1].seq}`);
  }
}

/** The unread badge count of a room in the sidebar (0 when hidden). */
export async function unreadBadge(page, roomName) {
  const item = page.locator('.sidebar a[data-kind="chat"]', { hasText: roomName }).first();
  const badge = item.locator('.unread');
  if (!(await badge.isVisible())) return 0;
  return Number((await badge.textContent()).trim());
}

/** The connection pill's state and gateway. */
export async function connection(page) {
  return page.locator('[data-testid="conn-pill"]').evaluate((el) => ({ state: el.dataset.state, node: el.dataset.node ?? null }));
}

/** Starts recording the texts of pending (optimistic) messages the page shows. */
export function recordPending(page) {
  return page.evaluate(() => {
    window.__pendingSeen = [];
    const list = document.querySelector('.msg-list');
    const obs = new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.matches('.msg[data-pending]')) window.__pendingSeen.push(n.querySelector('.msg-text').textContent);
        }
      }
    });
    obs.observe(list, { childList: true });
  });
}

/** The pending messages seen since recordPending() (each text once). */
export function pendingSeen(page) {
  return page.evaluate(() => [...new Set(window.__pendingSeen)]);
}
