// cards.js — a card tile on the board (what each card shows in its column).

import { h, icon } from '../dom.js';
import { avatar } from '../format.js';
import { dueOf, plainLabels } from './model.js';

const dueFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** "Mar 4" for 2026-03-04; `state` is overdue / soon / later. */
export function dueInfo(due, now = Date.now()) {
  if (!due) return null;
  const t = Date.parse(`${due}T00:00:00Z`);
  if (!Number.isFinite(t)) return null;
  const today = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`);
  const days = Math.round((t - today) / 86400000);
  const state = days < 0 ? 'overdue' : days <= 1 ? 'soon' : 'later';
  const text = days === 0 ? 'Today' : days === 1 ? 'Tomorrow' : dueFmt.format(new Date(t));
  return { text, state, days };
}

/** A colour hue for a label (stable per text). */
export function labelHue(label) {
  let x = 0;
  for (const ch of String(label)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return [210, 150, 30, 280, 0, 190, 330, 100, 250, 50][x % 10];
}

export function labelChip(label, extra) {
  return h('span', { class: 'label-chip', style: { '--hue': String(labelHue(label)) } }, label, extra ?? null);
}

export function dueChip(due) {
  const d = dueInfo(due);
  if (!d) return null;
  return h('span', { class: ['due-chip', `due-${d.state}`], attrs: { title: `Due ${due}`, 'data-due': due } }, icon('clock', 12), d.text);
}

/**
 * Builds the tile of one card.
 * @param {object} card the card (shown state)
 * @param {object} o
 * @param {string} o.columnTitle
 * @param {boolean} o.pending has unconfirmed changes of mine
 * @param {string[]} o.viewers names of others viewing it now
 * @param {(id: string) => string} o.nameOf
 */
export function cardTile(card, { columnTitle, pending, viewers, nameOf }) {
  const labels = plainLabels(card);
  const due = dueOf(card);
  const comments = card.comments?.length ?? 0;
  const parts = [card.title, `in ${columnTitle}`];
  if (labels.length) parts.push(`labels ${labels.join(', ')}`);
  if (due) parts.push(`due ${due}`);
  if (card.assignees?.length) parts.push(`assigned to ${card.assignees.map((u) => nameOf(u)).join(', ')}`);
  if (comments) parts.push(`${comments} comment${comments === 1 ? '' : 's'}`);
  if (viewers.length) parts.push(`viewed now by ${viewers.join(', ')}`);
  if (pending) parts.push('saving');
  const meta = [];
  if (due) meta.push(dueChip(due));
  if (card.description) meta.push(h('span', { class: 'card-meta-item', attrs: { title: 'Has a description' } }, icon('menu', 12)));
  if (comments) meta.push(h('span', { class: 'card-meta-item', attrs: { title: `${comments} comments` } }, icon('send', 12), String(comments)));
  if (viewers.length) {
    meta.push(h('span', { class: 'card-viewers', attrs: { title: `Viewing now: ${viewers.join(', ')}`, 'data-testid': 'card-viewers' } },
      icon('eye', 12), String(viewers.length)));
  }
  return h('li', {
    class: ['card-tile', pending && 'is-pending'],
    tabIndex: 0,
    dataset: { card: card.id, position: card.position, version: String(card.version) },
    attrs: {
      'aria-label': parts.join('. '),
      'aria-roledescription': 'card',
      'aria-describedby': 'board-dnd-help',
      'data-pending': pending ? 'true' : undefined,
      'data-viewers': viewers.length ? String(viewers.length) : undefined,
    },
  },
  labels.length ? h('div', { class: 'card-labels' }, labels.map((l) => labelChip(l))) : null,
  h('p', { class: 'card-title' }, card.title),
  meta.length || card.assignees?.length ? h('div', { class: 'card-meta' },
    meta,
    card.assignees?.length ? h('span', { class: 'card-assignees' },
      card.assignees.slice(0, 4).map((u) => avatar(u, nameOf(u), { size: 'xs' }))) : null) : null,
  h('span', { class: 'card-grip', attrs: { 'aria-hidden': 'true', title: 'Drag' } }, icon('grip', 14)));
}
