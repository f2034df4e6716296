// limits.test.mjs — the gateway's protective limits, each on a gateway
// started with a small value so the limit is reached quickly: slow
// consumers, publish rate, room count, token expiry, handshake deadline,
// idle connections and unanswered pings.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  OP, RawConn, cleanup, connect, itest, nowSec, roomId, setup, startGateway, startRedis, token, waitFor,
} from './harness.mjs';

let redis;
let gw;      // small outbound limit, rate, rooms
let gwIdle;  // short idle, ping and handshake limits

setup(async () => {
  redis = await startRedis();
  gw = await startGateway({
    name: 'gw-limits',
    redis,
    args: ['--outbound-limit', '65536', '--publish-rate', '20', '--max-rooms', '2', '--jwt-leeway', '0'],
  });
  gwIdle = await startGateway({
    name: 'gw-idle',
    redis,
    args: ['--idle-timeout', '1', '--ping-interval', '1', '--pong-misses', '1', '--handshake-timeout', '1'],
  });
});
after(cleanup);

async function metric(g, name) {
  const r = await g.get('/metrics');
  const line = r.body.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('gateway limits', () => {
  itest('a socket that stops reading is closed as a slow consumer; the others keep up', async () => {
    const room = roomId('slow');
    const slow = await RawConn.open(gw.port, { token: token('slowpoke') });
    assert.equal(slow.status, 101);
    slow.sendJson({ type: 'join', id: 1, room });
    await slow.nextJson({ type: 'joined' });
    slow.sock.pause(); // stop reading: the kernel buffers fill, then the gateway's

    const fast = await connect(gw.wsUrl, { token: token('fast') });
    await fast.join(room);
    const pub = await connect(gw.wsUrl, { token: token('pub') });
    await pub.join(room);
    const before = await metric(gw, 'chorus_gateway_slow_consumer_closes_total');

    const big = 'x'.repeat(30000);
    const n = 150; // ~4.5 MB to each member, far past socket buffers + 64 KiB
    for (let i = 0; i < n; i++) {
      // Stay under the publish rate: 20/s with a one-second burst.
      if (i >= 15) await sleep(55);
      pub.send({ type: 'publish', room, cid: `big-${i}`, payload: big });
    }
    await waitFor(async () => (await metric(gw, 'chorus_gateway_slow_consumer_closes_total')) > before,
      { timeoutMs: 20000, what: 'a slow-consumer close' });
    const got = await fast.take((m) => m.type === 'event' && m.room === room, n, 20000);
    assert.deepEqual(got.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));

    slow.sock.resume();
    const close = await slow.waitClose(20000);
    assert.equal(close.code, 1008);
    assert.match(close.reason, /slow consumer/);
  }, { timeout: 60000 });

  itest('publishing over the rate gets rate_limited, and sending on regardless closes with 1008', async () => {
    const room = roomId('rate');
    const c = await connect(gw.wsUrl, { token: token('hasty') });
    await c.join(room);
    for (let i = 0; i < 30; i++) c.send({ type: 'publish', id: `p${i}`, room, cid: `r${i}`, payload: i });
    const err = await c.next({ type: 'error', code: 'rate_limited' });
    assert.equal(err.room, room);
    for (let i = 30; i < 200; i++) c.send({ type: 'publish', room, cid: `r${i}`, payload: i });
    const info = await c.closed;
    assert.equal(info.code, 1008);
    assert.match(info.reason, /rate/);
  });

  itest('a connection may join at most --max-rooms rooms', async () => {
    const c = await connect(gw.wsUrl, { token: token('roomy') });
    await c.join(roomId('a'));
    await c.join(roomId('b'));
    c.send({ type: 'join', id: 'third', room: roomId('c') });
    const err = await c.next({ type: 'error', id: 'third' });
    assert.equal(err.code, 'too_many_rooms');
    c.close();
  });

  itest('an expired token ends the connection with 1008 unless a fresh one was sent', async () => {
    const stale = await connect(gw.wsUrl, { token: token('brief', { exp: nowSec() + 2 }) });
    const fresh = await connect(gw.wsUrl, { token: token('renewed', { exp: nowSec() + 2 }) });
    const authed = await fresh.request({ type: 'auth', id: 'a1', token: token('renewed', { exp: nowSec() + 600 }) });
    assert.equal(authed.type, 'authed');
    const info = await Promise.race([stale.closed, sleep(6000).then(() => null)]);
    assert.ok(info, 'the stale connection was closed');
    assert.equal(info.code, 1008);
    assert.match(info.reason, /expired/);
    assert.equal(fresh.closeInfo, null, 'the refreshed connection stays open');
    fresh.close();
  });

  itest('a request that is not complete within --handshake-timeout is dropped', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: gwIdle.port });
    await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    sock.write('GET /ws HTTP/1.1\r\nHost: x\r\n'); // never finishes
    const t0 = Date.now();
    await new Promise((resolve) => { sock.once('close', resolve); sock.on('error', () => {}); sock.resume(); });
    const took = Date.now() - t0;
    assert.ok(took < 4000, `dropped after ${took} ms`);
  });

  itest('a connection in no room that sends nothing is closed after --idle-timeout', async () => {
    const c = await connect(gwIdle.wsUrl, { token: token('idler') });
    const info = await Promise.race([c.closed, sleep(6000).then(() => null)]);
    assert.ok(info, 'closed');
    assert.equal(info.code, 1001);
    assert.match(info.reason, /idle/);
  });

  itest('presence entries of a gateway that died expire and are announced as leaves', async () => {
    const args = ['--presence-ttl', '3'];
    const g1 = await startGateway({ name: 'gw-p1', redis, args });
    const g2 = await startGateway({ name: 'gw-p2', redis, args });
    const room = roomId('ghost');
    const a = await connect(g1.wsUrl, { token: token('alive') });
    await a.join(room);
    const b = await connect(g2.wsUrl, { token: token('ghost') });
    await b.join(room);
    await a.next({ type: 'presence', action: 'join', user: 'ghost' });
    await g2.kill9();
    const left = await a.next({ type: 'presence', action: 'leave', user: 'ghost' }, 8000);
    assert.equal(left.session, b.session);
    a.close();
  });

  itest('a Redis given by host name is resolved (on the loop) and used', async () => {
    const g = await startGateway({ name: 'gw-byname', redis: `localhost:${redis.port}` });
    await waitFor(async () => (await g.get('/readyz')).status === 200, { what: '/readyz 200' });
    const room = roomId('named');
    const c = await connect(g.wsUrl, { token: token('named') });
    await c.join(room);
    const ack = await c.publishOk(room, { hello: 1 }, { cid: 'named-1' });
    assert.equal(ack.seq, 1);
    c.close();
  });

  itest('a client that answers no ping is dropped', async () => {
    const raw = await RawConn.open(gwIdle.port, { token: token('deaf') });
    assert.equal(raw.status, 101);
    raw.sendJson({ type: 'join', id: 1, room: roomId('deaf') }); // not idle: in a room
    await raw.nextJson({ type: 'joined' });
    const ping = await raw.nextFrame((f) => f.opcode === OP.PING, 5000);
    assert.ok(ping);
    // Never answer (RawConn does not reply to pings, and sends nothing more).
    await raw.waitEnd(8000);
  });
});
