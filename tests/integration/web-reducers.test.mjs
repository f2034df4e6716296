// web-reducers.test.mjs — the browser's room reducers (web/src/lib/reducers)
// and position keys (web/src/lib/positions.js), in Node, without servers.
//
//  1. Every case of the shared vectors (tests/vectors/*.json, the same files
//     the C reducers pass in tests/unit/test_reduce.c), compared as
//     canonical JSON (sorted keys, numbers by value): the pure fold (with
//     every input state deep-frozen, so any mutation throws), the in-place
//     fold, and snapshot splits (events 1..k folded, serialized and parsed,
//     then events k+1..n; every k for short cases, ~40 for long ones).
//  2. The API edges: roomKind, stateNew, errors for non-states, identity for
//     ignored events, keys such as "__proto__", code point order.
//  3. Position keys: the documented examples, refusals, random insertions,
//     growth when appending and prepending.
//  4. Random sequences (seeded, several authors, valid and spoiled events,
//     replays, long runs that reach the window and history limits):
//     snapshot + rest == full replay at random cut points, pure == in place.
//  5. Robustness: garbage events and corrupted states never make a reducer
//     throw, and every state survives a JSON round trip.
//  6. The limits too large for vector files: 5000 cards, 10,000 whiteboard
//     objects with the make-room rule.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  canonicalJson, compareCodePoints, reduce, reduceInPlace, reduceWithResult, replay, roomKind, stateNew,
  columnsInOrder, cardsInColumn, objectsInOrder, undoTop, redoTop,
} from '../../web/src/lib/reducers/index.js';
import {
  POSITION_MAX, after, before, between, isValidPosition, keyForIndex, spread,
} from '../../web/src/lib/positions.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CHORUS_VECTORS_DIR ?? path.join(HERE, '..', 'vectors');
const KINDS = ['chat', 'board', 'whiteboard'];

// ------------------------------------------------------------ helpers

/** Freezes v and everything inside it. */
function deepFreeze(v) {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze(v[k]);
  }
  return v;
}

/** A JSON round trip, as a snapshot is stored and loaded. */
const roundtrip = (v) => JSON.parse(JSON.stringify(v));

/** Folds events with the pure reducer, freezing each input state. */
function foldPure(kind, state, events) {
  let s = state;
  for (const e of events) s = reduce(kind, deepFreeze(s), e);
  return s;
}

/** Folds events in place into a copy of state. */
function foldInPlace(kind, state, events) {
  const s = roundtrip(state);
  for (const e of events) reduceInPlace(kind, s, e);
  return s;
}

function assertSameState(got, want, what) {
  const g = canonicalJson(got);
  const w = canonicalJson(want);
  if (g !== w) {
    let i = 0;
    while (i < g.length && g[i] === w[i]) i++;
    assert.fail(`${what}: states differ at ${i}\n  got  …${g.slice(Math.max(0, i - 120), i + 120)}\n  want …${w.slice(Math.max(0, i - 120), i + 120)}`);
  }
}

/** The split points the C test uses: every k for short cases, ~40 for long ones. */
function splits(n) {
  const out = [];
  for (let k = 0; k <= n; k += n > 40 ? Math.floor(n / 40) : 1) out.push(k);
  return out;
}

// ------------------------------------------------------------ random sequences

/** A seeded PRNG (mulberry32) with helpers, so failures reproduce. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    chance: (p) => next() < p,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
  return r;
}

// Small pools of authors, ids and keys, so events collide and hit every
// rule; they include names such as "__proto__" that plain JS objects mishandle.
const AUTHORS = ['alice', 'bob', 'carol', '__proto__', 'é🙂'];
const GOOD_POS = ['a', 'b', 'c', 'V', 'aV', '0z', 'z1', 'b5', 'Z', 'k', '1', 'zz', 'a1'];
const BAD_POS = ['a0', '', '!', 'a b', 'é', 5, null];

/** Mostly valid text; sometimes empty, too long, with U+0000, a lone surrogate or not a string. */
function text(r) {
  if (r.chance(0.03)) {
    return r.pick(['', ' ', '🙂🙂', 'a\u0000b', 'x'.repeat(4001), '𝄞'.repeat(4000), '𝄞'.repeat(4001), 7, null, ['a'], 'a\ud800', '\udc00b']);
  }
  const alphabet = 'abcdefghijklmnopqrstuvwxyz @#ÄéЖ中🙂𝄞\u0301';
  const chars = [...alphabet];
  let s = '';
  const n = 1 + r.int(12);
  for (let i = 0; i < n; i++) s += r.pick(chars);
  return s;
}

/** A coordinate or move: mostly in range, sometimes -0, out of range or not a number. */
function coord(r) {
  if (r.chance(0.02)) return r.pick([1e7 + 1, -1e7 - 1, '1', null, -0]);
  if (r.chance(0.3)) return Math.round(r.next() * 2e6) / 1000 - 1000;
  return r.pick([0, 1, -3, 2.5, 0.1, 0.2, 1e7, -1e7, 123.456, 1e-7, -0]);
}

function chatEvent(r, seq, p, opt) {
  const x = r.next();
  const lo = Math.max(1, seq - 260);
  const target = () => (r.chance(0.05) ? r.pick([1.0, '3', -1, 2.5, null]) : lo + r.int(seq - lo + 1));
  if (x < opt.create) {
    p.text = text(r);
    if (r.chance(0.3)) p.mentions = Array.from({ length: r.int(4) }, () => (r.chance(0.05) ? r.pick(['', 5, 'x'.repeat(129)]) : r.pick(AUTHORS)));
    return 'message.create';
  }
  if (x < opt.create + 0.2) {
    p.target_seq = target();
    p.text = text(r);
    if (r.chance(0.3)) p.mentions = r.chance(0.2) ? [] : [r.pick(AUTHORS)];
    return 'message.edit';
  }
  if (x < opt.create + 0.3) {
    p.target_seq = target();
    return 'message.delete';
  }
  return r.pick(['message.react', 'card.move', 'stroke.add']);
}

function pos(r) {
  return r.chance(0.05) ? r.pick(BAD_POS) : r.pick(GOOD_POS);
}

function boardEvent(r, seq, p, opt) {
  const cols = ['todo', 'doing', 'done', 'x1', 'x2', '__proto__', 'constructor'];
  const labels = ['bug', 'ux', 'p1', 'Ü', '🙂', '\uffff', '𝄞'];
  const comments = ['m1', 'm2', 'm3'];
  const card = r.chance(0.05) ? r.pick(['__proto__', 'toString', 'constructor']) : `k${r.int(r.chance(0.5) ? 10 : 60)}`;
  const x = r.next();
  if (x < 0.05) {
    Object.assign(p, { id: r.pick(cols), title: text(r), position: pos(r) });
    return 'column.create';
  }
  if (x < 0.08) {
    Object.assign(p, { id: r.pick(cols), title: r.chance(0.5) ? r.pick(['A', 'B']) : text(r) });
    return 'column.rename';
  }
  if (x < 0.11) {
    Object.assign(p, { id: r.pick(cols), position: pos(r) });
    return 'column.move';
  }
  if (x < 0.11 + opt.cdel) {
    p.id = r.pick(cols);
    return 'column.delete';
  }
  if (x < 0.30) {
    Object.assign(p, { id: card, column: r.pick(cols), title: text(r), position: pos(r) });
    if (r.chance(0.3)) p.description = r.chance(0.2) ? '' : text(r);
    return 'card.create';
  }
  if (x < 0.45) {
    p.id = card;
    if (r.chance(0.6)) p.title = r.chance(0.5) ? 'T' : text(r);
    if (r.chance(0.3)) p.description = r.chance(0.3) ? '' : text(r);
    if (r.chance(0.3)) p.labels = Array.from({ length: r.int(4) }, () => r.pick(labels));
    if (r.chance(0.6)) p.base_version = r.chance(0.05) ? r.pick(['1', 1.5, null]) : 1 + r.int(6);
    return 'card.update';
  }
  if (x < 0.58) {
    Object.assign(p, { id: card, column: r.pick(cols), position: pos(r) });
    return 'card.move';
  }
  if (x < 0.62) {
    p.id = card;
    return 'card.delete';
  }
  if (x < 0.70) {
    Object.assign(p, { id: card, user: r.chance(0.05) ? r.pick(['', 5]) : r.pick(AUTHORS) });
    return r.chance(0.5) ? 'card.assign' : 'card.unassign';
  }
  if (x < 0.80) {
    Object.assign(p, { id: card, label: r.pick(labels), on: r.chance(0.05) ? 1 : r.chance(0.6) });
    return 'card.label';
  }
  if (x < 0.92) {
    Object.assign(p, { card, id: r.pick(comments), text: text(r) });
    return 'comment.add';
  }
  if (x < 0.98) {
    Object.assign(p, { card, id: r.pick(comments) });
    return 'comment.delete';
  }
  return 'bogus';
}

function wbEvent(r, seq, p, opt, created) {
  const colors = ['#fff', '#123456', '#12345678', '#abcd', '#000', 'red', '#12', '#ggg'];
  const sizes = [1, 4, 0.5, 500, 2, 3, 8, 16, 0, 501, -1];
  const shapes = ['rect', 'ellipse', 'line', 'arrow', 'text', 'rect', 'star'];
  const freshId = () => {
    const k = r.chance(0.1) || !created.length ? r.pick(['o1', 'o2', 'o3', '__proto__', 'constructor']) : `n${created.length}`;
    created.push(k);
    return k;
  };
  const existingId = () => (created.length && r.chance(0.9) ? r.pick(created) : r.pick(['o1', 'o2', 'zz', '__proto__']));
  const x = r.next();
  if (x < 0.25) {
    const n = r.chance(0.05) ? 0 : 1 + r.int(4);
    Object.assign(p, {
      id: freshId(),
      points: Array.from({ length: n }, () => (r.chance(0.02) ? [coord(r)] : [coord(r), coord(r)])),
      color: r.pick(colors),
      size: r.pick(sizes),
    });
    if (r.chance(0.5)) p.tool = r.chance(0.9) ? r.pick(['pen', 'eraser']) : r.pick(['brush', null]);
    return 'stroke.add';
  }
  if (x < 0.37) {
    const shape = r.pick(shapes);
    Object.assign(p, { id: freshId(), shape, x: coord(r), y: coord(r), w: coord(r), h: coord(r), color: '#000', size: r.chance(0.5) ? 2 : 18 });
    if (shape === 'text' || r.chance(0.2)) p.text = text(r);
    return 'shape.add';
  }
  if (x < 0.52) {
    Object.assign(p, { id: existingId(), dx: coord(r), dy: coord(r) });
    return 'object.move';
  }
  if (x < 0.60) {
    p.id = existingId();
    return 'object.delete';
  }
  if (x < 0.60 + opt.clear) return 'clear';
  if (x < 0.64 + opt.undo) {
    if (r.chance(0.1)) p.action = r.chance(0.5) ? seq - 1 - r.int(3) : 1 + r.int(seq);
    return 'undo';
  }
  if (x < 0.64 + opt.undo * 1.7) {
    if (r.chance(0.1)) p.action = r.chance(0.5) ? seq - 1 - r.int(3) : 1 + r.int(seq);
    return 'redo';
  }
  return 'bogus';
}

const GEN = { chat: chatEvent, board: boardEvent, whiteboard: wbEvent };

/**
 * A random sequence of n wire events for a room kind; mostly plausible,
 * some spoiled (bad envelope, wrong types, replays).
 */
function sequence(kind, r, n) {
  const opt = {
    create: r.pick([0.5, 0.8, 0.95]),
    clear: r.pick([0, 0.005, 0.04]),
    undo: r.pick([0.02, 0.1, 0.2]),
    cdel: r.pick([0, 0.005, 0.02]),
    solo: r.chance(0.4),
  };
  const created = [];
  const events = [];
  let seq = 0;
  for (let i = 0; i < n; i++) {
    seq += r.chance(0.02) ? 2 : 1;
    const p = {};
    const k = GEN[kind](r, seq, p, opt, created);
    const author = opt.solo && r.chance(0.85) ? 'alice' : r.pick(AUTHORS);
    const ev = { room: `${kind}.1.1`, seq, epoch: 1, ts: 1000 * seq, author, session: 's', kind: k, cid: `c${seq}`, payload: p };
    if (r.chance(0.03)) {
      const spoil = r.int(7);
      if (spoil === 0) ev.author = r.pick(['', 'x'.repeat(129), 5, null, 'a\u0000']);
      else if (spoil === 1) ev.kind = r.pick([5, null, ['x'], `${k}\u0000`]);
      else if (spoil === 2) ev.payload = r.pick([null, 5, 'x', [p]]);
      else if (spoil === 3) ev.ts = r.pick([-5, 1.5, 'x', null, 2 ** 53]);
      else if (spoil === 4) delete ev.ts;
      else if (spoil === 5 && Object.keys(p).length) p[r.pick(Object.keys(p))] = r.pick([null, 5, 'x', [], {}, true]);
      else if (spoil === 6 && Object.keys(p).length) delete p[r.pick(Object.keys(p))];
    }
    events.push(ev);
    if (r.chance(0.02)) events.push(events[r.int(events.length)]);   // a replay: ignored
    if (r.chance(0.005)) events.push(r.pick([null, 5, 'x', [1], { seq: 'x' }]));
  }
  return events;
}

/** A random JSON value of any type (depth-limited). */
function garbage(r, depth = 3) {
  const strs = ['', 'x', 'a0', 'todo', 'k1', 'o1', '#fff', 'pen', 'rect', 'é', '🙂', 'has space', '0', '__proto__', 'constructor', 'a\u0000', '\ud800'];
  switch (r.int(depth > 0 ? 9 : 6)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, 1, -1, 2, 5, 100, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300]);
    case 3: return r.pick([0.5, -0.5, 1e300, -1e300, 1e-320, 3.0, 1e7, 10000000.5, -0]);
    case 4: return r.pick(strs);
    case 5: return String.fromCharCode(...Array.from({ length: r.int(20) }, () => 32 + r.int(95)));
    case 6: case 7: return Array.from({ length: r.int(5) }, () => garbage(r, depth - 1));
    default: {
      const o = {};
      const keys = ['id', 'text', 'x', 'points', 'seq', 'column', 'hidden_by', 'undo', 'redo', 'op', 'ids', '__proto__'];
      for (let i = r.int(4); i > 0; i--) Object.defineProperty(o, r.pick(keys), { value: garbage(r, depth - 1), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

/** Every [parent, key] pair below the top level of a state (for corruption). */
function innerSlots(state) {
  const out = [];
  const walk = (v, depth) => {
    if (v === null || typeof v !== 'object') return;
    for (const k of Object.keys(v)) {
      if (depth >= 1) out.push([v, k]);
      walk(v[k], depth + 1);
    }
  };
  walk(state, 0);
  return out;
}

// ------------------------------------------------------------ 1. vectors

const files = fs.readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort();

describe('shared vectors', () => {
  test('the vector files cover every room kind', () => {
    assert.ok(files.length >= 3, `vector files in ${VECTORS}`);
    const kinds = new Set();
    for (const f of files) for (const c of JSON.parse(fs.readFileSync(path.join(VECTORS, f), 'utf8'))) kinds.add(c.room_kind);
    assert.deepEqual([...kinds].sort(), ['board', 'chat', 'whiteboard']);
  });

  for (const f of files) {
    // JSON.parse accepts \u0000 in strings, which some cases rely on.
    const cases = JSON.parse(fs.readFileSync(path.join(VECTORS, f), 'utf8'));
    describe(f, () => {
      for (const c of cases) {
        test(c.name, () => {
          const { room_kind: kind, events, state: want } = c;
          assertSameState(foldPure(kind, stateNew(kind), events), want, 'full replay (pure)');
          assertSameState(foldInPlace(kind, stateNew(kind), events), want, 'full replay (in place)');
          for (const k of splits(events.length)) {
            const snap = roundtrip(foldInPlace(kind, stateNew(kind), events.slice(0, k)));
            assertSameState(foldPure(kind, snap, events.slice(k)), want, `snapshot after ${k} events`);
          }
        });
      }
    });
  }
});

// ------------------------------------------------------------ 2. API edges

describe('reducer API', () => {
  test('roomKind parses <kind>.<workspace>.<n>', () => {
    const yes = { 'chat.12.3': 'chat', 'whiteboard.12.4': 'whiteboard', 'board.12.5': 'board', 'board.0.0': 'board', 'chat.1234567890123456789.1': 'chat' };
    for (const [id, kind] of Object.entries(yes)) assert.equal(roomKind(id), kind, id);
    for (const id of [null, undefined, 5, '', 'chat', 'chat.', 'chat.12', 'chat.12.', 'chat..3', 'chat.12.3.4', 'chat.12.3x',
      'chat.a.3', 'chat.-1.3', 'chat.12345678901234567890.1', 'Chat.12.3', 'chatty.12.3', 'cha.12.3', 'board:42', '.12.3',
      'kanban.1.2', 'chat.１.2', 'chat.12.3\n']) {
      assert.equal(roomKind(id), null, String(id));
    }
  });

  test('stateNew gives JSON-stable empty states at seq 0; unknown kinds give null', () => {
    for (const kind of KINDS) {
      const s = stateNew(kind);
      assert.equal(s.seq, 0);
      assertSameState(roundtrip(s), s, kind);
      assert.notEqual(stateNew(kind), s, 'a fresh object each time');
    }
    assert.deepEqual(Object.keys(stateNew('board').columns).sort(), ['doing', 'done', 'todo']);
    for (const k of ['kanban', '', null, undefined, '__proto__', 'toString']) assert.equal(stateNew(k), null);
  });

  test('non-states and unknown kinds throw TypeError; garbage events never do', () => {
    const ev = { seq: 1, author: 'a', kind: 'message.create', ts: 5, payload: { text: 'hi' } };
    assert.throws(() => reduce('kanban', stateNew('chat'), ev), TypeError);
    assert.throws(() => reduce('toString', stateNew('chat'), ev), TypeError);
    assert.throws(() => reduce('board', stateNew('chat'), ev), TypeError);
    assert.throws(() => reduce('chat', null, ev), TypeError);
    assert.throws(() => reduce('chat', { seq: 'x', messages: [] }, ev), TypeError);
    assert.throws(() => reduce('chat', { seq: 0, messages: {} }, ev), TypeError);
    assert.throws(() => reduceInPlace('whiteboard', { seq: 0, objects: {} }, ev), TypeError);
    const s0 = stateNew('chat');
    for (const bad of [null, undefined, 5, 'x', [ev], { seq: 0 }, { seq: -1 }, { seq: 1.5 }]) {
      assert.equal(reduce('chat', s0, bad), s0, `ignored by the envelope: ${JSON.stringify(bad)}`);
    }
    const s1 = reduce('chat', s0, ev);
    assert.equal(s1.messages.length, 1);
    assert.equal(s0.messages.length, 0, 'the input is untouched');
    assert.equal(reduce('chat', s1, ev), s1, 'a replay returns the same state');
    assert.deepEqual(reduceWithResult('chat', s1, { ...ev, seq: 2, payload: { text: '' } }).applied, false);
    assert.deepEqual(reduceWithResult('chat', s1, { ...ev, seq: 2 }).applied, true);
    assert.equal(reduceInPlace('chat', s1, { ...ev, seq: 2 }), true);
    assert.equal(s1.messages.length, 2);
    assert.equal(reduceInPlace('chat', s1, { ...ev, seq: 2 }), false);
  });

  test('unchanged parts are shared with the previous state', () => {
    let s = stateNew('board');
    const ev = (seq, kind, payload) => ({ seq, ts: seq, author: 'alice', kind, payload });
    s = reduce('board', s, ev(1, 'card.create', { id: 'k1', column: 'todo', title: 'A', position: 'a' }));
    s = reduce('board', s, ev(2, 'card.create', { id: 'k2', column: 'todo', title: 'B', position: 'b' }));
    const next = reduce('board', s, ev(3, 'card.update', { id: 'k2', title: 'B2' }));
    assert.equal(next.cards.k1, s.cards.k1);
    assert.notEqual(next.cards.k2, s.cards.k2);
    assert.equal(next.columns, s.columns);
    assert.equal(s.cards.k2.title, 'B');
    const ignored = reduce('board', next, ev(4, 'card.update', { id: 'k2', title: 'B2' }));
    assert.equal(ignored.seq, 4);
    assert.equal(ignored.cards, next.cards, 'an ignored event changes nothing but seq');
  });

  test('client-chosen keys such as "__proto__" and "constructor" are plain keys', () => {
    const ev = (seq, author, kind, payload) => ({ seq, ts: seq, author, kind, payload });
    let b = stateNew('board');
    b = reduce('board', b, ev(1, 'alice', 'column.create', { id: '__proto__', title: 'P', position: 'd' }));
    b = reduce('board', b, ev(2, 'alice', 'card.create', { id: '__proto__', column: '__proto__', title: 'T', position: 'a' }));
    b = reduce('board', b, ev(3, 'alice', 'card.create', { id: 'constructor', column: 'todo', title: 'C', position: 'a' }));
    b = reduce('board', b, ev(4, 'alice', 'card.update', { id: '__proto__', title: 'T2' }));
    assert.equal(Object.getPrototypeOf(b.cards), Object.prototype);
    assert.deepEqual(Object.keys(b.cards).sort(), ['__proto__', 'constructor']);
    assert.equal(Object.getOwnPropertyDescriptor(b.cards, '__proto__').value.title, 'T2');
    assert.equal(b.cards.constructor.title, 'C');
    assert.deepEqual(roundtrip(b), JSON.parse(JSON.stringify(roundtrip(b))));
    assert.ok(JSON.stringify(b).includes('"__proto__":{"id":"__proto__"'));
    assert.deepEqual(columnsInOrder(b).map((c) => c.id), ['todo', 'doing', 'done', '__proto__']);
    assert.deepEqual(cardsInColumn(b, '__proto__').map((c) => c.id), ['__proto__']);
    const b2 = reduce('board', b, ev(5, 'alice', 'card.update', { id: 'toString', title: 'x' }));
    assert.equal(Object.keys(b2.cards).length, 2, 'an inherited name is not a card');

    let w = stateNew('whiteboard');
    w = reduce('whiteboard', w, ev(1, '__proto__', 'stroke.add', { id: '__proto__', points: [[0, 0]], color: '#000', size: 1 }));
    w = reduce('whiteboard', w, ev(2, '__proto__', 'undo', {}));
    assert.equal(Object.getPrototypeOf(w.history), Object.prototype);
    assert.deepEqual(Object.keys(w.history), ['__proto__']);
    assert.equal(redoTop(w, '__proto__').id, '__proto__');
    assert.equal(undoTop(w, '__proto__'), null);
    assert.equal(undoTop(w, 'constructor'), null);
    assert.deepEqual(objectsInOrder(w), []);
    assert.equal(objectsInOrder(w, { hidden: true }).length, 1);
  });

  test('strings sort by code point, not by UTF-16 unit', () => {
    const words = ['\uffff', '😀', 'a', 'é', '\ue000', 'ab', ''];
    assert.deepEqual([...words].sort(compareCodePoints), ['', 'a', 'ab', 'é', '\ue000', '\uffff', '😀']);
    assert.ok(compareCodePoints('😀', '\uffff') > 0);
    assert.ok('😀' < '\uffff', 'the default order differs');
    let b = stateNew('board');
    b = reduce('board', b, { seq: 1, author: 'a', kind: 'card.create', payload: { id: 'k', column: 'todo', title: 't', position: 'a' } });
    b = reduce('board', b, { seq: 2, author: 'a', kind: 'card.update', payload: { id: 'k', labels: ['😀', '\uffff', 'b'] } });
    assert.deepEqual(b.cards.k.labels, ['b', '\uffff', '😀']);
  });

  test('canonicalJson sorts keys and compares numbers by value', () => {
    assert.equal(canonicalJson({ b: 1, a: [3.0, -0, { d: null, c: 'x' }] }), '{"a":[3,0,{"c":"x","d":null}],"b":1}');
    assert.equal(canonicalJson(JSON.parse('{"x":1.0}')), canonicalJson({ x: 1 }));
  });
});

// ------------------------------------------------------------ 3. positions

describe('position keys', () => {
  test('the documented examples', () => {
    const cases = [
      [null, null, 'V'], ['a', null, 'b'], ['z', null, 'z1'], ['zz', null, 'zz1'], ['zy5', null, 'zz'],
      [null, 'b', 'a'], [null, '1', '0z'], [null, '01', '00z'], [null, '1V', '1U'], ['a', 'c', 'b'],
      ['a', 'b', 'aV'], ['a', 'aV', 'aU'], ['aF', 'aV', 'aN'], ['a', 'a01', 'a00z'], ['a1', 'b', 'a2'],
      ['az', 'b', 'az1'], ['0V', '1', '0W'], ['V', 'k', 'c'],
    ];
    for (const [lo, hi, want] of cases) assert.equal(between(lo, hi), want, `between(${lo}, ${hi})`);
    assert.equal(between(undefined, undefined), 'V');
    assert.equal(after('a'), 'b');
    assert.equal(before('b'), 'a');
  });

  test('validity and refusals', () => {
    for (const k of ['a', 'V', '0V', 'zz1', '09AZaz1', 'a'.repeat(POSITION_MAX)]) assert.ok(isValidPosition(k), k);
    for (const k of [null, '', '0', 'a0', 'a-', 'a b', 'é', 'a'.repeat(POSITION_MAX + 1), 5]) assert.ok(!isValidPosition(k), String(k));
    assert.equal(between('b', 'a'), null);
    assert.equal(between('a', 'a'), null);
    assert.equal(between('a0', null), null);
    assert.equal(between(null, ''), null);
    assert.equal(between('z'.repeat(POSITION_MAX), null), null, 'too long: respace');
    assert.equal(between('z'.repeat(POSITION_MAX - 1), null), `${'z'.repeat(POSITION_MAX - 1)}1`);
  });

  test('random insertions keep a list strictly increasing', () => {
    const r = prng(0x9e3779b9);
    for (let round = 0; round < 200; round++) {
      const keys = [];
      for (let i = 0; i < 60; i++) {
        const at = r.int(keys.length + 1);
        const k = between(keys[at - 1] ?? null, keys[at] ?? null);
        assert.ok(isValidPosition(k), `valid: ${k}`);
        if (at > 0) assert.ok(keys[at - 1] < k);
        if (at < keys.length) assert.ok(k < keys[at]);
        keys.splice(at, 0, k);
      }
    }
  });

  test('appending and prepending grow keys by one character per ~61 keys', () => {
    let cur = 'V';
    for (let i = 0; i < 1000; i++) {
      const n = between(cur, null);
      assert.ok(cur < n);
      cur = n;
    }
    assert.ok(cur.length <= Math.floor(1000 / 61) + 2, cur);
    cur = 'V';
    for (let i = 0; i < 1000; i++) {
      const n = between(null, cur);
      assert.ok(n < cur);
      cur = n;
    }
    assert.ok(cur.length <= Math.floor(1000 / 61) + 3, cur);
  });

  test('spread and keyForIndex', () => {
    const keys = spread(100);
    assert.equal(keys[0], 'V');
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1] < keys[i] && isValidPosition(keys[i]));
    assert.equal(keyForIndex([], 0), 'V');
    assert.equal(keyForIndex(['a', 'c'], 0), between(null, 'a'));
    assert.equal(keyForIndex(['a', 'c'], 1), 'b');
    assert.equal(keyForIndex(['a', 'c'], 9), 'd');
    const k = keyForIndex(['a', 'b', 'b', 'c'], 2);
    assert.ok(k > 'b' && k < 'c', `after a tie: ${k}`);
  });
});

// ------------------------------------------------------------ 4. random sequences

describe('random sequences', () => {
  for (const kind of KINDS) {
    test(`${kind}: snapshot + rest == full replay at random cut points; pure == in place`, () => {
      const r = prng(KINDS.indexOf(kind) * 7919 + 17);
      for (let i = 0; i < 150; i++) {
        const n = r.chance(0.25) ? 300 + r.int(400) : 1 + r.int(100);
        const events = sequence(kind, r, n);
        const full = foldInPlace(kind, stateNew(kind), events);
        assertSameState(roundtrip(full), full, `${kind} #${i}: JSON-stable`);
        if (i % 10 === 0) assertSameState(foldPure(kind, stateNew(kind), events), full, `${kind} #${i}: pure`);
        for (let c = 0; c < 3; c++) {
          const k = r.int(events.length + 1);
          const snap = roundtrip(foldInPlace(kind, stateNew(kind), events.slice(0, k)));
          const snapText = canonicalJson(snap);
          for (const e of events.slice(0, k)) {
            if (e && typeof e === 'object' && Number.isInteger(e.seq) && e.seq <= snap.seq) reduceInPlace(kind, snap, e);
          }
          assert.equal(canonicalJson(snap), snapText, `${kind} #${i}: replaying events up to the snapshot changes nothing`);
          assertSameState(foldPure(kind, snap, events.slice(k)), full, `${kind} #${i}: cut at ${k} of ${events.length}`);
        }
      }
    });
  }
});

// ------------------------------------------------------------ 5. robustness

describe('robustness', () => {
  const VOCAB = {
    chat: ['message.create', 'message.edit', 'message.delete'],
    board: ['column.create', 'column.rename', 'column.move', 'column.delete', 'card.create', 'card.update', 'card.move',
      'card.delete', 'card.assign', 'card.unassign', 'card.label', 'comment.add', 'comment.delete'],
    whiteboard: ['stroke.add', 'shape.add', 'object.move', 'object.delete', 'clear', 'undo', 'redo'],
  };

  test('garbage events never throw and leave JSON-stable states', () => {
    const r = prng(4242);
    for (const kind of KINDS) {
      for (let round = 0; round < 60; round++) {
        let s = foldInPlace(kind, stateNew(kind), sequence(kind, r, r.int(150)));
        for (let i = 0; i < 80; i++) {
          let ev;
          if (r.chance(0.2)) {
            ev = garbage(r);
          } else {
            ev = { seq: s.seq + 1 + (r.chance(0.1) ? r.int(3) - 2 : 0), ts: garbage(r, 0), author: r.chance(0.8) ? 'alice' : garbage(r, 1) };
            ev.kind = r.chance(0.9) ? r.pick(VOCAB[kind]) : garbage(r, 1);
            ev.payload = r.chance(0.1) ? garbage(r) : Object.fromEntries(
              ['id', 'text', 'title', 'column', 'position', 'card', 'user', 'label', 'on', 'points', 'color', 'size', 'tool',
                'shape', 'x', 'y', 'w', 'h', 'dx', 'dy', 'target_seq', 'mentions', 'labels', 'base_version', 'action', 'description']
                .filter(() => r.chance(0.3)).map((k) => [k, garbage(r)]),
            );
          }
          const prevSeq = s.seq;
          s = r.chance(0.5) ? reduce(kind, s, ev) : (reduceInPlace(kind, s, ev), s);
          assert.ok(s.seq >= prevSeq, 'seq never goes back');
        }
        assertSameState(roundtrip(s), s, `${kind} round ${round}: JSON-stable`);
      }
    }
  });

  test('valid events on corrupted states never throw', () => {
    const r = prng(777);
    for (const kind of KINDS) {
      for (let round = 0; round < 80; round++) {
        const s = foldInPlace(kind, stateNew(kind), sequence(kind, r, 20 + r.int(150)));
        const slots = innerSlots(s);
        for (let i = 0; i < 1 + r.int(4) && slots.length; i++) {
          const [parent, key] = r.pick(slots);
          if (r.chance(0.2) && !Array.isArray(parent)) delete parent[key];
          else Object.defineProperty(parent, key, { value: garbage(r), enumerable: true, writable: true, configurable: true });
        }
        const frozen = deepFreeze(roundtrip(s));
        let a = frozen;
        const b = roundtrip(s);
        for (const ev of sequence(kind, r, 60).map((e) => (e && typeof e === 'object' ? { ...e, seq: e.seq + s.seq } : e))) {
          a = reduce(kind, a, ev);
          reduceInPlace(kind, b, ev);
        }
        assertSameState(a, b, `${kind} round ${round}: pure == in place on a corrupted state`);
        assertSameState(roundtrip(a), a, `${kind} round ${round}: JSON-stable`);
      }
    }
  });
});

// ------------------------------------------------------------ 6. large limits

describe('limits beyond the vector files', () => {
  const wire = (seq, author, kind, payload) => ({ room: 'x.1.1', seq, epoch: 1, ts: seq * 1000, author, session: 's', kind, cid: 'c', payload });

  test('a board holds at most 5000 cards; deleting a column deletes its cards', () => {
    let seq = 0;
    const creates = Array.from({ length: 5001 }, (_, i) => wire(++seq, 'alice', 'card.create', { id: `k${i}`, column: 'todo', title: 't', position: 'a' }));
    const st = replay('board', creates);
    assert.equal(Object.keys(st.cards).length, 5000);
    assert.equal(st.cards.k5000, undefined);
    assert.equal(reduceInPlace('board', st, wire(++seq, 'alice', 'card.create', { id: 'k5001', column: 'todo', title: 't', position: 'a' })), false);
    assert.equal(st.activity.length, 100);
    assert.ok(reduceInPlace('board', st, wire(++seq, 'bob', 'card.delete', { id: 'k0' })));
    assert.ok(reduceInPlace('board', st, wire(++seq, 'bob', 'card.create', { id: 'k5000', column: 'done', title: 't', position: 'a' })));
    const next = reduce('board', st, wire(++seq, 'bob', 'column.delete', { id: 'todo' }));
    assert.equal(Object.keys(next.cards).length, 1);
    assert.equal(Object.keys(st.cards).length, 5000, 'the pure fold left the input alone');
    assert.equal(next.activity.at(-1).summary, 'deleted column "To Do" and 4999 cards');
  });

  test('a whiteboard holds at most 10,000 objects and makes room by expiring the oldest hiding entry', () => {
    const stroke = (id) => ({ id, points: [[0, 0]], color: '#000', size: 1 });
    let seq = 0;
    const adds = Array.from({ length: 10001 }, (_, i) => wire(++seq, i % 2 ? 'alice' : 'bob', 'stroke.add', stroke(`s${i}`)));
    const st = replay('whiteboard', adds);
    assert.equal(Object.keys(st.objects).length, 10000);
    assert.equal(st.objects.s10000, undefined);
    assert.ok(reduceInPlace('whiteboard', st, wire(++seq, 'alice', 'undo', {})));
    const t0 = Date.now();
    const next = reduce('whiteboard', st, wire(++seq, 'bob', 'stroke.add', stroke('b1')));
    const pureMs = Date.now() - t0;
    assert.equal(Object.keys(next.objects).length, 10000);
    assert.equal(next.objects.s9999, undefined);
    assert.ok(next.objects.b1);
    assert.equal(next.history.alice.redo.length, 0);
    assert.ok(st.objects.s9999, 'the pure fold left the input alone');
    assert.ok(pureMs < 500, `a pure fold on a full board took ${pureMs} ms`);
    reduceInPlace('whiteboard', st, wire(seq, 'bob', 'stroke.add', stroke('b1')));
    assert.ok(reduceInPlace('whiteboard', st, wire(++seq, 'carol', 'clear', {})));
    assert.ok(reduceInPlace('whiteboard', st, wire(++seq, 'carol', 'stroke.add', stroke('c1'))));
    assert.equal(Object.keys(st.objects).length, 1);
    assert.equal(st.history.carol.undo.length, 1);
  });
});
