// board.mjs — steps and read-backs for the kanban board app in e2e tests.

import assert from 'node:assert/strict';

/** Opens a board from the sidebar (or by route) and waits until it is rendered. */
export async function openBoard(page, wsId, roomId) {
  await page.goto(`${page.appBase}#/w/${wsId}/r/${roomId}`);
  await waitReady(page, roomId);
}

export async function waitReady(page, roomId) {
  await page.locator(`section.board-app[data-room="${roomId}"][data-state="ready"]`).waitFor({ timeout: 15000 });
}

/** Column ids in display order. */
export function columnIds(page) {
  return page.$$eval('.board-columns > [data-column]', (els) => els.map((e) => e.dataset.column));
}

/** {columnId: [cardId...]} in DOM order. */
export function cardOrder(page) {
  return page.evaluate(() => {
    const out = {};
    for (const col of document.querySelectorAll('.board-columns > [data-column]')) {
      out[col.dataset.column] = [...col.querySelectorAll('.cards > [data-card]')].map((c) => c.dataset.card);
    }
    return out;
  });
}

/** The order implied by the folded state: (position, id) per column. */
export function stateOrder(page) {
  return page.evaluate(() => {
    const s = document.querySelector('.board-app').chorusBoard.model.state;
    const out = {};
    const cols = Object.values(s.columns).sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.id < b.id ? -1 : 1));
    for (const c of cols) out[c.id] = [];
    const cards = Object.values(s.cards).sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.id < b.id ? -1 : 1));
    for (const k of cards) out[k.column].push(k.id);
    return out;
  });
}

/** The folded state's card (or undefined). */
export function stateCard(page, id) {
  return page.evaluate((cid) => document.querySelector('.board-app').chorusBoard.model.state.cards[cid], id);
}

/** Seq of the folded state and number of unconfirmed ops. */
export function modelInfo(page) {
  return page.evaluate(() => {
    const m = document.querySelector('.board-app').chorusBoard.model;
    return { seq: m.state.seq, ops: m.ops.size };
  });
}

/** Id of the card with this title (shown), or null. */
export function cardIdByTitle(page, title) {
  return page.evaluate((t) => {
    const el = [...document.querySelectorAll('[data-card] .card-title')].find((n) => n.textContent === t);
    return el ? el.closest('[data-card]').dataset.card : null;
  }, title);
}

/** Waits until a card with this title is shown, not pending; resolves {id, ms}. */
export async function waitCardTitle(page, title, timeout = 5000) {
  const t0 = Date.now();
  const handle = await page.waitForFunction((t) => {
    const el = [...document.querySelectorAll('.cards > [data-card]:not([data-pending]) .card-title')].find((n) => n.textContent === t);
    return el ? el.closest('[data-card]').dataset.card : null;
  }, title, { timeout, polling: 'raf' });
  return { id: await handle.jsonValue(), ms: Date.now() - t0 };
}

/** Adds a card through the column's "Add a card" form. */
export async function addCardUi(page, columnId, title) {
  const col = page.locator(`[data-column="${columnId}"]`);
  const input = col.locator('.add-card-input');
  if (!(await input.count())) await col.locator('[data-testid="add-card"]').click();
  await input.fill(title);
  await input.press('Enter');
}

/** Drags a card with the mouse to sit just above `beforeCardId` (or at the end of columnId's list). */
export async function dragCard(page, cardId, { columnId, beforeCardId = null }) {
  const src = page.locator(`[data-card="${cardId}"]`);
  await src.scrollIntoViewIfNeeded();
  const a = await src.boundingBox();
  let tx;
  let ty;
  if (beforeCardId) {
    const b = await page.locator(`[data-card="${beforeCardId}"]`).boundingBox();
    tx = b.x + b.width / 2;
    ty = b.y + Math.min(6, b.height / 4);
  } else {
    const list = await page.locator(`[data-column="${columnId}"] .column-body`).boundingBox();
    tx = list.x + list.width / 2;
    ty = list.y + list.height - 4;
  }
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(a.x + a.width / 2 + 10, a.y + a.height / 2 + 10, { steps: 2 });
  await page.mouse.move(tx, ty, { steps: 6 });
  await page.mouse.move(tx, ty + 1, { steps: 1 });
  await page.mouse.up();
}

/** Opens a card's dialog by clicking its tile. */
export async function openCard(page, cardId) {
  await page.locator(`.cards > [data-card="${cardId}"]`).click();
  await page.locator(`dialog.card-dialog[data-card="${cardId}"]`).waitFor();
}

export async function closeCard(page) {
  await page.locator('dialog.card-dialog [data-testid="close-card"]').click();
  await page.locator('dialog.card-dialog').waitFor({ state: 'detached' });
}

/** Asserts both pages show the same order, equal to the (position, id) order. */
export async function assertSameOrder(pages, what) {
  const orders = await Promise.all(pages.map((p) => cardOrder(p)));
  const states = await Promise.all(pages.map((p) => stateOrder(p)));
  for (let i = 0; i < pages.length; i++) {
    assert.deepEqual(orders[i], states[i], `${what}: ${pages[i].label} DOM order is the (position, id) order`);
    assert.deepEqual(orders[i], orders[0], `${what}: ${pages[i].label} shows the same order as ${pages[0].label}`);
  }
  return orders[0];
}
