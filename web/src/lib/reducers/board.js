/**
 * @file board.js — the kanban board reducer (docs/reducers.md, "Board"), and
 * helpers that list columns and cards in display order.
 *
 * State:
 * ```
 * {seq, columns: {id: {id, title, position}},
 *  cards: {id: {id, column, position, title, description, labels, assignees,
 *               comments, version, created_by, created_ts, updated_ts}},
 *  activity: [{seq, ts, author, kind, summary, card? | column?}, ...]}
 * ```
 * Columns and cards are shown in (position, id) order; labels and assignees
 * are sorted sets (code point order); every card's column exists; a change
 * that changes nothing is ignored.
 *
 * Use it through reducers/index.js (`reduce('board', state, event)`).
 */

import { isValidPosition } from '../positions.js';
import {
  getInt, getStr, id as readId, isObject, own, put, setAdd, setDel, setHas, str, text, user,
} from './values.js';

/** Activity entries kept in the state. */
export const BOARD_ACTIVITY = 100;
/** Most columns on a board. */
export const BOARD_COLUMNS_MAX = 50;
/** Most cards on a board. */
export const BOARD_CARDS_MAX = 5000;
const COLUMN_TITLE_MAX = 100;
const CARD_TITLE_MAX = 200;
const CARD_DESC_MAX = 10000;
const LABEL_MAX = 32;
const CARD_LABELS_MAX = 20;
const CARD_ASSIGNEES_MAX = 20;
const CARD_COMMENTS_MAX = 500;
const COMMENT_TEXT_MAX = 4000;

/**
 * The empty board: the three default columns, no cards.
 * @returns {object}
 */
export function newState() {
  return {
    seq: 0,
    columns: {
      todo: { id: 'todo', title: 'To Do', position: 'a' },
      doing: { id: 'doing', title: 'In Progress', position: 'b' },
      done: { id: 'done', title: 'Done', position: 'c' },
    },
    cards: {},
    activity: [],
  };
}

/**
 * True if state has the board state's members.
 * @param {object} state
 */
export function shapeOk(state) {
  return isObject(own(state, 'columns')) && isObject(own(state, 'cards'))
    && Array.isArray(own(state, 'activity'));
}

/** (position, id) order; both are ASCII, so `<` is byte order. */
function byPositionThenId(a, b) {
  const pa = getStr(a, 'position');
  const pb = getStr(b, 'position');
  if (pa !== pb) return pa < pb ? -1 : 1;
  const ia = getStr(a, 'id');
  const ib = getStr(b, 'id');
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/**
 * The board's columns in display order.
 * @param {object} state a board state
 * @returns {object[]}
 */
export function columnsInOrder(state) {
  return Object.values(own(state, 'columns') ?? {}).filter(isObject).sort(byPositionThenId);
}

/**
 * The cards of one column in display order.
 * @param {object} state a board state
 * @param {string} columnId
 * @returns {object[]}
 */
export function cardsInColumn(state, columnId) {
  return Object.values(own(state, 'cards') ?? {})
    .filter((c) => isObject(c) && c.column === columnId)
    .sort(byPositionThenId);
}

/** A position key from the payload, or undefined. */
function positionArg(p) {
  const s = str(own(p, 'position'));
  return s !== undefined && isValidPosition(s) ? s : undefined;
}

/** [id, object] of the map entry a payload field names, or undefined. */
function entryArg(map, p, field) {
  const k = readId(own(p, field));
  if (k === undefined) return undefined;
  const v = own(map, k);
  return isObject(v) ? [k, v] : undefined;
}

/** Appends an activity entry. */
function logActivity(w, state, ev, refKey, refId, summary) {
  const e = { seq: ev.seq, ts: ev.ts, author: ev.author, kind: ev.kind, summary };
  if (refKey) e[refKey] = refId;
  const log = w.at(state, 'activity');
  log.push(e);
  if (log.length > BOARD_ACTIVITY) log.splice(0, log.length - BOARD_ACTIVITY);
  return true;
}

/** A writable card, with version + 1 and updated_ts set: a change to its own fields. */
function touchCard(w, state, cardId, ev) {
  const card = w.at(w.at(state, 'cards'), cardId);
  card.version = getInt(card, 'version', 0) + 1;
  card.updated_ts = ev.ts;
  return card;
}

/** Validated labels for card.update: a new sorted set, or undefined. */
function parseLabels(v) {
  if (!Array.isArray(v) || v.length > CARD_LABELS_MAX) return undefined;
  if (!v.every((l) => text(l, 1, LABEL_MAX) !== undefined)) return undefined;
  let set = [];
  for (const l of v) set = setAdd(set, l);
  return set;
}

function sameStrings(a, b) {
  return Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
}

function columnCreate(w, state, ev) {
  const p = ev.payload;
  const k = readId(own(p, 'id'));
  const title = text(own(p, 'title'), 1, COLUMN_TITLE_MAX);
  const pos = positionArg(p);
  if (k === undefined || title === undefined || pos === undefined) return false;
  if (own(state.columns, k) !== undefined || Object.keys(state.columns).length >= BOARD_COLUMNS_MAX) return false;
  put(w.at(state, 'columns'), k, { id: k, title, position: pos });
  return logActivity(w, state, ev, 'column', k, `added column "${title}"`);
}

function columnRename(w, state, ev) {
  const col = entryArg(state.columns, ev.payload, 'id');
  const title = text(own(ev.payload, 'title'), 1, COLUMN_TITLE_MAX);
  if (!col || title === undefined || getStr(col[1], 'title') === title) return false;
  const summary = `renamed column "${getStr(col[1], 'title')}" to "${title}"`;
  const c = w.at(w.at(state, 'columns'), col[0]);
  c.title = title;
  return logActivity(w, state, ev, 'column', getStr(c, 'id'), summary);
}

function columnMove(w, state, ev) {
  const col = entryArg(state.columns, ev.payload, 'id');
  const pos = positionArg(ev.payload);
  if (!col || pos === undefined || getStr(col[1], 'position') === pos) return false;
  const c = w.at(w.at(state, 'columns'), col[0]);
  c.position = pos;
  return logActivity(w, state, ev, 'column', getStr(c, 'id'), `moved column "${getStr(c, 'title')}"`);
}

function columnDelete(w, state, ev) {
  const k = readId(own(ev.payload, 'id'));
  if (k === undefined) return false;
  const col = own(state.columns, k);
  if (col === undefined) return false;
  const doomed = Object.keys(state.cards).filter((c) => getStr(state.cards[c], 'column') === k);
  if (doomed.length) {
    const cards = w.at(state, 'cards');
    for (const c of doomed) w.removed(cards, c);
  }
  const title = getStr(col, 'title');
  const n = doomed.length;
  const summary = n === 0 ? `deleted column "${title}"`
    : `deleted column "${title}" and ${n} card${n === 1 ? '' : 's'}`;
  delete w.at(state, 'columns')[k];
  return logActivity(w, state, ev, 'column', k, summary);
}

function cardCreate(w, state, ev) {
  const p = ev.payload;
  const k = readId(own(p, 'id'));
  const col = entryArg(state.columns, p, 'column');
  const title = text(own(p, 'title'), 1, CARD_TITLE_MAX);
  const dv = own(p, 'description');
  const desc = dv === undefined ? '' : text(dv, 0, CARD_DESC_MAX);
  const pos = positionArg(p);
  if (k === undefined || !col || title === undefined || desc === undefined || pos === undefined) return false;
  if (own(state.cards, k) !== undefined || w.size(state.cards) >= BOARD_CARDS_MAX) return false;
  w.added(w.at(state, 'cards'), k, {
    id: k,
    column: getStr(col[1], 'id'),
    position: pos,
    title,
    description: desc,
    labels: [],
    assignees: [],
    comments: [],
    version: 1,
    created_by: ev.author,
    created_ts: ev.ts,
    updated_ts: ev.ts,
  });
  return logActivity(w, state, ev, 'card', k, `added card "${title}" to "${getStr(col[1], 'title')}"`);
}

function cardUpdate(w, state, ev) {
  const p = ev.payload;
  const entry = entryArg(state.cards, p, 'id');
  const tv = own(p, 'title');
  const dv = own(p, 'description');
  const lv = own(p, 'labels');
  const bv = own(p, 'base_version');
  if (!entry || (tv === undefined && dv === undefined && lv === undefined)) return false;
  const [k, card] = entry;
  const title = tv === undefined ? undefined : text(tv, 1, CARD_TITLE_MAX);
  const desc = dv === undefined ? undefined : text(dv, 0, CARD_DESC_MAX);
  if ((tv !== undefined && title === undefined) || (dv !== undefined && desc === undefined)) return false;
  if (bv !== undefined) {
    const base = getInt(p, 'base_version', NaN);
    if (base !== getInt(card, 'version', 0)) return false;
  }
  const labels = lv === undefined ? undefined : parseLabels(lv);
  if (lv !== undefined && labels === undefined) return false;
  if ((title === undefined || title === getStr(card, 'title'))
      && (desc === undefined || desc === getStr(card, 'description'))
      && (labels === undefined || sameStrings(labels, own(card, 'labels')))) return false;
  const c = touchCard(w, state, k, ev);
  if (title !== undefined) c.title = title;
  if (desc !== undefined) c.description = desc;
  if (labels !== undefined) c.labels = labels;
  return logActivity(w, state, ev, 'card', getStr(c, 'id'), `edited card "${getStr(c, 'title')}"`);
}

function cardMove(w, state, ev) {
  const p = ev.payload;
  const entry = entryArg(state.cards, p, 'id');
  const to = entryArg(state.columns, p, 'column');
  const pos = positionArg(p);
  if (!entry || !to || pos === undefined) return false;
  const [k, card] = entry;
  const fromId = getStr(card, 'column');
  const from = own(state.columns, fromId);
  const same = from !== undefined && from === to[1];
  if (same && getStr(card, 'position') === pos) return false;
  const summary = same
    ? `reordered card "${getStr(card, 'title')}" in "${getStr(to[1], 'title')}"`
    : `moved card "${getStr(card, 'title')}" from "${getStr(from, 'title')}" to "${getStr(to[1], 'title')}"`;
  const c = touchCard(w, state, k, ev);
  c.column = getStr(to[1], 'id');
  c.position = pos;
  return logActivity(w, state, ev, 'card', getStr(c, 'id'), summary);
}

function cardDelete(w, state, ev) {
  const entry = entryArg(state.cards, ev.payload, 'id');
  if (!entry) return false;
  const summary = `deleted card "${getStr(entry[1], 'title')}"`;
  w.removed(w.at(state, 'cards'), entry[0]);
  return logActivity(w, state, ev, 'card', entry[0], summary);
}

function cardAssign(w, state, ev, on) {
  const entry = entryArg(state.cards, ev.payload, 'id');
  const u = user(own(ev.payload, 'user'));
  if (!entry || u === undefined) return false;
  const set = own(entry[1], 'assignees');
  if (!Array.isArray(set) || setHas(set, u) === on) return false;
  if (on && set.length >= CARD_ASSIGNEES_MAX) return false;
  const title = getStr(entry[1], 'title');
  const c = touchCard(w, state, entry[0], ev);
  c.assignees = on ? setAdd(set, u) : setDel(set, u);
  const summary = on ? `assigned ${u} to card "${title}"` : `unassigned ${u} from card "${title}"`;
  return logActivity(w, state, ev, 'card', getStr(c, 'id'), summary);
}

function cardLabel(w, state, ev) {
  const p = ev.payload;
  const entry = entryArg(state.cards, p, 'id');
  const label = text(own(p, 'label'), 1, LABEL_MAX);
  const on = own(p, 'on');
  if (!entry || label === undefined || typeof on !== 'boolean') return false;
  const set = own(entry[1], 'labels');
  if (!Array.isArray(set) || setHas(set, label) === on) return false;
  if (on && set.length >= CARD_LABELS_MAX) return false;
  const title = getStr(entry[1], 'title');
  const c = touchCard(w, state, entry[0], ev);
  c.labels = on ? setAdd(set, label) : setDel(set, label);
  const summary = on ? `added label "${label}" to card "${title}"`
    : `removed label "${label}" from card "${title}"`;
  return logActivity(w, state, ev, 'card', getStr(c, 'id'), summary);
}

/** Index of the comment with the given id, or -1. */
function findComment(comments, cid) {
  if (!Array.isArray(comments)) return -1;
  return comments.findIndex((c) => getStr(c, 'id') === cid);
}

function commentAdd(w, state, ev) {
  const p = ev.payload;
  const entry = entryArg(state.cards, p, 'card');
  const k = readId(own(p, 'id'));
  const t = text(own(p, 'text'), 1, COMMENT_TEXT_MAX);
  if (!entry || k === undefined || t === undefined) return false;
  const comments = own(entry[1], 'comments');
  if (!Array.isArray(comments) || findComment(comments, k) >= 0 || comments.length >= CARD_COMMENTS_MAX) return false;
  const c = w.at(w.at(state, 'cards'), entry[0]);
  c.comments = [...comments, { id: k, author: ev.author, text: t, ts: ev.ts, seq: ev.seq }];
  return logActivity(w, state, ev, 'card', getStr(c, 'id'), `commented on card "${getStr(c, 'title')}"`);
}

function commentDelete(w, state, ev) {
  const p = ev.payload;
  const entry = entryArg(state.cards, p, 'card');
  const k = readId(own(p, 'id'));
  if (!entry || k === undefined) return false;
  const comments = own(entry[1], 'comments');
  const i = findComment(comments, k);
  if (i < 0 || getStr(comments[i], 'author') !== ev.author) return false;
  const c = w.at(w.at(state, 'cards'), entry[0]);
  c.comments = comments.filter((_, j) => j !== i);
  return logActivity(w, state, ev, 'card', getStr(c, 'id'), `deleted a comment on card "${getStr(c, 'title')}"`);
}

const RULES = {
  'column.create': columnCreate,
  'column.rename': columnRename,
  'column.move': columnMove,
  'column.delete': columnDelete,
  'card.create': cardCreate,
  'card.update': cardUpdate,
  'card.move': cardMove,
  'card.delete': cardDelete,
  'card.assign': (w, s, e) => cardAssign(w, s, e, true),
  'card.unassign': (w, s, e) => cardAssign(w, s, e, false),
  'card.label': cardLabel,
  'comment.add': commentAdd,
  'comment.delete': commentDelete,
};

/**
 * Applies one event whose envelope is valid. Returns true if it changed the
 * state.
 * @param {import('./values.js').Writer} w
 * @param {object} state writable state
 * @param {{seq: number, ts: number, author: string, kind: string, payload: object}} ev
 * @returns {boolean}
 */
export function apply(w, state, ev) {
  const rule = own(RULES, ev.kind);
  return rule ? rule(w, state, ev) : false;
}
