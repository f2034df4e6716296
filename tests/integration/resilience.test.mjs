// Operations: HTTP probes and metrics, surviving a Redis crash (kill -9 and
// restart on the same port and data folder), and draining on SIGTERM.
//
// Redis runs with --appendfsync always here, so every acked publish is on
// disk before its ack and must survive the crash.

import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import {
  cleanup, connect, itest, rawHttpKeepAlive, roomId, setup, startGateway, startRedis, token, waitFor,
  withTimeout,
} from './harness.mjs';

describe('probes, redis outage and drain', () => {
  let redis;
  let gw1;
  let gw2;

  setup(async () => {
    redis = await startRedis({ appendfsync: 'always' });
    [gw1, gw2] = await Promise.all([
      startGateway({ name: 'gw1', redis }),
      startGateway({ name: 'gw2', redis }),
    ]);
  });
  after(cleanup);

  const isEvent = (room) => (m) => m.type === 'event' && m.room === room;
  const readyz = async (gw) => (await gw.get('/readyz', { timeoutMs: 2000 })).status;
  const bothReady = (want) => async () => (await readyz(gw1)) === want && (await readyz(gw2)) === want;

  /** Value of an unlabelled or labelled Prometheus sample, summed over labels. */
  function metric(text, name) {
    let found = false;
    let sum = 0;
    const re = new RegExp(`^${name}(\\{[^}]*\\})?\\s+([-+0-9.eE]+|NaN)\\s*$`, 'gm');
    for (const m of text.matchAll(re)) {
      found = true;
      sum += Number(m[2]);
    }
    return found ? sum : undefined;
  }

  itest('/healthz, /readyz and /metrics', async () => {
    const h = await gw1.get('/healthz');
    assert.equal(h.status, 200);
    assert.equal(await readyz(gw1), 200);
    assert.equal(await readyz(gw2), 200);

    const c = await connect(gw1.wsUrl, { token: token('metrics') });
    const m = await gw1.get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers['content-type'] ?? '', /^text\/plain/);
    const conns = metric(m.body, 'chorus_gateway_connections');
    assert.ok(conns >= 1, `chorus_gateway_connections is ${conns} with a client connected`);
    await c.close();

    const missing = await gw1.get('/no-such-path');
    assert.equal(missing.status, 404);
  });

  itest('redis kill -9 and restart: unavailable during the outage, full recovery after', { timeout: 45000 }, async () => {
    const room = roomId('outage');
    const a = await connect(gw1.wsUrl, { token: token('alice'), label: 'alice@gw1' });
    const b = await connect(gw2.wsUrl, { token: token('bob'), label: 'bob@gw2' });
    await a.join(room);
    await b.join(room);

    // Acked before the crash: must never be lost.
    const acked = [];
    for (let i = 0; i < 6; i++) acked.push(await a.publishOk(room, { i }, { cid: `pre-a${i}` }));
    for (let i = 0; i < 3; i++) acked.push(await b.publishOk(room, { i }, { cid: `pre-b${i}` }));
    const epoch = acked[0].epoch;
    const maxSeq = Math.max(...acked.map((x) => x.seq));
    assert.equal(maxSeq, acked.length);
    await b.take(isEvent(room), acked.length);

    await redis.kill9();
    await waitFor(bothReady(503), { timeoutMs: 5000, what: 'both /readyz to answer 503 with redis down' });

    // Publishing during the outage fails fast instead of hanging.
    for (const [cl, cid] of [[a, 'during-a'], [b, 'during-b']]) {
      const t0 = Date.now();
      const r = await cl.publish(room, 'lost?', { cid, timeoutMs: 5000 });
      assert.equal(r.type, 'error', `${cl.label}: ${JSON.stringify(r)}`);
      assert.equal(r.code, 'unavailable');
      assert.ok(Date.now() - t0 < 5000);
    }
    // The clients stay connected through the outage.
    assert.equal(a.closeInfo, null, 'alice still connected');
    assert.equal(b.closeInfo, null, 'bob still connected');

    const t0 = Date.now();
    await redis.restart();
    await waitFor(bothReady(200), { timeoutMs: 10000, intervalMs: 100, what: 'both /readyz back to 200' });
    const recovery = Date.now() - t0;
    assert.ok(recovery < 10000, `recovered in ${recovery} ms`);

    // Publishing works again (a retry with the same cid is idempotent), and
    // the existing subscriptions deliver across nodes: gw2 resubscribed.
    const post = await waitFor(async () => {
      const r = await a.publish(room, { after: true }, { cid: 'post-a' });
      return r.type === 'ack' ? r : null;
    }, { timeoutMs: 5000, intervalMs: 200, what: 'a publish to be acked after recovery' });
    assert.ok(post.seq > maxSeq, `seq ${post.seq} continues after ${maxSeq}: nothing acked was lost`);
    assert.equal(post.epoch, epoch, 'the epoch survives a restart with the AOF');
    const atB = await b.next((m) => isEvent(room)(m) && m.cid === 'post-a', 5000);
    assert.equal(atB.seq, post.seq);

    const postB = await b.publishOk(room, { after: true }, { cid: 'post-b' });
    const atA = await a.next((m) => isEvent(room)(m) && m.cid === 'post-b', 5000);
    assert.equal(atA.seq, postB.seq);

    // Every event acked before the crash is available through catch-up.
    for (const gw of [gw1, gw2]) {
      const c = await connect(gw.wsUrl, { token: token('carol'), label: `carol@${gw.name}` });
      const j = await c.join(room, { since: 0, epoch });
      assert.ok(j.seq >= postB.seq);
      const evs = await c.take(isEvent(room), j.seq, 5000);
      assert.deepEqual(evs.map((e) => e.seq), Array.from({ length: j.seq }, (_, k) => k + 1),
        `${gw.name}: catch-up is gap-free`);
      const bySeq = new Map(evs.map((e) => [e.seq, e]));
      for (const ack of acked) {
        const e = bySeq.get(ack.seq);
        assert.ok(e, `acked seq ${ack.seq} is in the stream`);
        assert.equal(e.cid, ack.cid, `seq ${ack.seq} holds ${ack.cid}`);
      }
      await c.close();
    }
    await a.close();
    await b.close();
  });

  itest('SIGTERM drains: reconnect notice, close 1001, exit status 0', async () => {
    const gw3 = await startGateway({ name: 'gw3', redis });
    const c = await connect(gw3.wsUrl, { token: token('drained'), label: 'drained@gw3' });
    await c.join(roomId('drain'));

    const t0 = Date.now();
    gw3.child.kill('SIGTERM');
    const notice = await c.next('reconnect', 5000);
    assert.equal(notice.reason, 'draining');
    const closed = await withTimeout(c.closed, 5000, 'the drain close');
    assert.equal(closed.code, 1001);
    const status = await gw3.exited;
    assert.deepEqual({ code: status.code, signal: status.signal }, { code: 0, signal: null },
      'the gateway exits 0 after draining');
    assert.ok(Date.now() - t0 < 10000, 'drain finished within 10 s with --drain-seconds 1');

    // The other gateways are unaffected.
    assert.equal(await readyz(gw1), 200);
  });

  itest('SIGTERM with an idle keep-alive HTTP connection open still exits 0', async () => {
    const gw4 = await startGateway({ name: 'gw4', redis });
    const sock = await rawHttpKeepAlive(gw4.port, '/healthz');
    gw4.child.kill('SIGTERM');
    const status = await withTimeout(gw4.exited, 10000, 'gw4 to exit');
    assert.deepEqual({ code: status.code, signal: status.signal }, { code: 0, signal: null },
      'exit status 0 (under ASan: no connection leaked at exit)');
    sock.destroy();
  });
});
