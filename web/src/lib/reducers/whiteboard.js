/**
 * @file whiteboard.js — the whiteboard reducer (docs/reducers.md,
 * "Whiteboard"): objects, per-author undo/redo and undoable clear; plus
 * helpers to draw objects in z-order and to show what undo/redo would do.
 *
 * State:
 * ```
 * {seq, objects: {id: object}, history: {author: {undo: [entry], redo: [entry]}}}
 * ```
 * An object carries `hidden_by`, the sorted seqs of what hides it (its own
 * seq: its add was undone; a delete's seq; a clear's seq), and `hidden`
 * (hidden_by is not empty). Entries are `{seq, op: "add"|"delete", id}`,
 * `{seq, op: "move", id, dx, dy}` or `{seq, op: "clear", ids}`; an entry's
 * target is the object with that id whose seq equals the entry's (add) or
 * is below it (the others). An entry that leaves the stacks for good makes
 * what it still hides permanent: those objects are removed.
 *
 * Use it through reducers/index.js (`reduce('whiteboard', state, event)`).
 */

import {
  compareCodePoints, getInt, getNum, getStr, id as readId, int, isObject, num, own, put, str, text,
} from './values.js';

/** Most objects on a board, hidden ones included. */
export const WB_OBJECTS_MAX = 10000;
/** Undo + redo entries kept per author. */
export const WB_HISTORY = 100;
const POINTS_MAX = 2000;
const COORD_MAX = 10000000;
const SIZE_MAX = 500;
const TEXT_MAX = 2000;
const SHAPES = ['rect', 'ellipse', 'line', 'arrow', 'text'];
const COLOR_RE = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;

/**
 * The empty whiteboard.
 * @returns {{seq: number, objects: object, history: object}}
 */
export function newState() {
  return { seq: 0, objects: {}, history: {} };
}

/**
 * True if state has the whiteboard state's members.
 * @param {object} state
 */
export function shapeOk(state) {
  return isObject(own(state, 'objects')) && isObject(own(state, 'history'));
}

/**
 * The objects to draw, in z-order (ascending seq): visible ones only unless
 * `hidden` is set.
 * @param {object} state a whiteboard state
 * @param {{hidden?: boolean}} [opts]
 * @returns {object[]}
 */
export function objectsInOrder(state, { hidden = false } = {}) {
  return Object.values(own(state, 'objects') ?? {})
    .filter((o) => isObject(o) && (hidden || o.hidden !== true))
    .sort((a, b) => getInt(a, 'seq', 0) - getInt(b, 'seq', 0));
}

/**
 * The entry an undo by `author` would revert (the top of their undo stack),
 * or null. Pin it with `{action: entry.seq}` in the undo payload.
 * @param {object} state a whiteboard state
 * @param {string} author
 * @returns {object|null}
 */
export function undoTop(state, author) {
  const stack = own(own(own(state, 'history'), author), 'undo');
  return Array.isArray(stack) && stack.length ? stack[stack.length - 1] : null;
}

/**
 * The entry a redo by `author` would re-apply (the top of their redo
 * stack), or null.
 * @param {object} state a whiteboard state
 * @param {string} author
 * @returns {object|null}
 */
export function redoTop(state, author) {
  const stack = own(own(own(state, 'history'), author), 'redo');
  return Array.isArray(stack) && stack.length ? stack[stack.length - 1] : null;
}

// --- values --------------------------------------------------------------

function colorArg(p) {
  const s = str(own(p, 'color'));
  return s !== undefined && COLOR_RE.test(s) ? s : undefined;
}

function sizeArg(p) {
  const s = num(own(p, 'size'), SIZE_MAX);
  return s !== undefined && s > 0 ? s : undefined;
}

/** A copy of a valid points array, or undefined. */
function pointsArg(p) {
  const v = own(p, 'points');
  if (!Array.isArray(v) || v.length < 1 || v.length > POINTS_MAX) return undefined;
  const out = [];
  for (const pt of v) {
    if (!Array.isArray(pt) || pt.length !== 2) return undefined;
    const x = num(pt[0], COORD_MAX);
    const y = num(pt[1], COORD_MAX);
    if (x === undefined || y === undefined) return undefined;
    out.push([x, y]);
  }
  return out;
}

// --- hiders ----------------------------------------------------------------

function hiders(o) {
  const hb = own(o, 'hidden_by');
  return Array.isArray(hb) ? hb : null;
}

function isVisible(o) {
  const hb = hiders(o);
  return !hb || hb.length === 0;
}

function hiderHas(o, seq) {
  const hb = hiders(o);
  return !!hb && hb.includes(seq);
}

/** Adds hider seq to objects[key] (writable map), keeping hidden_by sorted. */
function hiderAdd(w, objects, key, seq) {
  const hb = hiders(own(objects, key));
  if (!hb || hb.includes(seq)) return;
  let i = 0;
  while (i < hb.length && !(typeof hb[i] === 'number' && hb[i] > seq)) i++;
  const o = w.at(objects, key);
  o.hidden_by = [...hb.slice(0, i), seq, ...hb.slice(i)];
  o.hidden = true;
}

/** Removes hider seq from objects[key] (writable map). */
function hiderDel(w, objects, key, seq) {
  const hb = hiders(own(objects, key));
  if (!hb || !hb.includes(seq)) return;
  const o = w.at(objects, key);
  o.hidden_by = hb.filter((h) => h !== seq);
  o.hidden = o.hidden_by.length > 0;
}

/** Translates objects[key] by sign * (dx, dy) in double arithmetic. */
function translate(w, objects, key, dx, dy, sign) {
  const o = w.at(objects, key);
  const ox = getNum(o, 'dx');
  const oy = getNum(o, 'dy');
  o.dx = (sign > 0 ? ox + dx : ox - dx) + 0;
  o.dy = (sign > 0 ? oy + dy : oy - dy) + 0;
}

// --- history ---------------------------------------------------------------

/** The object an entry refers to, or undefined. */
function entryObject(objects, key, entrySeq, isAdd) {
  const o = own(objects, key);
  if (!isObject(o)) return undefined;
  const s = getInt(o, 'seq', 0);
  if (isAdd ? s !== entrySeq : s >= entrySeq) return undefined;
  return o;
}

/** Removes the object if it still carries the hider seq. */
function collect(w, objects, key, seq, isAdd) {
  const o = entryObject(objects, key, seq, isAdd);
  if (o && hiderHas(o, seq)) w.removed(objects, key);
}

/** An entry leaves the stacks for good (objects: writable map). */
function entryDropped(w, objects, e, fromRedo) {
  const op = getStr(e, 'op');
  const seq = getInt(e, 'seq', 0);
  if (fromRedo) {
    if (op === 'add') collect(w, objects, getStr(e, 'id'), seq, true);
  } else if (op === 'delete') {
    collect(w, objects, getStr(e, 'id'), seq, false);
  } else if (op === 'clear') {
    const ids = own(e, 'ids');
    if (Array.isArray(ids)) {
      for (const k of ids) if (typeof k === 'string') collect(w, objects, k, seq, false);
    }
  }
}

function validHistory(h) {
  return isObject(h) && Array.isArray(own(h, 'undo')) && Array.isArray(own(h, 'redo'));
}

/** The author's writable {undo, redo}, created if missing or malformed. */
function writableHistory(w, state, author) {
  const hist = w.at(state, 'history');
  if (!validHistory(own(hist, author))) put(hist, author, { undo: [], redo: [] });
  return w.at(hist, author);
}

/** Starts a validated action: the author's redo stack is discarded. */
function beginAction(w, state, ev) {
  const objects = w.at(state, 'objects');
  const h = writableHistory(w, state, ev.author);
  for (const e of h.redo) entryDropped(w, objects, e, true);
  h.redo = [];
}

/** Ends an action: pushes its entry and drops entries beyond WB_HISTORY. */
function endAction(w, state, ev, entry) {
  const objects = w.at(state, 'objects');
  const h = writableHistory(w, state, ev.author);
  const undo = [...h.undo, entry];
  while (undo.length > WB_HISTORY) entryDropped(w, objects, undo.shift(), false);
  h.undo = undo;
  return true;
}

/**
 * While objects is full, expires the hiding entry with the lowest seq: a
 * delete or clear entry of an undo stack, or an add entry of a redo stack.
 */
function makeRoom(w, state) {
  const objects = w.at(state, 'objects');
  while (w.size(objects) >= WB_OBJECTS_MAX) {
    let best = null;
    for (const author of Object.keys(state.history)) {
      const h = own(state.history, author);
      for (const stack of ['undo', 'redo']) {
        const arr = own(h, stack);
        if (!Array.isArray(arr)) continue;
        arr.forEach((e, i) => {
          const op = getStr(e, 'op');
          if (stack === 'redo' ? op !== 'add' : op !== 'delete' && op !== 'clear') return;
          const seq = getInt(e, 'seq', 0);
          if (!best || seq < best.seq) best = { author, stack, i, seq, e };
        });
      }
    }
    if (!best) return;
    entryDropped(w, objects, best.e, best.stack === 'redo');
    const h = w.at(w.at(state, 'history'), best.author);
    h[best.stack] = h[best.stack].filter((_, j) => j !== best.i);
  }
}

// --- actions ---------------------------------------------------------------

/** A new object id: valid, unused, and a place for it (or a hidden object to expire). */
function newIdArg(w, state, p) {
  const k = readId(own(p, 'id'));
  if (k === undefined || own(state.objects, k) !== undefined) return undefined;
  if (w.size(state.objects) < WB_OBJECTS_MAX) return k;
  return Object.values(state.objects).some((o) => isObject(o) && !isVisible(o)) ? k : undefined;
}

function objectNew(ev, k, type) {
  return {
    id: k, type, author: ev.author, seq: ev.seq, ts: ev.ts, dx: 0, dy: 0, hidden: false, hidden_by: [],
  };
}

function addObject(w, state, ev, k, obj) {
  beginAction(w, state, ev);
  makeRoom(w, state);
  w.added(w.at(state, 'objects'), k, obj);
  return endAction(w, state, ev, { seq: ev.seq, op: 'add', id: k });
}

function strokeAdd(w, state, ev) {
  const p = ev.payload;
  const k = newIdArg(w, state, p);
  const color = colorArg(p);
  const size = sizeArg(p);
  const tv = own(p, 'tool');
  const tool = tv === undefined ? 'pen' : str(tv);
  if (k === undefined || color === undefined || size === undefined || (tool !== 'pen' && tool !== 'eraser')) return false;
  const points = pointsArg(p);
  if (!points) return false;
  const obj = objectNew(ev, k, 'stroke');
  Object.assign(obj, { points, color, size, tool });
  return addObject(w, state, ev, k, obj);
}

function shapeAdd(w, state, ev) {
  const p = ev.payload;
  const k = newIdArg(w, state, p);
  const color = colorArg(p);
  const shape = str(own(p, 'shape'));
  const size = sizeArg(p);
  const [x, y, wd, ht] = ['x', 'y', 'w', 'h'].map((f) => num(own(p, f), COORD_MAX));
  if (k === undefined || color === undefined || !SHAPES.includes(shape) || size === undefined
      || x === undefined || y === undefined || wd === undefined || ht === undefined) return false;
  const tv = own(p, 'text');
  const t = tv === undefined ? undefined : text(tv, 1, TEXT_MAX);
  if (tv !== undefined && t === undefined) return false;
  if (t === undefined && shape === 'text') return false;
  const obj = objectNew(ev, k, shape);
  Object.assign(obj, { x, y, w: wd, h: ht, color, size });
  if (t !== undefined) obj.text = t;
  return addObject(w, state, ev, k, obj);
}

/** [key, object] of the visible object the payload's id names, or undefined. */
function visibleArg(state, p) {
  const k = readId(own(p, 'id'));
  if (k === undefined) return undefined;
  const o = own(state.objects, k);
  return isObject(o) && isVisible(o) ? [k, o] : undefined;
}

function objectMove(w, state, ev) {
  const p = ev.payload;
  const target = visibleArg(state, p);
  const dx = num(own(p, 'dx'), COORD_MAX);
  const dy = num(own(p, 'dy'), COORD_MAX);
  if (!target || dx === undefined || dy === undefined || (dx === 0 && dy === 0)) return false;
  beginAction(w, state, ev);
  translate(w, w.at(state, 'objects'), target[0], dx, dy, 1);
  return endAction(w, state, ev, { seq: ev.seq, op: 'move', id: getStr(target[1], 'id'), dx, dy });
}

function objectDelete(w, state, ev) {
  const target = visibleArg(state, ev.payload);
  if (!target) return false;
  beginAction(w, state, ev);
  hiderAdd(w, w.at(state, 'objects'), target[0], ev.seq);
  return endAction(w, state, ev, { seq: ev.seq, op: 'delete', id: getStr(target[1], 'id') });
}

function clear(w, state, ev) {
  if (!Object.values(state.objects).some(isVisible)) return false;
  beginAction(w, state, ev);
  const objects = w.at(state, 'objects');
  const refs = Object.keys(objects).map((k) => ({ k, seq: getInt(objects[k], 'seq', 0) }));
  refs.sort((a, b) => (a.seq !== b.seq ? (a.seq < b.seq ? -1 : 1) : compareCodePoints(a.k, b.k)));
  for (const r of refs) hiderAdd(w, objects, r.k, ev.seq);
  return endAction(w, state, ev, { seq: ev.seq, op: 'clear', ids: refs.map((r) => r.k) });
}

/** Reverts (undo) or re-applies (redo) one entry on its targets. */
function replayEntry(w, objects, e, redo) {
  const op = getStr(e, 'op');
  const seq = getInt(e, 'seq', 0);
  const k = getStr(e, 'id');
  const hide = (key) => hiderAdd(w, objects, key, seq);
  const show = (key) => hiderDel(w, objects, key, seq);
  if (op === 'add') {
    if (entryObject(objects, k, seq, true)) (redo ? show : hide)(k);
  } else if (op === 'move') {
    if (entryObject(objects, k, seq, false)) translate(w, objects, k, getNum(e, 'dx'), getNum(e, 'dy'), redo ? 1 : -1);
  } else if (op === 'delete') {
    if (entryObject(objects, k, seq, false)) (redo ? hide : show)(k);
  } else if (op === 'clear') {
    const ids = own(e, 'ids');
    if (!Array.isArray(ids)) return;
    for (const c of ids) {
      if (typeof c === 'string' && entryObject(objects, c, seq, false)) (redo ? hide : show)(c);
    }
  }
}

/** undo (redo = false) or redo: moves the author's top entry to the other stack. */
function undoRedo(w, state, ev, redo) {
  const h = own(state.history, ev.author);
  if (!validHistory(h)) return false;
  const fromName = redo ? 'redo' : 'undo';
  const toName = redo ? 'undo' : 'redo';
  const from = h[fromName];
  if (from.length === 0) return false;
  const e = from[from.length - 1];
  const av = own(ev.payload, 'action');
  if (av !== undefined && int(av) !== getInt(e, 'seq', 0)) return false;
  replayEntry(w, w.at(state, 'objects'), e, redo);
  const hw = w.at(w.at(state, 'history'), ev.author);
  hw[toName] = [...hw[toName], e];
  hw[fromName] = from.slice(0, -1);
  return true;
}

const RULES = {
  'stroke.add': strokeAdd,
  'shape.add': shapeAdd,
  'object.move': objectMove,
  'object.delete': objectDelete,
  clear,
  undo: (w, s, e) => undoRedo(w, s, e, false),
  redo: (w, s, e) => undoRedo(w, s, e, true),
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
