// api.test.mjs — the worker's HTTP API end to end: a real PostgreSQL,
// redis-server, chorus-worker and a chorus-gateway that requires room
// access lists (--room-acl required), driven over HTTP and WebSocket.
//
// Covers: accounts and sessions (register, login, refresh rotation and
// reuse detection, logout, me, login rate limits), workspaces, members and
// every role rule, rooms and boards, server-side publish seen by WebSocket
// clients, access lists enforced by the gateway (non-members refused,
// removed members cut off live), history pages, snapshots, read markers
// and unread counts, the card endpoints, and the 400/401/403/404/405/413
// and CORS paths.
//
// Each test uses its own users and workspaces (names carry a random
// suffix), so tests do not depend on each other's order.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as h from './harness.mjs';

const ORIGIN = 'http://app.example';
let redis, pg, worker, gw;

h.setup(async () => {
  [redis, pg] = await Promise.all([h.startRedis(), h.startPostgres()]);
  worker = await h.startWorker({ redis, pg, args: ['--allowed-origins', ORIGIN, '--max-body', '65536'] });
  gw = await h.startGateway({ name: 'gw-api', redis, args: ['--room-acl', 'required'] });
  await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
    { timeoutMs: 15000, what: 'worker /readyz' });
}, 90000);

after(() => h.cleanup());

const api = (method, path, opts) => worker.api(method, `/api/v1${path}`, opts);
const suffix = () => crypto.randomBytes(3).toString('hex');

/** Registers a fresh user; returns {id, username, token, refresh}. */
async function user(prefix = 'u') {
  const username = `${prefix}_${suffix()}`;
  const r = await api('POST', '/auth/register', {
    body: { username, password: 'correct horse', display_name: `${prefix} ${username}` },
  });
  assert.equal(r.status, 201, r.body);
  return { id: r.json.user.id, username, token: r.json.access_token, refresh: r.json.refresh_token };
}

/** A workspace owned by owner, with the given users added as {user, role}. */
async function workspace(owner, members = []) {
  const r = await api('POST', '/workspaces', { token: owner.token, body: { name: `ws ${suffix()}` } });
  assert.equal(r.status, 201, r.body);
  for (const { user: u, role } of members) {
    const m = await api('POST', `/workspaces/${r.json.workspace.id}/members`,
      { token: owner.token, body: { username: u.username, role } });
    assert.equal(m.status, 201, m.body);
  }
  return { id: r.json.workspace.id, general: r.json.rooms[0].id };
}

const expectError = (r, status, error) => {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body}`);
  if (error) assert.equal(r.json?.error, error, r.body);
};

// ------------------------------------------------------------ auth

h.itest('register, login, me: tokens work on the API and on the gateway', async () => {
  const name = `alice_${suffix()}`;
  const r = await api('POST', '/auth/register', {
    body: { username: name, password: 'password123', display_name: 'Alice A.' },
  });
  assert.equal(r.status, 201, r.body);
  assert.equal(r.json.user.username, name);
  assert.equal(r.json.user.display_name, 'Alice A.');
  assert.equal(typeof r.json.user.id, 'number');
  assert.equal(r.json.token_type, 'Bearer');
  assert.equal(r.json.expires_in, 900);
  assert.match(r.json.refresh_token, /^[A-Za-z0-9_-]{43}$/);

  expectError(await api('POST', '/auth/register', { body: { username: name, password: 'password123' } }),
    409, 'conflict');
  const bad = await api('POST', '/auth/register', { body: { username: 'No Caps', password: 'password123' } });
  expectError(bad, 400, 'invalid');
  assert.equal(bad.json.field, 'username');
  const short = await api('POST', '/auth/register', { body: { username: `s_${suffix()}`, password: 'short' } });
  expectError(short, 400, 'invalid');
  assert.equal(short.json.field, 'password');

  const login = await api('POST', '/auth/login', { body: { username: name, password: 'password123' } });
  assert.equal(login.status, 200, login.body);
  assert.equal(login.json.user.id, r.json.user.id);
  expectError(await api('POST', '/auth/login', { body: { username: name, password: 'password124' } }),
    401, 'unauthorized');
  expectError(await api('POST', '/auth/login', { body: { username: `nobody_${suffix()}`, password: 'password123' } }),
    401, 'unauthorized');

  const me = await api('GET', '/auth/me', { token: login.json.access_token });
  assert.equal(me.status, 200, me.body);
  assert.deepEqual(me.json.user, r.json.user);

  // The gateway accepts the worker's access token: sub is the user id.
  const c = await h.connect(gw.wsUrl, { token: login.json.access_token });
  assert.equal(c.user, String(r.json.user.id));
  await c.close();
});

h.itest('refresh rotates; reusing a rotated token revokes the chain; logout revokes', async () => {
  const u = await user('rot');
  const r1 = await api('POST', '/auth/refresh', { body: { refresh_token: u.refresh } });
  assert.equal(r1.status, 200, r1.body);
  assert.notEqual(r1.json.refresh_token, u.refresh);
  assert.equal((await api('GET', '/auth/me', { token: r1.json.access_token })).status, 200);

  const r2 = await api('POST', '/auth/refresh', { body: { refresh_token: r1.json.refresh_token } });
  assert.equal(r2.status, 200, r2.body);

  // The first token again: reuse. Everything issued from it dies, r2's too.
  expectError(await api('POST', '/auth/refresh', { body: { refresh_token: u.refresh } }), 401, 'token_reused');
  expectError(await api('POST', '/auth/refresh', { body: { refresh_token: r2.json.refresh_token } }),
    401, 'token_reused');

  // Logout: 204, and the token no longer refreshes.
  const l = await api('POST', '/auth/login', { body: { username: u.username, password: 'correct horse' } });
  assert.equal(l.status, 200);
  assert.equal((await api('POST', '/auth/logout', { body: { refresh_token: l.json.refresh_token } })).status, 204);
  const after = await api('POST', '/auth/refresh', { body: { refresh_token: l.json.refresh_token } });
  assert.equal(after.status, 401);
  expectError(await api('POST', '/auth/refresh', { body: { refresh_token: 'not-a-token' } }), 401, 'unauthorized');
  expectError(await api('POST', '/auth/refresh', { body: {} }), 400, 'invalid');
});

h.itest('login failures are rate-limited per username and per address (429 + Retry-After)', async () => {
  const u = await user('rl');
  const xff = { 'x-forwarded-for': `10.1.${crypto.randomInt(250)}.${crypto.randomInt(250)}` };
  for (let i = 0; i < 5; i++) {
    const r = await api('POST', '/auth/login', { body: { username: u.username, password: 'wrong pass' }, headers: xff });
    assert.equal(r.status, 401, r.body);
  }
  const limited = await api('POST', '/auth/login', { body: { username: u.username, password: 'correct horse' }, headers: xff });
  expectError(limited, 429, 'rate_limited');
  const retry = Number(limited.headers['retry-after']);
  assert.ok(retry >= 1 && retry <= 300, `Retry-After ${limited.headers['retry-after']}`);
  // Other usernames from other addresses are not affected.
  const v = await user('rl2');
  assert.equal((await api('POST', '/auth/login', { body: { username: v.username, password: 'correct horse' } })).status, 200);

  // 20 failures from one address, over many usernames, block that address.
  const addr = { 'x-forwarded-for': `10.2.${crypto.randomInt(250)}.${crypto.randomInt(250)}, 192.0.2.1` };
  for (let i = 0; i < 20; i++) {
    const r = await api('POST', '/auth/login', { body: { username: `ghost${i}_${suffix()}`, password: 'whatever1' }, headers: addr });
    assert.equal(r.status, 401, r.body);
  }
  expectError(await api('POST', '/auth/login', { body: { username: v.username, password: 'correct horse' }, headers: addr }),
    429, 'rate_limited');
});

// ------------------------------------------------------------ workspaces and members

h.itest('workspace CRUD: owner creates, lists, renames, deletes; others are refused', async () => {
  const [a, b] = await Promise.all([user('wa'), user('wb')]);
  const c = await api('POST', '/workspaces', { token: a.token, body: { name: 'Team' } });
  assert.equal(c.status, 201, c.body);
  const ws = c.json.workspace;
  assert.equal(ws.role, 'owner');
  assert.equal(ws.member_count, 1);
  assert.equal(c.json.rooms.length, 1);
  assert.equal(c.json.rooms[0].kind, 'chat');
  assert.equal(c.json.rooms[0].name, 'general');
  assert.match(c.json.rooms[0].id, new RegExp(`^chat\\.${ws.id}\\.\\d+$`));

  const list = await api('GET', '/workspaces', { token: a.token });
  assert.ok(list.json.workspaces.some((w) => w.id === ws.id && w.role === 'owner'));
  assert.equal((await api('GET', `/workspaces/${ws.id}`, { token: a.token })).json.workspace.name, 'Team');
  expectError(await api('GET', `/workspaces/${ws.id}`, { token: b.token }), 403, 'forbidden');
  expectError(await api('GET', '/workspaces/999999999', { token: a.token }), 404, 'not_found');
  expectError(await api('POST', '/workspaces', { token: a.token, body: { name: '' } }), 400, 'invalid');

  const p = await api('PATCH', `/workspaces/${ws.id}`, { token: a.token, body: { name: 'Team 2' } });
  assert.equal(p.status, 200, p.body);
  assert.equal(p.json.workspace.name, 'Team 2');
  expectError(await api('PATCH', `/workspaces/${ws.id}`, { token: b.token, body: { name: 'x' } }), 403);

  // An admin may rename but not delete.
  await api('POST', `/workspaces/${ws.id}/members`, { token: a.token, body: { username: b.username, role: 'admin' } });
  assert.equal((await api('PATCH', `/workspaces/${ws.id}`, { token: b.token, body: { name: 'By admin' } })).status, 200);
  expectError(await api('DELETE', `/workspaces/${ws.id}`, { token: b.token }), 403, 'forbidden');
  assert.equal((await api('DELETE', `/workspaces/${ws.id}`, { token: a.token })).status, 204);
  expectError(await api('GET', `/workspaces/${ws.id}`, { token: a.token }), 404);
});

h.itest('members and roles: every rule, with 403s, 400s, 409s and the last-owner rule', async () => {
  const [o, m, adm, d, e] = await Promise.all([user('own'), user('mem'), user('adm'), user('dd'), user('ee')]);
  const ws = await workspace(o);
  const add = (who, body) => api('POST', `/workspaces/${ws.id}/members`, { token: who.token, body });
  const patch = (who, target, role) => api('PATCH', `/workspaces/${ws.id}/members/${target.id}`, { token: who.token, body: { role } });
  const remove = (who, target) => api('DELETE', `/workspaces/${ws.id}/members/${target.id}`, { token: who.token });

  assert.equal((await add(o, { username: m.username })).json.member.role, 'member');   // default role
  assert.equal((await add(o, { username: adm.username, role: 'admin' })).status, 201);
  expectError(await add(m, { username: d.username }), 403, 'forbidden');               // members add nobody
  expectError(await add(adm, { username: d.username, role: 'admin' }), 403, 'forbidden'); // only owners add admins
  expectError(await add(o, { username: d.username, role: 'owner' }), 400, 'invalid');  // owner is not granted by adding
  expectError(await add(o, { username: d.username, role: 'boss' }), 400, 'invalid');
  assert.equal((await add(adm, { username: d.username, role: 'member' })).status, 201);
  expectError(await add(o, { username: d.username }), 409, 'conflict');
  expectError(await add(o, { username: `nobody_${suffix()}` }), 404, 'not_found');

  expectError(await patch(adm, d, 'admin'), 403, 'forbidden');     // admins do not promote
  expectError(await patch(m, d, 'admin'), 403, 'forbidden');
  expectError(await patch(adm, o, 'member'), 403, 'forbidden');
  assert.equal((await patch(adm, adm, 'member')).json.member.role, 'member');   // stepping down
  expectError(await patch(o, o, 'member'), 409, 'last_owner');
  assert.equal((await patch(o, m, 'owner')).json.member.role, 'owner');
  assert.equal((await patch(o, o, 'admin')).json.member.role, 'admin');        // m is still an owner
  expectError(await patch(m, m, 'member'), 409, 'last_owner');
  expectError(await remove(m, m), 409, 'last_owner');                           // the last owner cannot leave

  // Removal: admins remove members, not admins; members only themselves.
  assert.equal((await patch(m, adm, 'admin')).status, 200);
  expectError(await remove(adm, o), 403, 'forbidden');                           // o is an admin now
  expectError(await remove(d, adm), 403, 'forbidden');
  assert.equal((await add(adm, { username: e.username })).status, 201);
  assert.equal((await remove(adm, e)).status, 204);
  assert.equal((await remove(d, d)).status, 204);                                // leaving
  expectError(await remove(o, d), 404, 'not_found');

  const list = await api('GET', `/workspaces/${ws.id}/members`, { token: adm.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.members.map((x) => [x.username, x.role]),
    [[m.username, 'owner'], ...[[adm.username, 'admin'], [o.username, 'admin']].sort((x, y) => (x[0] < y[0] ? -1 : 1))]);
  expectError(await api('GET', `/workspaces/${ws.id}/members`, { token: e.token }), 403);
});

// ------------------------------------------------------------ rooms, publish, gateway access lists

h.itest('rooms and boards CRUD; archived rooms refuse publishes', async () => {
  const [o, m] = await Promise.all([user('ro'), user('rm')]);
  const ws = await workspace(o, [{ user: m, role: 'member' }]);
  const mk = (who, body) => api('POST', `/workspaces/${ws.id}/rooms`, { token: who.token, body });
  const wb = await mk(m, { kind: 'whiteboard', name: 'Sketches' });
  assert.equal(wb.status, 201, wb.body);
  assert.match(wb.json.room.id, new RegExp(`^whiteboard\\.${ws.id}\\.\\d+$`));
  expectError(await mk(o, { kind: 'video', name: 'x' }), 400, 'invalid');
  expectError(await mk(o, { kind: 'chat' }), 400, 'invalid');
  const board = await api('POST', `/workspaces/${ws.id}/boards`, { token: o.token, body: { name: 'Sprint', description: 'two weeks' } });
  assert.equal(board.status, 201, board.body);
  assert.equal(board.json.board.kind, 'board');
  assert.equal(board.json.board.description, 'two weeks');

  const rooms = await api('GET', `/workspaces/${ws.id}/rooms`, { token: m.token });
  assert.deepEqual(rooms.json.rooms.map((r) => r.kind).sort(), ['board', 'chat', 'whiteboard']);
  const boards = await api('GET', `/workspaces/${ws.id}/boards`, { token: m.token });
  assert.deepEqual(boards.json.boards.map((r) => r.id), [board.json.board.id]);

  const g = await api('GET', `/rooms/${wb.json.room.id}`, { token: m.token });
  assert.equal(g.json.room.name, 'Sketches');
  assert.equal(g.json.room.role, 'member');
  expectError(await api('GET', `/boards/${wb.json.room.id}`, { token: m.token }), 404);   // not a board
  expectError(await api('PATCH', `/rooms/${wb.json.room.id}`, { token: m.token, body: { name: 'Mine' } }), 403);
  const p = await api('PATCH', `/boards/${board.json.board.id}`, { token: o.token, body: { name: 'Sprint 2', description: 'three' } });
  assert.equal(p.status, 200, p.body);
  assert.equal(p.json.board.name, 'Sprint 2');
  assert.equal(p.json.board.description, 'three');

  expectError(await api('DELETE', `/rooms/${wb.json.room.id}`, { token: m.token }), 403);
  assert.equal((await api('DELETE', `/rooms/${wb.json.room.id}`, { token: o.token })).status, 204);
  expectError(await api('POST', `/rooms/${wb.json.room.id}/events`, { token: o.token, body: { kind: 'stroke', payload: {} } }),
    409, 'archived');
  const live = await api('GET', `/workspaces/${ws.id}/rooms`, { token: m.token });
  assert.ok(!live.json.rooms.some((r) => r.id === wb.json.room.id));
  const all = await api('GET', `/workspaces/${ws.id}/rooms?archived=1`, { token: m.token });
  assert.ok(all.json.rooms.some((r) => r.id === wb.json.room.id && r.archived));
  expectError(await api('GET', '/rooms/chat.1.999999', { token: m.token }), 404);
});

h.itest('server-side publish reaches WebSocket members; non-members are refused by the gateway', async () => {
  const [o, m, x] = await Promise.all([user('po'), user('pm'), user('px')]);
  const ws = await workspace(o, [{ user: m, role: 'member' }]);
  const room = ws.general;

  const pub = await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'chat.message', cid: 'c-1', payload: { text: 'hello' } } });
  assert.equal(pub.status, 201, pub.body);
  assert.equal(pub.json.seq, 1);
  const dup = await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'chat.message', cid: 'c-1', payload: { text: 'hello' } } });
  assert.equal(dup.status, 200);
  assert.equal(dup.json.duplicate, true);
  assert.equal(dup.json.seq, 1);
  expectError(await api('POST', `/rooms/${room}/events`, { token: x.token, body: { payload: 1 } }), 403, 'forbidden');
  expectError(await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'bad kind', payload: 1 } }), 400);

  // A member joins from 0 and gets the event from the catch-up window.
  const login = await api('POST', '/auth/login', { body: { username: m.username, password: 'correct horse' } });
  const c = await h.connect(gw.wsUrl, { token: login.json.access_token });
  const joined = await c.join(room, { since: 0, epoch: pub.json.epoch });
  assert.equal(joined.seq, 1);
  const ev = await c.next({ type: 'event', room, seq: 1 });
  assert.equal(ev.author, String(o.id));
  assert.equal(ev.session, 'api');
  assert.equal(ev.kind, 'chat.message');
  assert.deepEqual(ev.payload, { text: 'hello' });

  // A live one.
  const pub2 = await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'chat.message', payload: { text: 'live' } } });
  assert.equal((await c.next({ type: 'event', room, seq: pub2.json.seq })).payload.text, 'live');

  // A user outside the workspace cannot join (the access list is required).
  const cx = await h.connect(gw.wsUrl, { token: x.token });
  const refused = await cx.request({ type: 'join', room });
  assert.equal(refused.type, 'error');
  assert.equal(refused.code, 'forbidden');
  await Promise.all([c.close(), cx.close()]);
});

h.itest('a removed member is cut off live within 1 s and cannot rejoin', async () => {
  const [o, m] = await Promise.all([user('ko'), user('km')]);
  const ws = await workspace(o, [{ user: m, role: 'member' }]);
  const room = ws.general;
  const c = await h.connect(gw.wsUrl, { token: m.token });
  await c.join(room);
  const t0 = Date.now();
  assert.equal((await api('DELETE', `/workspaces/${ws.id}/members/${m.id}`, { token: o.token })).status, 204);
  const err = await c.next({ type: 'error', code: 'forbidden', room }, 1000);
  assert.ok(Date.now() - t0 < 1500, `kick after ${Date.now() - t0} ms`);
  assert.match(err.message, /removed/);
  // No longer a member: later events do not reach it, and a rejoin is refused.
  await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'chat.message', payload: { text: 'secret' } } });
  await c.expectNone({ type: 'event', room }, 300);
  const again = await c.request({ type: 'join', room });
  assert.equal(again.code, 'forbidden');
  expectError(await api('GET', `/rooms/${room}/events`, { token: m.token }), 403);
  await c.close();
});

// ------------------------------------------------------------ history, snapshots, read markers

h.itest('history pages (latest, before, after), snapshot shape, read markers and unread counts', async () => {
  const [o, m] = await Promise.all([user('ho'), user('hm')]);
  const ws = await workspace(o, [{ user: m, role: 'member' }]);
  const room = ws.general;
  let epoch;
  for (let i = 1; i <= 7; i++) {
    const r = await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'chat.message', cid: `h${i}`, payload: { n: i } } });
    assert.equal(r.json.seq, i);
    epoch = r.json.epoch;
  }
  // Persisted by the worker shortly after.
  await h.waitFor(async () => (await api('GET', `/rooms/${room}/events?after=0&limit=500`, { token: m.token })).json.events.length === 7,
    { timeoutMs: 10000, what: '7 events persisted' });

  const latest = await api('GET', `/rooms/${room}/events?limit=3`, { token: m.token });
  assert.equal(latest.status, 200);
  assert.deepEqual(latest.json.events.map((e) => e.seq), [5, 6, 7]);
  assert.equal(latest.json.has_more, true);
  assert.equal(latest.json.epoch, epoch);
  const e7 = latest.json.events[2];
  assert.equal(e7.type, 'event');
  assert.equal(e7.room, room);
  assert.equal(e7.kind, 'chat.message');
  assert.equal(e7.cid, 'h7');
  assert.equal(e7.author, String(o.id));
  assert.deepEqual(e7.payload, { n: 7 });
  assert.equal(typeof e7.ts, 'number');
  const older = await api('GET', `/rooms/${room}/events?before=5&limit=3`, { token: m.token });
  assert.deepEqual(older.json.events.map((e) => e.seq), [2, 3, 4]);
  assert.equal(older.json.has_more, true);
  const oldest = await api('GET', `/rooms/${room}/events?before=2&limit=3`, { token: m.token });
  assert.deepEqual(oldest.json.events.map((e) => e.seq), [1]);
  assert.equal(oldest.json.has_more, false);
  const fwd = await api('GET', `/rooms/${room}/events?after=2&limit=3`, { token: m.token });
  assert.deepEqual(fwd.json.events.map((e) => e.seq), [3, 4, 5]);
  assert.equal(fwd.json.has_more, true);
  const tail = await api('GET', `/rooms/${room}/events?after=5&limit=3`, { token: m.token });
  assert.deepEqual(tail.json.events.map((e) => e.seq), [6, 7]);
  assert.equal(tail.json.has_more, false);
  expectError(await api('GET', `/rooms/${room}/events?limit=501`, { token: m.token }), 400, 'invalid');
  expectError(await api('GET', `/rooms/${room}/events?after=x`, { token: m.token }), 400, 'invalid');

  const snap = await api('GET', `/rooms/${room}/snapshot`, { token: m.token });
  assert.equal(snap.status, 200, snap.body);
  assert.equal(snap.json.seq, 7);
  assert.equal(snap.json.epoch, epoch);
  assert.equal(snap.json.state.seq, 7);
  assert.equal(typeof snap.json.state, 'object');

  // Read markers move forward only; unread = last seq - marker.
  const put = await api('PUT', `/rooms/${room}/read`, { token: m.token, body: { seq: 3, epoch } });
  assert.equal(put.status, 200, put.body);
  assert.equal(put.json.seq, 3);
  const back = await api('PUT', `/rooms/${room}/read`, { token: m.token, body: { seq: 1, epoch } });
  assert.equal(back.json.seq, 3);
  expectError(await api('PUT', `/rooms/${room}/read`, { token: m.token, body: { seq: -1, epoch } }), 400, 'invalid');
  const unread = await api('GET', `/workspaces/${ws.id}/unread`, { token: m.token });
  assert.equal(unread.status, 200, unread.body);
  const entry = unread.json.find((x) => x.room === room);
  assert.equal(entry.unread, 4);
  assert.equal(entry.last_seq, 7);
  // A new event counts at once (Redis knows it before PostgreSQL does).
  await api('POST', `/rooms/${room}/events`, { token: o.token, body: { kind: 'chat.message', payload: { n: 8 } } });
  const unread2 = await api('GET', `/workspaces/${ws.id}/unread`, { token: m.token });
  assert.equal(unread2.json.find((x) => x.room === room).unread, 5);
  const ownerView = await api('GET', `/workspaces/${ws.id}/unread`, { token: o.token });
  assert.equal(ownerView.json.find((x) => x.room === room).unread, 8);
});

// ------------------------------------------------------------ cards

h.itest('card endpoints: create, list, update, stale base_version, move, assign, delete — one history', async () => {
  const [o, m] = await Promise.all([user('co'), user('cm')]);
  const ws = await workspace(o, [{ user: m, role: 'member' }]);
  const b = await api('POST', `/workspaces/${ws.id}/boards`, { token: o.token, body: { name: 'Kanban' } });
  const board = b.json.board.id;

  // A WebSocket client on the board sees the REST writes as events.
  const c = await h.connect(gw.wsUrl, { token: m.token });
  await c.join(board);

  const mk = (title, extra = {}) => api('POST', `/boards/${board}/cards`, { token: m.token, body: { title, ...extra } });
  const c1 = await mk('First', { description: 'one' });
  assert.equal(c1.status, 201, c1.body);
  assert.equal(c1.json.card.column, 'todo');
  assert.equal(c1.json.card.version, 1);
  assert.equal(c1.json.card.created_by, String(m.id));
  const ev = await c.next({ type: 'event', room: board, kind: 'card.create' });
  assert.equal(ev.payload.id, c1.json.card.id);
  assert.equal(ev.payload.title, 'First');
  const c2 = await mk('Second');
  const c3 = await mk('Third', { column: 'in_progress' });
  assert.equal(c3.json.card.column, 'doing');
  const top = await mk('Top', { position: 0 });
  expectError(await mk(''), 400, 'invalid');
  expectError(await mk('x', { column: 'nope' }), 400, 'invalid');

  let list = await api('GET', `/boards/${board}/cards`, { token: o.token });
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(list.json.columns.map((x) => x.id), ['todo', 'doing', 'done']);
  assert.deepEqual(list.json.cards.map((x) => x.title), ['Top', 'First', 'Second', 'Third']);

  const id1 = c1.json.card.id;
  const up = await api('PATCH', `/boards/${board}/cards/${id1}`, { token: o.token, body: { title: 'First!', base_version: 1 } });
  assert.equal(up.status, 200, up.body);
  assert.equal(up.json.card.title, 'First!');
  assert.equal(up.json.card.version, 2);
  const stale = await api('PATCH', `/boards/${board}/cards/${id1}`, { token: m.token, body: { title: 'Mine', base_version: 1 } });
  expectError(stale, 409, 'conflict');
  assert.equal(stale.json.card.title, 'First!');

  const mv = await api('PATCH', `/boards/${board}/cards/${id1}`, { token: m.token, body: { column: 'done', position: 0 } });
  assert.equal(mv.status, 200, mv.body);
  assert.equal(mv.json.card.column, 'done');
  const reorder = await api('PATCH', `/boards/${board}/cards/${c2.json.card.id}`, { token: m.token, body: { position: 0 } });
  assert.equal(reorder.status, 200, reorder.body);
  list = await api('GET', `/boards/${board}/cards?column=todo`, { token: o.token });
  assert.deepEqual(list.json.cards.map((x) => x.title), ['Second', 'Top']);

  const as = await api('POST', `/boards/${board}/cards/${id1}/assign`, { token: o.token, body: { user: m.id } });
  assert.equal(as.status, 200, as.body);
  assert.deepEqual(as.json.card.assignees, [String(m.id)]);
  expectError(await api('POST', `/boards/${board}/cards/${id1}/assign`, { token: o.token, body: { user: 999999 } }), 400, 'invalid');
  const un = await api('POST', `/boards/${board}/cards/${id1}/unassign`, { token: o.token, body: { user: String(m.id) } });
  assert.deepEqual(un.json.card.assignees, []);

  assert.equal((await api('DELETE', `/boards/${board}/cards/${top.json.card.id}`, { token: m.token })).status, 204);
  expectError(await api('GET', `/boards/${board}/cards/${top.json.card.id}`, { token: m.token }), 404);
  const one = await api('GET', `/boards/${board}/cards/${id1}`, { token: m.token });
  assert.equal(one.json.card.title, 'First!');

  // Everything went through the room's history, in order.
  const kinds = [];
  for (;;) {
    const e = await c.next({ type: 'event', room: board }, 3000);
    kinds.push(e.kind);
    if (e.kind === 'card.delete') break;
  }
  assert.deepEqual(kinds, ['card.create', 'card.create', 'card.create', 'card.update', 'card.move', 'card.move',
    'card.assign', 'card.unassign', 'card.delete']);
  // A create retried with the same cid is the same card, not a second one.
  const r1 = await mk('Retry me', { cid: 'retry-1' });
  const r2 = await mk('Retry me', { cid: 'retry-1' });
  assert.equal(r1.status, 201, r1.body);
  assert.equal(r2.status, 200, r2.body);
  assert.equal(r2.json.card.id, r1.json.card.id);
  assert.equal((await api('GET', `/boards/${board}/cards`, { token: m.token })).json.cards
    .filter((x) => x.title === 'Retry me').length, 1);
  // A non-member cannot touch the board.
  const x = await user('cx');
  expectError(await api('GET', `/boards/${board}/cards`, { token: x.token }), 403);
  await c.close();
});

// ------------------------------------------------------------ errors, limits, CORS

h.itest('400 / 401 / 404 / 405 / 413 paths and CORS', async () => {
  const u = await user('err');
  expectError(await api('POST', '/workspaces', { token: u.token, body: '{"name": ' }), 400, 'invalid');
  expectError(await api('POST', '/workspaces', { token: u.token, body: '[1, 2]' }), 400, 'invalid');
  expectError(await api('POST', '/workspaces', { token: u.token, body: '{"name":"a","name":"b"}' }), 400, 'invalid');
  expectError(await api('POST', '/workspaces', { token: u.token, body: { name: 5 } }), 400, 'invalid');

  const none = await api('GET', '/workspaces');
  expectError(none, 401, 'unauthorized');
  assert.equal(none.headers['www-authenticate'], 'Bearer');
  expectError(await api('GET', '/workspaces', { token: 'garbage' }), 401, 'unauthorized');
  expectError(await api('GET', '/workspaces', { token: h.token('alice') }), 401, 'unauthorized');   // not a user id
  expectError(await api('GET', '/workspaces', { token: h.token(String(u.id), { secret: 'another-secret-0123456789abcdef' }) }), 401);
  expectError(await api('GET', '/workspaces', { token: h.token(String(u.id), { exp: h.nowSec() - 3600 }) }), 401);

  expectError(await api('GET', '/nope', { token: u.token }), 404, 'not_found');
  expectError(await worker.api('GET', '/api/v2/workspaces', { token: u.token }), 404);
  const wrong = await api('DELETE', '/auth/me', { token: u.token });
  expectError(wrong, 405, 'method_not_allowed');
  assert.equal(wrong.headers.allow, 'GET');

  const big = await api('POST', '/workspaces', { token: u.token, body: { name: 'x'.repeat(70000) } });
  expectError(big, 413, 'too_large');
  // The connection survived a 413 well enough for the next request.
  assert.equal((await api('GET', '/auth/me', { token: u.token })).status, 200);

  // CORS: allowed origin echoed, preflight answered; others get nothing.
  const pre = await api('OPTIONS', '/workspaces', { headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
  const ok = await api('GET', '/auth/me', { token: u.token, headers: { origin: ORIGIN } });
  assert.equal(ok.headers['access-control-allow-origin'], ORIGIN);
  const evil = await api('GET', '/auth/me', { token: u.token, headers: { origin: 'http://evil.example' } });
  assert.equal(evil.status, 200);
  assert.equal(evil.headers['access-control-allow-origin'], undefined);

  // Metrics carry the API's histogram and status classes.
  const metrics = await h.httpGet(`${worker.httpUrl}/metrics`);
  assert.match(metrics.body, /chorus_api_request_duration_seconds_bucket\{route="POST \/workspaces",le="\+Inf"\} \d+/);
  assert.match(metrics.body, /chorus_api_requests_total\{class="4xx"\} [1-9]/);
});
