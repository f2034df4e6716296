/**
 * @file chat.js — the chat reducer (docs/reducers.md, "Chat").
 *
 * State: `{seq, messages}` with the last {@link CHAT_WINDOW} messages in
 * ascending seq order, tombstones included. A message is
 * `{seq, author, ts, text, mentions?, edited_ts?}`; a deleted one is the
 * tombstone `{seq, author, ts, deleted: true}`. Edits and deletes only
 * address messages still in the window, so a snapshot decides them exactly
 * like a full replay.
 *
 * Use it through reducers/index.js (`reduce('chat', state, event)`).
 */

import { getInt, getStr, int, isObject, own, text, user } from './values.js';

/** Messages kept in the state. */
export const CHAT_WINDOW = 200;
/** Longest message, in code points. */
export const CHAT_TEXT_MAX = 4000;
/** Most mentions in one message. */
export const CHAT_MENTIONS_MAX = 50;

/**
 * The empty chat state.
 * @returns {{seq: number, messages: object[]}}
 */
export function newState() {
  return { seq: 0, messages: [] };
}

/**
 * True if state has the chat state's members.
 * @param {object} state
 */
export function shapeOk(state) {
  return Array.isArray(own(state, 'messages'));
}

/**
 * Validated mentions: `null` for none, an array (duplicates removed, first
 * occurrences in order), or `undefined` if invalid.
 * @param {unknown} v the payload's `mentions`, `undefined` when absent
 */
function parseMentions(v) {
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length > CHAT_MENTIONS_MAX) return undefined;
  if (!v.every((u) => user(u) !== undefined)) return undefined;
  const list = [...new Set(v)];
  return list.length ? list : null;
}

/** Index of the message with the given seq, or -1 (messages ascend by seq). */
function findMessage(msgs, seq) {
  let lo = 0;
  let hi = msgs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = getInt(msgs[mid], 'seq', 0);
    if (s === seq) return isObject(msgs[mid]) ? mid : -1;
    if (s < seq) lo = mid + 1; else hi = mid;
  }
  return -1;
}

/** Index of the target of an edit or delete: in the window, live, the author's own; or -1. */
function ownLiveTarget(msgs, ev) {
  const target = int(own(ev.payload, 'target_seq'));
  if (target === undefined) return -1;
  const i = findMessage(msgs, target);
  if (i < 0 || own(msgs[i], 'deleted') === true) return -1;
  return getStr(msgs[i], 'author') === ev.author ? i : -1;
}

/**
 * Applies one event whose envelope is valid. Returns true if it changed the
 * state.
 * @param {import('./values.js').Writer} w
 * @param {object} state writable state
 * @param {{seq: number, ts: number, author: string, kind: string, payload: object}} ev
 * @returns {boolean}
 */
export function apply(w, state, ev) {
  const p = ev.payload;
  switch (ev.kind) {
    case 'message.create': {
      const t = text(own(p, 'text'), 1, CHAT_TEXT_MAX);
      const mentions = parseMentions(own(p, 'mentions'));
      if (t === undefined || mentions === undefined) return false;
      const m = { seq: ev.seq, author: ev.author, ts: ev.ts, text: t };
      if (mentions) m.mentions = mentions;
      const msgs = w.at(state, 'messages');
      msgs.push(m);
      if (msgs.length > CHAT_WINDOW) msgs.splice(0, msgs.length - CHAT_WINDOW);
      return true;
    }
    case 'message.edit': {
      const t = text(own(p, 'text'), 1, CHAT_TEXT_MAX);
      const i = ownLiveTarget(state.messages, ev);
      if (t === undefined || i < 0) return false;
      const mentions = parseMentions(own(p, 'mentions'));
      if (mentions === undefined) return false;
      const m = w.at(w.at(state, 'messages'), i);
      m.text = t;
      m.edited_ts = ev.ts;
      if (mentions) m.mentions = mentions; else delete m.mentions;
      return true;
    }
    case 'message.delete': {
      const i = ownLiveTarget(state.messages, ev);
      if (i < 0) return false;
      const m = w.at(w.at(state, 'messages'), i);
      delete m.text;
      delete m.mentions;
      delete m.edited_ts;
      m.deleted = true;
      return true;
    }
    default:
      return false;
  }
}
