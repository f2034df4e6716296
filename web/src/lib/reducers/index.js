/**
 * @file index.js — the room reducers for the browser: the same rules as the
 * worker's C reducers (docs/reducers.md), checked against the same vectors
 * (tests/vectors/*.json).
 *
 * A reducer folds a room's durable events, in seq order, into the room's
 * state, a plain JSON value. The state is a pure function of the events, so
 * a snapshot `{seq, epoch, state}` from the API plus the live events after
 * it gives exactly the server's state.
 *
 * @example
 * import { reduce, stateNew, roomKind } from './lib/reducers/index.js';
 * const kind = roomKind('board.3.9');               // "board"
 * let state = snapshot.state ?? stateNew(kind);
 * room = client.join('board.3.9', { since: snapshot.seq, epoch: snapshot.epoch,
 *   onEvent: (ev) => { state = reduce(kind, state, ev); render(state); } });
 *
 * Two ways to fold:
 * - {@link reduce} is pure: it never modifies its input and returns the new
 *   state, sharing every unchanged object with the old one (so
 *   `old.cards[id] === next.cards[id]` tells a view that card did not
 *   change). An event ignored by the envelope (not an object, or a seq not
 *   above the state's) returns the very same state object.
 * - {@link reduceInPlace} changes the state itself and is cheaper for bulk
 *   folds; {@link replay} uses it on a private copy.
 *
 * Keep optimistic (not yet acknowledged) changes out of the folded state:
 * draw them on top and drop each one when its event (same `cid`) arrives.
 */

import * as board from './board.js';
import * as chat from './chat.js';
import { Writer, compareCodePoints, int, isObject, own, str, user } from './values.js';
import * as whiteboard from './whiteboard.js';

export { compareCodePoints };
export { columnsInOrder, cardsInColumn } from './board.js';
export { objectsInOrder, undoTop, redoTop } from './whiteboard.js';

/** @typedef {'chat'|'board'|'whiteboard'} RoomKind */

const REDUCERS = { chat, board, whiteboard };

/** The limits of docs/reducers.md that clients check before publishing. */
export const LIMITS = Object.freeze({
  chatWindow: chat.CHAT_WINDOW,
  chatText: chat.CHAT_TEXT_MAX,
  chatMentions: chat.CHAT_MENTIONS_MAX,
  boardActivity: board.BOARD_ACTIVITY,
  boardColumns: board.BOARD_COLUMNS_MAX,
  boardCards: board.BOARD_CARDS_MAX,
  whiteboardObjects: whiteboard.WB_OBJECTS_MAX,
  whiteboardHistory: whiteboard.WB_HISTORY,
});

const ROOM_RE = /^(chat|board|whiteboard)\.[0-9]{1,19}\.[0-9]{1,19}$/;

/**
 * The room kind named by a room id `<kind>.<workspace>.<n>` (two runs of
 * 1–19 decimal digits), or null for any other id.
 * @param {string} roomId e.g. "board.12.5"
 * @returns {RoomKind|null}
 */
export function roomKind(roomId) {
  const m = typeof roomId === 'string' ? ROOM_RE.exec(roomId) : null;
  return m ? /** @type {RoomKind} */ (m[1]) : null;
}

/**
 * A fresh empty state of a room kind, or null for an unknown kind. The
 * board's empty state already has the default columns.
 * @param {string} kind "chat", "board" or "whiteboard"
 * @returns {object|null}
 */
export function stateNew(kind) {
  const r = own(REDUCERS, kind);
  return r ? r.newState() : null;
}

function reducerFor(kind, state) {
  const r = own(REDUCERS, kind);
  if (!r) throw new TypeError(`no reducer for room kind ${JSON.stringify(kind)}`);
  if (!isObject(state) || int(own(state, 'seq')) === undefined || !r.shapeOk(state)) {
    throw new TypeError(`not a ${kind} state`);
  }
  return r;
}

/**
 * Folds one event through the envelope rules, then the kind's rule.
 * @returns {{state: object, applied: boolean}}
 */
function run(kind, state, event, inPlace, writer = undefined) {
  const r = reducerFor(kind, state);
  if (!isObject(event)) return { state, applied: false };
  const seq = int(own(event, 'seq'));
  if (seq === undefined || seq < 1 || seq <= state.seq) return { state, applied: false };
  const w = writer ?? new Writer(inPlace);
  const next = w.root(state);
  next.seq = seq;
  const author = user(own(event, 'author'));
  const evKind = str(own(event, 'kind'));
  if (author === undefined || evKind === undefined) return { state: next, applied: false };
  let ts = int(own(event, 'ts'));
  if (ts === undefined || ts < 0) ts = 0;
  const payload = own(event, 'payload');
  const ev = { seq, ts, author, kind: evKind, payload: isObject(payload) ? payload : {} };
  return { state: next, applied: r.apply(w, next, ev) };
}

/**
 * Folds one durable event (the whole wire object: seq, ts, author, kind,
 * payload, ...) into a state of the given kind. Pure and deterministic: the
 * input state is not modified; the result shares unchanged parts with it.
 * Invalid events never throw: they are ignored (only `seq` advances, or
 * nothing changes for events that are not objects or whose seq is not
 * above the state's).
 * @param {RoomKind} kind
 * @param {object} state a state of that kind (from stateNew, a snapshot, or reduce)
 * @param {unknown} event
 * @returns {object} the new state
 * @throws {TypeError} for an unknown kind or a value that is not a state of that kind
 */
export function reduce(kind, state, event) {
  return run(kind, state, event, false).state;
}

/**
 * Like {@link reduce}, but also says whether the event's rule applied
 * (false: ignored, e.g. a `card.update` whose `base_version` is stale).
 * @param {RoomKind} kind
 * @param {object} state
 * @param {unknown} event
 * @returns {{state: object, applied: boolean}}
 */
export function reduceWithResult(kind, state, event) {
  return run(kind, state, event, false);
}

/**
 * Folds one event into `state` itself (which must not be shared with
 * anything that expects it unchanged). Returns true if the event's rule
 * applied, false if it was ignored.
 * @param {RoomKind} kind
 * @param {object} state
 * @param {unknown} event
 * @returns {boolean}
 * @throws {TypeError} as {@link reduce}
 */
export function reduceInPlace(kind, state, event) {
  return run(kind, state, event, true).applied;
}

/**
 * Folds events in order into a copy of `from` (default: the empty state).
 * @param {RoomKind} kind
 * @param {Iterable<unknown>} events
 * @param {object} [from]
 * @returns {object} a new state
 */
export function replay(kind, events, from = undefined) {
  const base = from === undefined ? stateNew(kind) : from;
  reducerFor(kind, base);
  const state = JSON.parse(JSON.stringify(base));
  const w = new Writer(true);   // one writer: map sizes stay cached across events
  for (const ev of events) run(kind, state, ev, true, w);
  return state;
}

/**
 * Canonical JSON of a value: object keys sorted by code point, no spaces,
 * numbers by value (so 3 and 3.0, or -0 and 0, serialize alike). Two states
 * are equal exactly when their canonical JSON is.
 * @param {unknown} v
 * @returns {string}
 */
export function canonicalJson(v) {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort(compareCodePoints);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
