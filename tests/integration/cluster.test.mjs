// Protocol v1 across two gateways sharing one Redis: ordering, catch-up,
// idempotent publish, ephemeral events, presence, direct messages, errors.
//
// Topology: redis <- gw1, gw2. Clients "alice" usually sit on gw1 and "bob"
// on gw2, so every delivery checked here crosses nodes through Redis.

import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import {
  cleanup, connect, itest, nowSec, roomId, setup, startGateway, startRedis, token,
} from './harness.mjs';

describe('two gateways on one redis', () => {
  let redis;
  let gw1;
  let gw2;

  setup(async () => {
    redis = await startRedis();
    [gw1, gw2] = await Promise.all([
      startGateway({ name: 'gw1', redis }),
      startGateway({ name: 'gw2', redis }),
    ]);
  });
  after(cleanup);

  const alice = (gw = gw1) => connect(gw.wsUrl, { token: token('alice'), label: `alice@${gw.name}` });
  const bob = (gw = gw2) => connect(gw.wsUrl, { token: token('bob'), label: `bob@${gw.name}` });
  const carol = (gw = gw2) => connect(gw.wsUrl, { token: token('carol'), label: `carol@${gw.name}` });
  const isEvent = (room) => (m) => m.type === 'event' && m.room === room;

  itest('welcome, hello, ping and token refresh', async () => {
    const a = await alice();
    assert.equal(a.welcome.type, 'welcome');
    assert.equal(a.welcome.node, 'gw1');
    assert.equal(a.welcome.user, 'alice');
    assert.equal(a.welcome.protocol, 1);
    assert.equal(typeof a.welcome.session, 'string');
    assert.ok(a.welcome.session.length > 0, 'session id is not empty');
    assert.equal(typeof a.welcome.limits, 'object');

    const b = await bob();
    assert.equal(b.welcome.node, 'gw2');
    assert.notEqual(b.session, a.session, 'sessions are distinct across nodes');

    const again = await a.request({ type: 'hello', id: 'h1' });
    assert.equal(again.type, 'welcome');
    assert.equal(again.id, 'h1');
    assert.equal(again.session, a.session);

    const pong = await a.request({ type: 'ping', id: 'p1' });
    assert.equal(pong.type, 'pong');
    assert.equal(pong.id, 'p1');
    assert.ok(Math.abs(pong.ts - Date.now()) < 60000, `pong.ts ${pong.ts} is a current time in ms`);

    const numeric = await a.request({ type: 'ping', id: 42 });
    assert.equal(numeric.id, 42, 'integer request ids are echoed as integers');

    const exp = nowSec() + 7200;
    const authed = await a.request({ type: 'auth', id: 'a1', token: token('alice', { exp }) });
    assert.equal(authed.type, 'authed');
    assert.equal(authed.id, 'a1');
    assert.equal(authed.exp, exp);

    const bad = await a.request({ type: 'auth', id: 'a2', token: token('alice', { secret: 'wrong-secret' }) });
    assert.equal(bad.type, 'error');
    assert.equal(bad.id, 'a2');
    assert.equal(bad.code, 'auth_failed');

    await a.close();
    await b.close();
  });

  itest('malformed requests get error codes and the connection stays usable', async () => {
    const a = await alice();
    a.send('{"type":"join",');
    const e1 = await a.next('error');
    assert.equal(e1.code, 'bad_request');

    const e2 = await a.request({ type: 'frobnicate', id: 'u1' });
    assert.equal(e2.type, 'error');
    assert.equal(e2.code, 'unknown_type');

    const e3 = await a.request({ type: 'join', id: 'j1', room: 'no spaces allowed!' });
    assert.equal(e3.type, 'error');
    assert.equal(e3.code, 'invalid_room');

    const e4 = await a.request({ type: 'join', id: 'j2', room: 42 });
    assert.equal(e4.type, 'error');
    assert.equal(e4.code, 'bad_request');

    const pong = await a.request({ type: 'ping', id: 'still-alive' });
    assert.equal(pong.type, 'pong');
    await a.close();
  });

  itest('publishers on two nodes: everyone sees every event, in one order, with consecutive seqs', async () => {
    const room = roomId();
    const a = await alice();
    const b = await bob();
    const ja = await a.join(room);
    const jb = await b.join(room);
    assert.equal(ja.room, room);
    assert.equal(ja.seq, 0, 'a new room starts at seq 0');
    assert.equal(typeof ja.epoch, 'number');
    assert.equal(jb.epoch, ja.epoch, 'both nodes report the same epoch');

    const N = 10;
    // Interleave both publishers without waiting for acks.
    const pending = [];
    for (let i = 0; i < N; i++) {
      pending.push(a.publish(room, { from: 'a', i }, { cid: `a${i}` }));
      pending.push(b.publish(room, { from: 'b', i }, { cid: `b${i}` }));
    }
    const acks = await Promise.all(pending);
    const ackSeq = new Map();
    for (const ack of acks) {
      assert.equal(ack.type, 'ack', JSON.stringify(ack));
      assert.equal(ack.room, room);
      assert.equal(ack.epoch, ja.epoch);
      assert.ok(!ack.duplicate, 'first publish of a cid is not a duplicate');
      ackSeq.set(ack.cid, ack.seq);
    }
    assert.equal(ackSeq.size, 2 * N, 'one ack per cid');

    const evA = await a.take(isEvent(room), 2 * N);
    const evB = await b.take(isEvent(room), 2 * N);
    const seqs = evA.map((e) => e.seq);
    assert.deepEqual(seqs, Array.from({ length: 2 * N }, (_, k) => k + 1), 'seqs are 1..2N in delivery order');
    assert.deepEqual(evB.map((e) => e.cid), evA.map((e) => e.cid), 'both nodes deliver the same order');
    assert.deepEqual(evB.map((e) => e.seq), seqs);

    for (const e of evA) {
      assert.equal(e.seq, ackSeq.get(e.cid), `event ${e.cid} carries its ack's seq`);
      assert.equal(e.epoch, ja.epoch);
      assert.equal(e.kind, 'message');
      assert.equal(typeof e.ts, 'number');
      const [from, i] = [e.cid[0], Number(e.cid.slice(1))];
      assert.deepEqual(e.payload, { from, i });
      assert.equal(e.author, from === 'a' ? 'alice' : 'bob');
      assert.equal(e.session, from === 'a' ? a.session : b.session);
    }
    // Each publisher's own events keep its send order.
    for (const p of ['a', 'b']) {
      const mine = evA.filter((e) => e.cid[0] === p).map((e) => e.payload.i);
      assert.deepEqual(mine, Array.from({ length: N }, (_, k) => k), `${p}'s events keep publish order`);
    }
    await a.expectNone(isEvent(room));
    await b.expectNone(isEvent(room), 0);
    await a.close();
    await b.close();
  });

  itest('join with since: exactly the missed events, then live ones', async () => {
    const room = roomId();
    const a = await alice();
    await a.join(room);
    let epoch;
    for (let i = 1; i <= 5; i++) {
      const ack = await a.publishOk(room, { n: i }, { cid: `m${i}` });
      assert.equal(ack.seq, i);
      epoch = ack.epoch;
    }

    const c = await carol(gw2);
    const joined = await c.join(room, { since: 2, epoch });
    assert.equal(joined.seq, 5, 'joined reports the current seq');
    assert.equal(joined.epoch, epoch);
    const catchUp = await c.take(isEvent(room), 3);
    assert.deepEqual(catchUp.map((e) => e.seq), [3, 4, 5]);
    assert.deepEqual(catchUp.map((e) => e.payload.n), [3, 4, 5]);
    assert.deepEqual(catchUp.map((e) => e.cid), ['m3', 'm4', 'm5']);
    for (const e of catchUp) {
      assert.equal(e.author, 'alice');
      assert.equal(e.epoch, epoch);
    }
    const iJoined = c.all.findIndex((m) => m.type === 'joined' && m.room === room);
    const iFirst = c.all.findIndex((m) => m.type === 'event' && m.room === room);
    assert.ok(iJoined >= 0 && iJoined < iFirst, 'joined comes before the catch-up events');

    const ack6 = await a.publishOk(room, { n: 6 }, { cid: 'm6' });
    assert.equal(ack6.seq, 6);
    const live = await c.next(isEvent(room));
    assert.equal(live.seq, 6);
    assert.equal(live.cid, 'm6');
    await c.expectNone(isEvent(room));

    // since=0 replays the whole stream; since=current replays nothing.
    const d = await bob(gw1);
    await d.join(room, { since: 0, epoch });
    const all = await d.take(isEvent(room), 6);
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    const e = await carol(gw1);
    const je = await e.join(room, { since: 6, epoch });
    assert.equal(je.seq, 6);
    await e.expectNone(isEvent(room));

    await Promise.all([a.close(), c.close(), d.close(), e.close()]);
  });

  itest('catch-up racing with live publishes has no gap and no duplicate', async () => {
    const room = roomId();
    const a = await alice(gw1);
    const first = await a.join(room);
    const N = 60;
    const joinAt = new Set([5, 20, 35, 50]);
    // Connect the joiners first, alternating nodes.
    const joiners = await Promise.all([...joinAt].map((_, k) => (k % 2 ? carol(gw1) : carol(gw2))));
    const acks = [];
    const joins = [];
    // Publish a burst without waiting; the joiners join (since=0) in the middle of it.
    for (let i = 0; i < N; i++) {
      if (joinAt.has(i)) joins.push(joiners[joins.length].join(room, { since: 0, epoch: first.epoch }));
      acks.push(a.publish(room, i, { cid: `burst-${i}` }));
    }
    await Promise.all(joins);
    for (const ack of await Promise.all(acks)) assert.equal(ack.type, 'ack', JSON.stringify(ack));

    for (const c of joiners) {
      const evs = await c.take(isEvent(room), N, 10000);
      assert.deepEqual(evs.map((e) => e.seq), Array.from({ length: N }, (_, k) => k + 1),
        `${c.label}: every seq once, in order, across the catch-up/live boundary`);
      assert.deepEqual(evs.map((e) => e.payload), Array.from({ length: N }, (_, k) => k));
    }
    await Promise.all(joiners.map((c) => c.expectNone(isEvent(room))));
    await Promise.all([a, ...joiners].map((c) => c.close()));
  });

  itest('join with a different epoch gets snapshot_required', async () => {
    const room = roomId();
    const a = await alice();
    await a.join(room);
    const ack = await a.publishOk(room, 'x', { cid: 'x1' });
    const b = await bob();
    const r = await b.request({ type: 'join', id: 'j-stale', room, since: 1, epoch: ack.epoch + 1000 });
    assert.equal(r.type, 'error');
    assert.equal(r.id, 'j-stale');
    assert.equal(r.code, 'snapshot_required');
    assert.equal(r.room, room);
    await b.expectNone(isEvent(room));
    await a.close();
    await b.close();
  });

  itest('a retried publish (same cid, same user) gets the same seq and is delivered once', async () => {
    const room = roomId();
    const a = await alice();
    const b = await bob();
    await a.join(room);
    await b.join(room);

    const first = await a.publishOk(room, { v: 1 }, { cid: 'dup-1' });
    const retry = await a.publishOk(room, { v: 1 }, { cid: 'dup-1' });
    assert.equal(retry.seq, first.seq, 'retry is acked with the original seq');
    assert.equal(retry.cid, 'dup-1');
    assert.equal(retry.duplicate, true);

    const next = await a.publishOk(room, { v: 2 }, { cid: 'after-1' });
    assert.equal(next.seq, first.seq + 1, 'the retry did not consume a seq');

    // The same cid from another user is a different message.
    const other = await b.publishOk(room, { v: 3 }, { cid: 'dup-1' });
    assert.equal(other.seq, first.seq + 2);
    assert.ok(!other.duplicate);

    for (const cl of [a, b]) {
      const evs = await cl.take(isEvent(room), 3);
      assert.deepEqual(evs.map((e) => [e.author, e.cid, e.seq]), [
        ['alice', 'dup-1', first.seq],
        ['alice', 'after-1', first.seq + 1],
        ['bob', 'dup-1', first.seq + 2],
      ]);
      await cl.expectNone(isEvent(room));
    }
    await a.close();
    await b.close();
  });

  itest('ephemeral publish is delivered across nodes without a seq', async () => {
    const room = roomId();
    const a = await alice();
    const b = await bob();
    await a.join(room);
    await b.join(room);

    a.send({ type: 'publish', room, kind: 'cursor', payload: { x: 3, y: 4 }, ephemeral: true });
    const ev = await b.next(isEvent(room));
    assert.equal(ev.ephemeral, true);
    assert.equal(ev.seq, undefined, 'ephemeral events have no seq');
    assert.equal(ev.kind, 'cursor');
    assert.equal(ev.author, 'alice');
    assert.equal(ev.session, a.session);
    assert.equal(typeof ev.ts, 'number');
    assert.deepEqual(ev.payload, { x: 3, y: 4 });

    // Ephemeral events do not advance the stream.
    const ack = await a.publishOk(room, 'durable', { cid: 'd1' });
    assert.equal(ack.seq, 1);
    const d = await b.next((m) => isEvent(room)(m) && !m.ephemeral);
    assert.equal(d.seq, 1);

    // Nor are they replayed.
    const c = await carol(gw1);
    await c.join(room, { since: 0, epoch: ack.epoch });
    const replay = await c.next(isEvent(room));
    assert.equal(replay.cid, 'd1');
    await c.expectNone(isEvent(room));
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  itest('presence: join and leave are seen across nodes', async () => {
    const room = roomId();
    const a = await alice();
    const b = await bob();
    const c = await carol(gw2);
    const ja = await a.join(room);
    assert.ok(Array.isArray(ja.presence), 'joined carries a presence list');

    const jb = await b.join(room);
    const seen = jb.presence.find((p) => p.session === a.session);
    assert.deepEqual(seen && { user: seen.user, name: seen.name, session: seen.session },
      { user: 'alice', name: 'Alice', session: a.session }, 'bob sees alice in the presence list');

    const pj = await a.next({ type: 'presence', room, action: 'join', session: b.session });
    assert.equal(pj.user, 'bob');
    assert.equal(pj.name, 'Bob');

    const left = await b.leave(room);
    assert.equal(left.type, 'left');
    assert.equal(left.room, room);
    const pl = await a.next({ type: 'presence', room, action: 'leave', session: b.session });
    assert.equal(pl.user, 'bob');

    // A disconnect without leave also ends presence.
    await c.join(room);
    await a.next({ type: 'presence', room, action: 'join', session: c.session });
    const cSession = c.session;
    await c.terminate();
    const pc = await a.next({ type: 'presence', room, action: 'leave', session: cSession }, 10000);
    assert.equal(pc.user, 'carol');

    // A later joiner sees alice only.
    const d = await bob(gw2);
    const jd = await d.join(room);
    const sessions = jd.presence.map((p) => p.session).filter((s) => s !== d.session).sort();
    assert.deepEqual(sessions, [a.session]);
    await Promise.all([a.close(), b.close(), d.close()]);
  });

  itest('direct messages reach a session or a user on the other node', async () => {
    const room = roomId();
    const a = await alice();
    const b = await bob();
    await a.join(room);
    await b.join(room);

    a.send({ type: 'direct', room, to: { session: b.session }, kind: 'signal', payload: { sdp: 'offer' } });
    const d1 = await b.next('direct');
    assert.equal(d1.room, room);
    assert.deepEqual(d1.from, { user: 'alice', session: a.session });
    assert.equal(d1.kind, 'signal');
    assert.deepEqual(d1.payload, { sdp: 'offer' });
    assert.equal(typeof d1.ts, 'number');

    b.send({ type: 'direct', room, to: { user: 'alice' }, kind: 'signal', payload: { sdp: 'answer' } });
    const d2 = await a.next('direct');
    assert.deepEqual(d2.from, { user: 'bob', session: b.session });
    assert.deepEqual(d2.payload, { sdp: 'answer' });

    await a.expectNone('direct');
    await b.expectNone('direct', 0);
    await a.close();
    await b.close();
  });

  itest('publish to a room not joined gets not_joined', async () => {
    const room = roomId();
    const a = await alice();
    const r = await a.publish(room, 'hi', { cid: 'n1', id: 'nj-1' });
    assert.equal(r.type, 'error');
    assert.equal(r.id, 'nj-1');
    assert.equal(r.code, 'not_joined');
    assert.equal(r.room, room);

    await a.join(room);
    await a.publishOk(room, 'hi', { cid: 'n2' });
    await a.leave(room);
    const r2 = await a.publish(room, 'again', { cid: 'n3' });
    assert.equal(r2.type, 'error');
    assert.equal(r2.code, 'not_joined');
    await a.close();
  });
});
