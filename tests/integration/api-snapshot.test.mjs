// api-snapshot.test.mjs — GET /rooms/{room}/snapshot through the worker's
// snapshot cache, with a real PostgreSQL and redis-server.
//
// Covers: the state stays exact across the cache (a repeated request is
// served from it; events persisted since, events still only in the Redis
// stream, and a new epoch are all in the next answer); two concurrent
// requests; a cold worker (snapshot row sent as stored, or folded); the
// state's text equals the browser reducer's canonical JSON byte for byte
// (sorted keys, and reals written as JavaScript writes them: 612.9, not
// 612.89999999999998); 403 and 404 unchanged.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as h from './harness.mjs';
import { canonicalJson, replay } from '../../web/src/lib/reducers/index.js';

let redis, pg, worker;
const ARGS = ['--snapshot-every', '10', '--snapshot-seconds', '1'];

h.setup(async () => {
  [redis, pg] = await Promise.all([h.startRedis(), h.startPostgres()]);
  worker = await h.startWorker({ redis, pg, args: ARGS });
  await ready();
}, 90000);

after(() => h.cleanup());

const ready = () => h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
  { timeoutMs: 15000, what: 'worker /readyz' });
const api = (method, path, opts) => worker.api(method, `/api/v1${path}`, opts);
const suffix = () => crypto.randomBytes(3).toString('hex');

function redisCli(...args) {
  const r = spawnSync('redis-cli', ['-p', String(redis.port), '--raw', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function user(prefix) {
  const r = await api('POST', '/auth/register', { body: { username: `${prefix}_${suffix()}`, password: 'correct horse' } });
  assert.equal(r.status, 201, r.body);
  return { id: r.json.user.id, token: r.json.access_token };
}

/** A whiteboard in a fresh workspace of o, with member m. */
async function whiteboard(o, m) {
  const ws = await api('POST', '/workspaces', { token: o.token, body: { name: `s ${suffix()}` } });
  assert.equal(ws.status, 201, ws.body);
  const me = await api('GET', '/auth/me', { token: m.token });
  const add = await api('POST', `/workspaces/${ws.json.workspace.id}/members`,
    { token: o.token, body: { username: me.json.user.username, role: 'member' } });
  assert.equal(add.status, 201, add.body);
  const mk = await api('POST', `/workspaces/${ws.json.workspace.id}/rooms`, { token: o.token, body: { kind: 'whiteboard', name: 'Cache' } });
  assert.equal(mk.status, 201, mk.body);
  return mk.json.room.id;
}

/** Coordinates that are not binary fractions: %.17g would print them long. */
const REALS = [612.9, 0.1, 33.333333333333336, -0.3, 1234.5678, 0.0001, 1e-4 * 3, 9999999.9, 2 / 3, 10000000];
const stroke = (id, i) => ({
  id,
  points: [[REALS[i % REALS.length], REALS[(i + 3) % REALS.length]], [i + 0.25, -i - 0.1], [i, i]],
  color: '#1e90ff',
  size: 1.5 + (i % 3) * 0.1,
});

async function publish(tok, room, kind, payload) {
  const r = await api('POST', `/rooms/${room}/events`, { token: tok, body: { kind, payload } });
  assert.equal(r.status, 201, r.body);
  return r.json.seq;
}

/** Every persisted event of room, oldest first. */
async function history(tok, room) {
  const all = [];
  for (;;) {
    const r = await api('GET', `/rooms/${room}/events?after=${all.length ? all.at(-1).seq : 0}&limit=500`, { token: tok });
    assert.equal(r.status, 200, r.body);
    all.push(...r.json.events);
    if (!r.json.has_more) return all;
  }
}

const persisted = (tok, room, n) => h.waitFor(async () => (await history(tok, room)).length === n,
  { timeoutMs: 15000, what: `${n} events persisted` });

/** The snapshot with its state's raw text. */
async function snapshot(tok, room) {
  const r = await api('GET', `/rooms/${room}/snapshot`, { token: tok });
  assert.equal(r.status, 200, r.body);
  const at = r.body.indexOf('"state":');
  assert.ok(at > 0 && r.body.endsWith('}'), r.body.slice(0, 200));
  return { ...r.json, body: r.body, text: r.body.slice(at + 8, -1) };
}

/** The browser reducer's state for the persisted events, as canonical JSON. */
async function expected(tok, room, kind = 'whiteboard') {
  return canonicalJson(replay(kind, await history(tok, room)));
}

/** A sample of /metrics: name with its labels, e.g. 'x_total{outcome="hit"}'. */
async function metric(series) {
  const r = await h.httpGet(`${worker.httpUrl}/metrics`);
  const line = r.body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}
const hits = () => metric('chorus_api_snapshot_cache_requests_total{outcome="hit"}');

/** A psql session holding an exclusive lock on events: persistence waits, reads go on. */
async function lockEvents() {
  const p = spawn('psql', ['-X', '-q', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'chorus', '-d', 'chorus'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stdin.write("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE; SELECT 'locked';\n");
  await h.waitFor(() => out.includes('locked'), { timeoutMs: 10000, what: 'the lock on events' });
  return async () => {
    p.stdin.end('COMMIT;\n');
    await new Promise((resolve) => p.once('exit', resolve));
  };
}

h.itest('the snapshot stays exact across the cache: new, persisted, Redis-only events; new epoch', { timeout: 90000 }, async () => {
  const [o, m] = await Promise.all([user('so'), user('sm')]);
  const room = await whiteboard(o, m);

  for (let i = 0; i < 25; i++) await publish(m.token, room, 'stroke.add', stroke(`s${i}`, i));
  await persisted(m.token, room, 25);
  const s1 = await snapshot(m.token, room);
  assert.equal(s1.seq, 25);
  assert.equal(s1.state.seq, 25);
  assert.equal(s1.text, await expected(m.token, room), 'the state is the browser reducer\'s, byte for byte');
  assert.ok(s1.text.includes('[612.9,'), s1.text.slice(0, 300));
  assert.ok(!s1.text.includes('612.89999999999998'));
  assert.ok(s1.text.includes('"size":1.6'), 'size 1.5 + 0.1 as JavaScript writes it');

  // Unchanged room: the same bytes, from the cache.
  const h0 = await hits();
  const s2 = await snapshot(o.token, room);
  assert.equal(s2.body, s1.body);
  assert.equal(await hits(), h0 + 1, 'served from the cache');

  // Persisted events since: folded into the cached state.
  await publish(m.token, room, 'object.move', { id: 's3', dx: 0.1, dy: -612.9 });
  await publish(o.token, room, 'stroke.add', stroke('o1', 7));
  await publish(m.token, room, 'object.delete', { id: 's4' });
  await persisted(m.token, room, 28);
  const s3 = await snapshot(m.token, room);
  assert.equal(s3.seq, 28);
  assert.equal(s3.text, await expected(m.token, room));
  assert.equal(s3.state.objects.s3.dx, 0.1);
  assert.equal(s3.state.objects.s4.hidden, true);

  // Events still only in the Redis stream (persistence held up by a lock).
  const unlock = await lockEvents();
  let s4;
  try {
    await publish(m.token, room, 'stroke.add', stroke('r1', 1));
    await publish(m.token, room, 'undo', {});
    s4 = await snapshot(m.token, room);
    assert.equal(s4.seq, 30);
    assert.equal((await history(m.token, room)).length, 28, 'not persisted yet');
    assert.equal(s4.state.objects.r1.hidden, true, 'the undo of r1 is in the state');
  } finally {
    await unlock();
  }
  await persisted(m.token, room, 30);
  assert.equal(s4.text, await expected(m.token, room), 'the Redis-only events were folded exactly');
  const s5 = await snapshot(m.token, room);
  assert.equal(s5.body, s4.body);

  // A cold worker: the snapshot row (seq 30, saved by count) is sent as stored.
  await h.waitFor(() => pg.psql(`SELECT max(seq) FROM snapshots WHERE room = '${room}'`).rows[0] === '30',
    { timeoutMs: 15000, what: 'the snapshot row at seq 30' });
  await worker.stop();
  await worker.start();
  await ready();
  const s6 = await snapshot(m.token, room);
  assert.equal(s6.body, s4.body, 'the stored row is the same text');
  // One more event on a cold entry (text only): parsed, folded, served.
  await publish(o.token, room, 'object.move', { id: 's5', dx: -0.5, dy: 2.75 });
  const s7 = await snapshot(m.token, room);
  assert.equal(s7.seq, 31);
  await persisted(m.token, room, 31);
  assert.equal(s7.text, await expected(m.token, room));

  // A cold worker whose newest row is older than the room: row + events.
  await publish(m.token, room, 'stroke.add', stroke('late', 4));
  await persisted(m.token, room, 32);
  await worker.stop();
  await worker.start();
  await ready();
  const s8 = await snapshot(m.token, room);
  assert.equal(s8.seq, 32);
  assert.equal(s8.text, await expected(m.token, room));

  // A new epoch (Redis lost the room): the state starts empty, not from the cache.
  const metaKey = redisCli('--scan', '--pattern', `*:m:${room}`);
  assert.ok(metaKey.length > 0);
  redisCli('DEL', metaKey);
  const s9 = await snapshot(m.token, room);
  assert.notEqual(s9.epoch, s8.epoch);
  assert.equal(s9.seq, 0);
  assert.deepEqual(Object.keys(s9.state.objects), []);
  await publish(m.token, room, 'stroke.add', stroke('e2', 2));
  const s10 = await snapshot(m.token, room);
  assert.equal(s10.epoch, s9.epoch);
  assert.equal(s10.seq, 1);
  assert.deepEqual(Object.keys(s10.state.objects), ['e2']);
});

h.itest('two concurrent requests, one after a change; refusals unchanged', { timeout: 60000 }, async () => {
  const [o, m, x] = await Promise.all([user('co'), user('cm'), user('cx')]);
  const room = await whiteboard(o, m);
  for (let i = 0; i < 12; i++) await publish(m.token, room, 'stroke.add', stroke(`c${i}`, i));
  await persisted(m.token, room, 12);
  const first = await snapshot(m.token, room);

  // A change, then two requests at once: one builds, the other waits or
  // builds after it; both see the change.
  await publish(o.token, room, 'object.move', { id: 'c1', dx: 612.9, dy: 0.1 });
  const [a, b] = await Promise.all([snapshot(m.token, room), snapshot(o.token, room)]);
  assert.equal(a.seq, 13);
  assert.equal(b.body, a.body);
  await persisted(m.token, room, 13);
  assert.equal(a.text, await expected(m.token, room));
  assert.notEqual(a.body, first.body);

  // Many at once on an unchanged room.
  const many = await Promise.all(Array.from({ length: 6 }, () => snapshot(m.token, room)));
  for (const s of many) assert.equal(s.body, a.body);

  const outsider = await api('GET', `/rooms/${room}/snapshot`, { token: x.token });
  assert.equal(outsider.status, 403, outsider.body);
  assert.equal(outsider.json.error, 'forbidden');
  const missing = await api('GET', `/rooms/whiteboard.999999.1/snapshot`, { token: m.token });
  assert.equal(missing.status, 404, missing.body);
  const bad = await api('GET', `/rooms/nope/snapshot`, { token: m.token });
  assert.equal(bad.status, 404, bad.body);
  assert.ok(await metric('chorus_api_snapshot_cache_rooms') >= 1);
  assert.ok(await metric('chorus_api_snapshot_cache_bytes') > 0);
});
