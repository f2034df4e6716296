// versions.test.mjs — named versions of rooms and the per-card history of
// boards, through the worker's HTTP API with a real PostgreSQL and
// redis-server.
//
// Covers: POST/GET/DELETE /rooms/{room}/versions[/{id}] (the state as of the
// current seq and of older seqs, equal to what the snapshot endpoint showed
// at that seq, whether snapshot rows exist past it or not; list order;
// names, seq bounds, duplicates; who may delete; non-members, unknown rooms
// and ids, archived rooms; the state sent as the snapshot endpoint's bytes;
// the per-room limit, --max-versions 5 here), and GET /rooms/{room}/events?card=<id> (only
// that card's card.* and comment.* events, with the usual paging).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as h from './harness.mjs';

const MAX_VERSIONS = 5;
let redis, pg, worker;

h.setup(async () => {
  [redis, pg] = await Promise.all([h.startRedis(), h.startPostgres()]);
  // A snapshot row after every event: versions of older seqs must not start
  // from a snapshot beyond them. A small version limit to reach cheaply.
  worker = await h.startWorker({ redis, pg, args: ['--snapshot-every', '1', '--snapshot-seconds', '1',
    '--max-versions', String(MAX_VERSIONS)] });
  await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
    { timeoutMs: 15000, what: 'worker /readyz' });
}, 90000);

after(() => h.cleanup());

const api = (method, path, opts) => worker.api(method, `/api/v1${path}`, opts);
const suffix = () => crypto.randomBytes(3).toString('hex');

async function user(prefix) {
  const username = `${prefix}_${suffix()}`;
  const r = await api('POST', '/auth/register', { body: { username, password: 'correct horse' } });
  assert.equal(r.status, 201, r.body);
  return { id: r.json.user.id, username, token: r.json.access_token };
}

const expectError = (r, status, error, field) => {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body}`);
  if (error) assert.equal(r.json?.error, error, r.body);
  if (field) assert.equal(r.json?.field, field, r.body);
};

/** A workspace of owner o with admin a and members m, n. */
async function team() {
  const [o, a, m, n] = await Promise.all([user('own'), user('adm'), user('mem'), user('mem2')]);
  const ws = await api('POST', '/workspaces', { token: o.token, body: { name: `v ${suffix()}` } });
  assert.equal(ws.status, 201, ws.body);
  const id = ws.json.workspace.id;
  for (const [u, role] of [[a, 'admin'], [m, 'member'], [n, 'member']]) {
    const r = await api('POST', `/workspaces/${id}/members`, { token: o.token, body: { username: u.username, role } });
    assert.equal(r.status, 201, r.body);
  }
  return { o, a, m, n, ws: id, chat: ws.json.rooms[0].id };
}

const stroke = (id, x) => ({ id, points: [[x, x], [x + 5, x + 5]], color: '#123456', size: 3 });

h.itest('named versions: the state as of a seq, list, get, delete, and every refusal', async () => {
  const t = await team();
  const x = await user('outsider');
  const mk = await api('POST', `/workspaces/${t.ws}/rooms`, { token: t.m.token, body: { kind: 'whiteboard', name: 'Sketch' } });
  assert.equal(mk.status, 201, mk.body);
  const wb = mk.json.room.id;
  const V = `/rooms/${wb}/versions`;

  // Three strokes; the snapshot endpoint's state after each is the reference.
  const states = [];
  for (let i = 1; i <= 3; i++) {
    const p = await api('POST', `/rooms/${wb}/events`, { token: t.m.token, body: { kind: 'stroke.add', payload: stroke(`s${i}`, i * 10) } });
    assert.equal(p.status, 201, p.body);
    assert.equal(p.json.seq, i);
    const snap = await api('GET', `/rooms/${wb}/snapshot`, { token: t.m.token });
    assert.equal(snap.json.seq, i);
    states[i] = snap.json.state;
  }
  // Let the worker persist them and write its snapshot rows (up to seq 3).
  await h.waitFor(async () => (await api('GET', `/rooms/${wb}/events?limit=10`, { token: t.m.token })).json.events.length === 3,
    { timeoutMs: 10000, what: '3 events persisted' });
  await h.waitFor(() => pg.psql(`SELECT max(seq) FROM snapshots WHERE room = '${wb}'`).rows[0] === '3',
    { timeoutMs: 10000, what: 'a snapshot row at seq 3' });

  const cur = await api('POST', V, { token: t.m.token, body: { name: '  Current  ' } });
  assert.equal(cur.status, 201, cur.body);
  const v = cur.json.version;
  assert.equal(typeof v.id, 'number');
  assert.equal(v.room, wb);
  assert.equal(v.seq, 3);
  assert.equal(v.epoch, (await api('GET', `/rooms/${wb}/snapshot`, { token: t.m.token })).json.epoch);
  assert.equal(v.name, 'Current');
  assert.equal(v.created_by, t.m.id);
  assert.match(v.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(v.state, undefined);

  const two = await api('POST', V, { token: t.n.token, body: { name: 'Two strokes', seq: 2 } });
  assert.equal(two.status, 201, two.body);
  assert.equal(two.json.version.seq, 2);
  const zero = await api('POST', V, { token: t.a.token, body: { name: 'Empty', seq: 0 } });
  assert.equal(zero.status, 201, zero.body);
  const wide = await api('POST', V, { token: t.m.token, body: { name: 'é'.repeat(100), seq: 1 } });
  assert.equal(wide.status, 201, wide.body);

  // Loading: the state as the snapshot endpoint showed it at that seq.
  const g2 = await api('GET', `${V}/${two.json.version.id}`, { token: t.o.token });
  assert.equal(g2.status, 200, g2.body);
  assert.equal(g2.json.version.name, 'Two strokes');
  assert.deepEqual(Object.keys(g2.json.version.state.objects).sort(), ['s1', 's2']);
  assert.deepEqual(g2.json.version.state, states[2]);
  const g3 = await api('GET', `${V}/${v.id}`, { token: t.n.token });
  assert.deepEqual(Object.keys(g3.json.version.state.objects).sort(), ['s1', 's2', 's3']);
  assert.deepEqual(g3.json.version.state, states[3]);
  assert.deepEqual((await api('GET', `${V}/${wide.json.version.id}`, { token: t.m.token })).json.version.state, states[1]);
  const g0 = await api('GET', `${V}/${zero.json.version.id}`, { token: t.m.token });
  assert.equal(g0.json.version.state.seq, 0);
  assert.deepEqual(g0.json.version.state.objects, {});

  // Later events do not change a version.
  await api('POST', `/rooms/${wb}/events`, { token: t.m.token, body: { kind: 'stroke.add', payload: stroke('s4', 40) } });
  assert.deepEqual((await api('GET', `${V}/${two.json.version.id}`, { token: t.o.token })).json.version.state, states[2]);

  const list = await api('GET', V, { token: t.m.token });
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(list.json.versions.map((x) => x.name), ['é'.repeat(100), 'Empty', 'Two strokes', 'Current']);
  assert.ok(list.json.versions.every((x) => x.state === undefined && x.room === wb));

  // Bad input.
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'Two strokes' } }), 409, 'conflict', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: { name: ' Current ' } }), 409, 'conflict', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: {} }), 400, 'invalid', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: { name: '   ' } }), 400, 'invalid', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'x'.repeat(101) } }), 400, 'invalid', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'a\u0007b' } }), 400, 'invalid', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 7 } }), 400, 'invalid', 'name');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'Future', seq: 5 } }), 400, 'invalid', 'seq');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'Past', seq: -1 } }), 400, 'invalid', 'seq');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'Odd', seq: 'two' } }), 400, 'invalid', 'seq');
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'Odd', seq: 1.5 } }), 400, 'invalid', 'seq');

  // Outsiders, unknown rooms and ids.
  expectError(await api('POST', V, { token: x.token, body: { name: 'Mine' } }), 403, 'forbidden');
  expectError(await api('GET', V, { token: x.token }), 403, 'forbidden');
  expectError(await api('GET', `${V}/${v.id}`, { token: x.token }), 403, 'forbidden');
  expectError(await api('GET', '/rooms/whiteboard.999999.999999/versions', { token: t.m.token }), 404, 'not_found');
  expectError(await api('GET', `${V}/999999999`, { token: t.m.token }), 404, 'not_found');
  expectError(await api('GET', `${V}/abc`, { token: t.m.token }), 404, 'not_found');
  const other = await api('POST', `/rooms/${t.chat}/versions`, { token: t.m.token, body: { name: 'Chat' } });
  assert.equal(other.status, 201, other.body);
  assert.equal(other.json.version.seq, 0);
  expectError(await api('GET', `${V}/${other.json.version.id}`, { token: t.m.token }), 404, 'not_found');
  expectError(await api('DELETE', `${V}/${other.json.version.id}`, { token: t.m.token }), 404, 'not_found');

  // Deleting: the creator, admins and owners; not another member.
  expectError(await api('DELETE', `${V}/${v.id}`, { token: t.n.token }), 403, 'forbidden');
  assert.equal((await api('DELETE', `${V}/${v.id}`, { token: t.m.token })).status, 204);
  expectError(await api('GET', `${V}/${v.id}`, { token: t.m.token }), 404, 'not_found');
  assert.equal((await api('DELETE', `${V}/${two.json.version.id}`, { token: t.a.token })).status, 204);
  assert.equal((await api('DELETE', `${V}/${zero.json.version.id}`, { token: t.o.token })).status, 204);
  expectError(await api('DELETE', `${V}/${zero.json.version.id}`, { token: t.o.token }), 404, 'not_found');
  // A name is free again once its version is gone.
  assert.equal((await api('POST', V, { token: t.n.token, body: { name: 'Current' } })).status, 201);

  // Archived: readable, not writable.
  assert.equal((await api('DELETE', `/rooms/${wb}`, { token: t.o.token })).status, 204);
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'Late' } }), 409, 'archived');
  const archived = await api('GET', V, { token: t.m.token });
  assert.equal(archived.status, 200);
  assert.equal(archived.json.versions.length, 2);
  assert.equal((await api('GET', `${V}/${wide.json.version.id}`, { token: t.m.token })).status, 200);
});

/** The raw text of the "state" member that ends a reply's body. */
const stateText = (body, closing) => {
  const at = body.indexOf('"state":');
  assert.ok(at > 0 && body.endsWith(closing), body);
  return body.slice(at + '"state":'.length, body.length - closing.length);
};

h.itest('named versions: the state is the snapshot\'s bytes; a room keeps at most --max-versions', async () => {
  const t = await team();
  const mk = await api('POST', `/workspaces/${t.ws}/rooms`, { token: t.m.token, body: { kind: 'whiteboard', name: 'Full' } });
  assert.equal(mk.status, 201, mk.body);
  const wb = mk.json.room.id;
  const V = `/rooms/${wb}/versions`;

  // Reals and keys in the canonical form, as the snapshot endpoint sends them.
  const p = await api('POST', `/rooms/${wb}/events`, { token: t.m.token,
    body: { kind: 'stroke.add', payload: { id: 'z', points: [[0.00005, 612.9], [1e6, 2.5]], color: '#abcdef', size: 0.1 } } });
  assert.equal(p.status, 201, p.body);
  const snap = await api('GET', `/rooms/${wb}/snapshot`, { token: t.m.token });
  assert.equal(snap.status, 200, snap.body);
  const made = await api('POST', V, { token: t.m.token, body: { name: 'v1' } });
  assert.equal(made.status, 201, made.body);
  const got = await api('GET', `${V}/${made.json.version.id}`, { token: t.m.token });
  assert.equal(got.status, 200, got.body);
  assert.equal(stateText(got.body, '}}'), stateText(snap.body, '}'));
  assert.deepEqual(got.json.version.state, snap.json.state);
  assert.equal(got.json.version.name, 'v1');
  assert.equal(got.json.version.seq, 1);

  for (let i = 2; i <= MAX_VERSIONS; i++) {
    const r = await api('POST', V, { token: t.m.token, body: { name: `v${i}`, seq: 0 } });
    assert.equal(r.status, 201, r.body);
  }
  const full = await api('POST', V, { token: t.m.token, body: { name: 'one more' } });
  expectError(full, 409, 'conflict', 'name');
  assert.equal(full.json.message, `a room keeps at most ${MAX_VERSIONS} named versions; delete one first`);
  // A taken name is still reported as such.
  const taken = await api('POST', V, { token: t.m.token, body: { name: 'v2' } });
  expectError(taken, 409, 'conflict', 'name');
  assert.equal(taken.json.message, 'this room already has a version with that name');
  const list = await api('GET', V, { token: t.m.token });
  assert.equal(list.json.versions.length, MAX_VERSIONS);
  // Another room has its own limit.
  assert.equal((await api('POST', `/rooms/${t.chat}/versions`, { token: t.m.token, body: { name: 'v1' } })).status, 201);

  // Deleting one makes room for one.
  assert.equal((await api('DELETE', `${V}/${made.json.version.id}`, { token: t.m.token })).status, 204);
  assert.equal((await api('POST', V, { token: t.m.token, body: { name: 'one more' } })).status, 201);
  expectError(await api('POST', V, { token: t.m.token, body: { name: 'and another' } }), 409, 'conflict', 'name');
});

h.itest('per-card history: only the card\'s card.* and comment.* events, with paging', async () => {
  const t = await team();
  const b = await api('POST', `/workspaces/${t.ws}/boards`, { token: t.o.token, body: { name: 'Cards' } });
  assert.equal(b.status, 201, b.body);
  const board = b.json.board.id;
  const card = (id, title) => ({ id, column: 'todo', title, position: 'V' });
  const events = [
    ['card.create', card('k1', 'One')],                          // 1  k1
    ['card.create', card('k:2.b', 'Two')],                       // 2
    ['comment.add', { card: 'k1', id: 'c1', text: 'hi' }],       // 3  k1
    ['card.update', { id: 'k1', title: 'One!' }],                // 4  k1
    ['comment.add', { card: 'k:2.b', id: 'k1', text: 'x' }],     // 5  (comment id k1, card k:2.b)
    ['card.move', { id: 'k:2.b', column: 'done', position: 'V', card: 'k1' }], // 6
    ['column.create', { id: 'k1', title: 'Col', position: 'd' }], // 7  (a column called k1)
    ['comment.delete', { card: 'k1', id: 'c1' }],                // 8  k1
    ['card.assign', { id: 'k1', user: String(t.m.id) }],         // 9  k1
    ['message', { id: 'k1' }],                                   // 10
    ['card.delete', { id: 'k1' }],                               // 11 k1
  ];
  for (const [kind, payload] of events) {
    const r = await api('POST', `/rooms/${board}/events`, { token: t.o.token, body: { kind, payload } });
    assert.equal(r.status, 201, r.body);
  }
  const H = `/rooms/${board}/events`;
  await h.waitFor(async () => (await api('GET', `${H}?limit=50`, { token: t.m.token })).json.events.length === events.length,
    { timeoutMs: 10000, what: 'events persisted' });

  const seqs = (r) => r.json.events.map((e) => e.seq);
  const all = await api('GET', `${H}?card=k1`, { token: t.m.token });
  assert.equal(all.status, 200, all.body);
  assert.deepEqual(seqs(all), [1, 3, 4, 8, 9, 11]);
  assert.equal(all.json.has_more, false);
  assert.ok(all.json.events.every((e) => e.room === board && typeof e.payload === 'object'));
  assert.deepEqual(seqs(await api('GET', `${H}?card=${encodeURIComponent('k:2.b')}`, { token: t.m.token })), [2, 5, 6]);
  assert.deepEqual(seqs(await api('GET', `${H}?card=nope`, { token: t.m.token })), []);

  // Paging, as without the filter.
  const newest = await api('GET', `${H}?card=k1&limit=2`, { token: t.m.token });
  assert.deepEqual(seqs(newest), [9, 11]);
  assert.equal(newest.json.has_more, true);
  const older = await api('GET', `${H}?card=k1&before=9&limit=3`, { token: t.m.token });
  assert.deepEqual(seqs(older), [3, 4, 8]);
  assert.equal(older.json.has_more, true);
  const oldest = await api('GET', `${H}?card=k1&before=3&limit=3`, { token: t.m.token });
  assert.deepEqual(seqs(oldest), [1]);
  assert.equal(oldest.json.has_more, false);
  const fwd = await api('GET', `${H}?card=k1&after=1&limit=2`, { token: t.m.token });
  assert.deepEqual(seqs(fwd), [3, 4]);
  assert.equal(fwd.json.has_more, true);
  const range = await api('GET', `${H}?card=k1&after=3&before=11`, { token: t.m.token });
  assert.deepEqual(seqs(range), [4, 8, 9]);
  const tail = await api('GET', `${H}?card=k1&after=9&limit=2&epoch=${all.json.epoch}`, { token: t.m.token });
  assert.deepEqual(seqs(tail), [11]);
  assert.equal(tail.json.has_more, false);

  // Bad ids, and rooms that are not boards.
  for (const q of ['card=', 'card', 'card=a%20b', 'card=a/b', `card=${'k'.repeat(65)}`, `card=${'k'.repeat(300)}`, 'card=%C3%A9']) {
    expectError(await api('GET', `${H}?${q}`, { token: t.m.token }), 400, 'invalid', 'card');
  }
  assert.equal((await api('GET', `${H}?card=${'k'.repeat(64)}`, { token: t.m.token })).status, 200);
  expectError(await api('GET', `/rooms/${t.chat}/events?card=k1`, { token: t.m.token }), 400, 'invalid', 'card');
  const x = await user('outsider');
  expectError(await api('GET', `${H}?card=k1`, { token: x.token }), 403, 'forbidden');
});
