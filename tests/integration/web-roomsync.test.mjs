// web-roomsync.test.mjs — RoomSync (web/src/app/roomsync.js) in node, with
// a fake model, a snapshot loader the test resolves by hand and fake
// timers: events buffered while the snapshot loads, duplicates, gaps and
// epoch changes that reload the snapshot, a snapshot behind the stream,
// failed reloads retried with backoff, onReset, the buffer's bound,
// dispose, a join point above the first snapshot or in another epoch,
// prefetched snapshots (prefetch.js) handed out once, and the route the
// page opens on (router.js, read at load by early.js). The fake model's
// apply hook asserts the invariant: every event is applied once, in seq
// order, gapless, after a snapshot.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_BUFFER, RoomSync } from '../../web/src/app/roomsync.js';
import { dropPrefetched, firstSnapshot, prefetchSnapshot, takePrefetched } from '../../web/src/app/prefetch.js';
import { Scope } from '../../web/src/app/events.js';
import { parseRoute } from '../../web/src/app/router.js';

const settle = () => new Promise((r) => setImmediate(r));

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Timers that run only when the test fires them; `delays` lists what was scheduled. */
function fakeTimers() {
  const pending = new Map();
  let next = 1;
  return {
    delays: [],
    setTimeout(fn, ms) {
      const id = next++;
      pending.set(id, fn);
      this.delays.push(ms);
      return id;
    },
    clearTimeout(id) { pending.delete(id); },
    get size() { return pending.size; },
    /** Runs every scheduled timer once. */
    fire() {
      const fns = [...pending.values()];
      pending.clear();
      for (const fn of fns) fn();
    },
  };
}

function harness({ retryMs } = {}) {
  const model = { seq: 0, epoch: null, applied: [], stale: [], loads: [], loaded: [], errors: [] };
  const requests = []; // one deferred per snapshot request, resolved by the test
  const timers = fakeTimers();
  const scope = new Scope();
  const sync = new RoomSync({
    snapshot: () => {
      const d = deferred();
      requests.push(d);
      return d.promise;
    },
    seq: () => model.seq,
    epoch: () => model.epoch,
    loadSnapshot: (snap, cause) => {
      model.seq = snap.seq;
      model.epoch = snap.epoch ?? null;
      model.loads.push([cause, snap.seq]);
    },
    apply: (ev) => {
      assert.ok(model.loads.length > 0, `seq ${ev.seq} applied before a snapshot`);
      assert.equal(ev.seq, model.seq + 1, 'applied in order without a gap');
      if (model.epoch !== null && ev.epoch !== undefined) assert.equal(ev.epoch, model.epoch, 'applied in the model epoch');
      model.seq = ev.seq;
      model.applied.push(ev.seq);
    },
    stale: (ev) => model.stale.push(ev.seq),
    onLoadError: (err) => model.errors.push(err.message),
    onLoaded: (cause) => model.loaded.push(cause),
  }, { scope, timers, ...(retryMs ? { retryMs } : {}) });
  /** Resolves the newest snapshot request (or fails it with an Error). */
  const answer = async (snap) => {
    const d = requests.at(-1);
    if (snap instanceof Error) d.reject(snap);
    else d.resolve({ state: {}, ...snap });
    await settle();
  };
  const ev = (seq, epoch = 1) => ({ seq, epoch, kind: 'x' });
  return { sync, model, requests, timers, scope, answer, ev };
}

/** A harness already loaded at seq (epoch 1). */
async function loadedAt(seq, opts) {
  const t = harness(opts);
  t.sync.load();
  await t.answer({ seq, epoch: 1 });
  assert.deepEqual(t.model.loads, [['load', seq]]);
  return t;
}

describe('RoomSync', () => {
  test('events that arrive while the snapshot loads are folded after it, those above its seq once', async () => {
    const t = harness();
    t.sync.load();
    for (const s of [4, 2, 3, 5, 6]) t.sync.onEvent(t.ev(s));
    assert.equal(t.sync.buffered, 5);
    assert.deepEqual(t.model.applied, []);
    await t.answer({ seq: 3, epoch: 1 });
    assert.deepEqual(t.model.applied, [4, 5, 6]);
    assert.deepEqual(t.model.stale, [2, 3]);
    assert.deepEqual(t.model.loaded, ['load']);
    assert.equal(t.sync.buffered, 0);
    assert.equal(t.requests.length, 1);
    t.sync.onEvent(t.ev(7));
    assert.deepEqual(t.model.applied, [4, 5, 6, 7]);
  });

  test('events without a numeric seq are ignored', async () => {
    const t = await loadedAt(1);
    t.sync.onEvent(null);
    t.sync.onEvent({ kind: 'x' });
    t.sync.onEvent({ seq: '2', kind: 'x' });
    assert.deepEqual(t.model.applied, []);
    assert.deepEqual(t.model.stale, []);
    assert.equal(t.requests.length, 1);
  });

  test('duplicates are not applied again; the stale hook sees them', async () => {
    const t = await loadedAt(5);
    for (const s of [6, 6, 7, 5, 7, 8]) t.sync.onEvent(t.ev(s));
    assert.deepEqual(t.model.applied, [6, 7, 8]);
    assert.deepEqual(t.model.stale, [6, 5, 7]);
    assert.equal(t.requests.length, 1, 'no reload for a duplicate');
  });

  test('a gap holds the event back and reloads the snapshot; the events meanwhile are folded after it', async () => {
    const t = await loadedAt(5);
    t.sync.onEvent(t.ev(8));
    assert.equal(t.requests.length, 2, 'reload requested');
    assert.deepEqual(t.model.applied, []);
    t.sync.onEvent(t.ev(9)); // arrives while the reload is in flight
    t.sync.resync(); // one reload at a time
    assert.equal(t.requests.length, 2);
    await t.answer({ seq: 7, epoch: 1 });
    assert.deepEqual(t.model.loads, [['load', 5], ['resync', 7]]);
    assert.deepEqual(t.model.applied, [8, 9]);
    assert.deepEqual(t.model.loaded, ['load', 'resync']);
    assert.equal(t.timers.size, 0);
  });

  test('a gap left by the first snapshot reloads it at once', async () => {
    const t = harness();
    t.sync.load();
    t.sync.onEvent(t.ev(10));
    await t.answer({ seq: 3, epoch: 1 });
    assert.equal(t.requests.length, 2, 'reloaded without waiting for another event');
    await t.answer({ seq: 9, epoch: 1 });
    assert.deepEqual(t.model.applied, [10]);
  });

  test('a snapshot behind the stream is not loaded over a newer model; reloads back off 200 ms, 400 ms, ...', async () => {
    const t = await loadedAt(10);
    t.sync.onEvent(t.ev(13));
    await t.answer({ seq: 9, epoch: 1 }); // older than the model: kept out
    assert.deepEqual(t.model.loads, [['load', 10]]);
    assert.deepEqual(t.model.loaded, ['load']);
    assert.deepEqual(t.timers.delays, [200]);
    t.sync.onEvent(t.ev(14)); // held while the reload waits
    t.sync.resync(); // a scheduled reload is not doubled
    assert.equal(t.requests.length, 2);
    t.timers.fire();
    assert.equal(t.requests.length, 3);
    await t.answer({ seq: 11, epoch: 1 }); // newer but still behind 13
    assert.deepEqual(t.model.loads, [['load', 10], ['resync', 11]]);
    assert.deepEqual(t.model.applied, []);
    assert.deepEqual(t.timers.delays, [200, 400]);
    t.timers.fire();
    await t.answer({ seq: 12, epoch: 1 });
    assert.deepEqual(t.model.applied, [13, 14]);
    assert.equal(t.timers.size, 0);
    // Caught up: the next lag starts again at 200 ms.
    t.sync.onEvent(t.ev(16));
    await t.answer({ seq: 14, epoch: 1 });
    assert.deepEqual(t.timers.delays, [200, 400, 200]);
  });

  test('an event of another epoch reloads the snapshot; the old epoch\'s events are dropped', async () => {
    const t = await loadedAt(10);
    t.sync.onEvent(t.ev(1, 2)); // the room restarted: epoch 2
    assert.equal(t.requests.length, 2);
    t.sync.onEvent(t.ev(11, 1)); // late event of epoch 1
    t.sync.onEvent(t.ev(2, 2));
    await t.answer({ seq: 0, epoch: 2 }); // lower seq, but a new epoch: loaded
    assert.deepEqual(t.model.loads, [['load', 10], ['resync', 0]]);
    assert.equal(t.model.epoch, 2);
    assert.deepEqual(t.model.applied, [1, 2]);
    assert.equal(t.sync.buffered, 0);
    t.sync.onEvent(t.ev(12, 1));
    assert.equal(t.requests.length, 3, 'an old-epoch event asks for a reload');
    await t.answer({ seq: 2, epoch: 2 });
    assert.deepEqual(t.model.applied, [1, 2]);
    assert.equal(t.sync.buffered, 0, 'and is dropped by it');
  });

  test('an event of another epoch at or below the model seq still reloads', async () => {
    const t = await loadedAt(10);
    t.sync.onEvent(t.ev(3, 2));
    assert.deepEqual(t.model.stale, []);
    assert.equal(t.requests.length, 2);
    await t.answer({ seq: 2, epoch: 2 });
    assert.deepEqual(t.model.applied, [3]);
  });

  test('a failed reload is retried with backoff, doubling up to 10 s; events keep being held', async () => {
    const t = await loadedAt(5);
    t.sync.onEvent(t.ev(7));
    await t.answer(new Error('502'));
    assert.deepEqual(t.timers.delays, [1000]);
    t.sync.resync(); // a scheduled retry is not doubled
    t.sync.onEvent(t.ev(8));
    assert.equal(t.requests.length, 2);
    for (let i = 0; i < 5; i++) {
      t.timers.fire();
      await t.answer(new Error('502'));
    }
    assert.deepEqual(t.timers.delays, [1000, 2000, 4000, 8000, 10000, 10000]);
    assert.deepEqual(t.model.errors, [], 'a failed reload is not a load error');
    t.timers.fire();
    await t.answer({ seq: 6, epoch: 1 });
    assert.deepEqual(t.model.applied, [7, 8]);
    assert.equal(t.timers.size, 0);
    // Success resets the backoff.
    t.sync.onEvent(t.ev(10));
    await t.answer(new Error('502'));
    assert.equal(t.timers.delays.at(-1), 1000);
  });

  test('retryMs sets the first retry delay', async () => {
    const t = await loadedAt(5, { retryMs: 500 });
    t.sync.resync();
    await t.answer(new Error('down'));
    t.timers.fire();
    await t.answer(new Error('down'));
    assert.deepEqual(t.timers.delays, [500, 1000]);
  });

  test('a failed first load goes to onLoadError; events stay buffered until load() succeeds', async () => {
    const t = harness();
    t.sync.load();
    t.sync.onEvent(t.ev(2));
    await t.answer(new Error('HTTP 500'));
    assert.deepEqual(t.model.errors, ['HTTP 500']);
    assert.equal(t.sync.loaded, false);
    assert.equal(t.timers.size, 0, 'no automatic retry: the view offers one');
    t.sync.onEvent(t.ev(3));
    assert.equal(t.sync.buffered, 2);
    t.sync.load();
    await t.answer({ seq: 1, epoch: 1 });
    assert.deepEqual(t.model.applied, [2, 3]);
    assert.deepEqual(t.model.loaded, ['load']);
  });

  test('load() takes another loader (e.g. one that also waits for the join)', async () => {
    const t = harness();
    await t.sync.load(async () => ({ seq: 4, epoch: 1, state: {} }));
    assert.deepEqual(t.model.loads, [['load', 4]]);
    assert.equal(t.requests.length, 0);
  });

  test('onReset with a snapshot loads it and folds the buffer above it', async () => {
    const t = await loadedAt(5);
    t.sync.onEvent(t.ev(9)); // gap: reload in flight
    t.sync.onEvent(t.ev(10));
    t.sync.onReset({ seq: 8, epoch: 1, state: {} });
    assert.deepEqual(t.model.loads, [['load', 5], ['reset', 8]]);
    assert.deepEqual(t.model.applied, [9, 10]);
    assert.deepEqual(t.model.loaded, ['load', 'reset']);
    // The reload still in flight answers with an older snapshot: ignored.
    await t.answer({ seq: 7, epoch: 1 });
    assert.deepEqual(t.model.loads, [['load', 5], ['reset', 8]]);
    t.sync.onEvent(t.ev(11));
    assert.deepEqual(t.model.applied, [9, 10, 11]);
  });

  test('onReset without a state reloads the snapshot', async () => {
    const t = await loadedAt(5);
    t.sync.onReset({ seq: 20, epoch: 1, state: null });
    assert.equal(t.requests.length, 2);
    await t.answer({ seq: 20, epoch: 1 });
    assert.deepEqual(t.model.loads, [['load', 5], ['resync', 20]]);
    t.sync.onEvent(t.ev(21));
    assert.deepEqual(t.model.applied, [21]);
  });

  test('the buffer is bounded; the highest seq is kept and its gap reloads', async () => {
    const t = harness();
    t.sync.load();
    for (let s = 1; s <= MAX_BUFFER + 5; s++) t.sync.onEvent(t.ev(s));
    assert.ok(t.sync.buffered <= MAX_BUFFER, `buffered ${t.sync.buffered}`);
    await t.answer({ seq: 0, epoch: 1 });
    assert.equal(t.requests.length, 2, 'the dropped events show as a gap');
    await t.answer({ seq: MAX_BUFFER, epoch: 1 });
    assert.deepEqual(t.model.applied, [MAX_BUFFER + 1, MAX_BUFFER + 2, MAX_BUFFER + 3, MAX_BUFFER + 4, MAX_BUFFER + 5]);
  });

  test('a late event on a full buffer does not push the highest seq out', async () => {
    const t = harness();
    t.sync.load();
    for (let s = 1; s <= MAX_BUFFER; s++) t.sync.onEvent(t.ev(s));
    t.sync.onEvent(t.ev(3));
    await t.answer({ seq: 0, epoch: 1 });
    await t.answer({ seq: MAX_BUFFER - 1, epoch: 1 });
    assert.deepEqual(t.model.applied, [MAX_BUFFER]);
  });

  test('disposed with the scope: no timer left, no hook called after', async () => {
    const t = await loadedAt(5);
    t.sync.onEvent(t.ev(7));
    await t.answer(new Error('down'));
    assert.equal(t.timers.size, 1);
    t.scope.dispose();
    assert.equal(t.timers.size, 0);

    const u = await loadedAt(5);
    u.sync.onEvent(u.ev(7));
    u.scope.dispose();
    await u.answer({ seq: 6, epoch: 1 });
    u.sync.onEvent(u.ev(8));
    u.sync.onReset({ seq: 9, epoch: 1, state: {} });
    assert.deepEqual(u.model.loads, [['load', 5]]);
    assert.deepEqual(u.model.applied, []);

    const w = harness();
    w.sync.load();
    w.scope.dispose();
    await w.answer(new Error('late'));
    assert.deepEqual(w.model.errors, []);

    const x = harness();
    x.sync.load();
    x.scope.dispose();
    await x.answer({ seq: 1, epoch: 1 });
    assert.deepEqual(x.model.loads, []);
    assert.deepEqual(x.model.loaded, []);
  });

  test('a join point above the first snapshot reloads it (the snapshot was requested before the join)', async () => {
    const t = await loadedAt(5);
    const joined = deferred();
    const handle = { ready: joined.promise, seq: null };
    t.sync.checkJoin(handle);
    handle.seq = 8; // joined at 8: events 6..8 never come live
    joined.resolve({ seq: 8, epoch: 1 });
    await settle();
    assert.equal(t.requests.length, 2, 'reloaded');
    await t.answer({ seq: 8, epoch: 1 });
    assert.deepEqual(t.model.loads, [['load', 5], ['resync', 8]]);
    t.sync.onEvent(t.ev(9));
    assert.deepEqual(t.model.applied, [9]);

    // Joined at or below the snapshot, or never: nothing to do.
    const u = await loadedAt(5);
    u.sync.checkJoin({ ready: Promise.resolve(), seq: 5 });
    u.sync.checkJoin({ ready: Promise.reject(new Error('forbidden')), seq: null });
    u.sync.checkJoin(null);
    await settle();
    assert.equal(u.requests.length, 1);
  });

  test('a join in another epoch reloads the snapshot, even at a lower seq', async () => {
    const t = await loadedAt(5);
    // The room began epoch 2 after the snapshot was taken: its join point
    // (seq 3) is below the model's, but the model's events are gone.
    t.sync.checkJoin({ ready: Promise.resolve({ seq: 3, epoch: 2 }), seq: 3, epoch: 2 });
    await settle();
    assert.equal(t.requests.length, 2, 'reloaded');
    await t.answer({ seq: 3, epoch: 2 });
    assert.deepEqual(t.model.loads, [['load', 5], ['resync', 3]]);
    assert.equal(t.model.epoch, 2);
    t.sync.onEvent(t.ev(4, 2));
    assert.deepEqual(t.model.applied, [4]);

    // Same epoch, or an epoch not known on either side: only the seq counts.
    const u = await loadedAt(5);
    u.sync.checkJoin({ ready: Promise.resolve(), seq: 5, epoch: 1 });
    u.sync.checkJoin({ ready: Promise.resolve(), seq: 4, epoch: null });
    await settle();
    assert.equal(u.requests.length, 1);
  });
});

describe('prefetched snapshots', () => {
  test('handed out once, to the first load of that room only; failures stay quiet until then', async () => {
    const calls = [];
    const api = {
      snapshot: (room) => {
        calls.push(room);
        return room === 'bad' ? Promise.reject(new Error('forbidden')) : Promise.resolve({ room, seq: calls.length });
      },
    };
    prefetchSnapshot(api, 'wb.1');
    prefetchSnapshot(api, 'wb.1'); // already under way
    prefetchSnapshot(api, 'bad');
    assert.deepEqual(calls, ['wb.1', 'bad']);
    assert.deepEqual(await firstSnapshot(api, 'wb.1'), { room: 'wb.1', seq: 1 });
    assert.deepEqual(await firstSnapshot(api, 'wb.1'), { room: 'wb.1', seq: 3 }, 'a new request the second time');
    assert.deepEqual(await firstSnapshot(api, 'wb.2'), { room: 'wb.2', seq: 4 });
    await assert.rejects(takePrefetched('bad'), /forbidden/);
    assert.equal(takePrefetched('bad'), null);
    prefetchSnapshot(api, 'wb.3');
    dropPrefetched();
    assert.equal(takePrefetched('wb.3'), null);
  });
});

describe('routes', () => {
  test('a room address is parsed; a malformed escape is no route, not an exception', () => {
    assert.deepEqual(parseRoute('#/w/3/r/whiteboard.3.12'), { name: 'room', ws: 3, room: 'whiteboard.3.12', path: '/w/3/r/whiteboard.3.12' });
    assert.equal(parseRoute('#/w/3/c/chat%2E3%2E7').room, 'chat.3.7');
    for (const bad of ['#/w/1/r/%', '#/w/1/r/%E0%A4%A', '#%zz']) {
      const r = parseRoute(bad);
      assert.equal(r.name, 'notfound', bad);
      assert.equal(r.room, null);
    }
    assert.equal(parseRoute('').name, 'workspaces');
  });
});
