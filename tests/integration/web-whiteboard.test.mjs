// web-whiteboard.test.mjs — the whiteboard app's pure modules
// (web/src/app/whiteboard: geometry, live, model, export) in Node, without
// servers or a browser.
//
//  1. Stroke preparation: rounding to 0.25, duplicates dropped, simplification
//     within tolerance, never more than the reducer's 2000 points.
//  2. Paths, bounds and hit testing of every object type.
//  3. Live strokes: only new points travel, a dropped message is resent, a
//     receiver appends each point once, drops the stroke on commit, cancel,
//     session leave or timeout; cursors expire when idle.
//  4. The model: folded state equals the reducer's; pending publishes are
//     drawn on top and settle when their events arrive; undo is pinned to
//     the top entry and waits for one's own actions; another author's undo
//     never hides one's objects.
//  5. Export: SVG built from the state (escaped text, characters XML does
//     not allow dropped, eraser in the background colour, bounds plus
//     margin); re-adding an object folds its move into its coordinates.
//  6. Drawing in workers (raster.js): packed strokes trace the same paths;
//     ranges are balanced and never put an eraser above a boundary; a
//     packed range draws exactly what drawObject() draws, call by call and
//     state by state (on a recording context).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replay, reduce, stateNew, canonicalJson } from '../../web/src/lib/reducers/index.js';
import {
  MAX_POINTS, fitView, hitObject, objectBounds, prepareStroke, readdPayload, roundCoord, simplify, svgPath, tracePacked, tracePath, zoomAt,
} from '../../web/src/app/whiteboard/geometry.js';
import { ObjectCache, drawObject } from '../../web/src/app/whiteboard/draw.js';
import { OTHER, drawPacked, packRange, splitRanges } from '../../web/src/app/whiteboard/raster.js';
import {
  CURSOR_IDLE_MS, Cursors, LIVE_MAX_ITEMS, LIVE_MAX_POINTS, LIVE_PER_SESSION, LIVE_TTL_MS, LiveItems, StrokeStream,
} from '../../web/src/app/whiteboard/live.js';
import { WhiteboardModel } from '../../web/src/app/whiteboard/model.js';
import { exportBounds, exportName, toSvg, EXPORT_MARGIN } from '../../web/src/app/whiteboard/export.js';

let seq = 0;
const ev = (author, kind, payload) => ({ seq: ++seq, ts: 1000 + seq, author, kind, payload });
const stroke = (id, points, extra = {}) => ({ id, points, color: '#112233', size: 4, ...extra });

describe('stroke preparation', () => {
  test('rounds to 0.25 (short in any JSON), drops duplicates and collinear points', () => {
    const raw = [[0.04, 0.2], [0.041, 0.21], [1.001, 1.2], [2, 2.2001], [3, 3.2], [3.26, 7.94]];
    assert.deepEqual(prepareStroke(raw), [[0, 0.25], [3, 3.25], [3.25, 8]]);
    for (const v of [0.1, 612.9, -3.37, 1e6 + 0.6]) assert.ok(String(roundCoord(v)).length <= String(Math.trunc(v)).length + 3);
    assert.equal(roundCoord(-0.04), 0);
    assert.ok(!Object.is(roundCoord(-0.04), -0));
  });

  test('a single point stays one point; garbage is skipped', () => {
    assert.deepEqual(prepareStroke([[5, 5], [5, 5], [NaN, 1]]), [[5, 5]]);
    assert.deepEqual(prepareStroke([]), []);
  });

  test('never more than 2000 points, shape kept', () => {
    const raw = [];
    for (let i = 0; i < 20000; i++) raw.push([i * 0.7, Math.sin(i / 15) * 80 + Math.random() * 0.01]);
    const out = prepareStroke(raw);
    assert.ok(out.length <= MAX_POINTS, `${out.length} points`);
    assert.ok(out.length > 100);
    assert.deepEqual(out[0], [0, roundCoord(raw[0][1])]);
    assert.deepEqual(out.at(-1), [roundCoord(raw.at(-1)[0]), roundCoord(raw.at(-1)[1])]);
    // Every raw point stays close to the simplified line.
    for (let i = 0; i < raw.length; i += 97) {
      const [x, y] = raw[i];
      const hit = hitObject({ type: 'stroke', points: out, size: 0.0001, dx: 0, dy: 0 }, x, y, 3);
      assert.ok(hit, `point ${i} lost`);
    }
  });

  test('simplify keeps the corners of a polyline', () => {
    const pts = [];
    for (let i = 0; i <= 100; i++) pts.push([i, 0]);
    for (let i = 1; i <= 100; i++) pts.push([100, i]);
    assert.deepEqual(simplify(pts, 0.5), [[0, 0], [100, 0], [100, 100]]);
  });
});

describe('paths, bounds, hits', () => {
  test('the smooth path passes through every point', () => {
    const calls = [];
    const rec = { moveTo: (...a) => calls.push(['M', ...a]), lineTo: (...a) => calls.push(['L', ...a]), bezierCurveTo: (...a) => calls.push(['C', ...a]) };
    tracePath(rec, [[0, 0], [20, 20], [40, 0], [60, 20], [61, 21]]);
    assert.deepEqual(calls[0], ['M', 0, 0]);
    assert.deepEqual(calls.filter((c) => c[0] === 'C').map((c) => c.slice(5)), [[20, 20], [40, 0], [60, 20]]);
    assert.deepEqual(calls.at(-1), ['L', 61, 21], 'a short segment stays straight');
    assert.equal(svgPath([[1, 2]]), 'M1 2L1.01 2');
    assert.equal(svgPath([[1, 2], [3, 4]], 10, 20), 'M11 22L13 24');
  });

  test('bounds include half the line width and the move', () => {
    assert.deepEqual(objectBounds({ type: 'stroke', points: [[0, 0], [10, 20]], size: 4, dx: 5, dy: -5 }), { x0: 3, y0: -7, x1: 17, y1: 17 });
    assert.deepEqual(objectBounds({ type: 'rect', x: 10, y: 10, w: -10, h: 20, size: 2, dx: 0, dy: 0 }), { x0: -1, y0: 9, x1: 11, y1: 31 });
    assert.deepEqual(objectBounds({ type: 'text', x: 0, y: 0, w: 50, h: 20, size: 16, dx: 1, dy: 1 }), { x0: 1, y0: 1, x1: 51, y1: 21 });
  });

  test('hit testing by line, outline and box', () => {
    const s = { type: 'stroke', points: [[0, 0], [100, 0]], size: 4, dx: 0, dy: 50 };
    assert.ok(hitObject(s, 50, 51, 1));
    assert.ok(!hitObject(s, 50, 0, 1), 'moved away');
    const r = { type: 'rect', x: 0, y: 0, w: 100, h: 100, size: 2, dx: 0, dy: 0 };
    assert.ok(hitObject(r, 0, 50, 2));
    assert.ok(!hitObject(r, 50, 50, 2), 'a rectangle is hit on its outline');
    const e = { type: 'ellipse', x: 0, y: 0, w: 200, h: 100, size: 2, dx: 0, dy: 0 };
    assert.ok(hitObject(e, 200, 50, 2));
    assert.ok(hitObject(e, 100, 0, 2));
    assert.ok(!hitObject(e, 100, 50, 2));
    const l = { type: 'arrow', x: 0, y: 0, w: 100, h: 100, size: 2, dx: 0, dy: 0 };
    assert.ok(hitObject(l, 50, 50, 1));
    assert.ok(!hitObject(l, 80, 20, 1));
    const t = { type: 'text', x: 0, y: 0, w: 80, h: 20, size: 16, dx: 0, dy: 0, text: 'hi' };
    assert.ok(hitObject(t, 40, 10, 0));
  });

  test('zoom at a point keeps that point still; fit covers the box', () => {
    const v = zoomAt({ scale: 1, tx: 0, ty: 0 }, 2, 100, 50);
    assert.deepEqual(v, { scale: 2, tx: -100, ty: -50 });
    assert.equal(zoomAt(v, 1000, 0, 0).scale, 16);
    const f = fitView({ x0: 0, y0: 0, x1: 1000, y1: 500 }, 540, 540, { margin: 20 });
    assert.equal(f.scale, 0.5);
    assert.equal(f.tx, 20);
  });
});

describe('live strokes and cursors', () => {
  test('only new points travel; a dropped message is sent with the next tick', () => {
    const sent = [];
    let up = true;
    const s = new StrokeStream({ id: 's1', color: '#000', size: 3, tool: 'pen', send: (k, p) => { if (up) sent.push([k, p]); return up; } });
    s.add(1.04, 2);
    s.add(3, 4);
    assert.equal(s.tick(), true);
    assert.equal(s.tick(), false, 'nothing new');
    s.add(5, 6);
    up = false;
    s.tick();
    up = true;
    s.add(7, 8);
    s.tick();
    s.end();
    assert.deepEqual(sent.map(([k, p]) => [k, p.from, p.points]), [
      ['stroke.live', 0, [[1, 2], [3, 4]]],
      ['stroke.live', 2, [[5, 6], [7, 8]]],
      ['stroke.end', undefined, undefined],
    ]);
  });

  test('a receiver appends each point once and drops the stroke on commit', () => {
    let now = 0;
    const live = new LiveItems({ now: () => now });
    const msg = (from, points) => ({ kind: 'stroke.live', author: 'u1', session: 'gw1.1', payload: { id: 's1', color: '#f00', size: 2, tool: 'pen', from, points } });
    assert.ok(live.onEphemeral(msg(0, [[0, 0], [1, 1]])));
    live.onEphemeral(msg(0, [[0, 0], [1, 1]])); // resent
    live.onEphemeral(msg(2, [[2, 2]]));
    live.onEphemeral(msg(1, [[1, 1], [2, 2], [3, 3]])); // overlapping
    assert.deepEqual(live.items.get('s1').points, [[0, 0], [1, 1], [2, 2], [3, 3]]);
    assert.ok(live.committed('s1'));
    assert.equal(live.size, 0);
    assert.equal(live.onEphemeral(msg(4, [[4, 4]])), false, 'a late message does not bring it back');
    // Bad payloads are ignored.
    assert.equal(live.onEphemeral({ kind: 'stroke.live', payload: { id: 'x', color: 'red', size: 2, points: [] } }), false);
    assert.equal(live.onEphemeral({ kind: 'stroke.live', payload: { id: 'bad id', color: '#000', size: 2, points: [] } }), false);
    // Cancel, session leave, timeout.
    live.onEphemeral({ ...msg(0, [[0, 0]]), payload: { ...msg(0, [[0, 0]]).payload, id: 's2' } });
    live.onEphemeral({ kind: 'stroke.end', payload: { id: 's2', cancel: true } });
    assert.equal(live.size, 0);
    live.onEphemeral({ ...msg(0, [[0, 0]]), payload: { ...msg(0, [[0, 0]]).payload, id: 's3' } });
    assert.ok(live.dropSession('gw1.1'));
    live.onEphemeral({ ...msg(0, [[0, 0]]), payload: { ...msg(0, [[0, 0]]).payload, id: 's4' } });
    now += LIVE_TTL_MS + 1;
    assert.ok(live.sweep());
    assert.equal(live.size, 0);
  });

  test('a flood of live strokes stays bounded and cheap', () => {
    let now = 0;
    const live = new LiveItems({ now: () => now });
    const big = [];
    for (let i = 0; i < 8000; i++) big.push([i, i % 7]);
    const flood = (id, session, from = 0) => ({ kind: 'stroke.live', author: 'm', session, payload: { id, color: '#000', size: 2, tool: 'pen', from, points: big } });
    const t0 = performance.now();
    // One stroke, sent again and again (from 0, and always "new" points).
    for (let i = 0; i < 100; i++) live.onEphemeral(flood('s1', 'x.1', i % 2 ? 0 : 1e9));
    assert.equal(live.items.get('s1').points.length, LIVE_MAX_POINTS);
    assert.deepEqual(live.items.get('s1').points.slice(0, 2), [[0, 0], [1, 1]]);
    // Once full it is not kept alive by more messages: it expires.
    now += LIVE_TTL_MS - 1;
    assert.equal(live.onEphemeral(flood('s1', 'x.1', LIVE_MAX_POINTS)), false);
    now += 2;
    assert.ok(live.sweep());
    assert.equal(live.size, 0);
    // Many strokes of one session: at most LIVE_PER_SESSION, the newest.
    for (let i = 0; i < 100; i++) live.onEphemeral(flood(`a${i}`, 'x.1'));
    assert.deepEqual([...live.items.keys()], ['a96', 'a97', 'a98', 'a99']);
    assert.equal(LIVE_PER_SESSION, 4);
    // Many sessions: at most LIVE_MAX_ITEMS in all, the newest.
    for (let i = 0; i < 100; i++) live.onEphemeral(flood(`b${i}`, `y.${i}`));
    assert.equal(live.size, LIVE_MAX_ITEMS);
    assert.ok(live.items.has('b99') && !live.items.has('b0') && !live.items.has('a99'));
    let total = 0;
    for (const it of live.items.values()) total += it.points.length;
    assert.ok(total <= LIVE_MAX_ITEMS * LIVE_MAX_POINTS);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${ms} ms for 300 messages of 8000 points`);
  });

  test('live points are validated one by one', () => {
    const live = new LiveItems({ now: () => 0 });
    const pts = [[1, 2], [NaN, 3], [4, Infinity], [5, 1e8], 'x', [6, -1e7], [7]];
    assert.ok(live.onEphemeral({ kind: 'stroke.live', session: 's', payload: { id: 'v', color: '#000', size: 2, from: 0, points: pts } }));
    assert.deepEqual(live.items.get('v').points, [[1, 2], [6, -1e7]]);
    // A shape and a stroke never share an id.
    assert.ok(live.onEphemeral({ kind: 'shape.live', session: 's', payload: { id: 'r', shape: 'rect', x: 0, y: 0, w: 1, h: 1, color: '#000', size: 2 } }));
    assert.equal(live.onEphemeral({ kind: 'stroke.live', session: 's', payload: { id: 'r', color: '#000', size: 2, from: 0, points: [[1, 1]] } }), false);
    assert.equal(live.items.get('r').type, 'shape');
  });

  test('cursors follow cursor events and live strokes, and expire when idle', () => {
    let now = 0;
    const c = new Cursors({ now: () => now });
    assert.ok(c.onEphemeral({ kind: 'cursor', session: 's', author: 'u', payload: { x: 1, y: 2 } }));
    assert.deepEqual([c.map.get('s').x, c.map.get('s').y], [1, 2]);
    c.onEphemeral({ kind: 'stroke.live', session: 's', author: 'u', payload: { id: 'a', points: [[5, 6], [7, 8]] } });
    assert.deepEqual([c.map.get('s').x, c.map.get('s').y], [7, 8]);
    now += CURSOR_IDLE_MS - 1;
    assert.equal(c.sweep(), false);
    now += 2;
    assert.equal(c.sweep(), true);
    c.onEphemeral({ kind: 'cursor', session: 's', author: 'u', payload: { x: 1, y: 2 } });
    assert.ok(c.onEphemeral({ kind: 'cursor', session: 's', author: 'u', payload: { gone: true } }));
    assert.equal(c.map.size, 0);
  });
});

describe('model', () => {
  test('folds events exactly as the reducer; adds are reported as appends', () => {
    seq = 0;
    const m = new WhiteboardModel({ me: 'a' });
    m.loadSnapshot({ seq: 0, epoch: 7, state: stateNew('whiteboard') });
    const events = [
      ev('a', 'stroke.add', stroke('s1', [[0, 0], [10, 10]])),
      ev('b', 'shape.add', { id: 'r1', shape: 'rect', x: 0, y: 0, w: 10, h: 10, color: '#000', size: 2 }),
      ev('b', 'object.move', { id: 's1', dx: 5, dy: 5 }),
      ev('a', 'clear', {}),
      ev('b', 'stroke.add', stroke('s2', [[1, 1]])),
      ev('a', 'undo', { action: 4 }),
    ];
    const changes = events.map((e) => m.applyEvent(e).type);
    assert.deepEqual(changes, ['add', 'add', 'change', 'change', 'add', 'change']);
    assert.equal(canonicalJson(m.state), canonicalJson(replay('whiteboard', events)));
    assert.deepEqual(m.committedOrder().map((o) => o.id), ['s1', 'r1', 's2']);
    assert.equal(m.applyEvent(events[0]), null, 'an old seq is ignored');
  });

  test('pending publishes show on top and settle when their events arrive', () => {
    seq = 0;
    const m = new WhiteboardModel({ me: 'a' });
    m.loadSnapshot({ seq: 0, state: null });
    m.applyEvent(ev('b', 'stroke.add', stroke('b1', [[0, 0]])));
    const p1 = { cid: 'c1', kind: 'stroke.add', payload: stroke('a1', [[1, 1]]) };
    assert.equal(m.setPending([p1]).layerChanged, false, 'an add is drawn on top: the layer stays');
    assert.deepEqual(m.pendingObjects().map((o) => o.id), ['a1']);
    assert.deepEqual(m.layerOrder().map((o) => o.id), ['b1']);
    assert.deepEqual(m.displayOrder().map((o) => o.id), ['b1', 'a1']);
    assert.ok(m.hasPendingActions());
    // Its event arrives (the handle still lists it until it settles).
    const c = m.applyEvent({ ...ev('a', 'stroke.add', p1.payload), cid: 'c1' });
    assert.equal(c.type, 'add');
    assert.deepEqual(m.pendingObjects(), []);
    assert.ok(!m.hasPendingActions());
    m.setPending([]);
    assert.deepEqual(m.committedOrder().map((o) => o.id), ['b1', 'a1']);
    // A pending delete changes the layer: it shows at once.
    assert.equal(m.setPending([{ cid: 'c2', kind: 'object.delete', payload: { id: 'b1' } }]).layerChanged, true);
    assert.deepEqual(m.layerOrder().map((o) => o.id), ['a1']);
    assert.deepEqual(m.committedOrder().map((o) => o.id), ['b1', 'a1'], 'the folded state is untouched');
  });

  test("one's acknowledged publishes stay shown until the state reaches them", () => {
    seq = 0;
    const m = new WhiteboardModel({ me: 'a' });
    m.loadSnapshot({ seq: 0, epoch: 1, state: null });
    const add = { cid: 'c1', kind: 'stroke.add', payload: stroke('a1', [[1, 1]]) };
    const del = { cid: 'c2', kind: 'object.delete', payload: { id: 'b1' } };
    m.applyEvent({ ...ev('b', 'stroke.add', stroke('b1', [[0, 0]])), epoch: 1 });
    const atOne = structuredClone(m.state);
    m.setPending([add, del]);
    assert.deepEqual(m.displayOrder().map((o) => o.id), ['a1']);
    // The handle settles both (acknowledged, or their events delivered to a
    // RoomSync that holds them back while it resyncs): neither is folded.
    m.setPending([]);
    assert.deepEqual(m.displayOrder().map((o) => o.id), ['a1'], 'still shown while settling');
    assert.deepEqual(m.pendingObjects().map((o) => o.id), ['a1']);
    assert.equal(m.ack('c1', { seq: 2, epoch: 1 }).changed, false);
    m.ack('c2', { seq: 3, epoch: 1 });
    assert.equal(m.pending.length, 2);
    assert.ok(m.hasPendingActions(), 'undo waits for them');
    // A snapshot below their seqs changes nothing; events at their seqs settle them.
    m.loadSnapshot({ seq: 1, epoch: 1, state: atOne });
    assert.deepEqual(m.displayOrder().map((o) => o.id), ['a1']);
    m.applyEvent({ seq: 2, epoch: 1, ts: 2, author: 'a', cid: 'c1', kind: 'stroke.add', payload: add.payload });
    assert.deepEqual(m.pending.map((p) => p.cid), ['c2']);
    assert.deepEqual(m.committedOrder().map((o) => o.id), ['b1', 'a1']);
    assert.deepEqual(m.displayOrder().map((o) => o.id), ['a1'], 'the delete still shows');
    m.applyEvent({ seq: 3, epoch: 1, ts: 3, author: 'a', cid: 'c2', kind: 'object.delete', payload: del.payload });
    assert.equal(m.pending.length, 0);
    assert.deepEqual(m.displayOrder().map((o) => o.id), ['a1']);
    assert.ok(!m.hasPendingActions());

    // Settled by a snapshot that reaches the acknowledged seq, or by one of
    // another epoch; a refused publish goes at once.
    const mv = { cid: 'c3', kind: 'object.move', payload: { id: 'a1', dx: 5, dy: 0 } };
    const mv2 = { cid: 'c4', kind: 'object.move', payload: { id: 'a1', dx: 0, dy: 5 } };
    const mv3 = { cid: 'c5', kind: 'object.move', payload: { id: 'a1', dx: 1, dy: 1 } };
    m.setPending([mv, mv2, mv3]);
    m.setPending([mv3]);
    m.ack('c3', { seq: 4, epoch: 1 });
    m.ack('c4', { seq: 9, epoch: 1 });
    assert.equal(m.pending.length, 3);
    const st = structuredClone(m.state);
    st.seq = 4;
    m.loadSnapshot({ seq: 4, epoch: 1, state: st });
    assert.deepEqual(m.pending.map((p) => p.cid), ['c4', 'c5']);
    m.loadSnapshot({ seq: 2, epoch: 2, state: null });
    assert.deepEqual(m.pending.map((p) => p.cid), ['c5'], 'acknowledged in epoch 1: never an event of epoch 2');
    assert.equal(m.refused('c5').changed, true);
    m.setPending([mv3]); // the handle may list it a moment longer
    assert.equal(m.pending.length, 0);
  });

  test('undo is pinned to the top entry, never touches other authors', () => {
    seq = 0;
    const m = new WhiteboardModel({ me: 'a' });
    m.loadSnapshot({ seq: 0, state: null });
    m.applyEvent(ev('a', 'stroke.add', stroke('a1', [[0, 0]])));
    m.applyEvent(ev('b', 'stroke.add', stroke('b1', [[0, 0]])));
    m.applyEvent(ev('a', 'stroke.add', stroke('a2', [[0, 0]])));
    assert.deepEqual(m.undoEntry(), { seq: 3, op: 'add', id: 'a2' });
    // Two undos in a row: the second is pinned to the entry under the first.
    m.setPending([{ cid: 'u1', kind: 'undo', payload: { action: 3 } }]);
    assert.deepEqual(m.undoEntry(), { seq: 1, op: 'add', id: 'a1' });
    assert.deepEqual(m.redoEntry(), { seq: 3, op: 'add', id: 'a2' });
    m.setPending([{ cid: 'u1', kind: 'undo', payload: { action: 3 } }, { cid: 'u2', kind: 'undo', payload: { action: 1 } }]);
    assert.deepEqual(m.layerOrder().map((o) => o.id), ['b1']);
    assert.equal(m.canUndo(), false);
    // Bob's undo of nothing of his leaves Alice's strokes alone.
    const other = new WhiteboardModel({ me: 'b' });
    other.loadSnapshot({ seq: m.seq, state: m.state });
    other.applyEvent(ev('b', 'undo', {}));
    other.applyEvent(ev('b', 'undo', {}));
    assert.deepEqual(other.committedOrder().map((o) => o.id), ['a1', 'a2']);
  });

  test('digest lists visible ids and seqs', () => {
    seq = 0;
    const m = new WhiteboardModel({ me: 'a' });
    m.loadSnapshot({ seq: 0, epoch: 3, state: null });
    m.applyEvent(ev('a', 'stroke.add', stroke('x', [[0, 0]])));
    assert.deepEqual(m.digest(), { seq: 1, epoch: 3, objects: 1, visible: ['x'], seqs: [1], pending: 0 });
  });
});

describe('export', () => {
  test('SVG from the objects: escaped text, erasers in the background colour, bounds + margin', () => {
    seq = 0;
    const state = replay('whiteboard', [
      ev('a', 'stroke.add', stroke('s1', [[0, 0], [100, 50]])),
      ev('a', 'stroke.add', stroke('e1', [[50, 25]], { tool: 'eraser', size: 10 })),
      ev('a', 'shape.add', { id: 't1', shape: 'text', x: 10, y: 60, w: 80, h: 20, color: '#333', size: 16, text: '<b>"Q&A"</b>\nline 2' }),
      ev('a', 'shape.add', { id: 'a1', shape: 'arrow', x: 0, y: 0, w: 40, h: 0, color: '#e03131', size: 2 }),
    ]);
    const objs = Object.values(state.objects).sort((x, y) => x.seq - y.seq);
    const svg = toSvg(objs, { title: 'Plan <1>' });
    assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.includes('<title>Plan &lt;1&gt;</title>'));
    assert.ok(svg.includes('&lt;b&gt;&quot;Q&amp;A&quot;&lt;/b&gt;'));
    assert.ok(!svg.includes('<b>'));
    assert.match(svg, /<path data-id="e1" d="[^"]+" stroke="#ffffff" stroke-width="10"\/>/);
    assert.equal((svg.match(/<tspan /g) ?? []).length, 2);
    const b = exportBounds(objs);
    assert.deepEqual(b, { x0: -11 - EXPORT_MARGIN, y0: -11 - EXPORT_MARGIN, x1: 102 + EXPORT_MARGIN, y1: 80 + EXPORT_MARGIN });
    assert.ok(svg.includes(`viewBox="${b.x0} ${b.y0} ${b.x1 - b.x0} ${b.y1 - b.y0}"`));
    assert.equal(exportBounds([]), null);
    assert.equal(exportName('My board: v2/final', 'png', new Date('2026-01-02T03:04:05Z')), 'My-board-v2final-2026-01-02.png');
  });

  test('SVG stays well-formed XML with control characters in the text', () => {
    seq = 0;
    // The reducer admits most controls (not NUL or lone surrogates: those
    // are tested on objects built by hand).
    const text = 'a\u0007b\u001bc\td\uFFFFe \uD83D\uDE00\nline\u000C2';
    const state = replay('whiteboard', [
      ev('a', 'shape.add', { id: 't1', shape: 'text', x: 0, y: 0, w: 80, h: 40, color: '#333', size: 16, text }),
      ev('a', 'shape.add', { id: 'r1', shape: 'rect', x: 0, y: 0, w: 30, h: 30, color: '#333', size: 2, text: 'x\u0001y' }),
    ]);
    assert.equal(Object.keys(state.objects).length, 2);
    const objs = Object.values(state.objects).sort((x, y) => x.seq - y.seq);
    objs.push({ ...state.objects.t1, id: 't2', seq: 9, text: 'n\u0000u\uD800l\uDC00l' });
    const svg = toSvg(objs, { title: 'T\u0008itle' });
    // Nothing XML 1.0 forbids: C0 controls other than tab, LF, CR; U+FFFE/FFFF; lone surrogates.
    assert.doesNotMatch(svg, /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/);
    assert.ok(svg.isWellFormed(), 'no lone surrogates');
    assert.ok(svg.includes('<title>Title</title>'));
    assert.ok(svg.includes('>abc\tde \uD83D\uDE00<'), 'text kept, controls dropped, pairs kept');
    assert.ok(svg.includes('>line2<'));
    assert.ok(svg.includes('>xy</text>'));
    assert.ok(svg.includes('>null<'));
  });

  test('re-adding an object folds its move into its coordinates (version restore)', () => {
    seq = 0;
    const events = [
      ev('a', 'stroke.add', stroke('s1', [[0, 0], [10, 10]], { tool: 'eraser' })),
      ev('a', 'shape.add', { id: 'r1', shape: 'rect', x: 1, y: 2, w: 3, h: 4, color: '#000', size: 2, text: 'label' }),
      ev('b', 'object.move', { id: 's1', dx: 5, dy: -5 }),
      ev('b', 'object.move', { id: 'r1', dx: 1, dy: 1 }),
    ];
    const st = replay('whiteboard', events);
    const a = readdPayload(st.objects.s1, 'n1');
    assert.deepEqual(a, { kind: 'stroke.add', payload: { id: 'n1', points: [[5, -5], [15, 5]], color: '#112233', size: 4, tool: 'eraser' } });
    const b = readdPayload(st.objects.r1, 'n2');
    assert.deepEqual(b, { kind: 'shape.add', payload: { id: 'n2', shape: 'rect', x: 2, y: 3, w: 3, h: 4, color: '#000', size: 2, text: 'label' } });
    // The reducer accepts both, and the result looks the same.
    let s = stateNew('whiteboard');
    s = reduce('whiteboard', s, { seq: 1, ts: 1, author: 'c', kind: a.kind, payload: a.payload });
    s = reduce('whiteboard', s, { seq: 2, ts: 2, author: 'c', kind: b.kind, payload: b.payload });
    assert.deepEqual(objectBounds(s.objects.n1), objectBounds(st.objects.s1));
    assert.deepEqual(objectBounds(s.objects.n2), objectBounds(st.objects.r1));
  });
});

/** Records path commands (a stand-in for Path2D in Node). */
class RecPath {
  constructor() { this.ops = []; }
  moveTo(...a) { this.ops.push(['M', ...a]); }
  lineTo(...a) { this.ops.push(['L', ...a]); }
  bezierCurveTo(...a) { this.ops.push(['C', ...a]); }
}

/**
 * A 2D context that records every drawing call with the state it draws
 * with (transform, styles, compositing), emulating save/restore,
 * setTransform/translate and the canvas rule that invalid line widths are
 * ignored.
 */
function recordingContext() {
  let st = {
    t: [1, 0, 0, 1, 0, 0], lineWidth: 1, strokeStyle: '#000000', fillStyle: '#000000', globalAlpha: 1,
    globalCompositeOperation: 'source-over', lineCap: 'butt', lineJoin: 'miter', font: '10px sans-serif', textAlign: 'start', textBaseline: 'alphabetic',
  };
  const stack = [];
  const log = [];
  let path = new RecPath();
  const draw = (op, ...args) => log.push({ op, args, st: { ...st, t: st.t.map((v) => Math.round(v * 1e9) / 1e9) } });
  const ctx = {
    save: () => stack.push({ ...st }),
    restore: () => { st = stack.pop(); },
    setTransform: (a, b, c, d, e, f) => { st.t = [a, b, c, d, e, f]; },
    translate: (x, y) => { const [a, b, c, d, e, f] = st.t; st.t = [a, b, c, d, e + a * x + c * y, f + b * x + d * y]; },
    beginPath: () => { path = new RecPath(); },
    moveTo: (...a) => path.moveTo(...a),
    lineTo: (...a) => path.lineTo(...a),
    ellipse: (...a) => path.ops.push(['E', ...a]),
    stroke: (p) => draw('stroke', (p ?? path).ops),
    strokeRect: (...a) => draw('strokeRect', ...a),
    fillText: (...a) => draw('fillText', ...a),
  };
  for (const k of Object.keys(st).filter((x) => x !== 't')) {
    Object.defineProperty(ctx, k, {
      get: () => st[k],
      set: (v) => {
        if (k === 'lineWidth' && !(Number.isFinite(v) && v > 0)) return;
        st[k] = v;
      },
    });
  }
  return { ctx, log };
}

describe('drawing in workers', () => {
  const pen = (id, n, extra = {}) => ({
    id, type: 'stroke', tool: 'pen', seq: 1, color: '#e03131', size: 3, dx: 0, dy: 0,
    points: Array.from({ length: n }, (_, i) => [i * 7.25, (i % 3) * 9.5 - 4]), ...extra,
  });

  test('packed points trace exactly the path of the nested ones', () => {
    const rec = () => {
      const p = new RecPath();
      return p;
    };
    for (const pts of [[[1, 2]], [[1, 2], [3.5, -4]], pen('a', 9).points, [[0, 0], [40, 0], [40, 3], [0, 60], [0.25, 60.5]]]) {
      const a = rec();
      tracePath(a, pts);
      const xy = new Float64Array([9, 9, ...pts.flat()]);
      const b = rec();
      tracePacked(b, xy, 1, pts.length);
      assert.deepEqual(b.ops, a.ops);
    }
  });

  test('ranges are contiguous, balanced by points, and an eraser never lies above a boundary', () => {
    const list = Array.from({ length: 10 }, (_, i) => pen(`s${i}`, 10));
    assert.deepEqual(splitRanges(list, 2), [[0, 5], [5, 10]]);
    assert.deepEqual(splitRanges(list, 1), [[0, 10]]);
    assert.deepEqual(splitRanges(list.slice(0, 1), 4), [[0, 1]]);
    const three = splitRanges(list, 3);
    assert.equal(three.length, 3);
    assert.equal(three[0][0], 0);
    assert.equal(three.at(-1)[1], 10);
    for (let i = 1; i < three.length; i++) assert.equal(three[i][0], three[i - 1][1]);
    // One heavy stroke: it gets a range of its own.
    const heavy = [pen('h', 200), ...list.slice(0, 4)];
    assert.deepEqual(splitRanges(heavy, 2), [[0, 1], [1, 5]]);
    // An eraser at index 6: the first range reaches above it.
    const er = list.map((o, i) => (i === 6 ? { ...o, tool: 'eraser' } : o));
    assert.deepEqual(splitRanges(er, 2), [[0, 7], [7, 10]]);
    assert.deepEqual(splitRanges(er, 3), [[0, 7], [7, 9], [9, 10]]);
    // An eraser on top: one range.
    const top = list.map((o, i) => (i === 9 ? { ...o, tool: 'eraser' } : o));
    assert.deepEqual(splitRanges(top, 4), [[0, 10]]);
  });

  test('a packed range draws what drawObject draws, call by call', () => {
    globalThis.Path2D = RecPath;
    try {
      const list = [
        pen('a', 5),
        pen('b', 1, { color: '#1971c2', size: 1 }),
        { id: 'r', type: 'rect', seq: 2, x: 10, y: 20, w: 30, h: -40, color: '#2f9e44', size: 2, dx: 0, dy: 0, text: 'label' },
        pen('c', 6, { dx: 12.5, dy: -3, size: 8 }),
        pen('e', 4, { tool: 'eraser', size: 24, color: '#1b1c22' }),
        { id: 't', type: 'text', seq: 3, x: 5, y: 5, w: 80, h: 20, color: '#9c36b5', size: 16, dx: 1, dy: 2, text: 'Hi\nthere' },
        pen('w', 3, { size: undefined, color: '#f08c00' }),
        pen('l', 3, { text: 'a labelled stroke' }),
        { id: 'x', type: 'arrow', seq: 4, x: 0, y: 0, w: 50, h: 10, color: '#000', size: 3, dx: 2, dy: 2 },
      ];
      const base = [2, 0, 0, 2, 30, -10];
      const main = recordingContext();
      main.ctx.setTransform(...base);
      const cache = new ObjectCache();
      for (const o of list) drawObject(main.ctx, o, cache);
      const { job } = packRange(list, 0, list.length);
      assert.equal(job.others.length, 4, 'shapes, text and the labelled stroke go as objects');
      assert.equal([...job.kind].filter((k) => k === OTHER).length, 4);
      const worker = recordingContext();
      drawPacked(worker.ctx, job, base);
      assert.deepEqual(worker.log, main.log);
      // Split into ranges, each on its own canvas: the same calls in the same order.
      const parts = splitRanges(list, 3).map(([a, b]) => {
        const r = recordingContext();
        drawPacked(r.ctx, packRange(list, a, b).job, base);
        return r.log;
      });
      assert.deepEqual(parts.flat(), main.log);
    } finally {
      delete globalThis.Path2D;
    }
  });
});
