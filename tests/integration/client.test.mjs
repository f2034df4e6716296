// client.test.mjs — the browser client library (web/src/lib/client.js) against
// real redis-server and chorus-gateway processes, in Node with the `ws`
// package as its WebSocket.
//
// Covers: connect, join, durable publish acked and delivered across two
// gateways, ephemeral events, direct messages, presence; the offline queue
// (publishes while the only gateway is stopped are sent after it comes back,
// each stored and delivered once, in order); retries with the same cid
// after a gateway is killed mid-burst (no duplicates); exact resume after a
// dropped connection; the snapshot_required path (loadSnapshot, onReset,
// catch-up) with and without a snapshot source; token refresh on a live
// connection; a 1008 "token expired" close followed by a reconnect with a
// fresh token; a prompt reconnect through the next URL when a gateway
// drains; a dead connection found by the app-level ping; the state events.
// Then the HTTP API client (web/src/lib/api.js) against a real worker and
// PostgreSQL: sign-up and sign-in with persisted tokens, single-flight
// refresh rotation, workspaces, members, rooms, history, snapshots, read
// markers, errors, and a ChorusClient fed by its tokens and snapshots.
//
// Network trouble is simulated with a WebSocket subclass the test controls
// (refuse new connections, cut live ones, or drop all traffic).

import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import WebSocket from 'ws';
import { ApiError, ChorusApi } from '../../web/src/lib/api.js';
import { ChorusClient } from '../../web/src/lib/client.js';
import { canonicalJson, reduce, replay } from '../../web/src/lib/reducers/index.js';
import {
  cleanup, connect, freePort, httpGet, itest, mintJwt, nowSec, setup, startGateway, startPostgres, startRedis,
  startWorker, token, waitFor,
} from './harness.mjs';

/** Gateway arguments: tokens expire exactly at exp (short-lived tokens in tests). */
const GW_ARGS = ['--jwt-leeway', '0'];

/** A chat room id (the reducers know its kind). */
let roomCounter = 0;
const chatRoom = () => `chat.${process.pid % 100000}.${Date.now() % 1e9}${++roomCounter}`;

/**
 * A WebSocket implementation the test can disturb: `down` sends new
 * connections to a closed port, `drop()` cuts live sockets without a close
 * frame, `frozen` silently drops all traffic both ways, `deaf` drops what
 * the server sends.
 */
function netControl(deadPort) {
  const ctl = { down: false, frozen: false, deaf: false, sockets: new Set() };
  ctl.Impl = class TestSocket extends WebSocket {
    constructor(url, protocols) {
      super(ctl.down ? `ws://127.0.0.1:${deadPort}/ws` : url, protocols, { perMessageDeflate: false });
      ctl.sockets.add(this);
      this.on('close', () => ctl.sockets.delete(this));
    }

    set onmessage(fn) {
      super.onmessage = fn && ((e) => { if (!ctl.frozen && !ctl.deaf) fn(e); });
    }

    get onmessage() { return super.onmessage; }

    send(data) {
      if (!ctl.frozen) super.send(data);
    }
  };
  ctl.drop = () => { for (const s of ctl.sockets) s.terminate(); };
  return ctl;
}

/** Everything a room's callbacks deliver, in order. */
function recorder() {
  const r = { events: [], ephemeral: [], direct: [], presence: [], resets: [], errors: [] };
  r.opts = {
    onEvent: (e) => r.events.push(e),
    onEphemeral: (e) => r.ephemeral.push(e),
    onDirect: (m) => r.direct.push(m),
    onPresence: ({ action, user, session, presence }) => r.presence.push({ action, user, session, size: presence.size }),
    onReset: (x) => r.resets.push(x),
    onError: (e) => r.errors.push(e),
  };
  r.seqs = () => r.events.map((e) => e.seq);
  return r;
}

/** Asserts events carry exactly the seqs from..to, in order. */
function assertSeqs(events, from, to, what) {
  const want = [];
  for (let s = from; s <= to; s++) want.push(s);
  assert.deepEqual(events.map((e) => e.seq), want, `${what}: seqs`);
}

describe('ChorusClient against two gateways', () => {
  let redis;
  let gw1;
  let gw2;
  let deadPort;
  const clients = [];

  setup(async () => {
    redis = await startRedis();
    [gw1, gw2] = await Promise.all([
      startGateway({ name: 'gw1', redis, args: GW_ARGS }),
      startGateway({ name: 'gw2', redis, args: GW_ARGS }),
    ]);
    deadPort = await freePort();
  });
  after(async () => {
    for (const c of clients) c.close();
    await cleanup();
  });

  /** A started client; `c.states` records its state events. */
  function client(user, urls, { getToken, ctl, ...opts } = {}) {
    const c = new ChorusClient({
      urls,
      getToken: getToken ?? (async () => token(user)),
      WebSocketImpl: ctl ? ctl.Impl : WebSocket,
      backoff: { minMs: 50, maxMs: 400 },
      ...opts,
    });
    c.states = [];
    c.addEventListener('state', (e) => c.states.push(e.detail.state));
    clients.push(c);
    c.connect();
    return c;
  }

  const connected = (c, what = 'client connected') => waitFor(() => c.state === 'connected', { what, timeoutMs: 8000 });

  itest('connect, join, publish: acked, delivered once on the other gateway; ephemeral, direct, presence', async () => {
    const room = chatRoom();
    const a = client('alice', gw1.wsUrl);
    const b = client('bob', gw2.wsUrl);
    assert.equal(a.state, 'connecting');
    const ra = recorder();
    const rb = recorder();
    const ha = a.join(room, ra.opts);     // before the connection is up
    await connected(a);
    await connected(b);
    assert.deepEqual(a.states, ['connecting', 'connected']);
    assert.equal(a.user, 'alice');
    assert.match(a.session, /^gw1\./);
    await ha.ready;
    const hb = b.join(room, rb.opts);
    const joined = await hb.ready;
    assert.equal(joined.seq, 0);
    assert.equal(hb.seq, 0);
    await waitFor(() => ha.presence.size === 2, { what: 'alice sees bob in presence' });
    assert.ok(ra.presence.some((p) => p.action === 'join' && p.user === 'bob'));
    assert.deepEqual([...hb.presence.values()].map((p) => p.user).sort(), ['alice', 'bob']);

    const pendingEvents = [];
    ha.addEventListener('pending', () => pendingEvents.push(ha.pending.length));
    const p1 = ha.publish('message.create', { text: 'hello' });
    assert.equal(ha.pending.length, 1);
    assert.equal(ha.pending[0].kind, 'message.create');
    const ack1 = await p1;
    assert.equal(ack1.seq, 1);
    assert.equal(ack1.duplicate, false);
    assert.equal(typeof ack1.epoch, 'number');
    const ack2 = await ha.publish('message.create', { text: 'again' }, { cid: 'fixed-cid-1' });
    assert.equal(ack2.seq, 2);
    await waitFor(() => rb.events.length === 2 && ra.events.length === 2, { what: 'both events on both sides' });
    assert.deepEqual(rb.events.map((e) => e.payload.text), ['hello', 'again']);
    assert.equal(rb.events[1].cid, 'fixed-cid-1');
    assert.equal(rb.events[0].author, 'alice');
    assert.deepEqual(ra.seqs(), [1, 2]);
    assert.equal(ha.pending.length, 0);
    assert.equal(pendingEvents.at(-1), 0);
    assert.equal(ha.seq, 2);

    assert.equal(ha.publishEphemeral('cursor', { x: 1, y: 2 }), true);
    await waitFor(() => rb.ephemeral.length === 1, { what: 'bob gets the cursor' });
    assert.deepEqual(rb.ephemeral[0].payload, { x: 1, y: 2 });
    assert.equal(ra.ephemeral.length, 0, 'the sender does not get its own ephemeral event');

    assert.equal(hb.direct({ session: a.session }, 'nudge', { n: 1 }), true);
    await waitFor(() => ra.direct.length === 1, { what: 'alice gets the direct message' });
    assert.equal(ra.direct[0].from.user, 'bob');
    assert.deepEqual(ra.direct[0].payload, { n: 1 });

    hb.leave();
    assert.equal(hb.status, 'left');
    await assert.rejects(hb.publish('message.create', { text: 'x' }), { code: 'left' });
    await waitFor(() => ha.presence.size === 1, { what: 'bob leaves alice\'s presence' });
    assert.ok(ra.presence.some((p) => p.action === 'leave' && p.user === 'bob'));

    // a permanent error rejects; the room keeps working
    await assert.rejects(ha.publish('bad kind!', { text: 'x' }), (err) => err.code === 'bad_request');
    assert.equal((await ha.publish('message.create', { text: 'still fine' })).seq, 3);
    a.close();
    b.close();
    assert.equal(a.state, 'offline');
  });

  itest('offline queue: publishes while the only gateway is stopped are acked once each after it restarts', async () => {
    const gw3 = await startGateway({ name: 'gw3', redis, args: GW_ARGS });
    const room = chatRoom();
    const a = client('alice', gw3.wsUrl);
    const b = client('bob', gw2.wsUrl);
    const ra = recorder();
    const rb = recorder();
    const ha = a.join(room, ra.opts);
    const hb = b.join(room, rb.opts);
    await Promise.all([ha.ready, hb.ready]);
    for (let i = 0; i < 3; i++) await ha.publish('message.create', { text: `online ${i}` });

    await gw3.stop();                       // drains: reconnect + 1001, then exits
    await waitFor(() => a.state === 'reconnecting', { what: 'alice reconnecting' });
    const queued = [];
    for (let i = 0; i < 10; i++) queued.push(ha.publish('message.create', { text: `queued ${i}` }));
    assert.equal(ha.pending.length, 10);
    assert.deepEqual(ha.pending.map((p) => p.payload.text), Array.from({ length: 10 }, (_, i) => `queued ${i}`));
    await new Promise((r) => setTimeout(r, 300));   // a few failed attempts
    assert.equal(a.state, 'reconnecting');

    await gw3.start();                      // same port
    const acks = await Promise.all(queued);
    assert.deepEqual(acks.map((x) => x.seq), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.ok(acks.every((x) => x.duplicate === false), 'never sent before, so never duplicates');
    assert.equal(ha.pending.length, 0);
    await waitFor(() => rb.events.length === 13 && ra.events.length === 13, { what: 'all 13 events on both sides' });
    for (const r of [ra, rb]) {
      assertSeqs(r.events, 1, 13, 'each event once, in order');
      assert.deepEqual(r.events.slice(3).map((e) => e.payload.text), Array.from({ length: 10 }, (_, i) => `queued ${i}`));
    }
    assert.deepEqual(a.states, ['connecting', 'connected', 'reconnecting', 'connected']);
    a.close();
    b.close();
  });

  itest('a gateway killed mid-burst: retries with the same cid, every publish stored once, in order', async () => {
    const gw4 = await startGateway({ name: 'gw4', redis, args: GW_ARGS });
    const room = chatRoom();
    const a = client('alice', [gw4.wsUrl, gw2.wsUrl]);
    const b = client('bob', gw1.wsUrl);
    const ra = recorder();
    const rb = recorder();
    const ha = a.join(room, ra.opts);
    const hb = b.join(room, rb.opts);
    await Promise.all([ha.ready, hb.ready]);
    assert.match(a.session, /^gw4\./);

    // More than the client's rate budget, so the burst is still going
    // when the gateway dies.
    const N = 150;
    const cids = Array.from({ length: N }, (_, i) => `burst-${i}`);
    const acks = cids.map((cid, i) => ha.publish('message.create', { text: `m${i}` }, { cid }));
    await waitFor(() => rb.events.length >= 30, { what: 'the first events stored', intervalMs: 1 });
    await gw4.kill9();
    assert.ok(rb.events.length < N, 'killed mid-burst');
    const results = await Promise.all(acks);
    assert.match(a.session, /^gw2\./, 'reconnected through the other URL');
    assert.deepEqual(results.map((x) => x.seq), Array.from({ length: N }, (_, i) => i + 1));
    await waitFor(() => rb.events.length === N && ra.events.length === N, { what: 'all events on both sides' });
    for (const r of [ra, rb]) {
      assertSeqs(r.events, 1, N, 'exactly once');
      assert.deepEqual(r.events.map((e) => e.cid), cids, 'in publish order, no duplicate');
    }
    assert.equal(ha.pending.length, 0);
    a.close();
    b.close();
  });

  itest('an ack lost with the connection: the retry with the same cid is a duplicate, stored once', async () => {
    const room = chatRoom();
    const ctl = netControl(deadPort);
    const a = client('sara', gw1.wsUrl, { ctl });
    const b = client('tom', gw2.wsUrl);
    const ra = recorder();
    const rb = recorder();
    const ha = a.join(room, ra.opts);
    const hb = b.join(room, rb.opts);
    await Promise.all([ha.ready, hb.ready]);
    ctl.deaf = true;                        // requests go out, replies are lost
    const p = ha.publish('message.create', { text: 'once' }, { cid: 'lost-ack' });
    await waitFor(() => rb.events.length === 1, { what: 'the publish stored' });
    ctl.drop();
    ctl.deaf = false;
    const ack = await p;
    assert.equal(ack.seq, 1);
    await hb.publish('message.create', { text: 'next' });
    // The ack can reach tom before the event itself does: wait for both sides.
    await waitFor(() => ra.events.length === 2 && rb.events.length === 2, { what: 'sara resumed, tom has both' });
    assertSeqs(ra.events, 1, 2, 'publisher');
    assertSeqs(rb.events, 1, 2, 'observer');
    assert.deepEqual(rb.events.map((e) => e.cid).filter((c) => c === 'lost-ack'), ['lost-ack']);
    // The resent publish either met its event in the catch-up first or was
    // answered as a duplicate of seq 1: stored once either way.
    const again = await ha.publish('message.create', { text: 'once' }, { cid: 'lost-ack' });
    assert.deepEqual(again, { seq: 1, epoch: ack.epoch, duplicate: true });
    await hb.publish('message.create', { text: 'last' });
    await waitFor(() => rb.events.length === 3, { what: 'observer has 3' });
    assertSeqs(rb.events, 1, 3, 'no second copy of the retried publish');
    a.close();
    b.close();
  });

  itest('resume after a dropped connection delivers exactly the missed events', async () => {
    const room = chatRoom();
    const ctl = netControl(deadPort);
    const c = client('carol', gw1.wsUrl, { ctl });
    const pub = client('dave', gw2.wsUrl);
    const rc = recorder();
    const hc = c.join(room, rc.opts);
    const hp = pub.join(room, {});
    await Promise.all([hc.ready, hp.ready]);
    await hp.publish('message.create', { text: 'one' });
    await hp.publish('message.create', { text: 'two' });
    await waitFor(() => rc.events.length === 2, { what: 'carol has 2 events' });
    const session1 = c.session;

    ctl.down = true;
    ctl.drop();
    await waitFor(() => c.state === 'reconnecting', { what: 'carol reconnecting' });
    for (let i = 3; i <= 7; i++) await hp.publish('message.create', { text: `missed ${i}` });
    assert.equal(rc.events.length, 2, 'nothing arrives while offline');
    ctl.down = false;
    await connected(c, 'carol back');
    assert.notEqual(c.session, session1);
    await waitFor(() => rc.events.length === 7, { what: 'carol caught up' });
    await hp.publish('message.create', { text: 'live' });
    await waitFor(() => rc.events.length === 8, { what: 'carol live again' });
    assertSeqs(rc.events, 1, 8, 'resume');
    assert.deepEqual(rc.events.slice(2, 7).map((e) => e.payload.text), ['missed 3', 'missed 4', 'missed 5', 'missed 6', 'missed 7']);
    assert.equal(hc.seq, 8);
    assert.deepEqual(c.states, ['connecting', 'connected', 'reconnecting', 'connected']);
    c.close();
    pub.close();
  });

  itest('snapshot_required: loadSnapshot and onReset, then the events after the snapshot', async () => {
    const room = chatRoom();
    const pub = client('erin', gw1.wsUrl);
    const rp = recorder();
    const hp = pub.join(room, rp.opts);
    await hp.ready;
    for (let i = 1; i <= 6; i++) await hp.publish('message.create', { text: `m${i}` });
    await waitFor(() => rp.events.length === 6, { what: 'erin has 6 events' });
    const epoch = rp.events[0].epoch;

    // A snapshot source that lags two events behind the room.
    let loads = 0;
    const loadSnapshot = async (r) => {
      assert.equal(r, room);
      loads++;
      return { seq: 4, epoch, state: replay('chat', rp.events.slice(0, 4)) };
    };
    const c = client('frank', gw2.wsUrl);
    let state = null;
    const rc = recorder();
    const hc = c.join(room, {
      since: 3,
      epoch: epoch + 1,                 // not the room's epoch
      loadSnapshot,
      onReset: (x) => { rc.resets.push(x); state = x.state; },
      onEvent: (e) => { rc.events.push(e); state = reduce('chat', state, e); },
    });
    await hc.ready;
    assert.equal(loads, 1);
    assert.equal(rc.resets.length, 1);
    assert.equal(rc.resets[0].seq, 4);
    assert.equal(rc.resets[0].epoch, epoch);
    await waitFor(() => rc.events.length === 2, { what: 'events 5 and 6 after the snapshot' });
    await hp.publish('message.create', { text: 'm7' });
    await waitFor(() => rc.events.length === 3, { what: 'live event 7' });
    assertSeqs(rc.events, 5, 7, 'after the snapshot');
    await waitFor(() => rp.events.length === 7, { what: 'erin has 7 events' });
    assert.equal(canonicalJson(state), canonicalJson(replay('chat', rp.events)), 'snapshot + rest == full replay');
    assert.equal(hc.epoch, epoch);

    // Without a snapshot source: onReset with state null, then live events.
    const d = client('gina', gw1.wsUrl);
    const rd = recorder();
    const hd = d.join(room, { ...rd.opts, since: 999, epoch });
    await hd.ready;
    assert.equal(rd.resets.length, 1);
    assert.deepEqual(rd.resets[0], { seq: 7, epoch, state: null });
    await hp.publish('message.create', { text: 'm8' });
    await waitFor(() => rd.events.length === 1, { what: 'gina gets m8' });
    assert.equal(rd.events[0].seq, 8);
    c.close();
    d.close();
    pub.close();
  });

  itest('token refresh keeps a connection alive past its first token', async () => {
    const calls = [];
    const getToken = async (opts) => {
      calls.push(opts);
      return token('hana', { exp: nowSec() + (calls.length === 1 ? 2 : 3600) });
    };
    const c = client('hana', gw1.wsUrl, { getToken });
    const rc = recorder();
    const hc = c.join(chatRoom(), rc.opts);
    await hc.ready;
    const session = c.session;
    await waitFor(() => calls.length === 2, { what: 'the refresh' });
    await new Promise((r) => setTimeout(r, 3500));   // past the first token's exp
    assert.equal(c.state, 'connected');
    assert.equal(c.session, session, 'the same connection');
    assert.deepEqual(c.states, ['connecting', 'connected']);
    assert.equal((await hc.publish('message.create', { text: 'still here' })).seq, 1);
    c.close();
  });

  itest('a 1008 token-expired close: fresh token, reconnect, resume', async () => {
    const room = chatRoom();
    const calls = [];
    // 1: a token that expires in 2 s; 2: the refresh, refused by the
    // gateway (wrong key); then good tokens.
    const getToken = async (opts) => {
      calls.push(opts ?? {});
      if (calls.length === 1) return token('ivan', { exp: nowSec() + 2 });
      if (calls.length === 2) return mintJwt({ sub: 'ivan', exp: nowSec() + 3600 }, { secret: 'not-the-secret' });
      return token('ivan');
    };
    const errors = [];
    const c = client('ivan', gw1.wsUrl, { getToken });
    c.addEventListener('error', (e) => errors.push(e.detail.error.code));
    const pub = client('judy', gw2.wsUrl);
    const rc = recorder();
    const hc = c.join(room, rc.opts);
    const hp = pub.join(room, {});
    await Promise.all([hc.ready, hp.ready]);
    const session = c.session;
    await waitFor(() => errors.includes('auth_failed'), { what: 'the refused refresh' });
    // The state history, not the current state: the reconnect can be quick
    // enough to leave 'reconnecting' between two polls.
    await waitFor(() => c.states.includes('reconnecting'), { what: 'closed at expiry', timeoutMs: 6000 });
    await hp.publish('message.create', { text: 'while away' });
    await connected(c, 'reconnected with a fresh token');
    assert.notEqual(c.session, session);
    assert.ok(calls.length >= 3 && calls.slice(1).every((o) => o.force === true), 'asked for newer tokens');
    await waitFor(() => rc.events.length === 1, { what: 'the missed event' });
    assert.equal(rc.events[0].payload.text, 'while away');
    c.close();
    pub.close();
  });

  itest('a draining gateway: prompt reconnect through the next URL, nothing missed', async () => {
    const gw5 = await startGateway({ name: 'gw5', redis, args: GW_ARGS });
    const room = chatRoom();
    const c = client('kate', [gw5.wsUrl, gw2.wsUrl], { backoff: { minMs: 5000, maxMs: 10000 } });
    const pub = client('liam', gw1.wsUrl);
    const rc = recorder();
    const hc = c.join(room, rc.opts);
    const hp = pub.join(room, {});
    await Promise.all([hc.ready, hp.ready]);
    assert.equal(c.welcome.node, 'gw5');
    const t0 = Date.now();
    const stopping = gw5.stop();
    // The state history, not the current state (as above).
    await waitFor(() => c.states.includes('reconnecting'), { what: 'drain noticed' });
    await hp.publish('message.create', { text: 'during the drain' });
    await connected(c, 'reconnected to gw2');
    const took = Date.now() - t0;
    assert.equal(c.welcome.node, 'gw2');
    assert.ok(took < 2500, `reconnected in ${took} ms (drain window 1 s), not after the 5 s backoff`);
    await waitFor(() => rc.events.length === 1, { what: 'the event published during the drain' });
    await stopping;
    c.close();
    pub.close();
  });

  itest('a dead connection is found by the app-level ping and replaced', async () => {
    const ctl = netControl(deadPort);
    const c = client('mia', gw1.wsUrl, { ctl, pingIntervalMs: 200, pongTimeoutMs: 300 });
    const rc = recorder();
    const room = chatRoom();
    const hc = c.join(room, rc.opts);
    await hc.ready;
    const session = c.session;
    ctl.frozen = true;
    await waitFor(() => c.state === 'reconnecting', { what: 'ping timeout noticed', timeoutMs: 3000 });
    ctl.frozen = false;
    await connected(c, 'a new connection');
    assert.notEqual(c.session, session);
    const pub = client('noah', gw2.wsUrl);
    const hp = pub.join(room, {});
    await hp.ready;
    await hp.publish('message.create', { text: 'after' });
    await waitFor(() => rc.events.length === 1, { what: 'mia gets live events again' });
    c.close();
    pub.close();
  });

  itest('a raw protocol client and the library agree on order under concurrent publishers', async () => {
    const room = chatRoom();
    const raw = await connect(gw1.wsUrl, { token: token('olga') });
    await raw.join(room);
    const writers = [client('pete', gw1.wsUrl), client('quin', gw2.wsUrl)];
    const handles = writers.map((w) => w.join(room, {}));
    await Promise.all(handles.map((h) => h.ready));
    const reader = client('rosa', gw2.wsUrl);
    const rr = recorder();
    const hr = reader.join(room, rr.opts);
    await hr.ready;
    const all = [];
    for (let i = 0; i < 25; i++) for (const [k, h] of handles.entries()) all.push(h.publish('message.create', { text: `${k}:${i}` }));
    const acks = await Promise.all(all);
    assert.deepEqual(acks.map((x) => x.seq).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
    const rawEvents = await raw.take((m) => m.type === 'event' && m.room === room, 50, 8000);
    await waitFor(() => rr.events.length === 50, { what: 'reader has 50 events' });
    assert.deepEqual(rr.events.map((e) => e.cid), rawEvents.map((e) => e.cid), 'same order as the server sent');
    await raw.close();
    for (const w of [...writers, reader]) w.close();
  });
});

/** A localStorage-like object in memory. */
function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => { m.set(k, String(v)); },
    removeItem: (k) => { m.delete(k); },
  };
}

describe('ChorusApi against a worker, with ChorusClient on its tokens', () => {
  let redis;
  let pg;
  let worker;
  let gw;
  let deadPortApi;
  const clients = [];
  const suffix = () => Math.random().toString(36).slice(2, 8);

  setup(async () => {
    deadPortApi = await freePort();
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    worker = await startWorker({ redis, pg });
    gw = await startGateway({ name: 'gw-api', redis, args: ['--room-acl', 'required'] });
    await waitFor(async () => (await httpGet(`${worker.httpUrl}/readyz`)).status === 200, { timeoutMs: 15000, what: 'worker /readyz' });
  }, 90000);
  after(async () => {
    for (const c of clients) c.close();
    await cleanup();
  });

  itest('accounts: register, persisted session, refresh rotation (single-flight), me, logout; errors', async () => {
    const storage = memoryStorage();
    const api = new ChorusApi({ baseUrl: worker.httpUrl, storage });
    const auth = [];
    api.addEventListener('auth', (e) => auth.push(e.detail.user?.username ?? null));
    const name = `ann_${suffix()}`;
    const reg = await api.register(name, 'correct horse', 'Ann');
    assert.equal(reg.user.username, name);
    assert.equal(api.user.display_name, 'Ann');
    assert.ok(api.loggedIn);
    assert.deepEqual(auth, [name]);

    // a second instance on the same storage is signed in too (a reload)
    const again = new ChorusApi({ baseUrl: worker.httpUrl, storage });
    assert.equal(again.user.username, name);
    const t1 = await again.getToken();
    assert.equal(t1, reg.access_token, 'fresh enough: no refresh');
    assert.deepEqual((await again.me()).user.username, name);

    // concurrent forced refreshes use the single-use refresh token once
    // (twice would revoke the session: token_reused)
    const [a, b, c] = await Promise.all([api.getToken({ force: true }), api.getToken({ force: true }), api.getToken({ force: true })]);
    assert.equal(a, b);
    assert.equal(b, c);
    const rotated = JSON.parse(storage.getItem('chorus.auth')).refresh_token;
    assert.notEqual(rotated, reg.refresh_token, 'the refresh token rotated');
    const body = await api.refresh();
    assert.notEqual(body.refresh_token, rotated);
    assert.equal(body.user.username, name);
    assert.equal(await api.getToken(), body.access_token);

    const err = await api.register(name, 'correct horse').catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 409);
    assert.equal(err.code, 'conflict');
    assert.equal(err.field, 'username');
    const bad = await new ChorusApi({ baseUrl: worker.httpUrl, storage: null }).login(name, 'wrong password').catch((e) => e);
    assert.equal(bad.status, 401);
    assert.equal(bad.code, 'unauthorized');
    const invalid = await api.createWorkspace('').catch((e) => e);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.code, 'invalid');
    assert.equal(invalid.field, 'name');

    await api.logout();
    assert.equal(api.loggedIn, false);
    assert.equal(api.user, null);
    assert.equal(auth.at(-1), null);
    await assert.rejects(api.getToken(), (e) => e instanceof ApiError && e.status === 401);
    const offline = await new ChorusApi({ baseUrl: `http://127.0.0.1:${deadPortApi}`, storage: null }).login('x', 'y').catch((e) => e);
    assert.equal(offline.status, 0);
    assert.equal(offline.code, 'network');
  });

  itest('workspaces, members, rooms, history, snapshot, read markers; a client on the API tokens', async () => {
    const owner = new ChorusApi({ baseUrl: worker.httpUrl, storage: null });
    const member = new ChorusApi({ baseUrl: worker.httpUrl, storage: null });
    const oName = `olive_${suffix()}`;
    const mName = `max_${suffix()}`;
    await owner.register(oName, 'correct horse');
    const mReg = await member.register(mName, 'correct horse', 'Max');
    const { workspace, rooms: [general] } = await owner.createWorkspace(`Team ${suffix()}`);
    assert.equal(workspace.role, 'owner');
    assert.equal(general.kind, 'chat');
    const added = await owner.addMember(workspace.id, mName, 'member');
    assert.equal(added.member.username, mName);
    assert.equal((await owner.setRole(workspace.id, mReg.user.id, 'admin')).member.role, 'admin');
    assert.deepEqual((await member.members(workspace.id)).members.map((m) => m.role), ['owner', 'admin']);
    assert.ok((await member.workspaces()).workspaces.some((w) => w.id === workspace.id));
    const { room: board } = await member.createRoom(workspace.id, 'board', 'Sprint', 'two weeks');
    assert.match(board.id, /^board\./);
    assert.equal(board.description, 'two weeks');
    const chats = await owner.rooms(workspace.id, { kind: 'chat' });
    assert.deepEqual(chats.rooms.map((r) => r.id), [general.id]);

    // the member chats through a gateway with API tokens; the owner publishes over HTTP
    const c = new ChorusClient({
      urls: gw.wsUrl, getToken: (o) => member.getToken(o), WebSocketImpl: WebSocket, backoff: { minMs: 50, maxMs: 400 },
    });
    clients.push(c);
    c.connect();
    let state = null;
    const events = [];
    const h = c.join(general.id, {
      loadSnapshot: (r) => member.snapshot(r),
      onReset: (x) => { state = x.state; },
      onEvent: (e) => { events.push(e); state = reduce('chat', state, e); },
    });
    const snap = await member.snapshot(general.id);
    assert.equal(snap.seq, 0);
    state = snap.state;
    await h.ready;
    assert.equal(c.user, String(mReg.user.id));
    await h.publish('message.create', { text: 'hello from ws' });
    const pub = await owner.publish(general.id, 'message.create', { text: 'hello from http' }, { cid: 'http-1' });
    assert.equal(pub.seq, 2);
    assert.equal((await owner.publish(general.id, 'message.create', { text: 'hello from http' }, { cid: 'http-1' })).duplicate, true);
    await waitFor(() => events.length === 2, { what: 'both messages over WebSocket' });
    assert.deepEqual(state.messages.map((m) => m.text), ['hello from ws', 'hello from http']);

    // history and snapshot agree with the folded state (once persisted)
    await waitFor(async () => (await member.history(general.id, { limit: 10 })).events.length === 2, { what: 'history persisted' });
    const page = await member.history(general.id, { after: 1, limit: 10 });
    assert.deepEqual(page.events.map((e) => e.seq), [2]);
    const s2 = await member.snapshot(general.id);
    assert.equal(s2.seq, 2);
    assert.equal(canonicalJson(s2.state), canonicalJson(state));

    // read markers and unread counts
    const marker = await member.markRead(general.id, 1, pub.epoch);
    assert.equal(marker.seq, 1);
    const unread = await member.unread(workspace.id);
    assert.equal(unread.find((u) => u.room === general.id).unread, 1);

    // a room the member cannot see
    const other = new ChorusApi({ baseUrl: worker.httpUrl, storage: null });
    await other.register(`zed_${suffix()}`, 'correct horse');
    const denied = await other.history(general.id).catch((e) => e);
    assert.equal(denied.status, 403);
    assert.equal(denied.code, 'forbidden');

    // removing the member cuts the live membership: the handle fails with forbidden
    const failed = new Promise((resolve) => h.addEventListener('error', (e) => resolve(e.detail.error)));
    await owner.removeMember(workspace.id, mReg.user.id);
    const why = await failed;
    assert.equal(why.code, 'forbidden');
    assert.equal(h.status, 'failed');
    await assert.rejects(h.publish('message.create', { text: 'gone' }), { code: 'failed' });
    c.close();
  });
});
