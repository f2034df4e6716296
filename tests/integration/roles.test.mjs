// roles.test.mjs — roles enforced on every durable event, on both publish
// paths: WebSocket publishes through two gateways (--room-acl required) and
// the worker's server-side publish (POST /rooms/{room}/events, the card
// endpoints), all sequenced by publish.lua against the room's access list.
//
// Covers: on a board, column.* needs admin or owner (forbidden for members,
// taking no seq), card.* and comment.* need membership; a retried cid that
// was accepted keeps its seq after a demotion (over WebSocket and HTTP); a
// publisher no longer on the access list is refused and loses the room; the
// same rules answer 403 over HTTP; refusals are counted in the gateway's
// metrics.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { after } from 'node:test';
import * as h from './harness.mjs';

const COLUMNS_MSG = 'only admins and owners can manage columns';
const NOT_MEMBER_MSG = 'you are no longer a member of this room';
let redis, pg, worker, gw1, gw2;

h.setup(async () => {
  [redis, pg] = await Promise.all([h.startRedis(), h.startPostgres()]);
  worker = await h.startWorker({ redis, pg });
  [gw1, gw2] = await Promise.all([
    h.startGateway({ name: 'gw-r1', redis, args: ['--room-acl', 'required'] }),
    h.startGateway({ name: 'gw-r2', redis, args: ['--room-acl', 'required'] }),
  ]);
  await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
    { timeoutMs: 15000, what: 'worker /readyz' });
}, 90000);

after(() => h.cleanup());

const api = (method, path, opts) => worker.api(method, `/api/v1${path}`, opts);
const suffix = () => crypto.randomBytes(3).toString('hex');

const redisCli = (...args) => {
  const r = spawnSync('redis-cli', ['-p', String(redis.port), '--raw', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

/** The room's access-list key, as common/keys.c builds it (FNV-1a 32 mod 16). */
function aclKey(room) {
  let hash = 2166136261;
  for (const b of Buffer.from(room)) hash = Math.imul(hash ^ b, 16777619) >>> 0;
  return `ch:{p${hash % 16}}:a:${room}`;
}

async function user(prefix) {
  const username = `${prefix}_${suffix()}`;
  const r = await api('POST', '/auth/register', { body: { username, password: 'correct horse' } });
  assert.equal(r.status, 201, r.body);
  return { id: r.json.user.id, username, token: r.json.access_token };
}

/** A workspace of owner o with admin a and member m, and a board in it. */
async function team() {
  const [o, a, m] = await Promise.all([user('own'), user('adm'), user('mem')]);
  const ws = await api('POST', '/workspaces', { token: o.token, body: { name: `roles ${suffix()}` } });
  assert.equal(ws.status, 201, ws.body);
  const wsId = ws.json.workspace.id;
  for (const [u, role] of [[a, 'admin'], [m, 'member']]) {
    const r = await api('POST', `/workspaces/${wsId}/members`, { token: o.token, body: { username: u.username, role } });
    assert.equal(r.status, 201, r.body);
  }
  const b = await api('POST', `/workspaces/${wsId}/boards`, { token: o.token, body: { name: 'Board' } });
  assert.equal(b.status, 201, b.body);
  return { o, a, m, ws: wsId, board: b.json.board.id, chat: ws.json.rooms[0].id };
}

const column = (id) => ({ id, title: `Column ${id}`, position: 'x' });

async function forbiddenCount(gw) {
  const r = await gw.get('/metrics');
  const line = r.body.split('\n').find((l) => l.startsWith('chorus_gateway_publish_forbidden_total '));
  return Number(line.split(' ')[1]);
}

h.itest('board columns: a member is refused without taking a seq; admins and owners may; cards stay open to members', async () => {
  const t = await team();
  const [cm, ca, co] = await Promise.all([
    h.connect(gw1.wsUrl, { token: t.m.token }),
    h.connect(gw2.wsUrl, { token: t.a.token }),
    h.connect(gw2.wsUrl, { token: t.o.token }),
  ]);
  await Promise.all([cm.join(t.board), ca.join(t.board), co.join(t.board)]);
  const refusedBefore = await forbiddenCount(gw1);

  const a1 = await cm.publishOk(t.board, { id: 'k1', column: 'todo', title: 'One', position: 'V' },
    { kind: 'card.create', cid: 'm-card-1' });
  assert.equal(a1.seq, 1);

  for (const kind of ['column.create', 'column.rename', 'column.move', 'column.delete']) {
    const r = await cm.publish(t.board, column('review'), { kind, cid: `m-${kind}` });
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, 'forbidden');
    assert.equal(r.room, t.board);
    assert.equal(r.message, COLUMNS_MSG);
  }
  // A retry of a refused cid is checked again, and refused again.
  const again = await cm.publish(t.board, column('review'), { kind: 'column.create', cid: 'm-column.create' });
  assert.equal(again.code, 'forbidden');
  assert.equal(await forbiddenCount(gw1), refusedBefore + 5);

  // The next accepted event has the next seq: the refusals took none.
  const a2 = await ca.publishOk(t.board, column('review'), { kind: 'column.create', cid: 'a-col-1' });
  assert.equal(a2.seq, 2);
  const a3 = await cm.publishOk(t.board, { id: 'k1', column: 'review', position: 'V' }, { kind: 'card.move', cid: 'm-move-1' });
  assert.equal(a3.seq, 3);
  const a4 = await cm.publishOk(t.board, { card: 'k1', id: 'c1', text: 'hi' }, { kind: 'comment.add', cid: 'm-com-1' });
  assert.equal(a4.seq, 4);
  const a5 = await co.publishOk(t.board, { id: 'review', title: 'Review!' }, { kind: 'column.rename', cid: 'o-col-1' });
  assert.equal(a5.seq, 5);

  // Every member sees exactly seqs 1..5, none of the refused events.
  const events = await cm.take({ type: 'event', room: t.board }, 5);
  assert.deepEqual(events.map((e) => [e.seq, e.kind]), [[1, 'card.create'], [2, 'column.create'], [3, 'card.move'],
    [4, 'comment.add'], [5, 'column.rename']]);
  await cm.expectNone({ type: 'event', room: t.board }, 200);

  // column.* is only special on boards.
  await cm.join(t.chat);
  assert.equal((await cm.publishOk(t.chat, column('x'), { kind: 'column.create', cid: 'm-chat-col' })).seq, 1);

  const snap = await api('GET', `/rooms/${t.board}/snapshot`, { token: t.m.token });
  assert.equal(snap.status, 200, snap.body);
  assert.equal(snap.json.seq, 5);
  assert.equal(snap.json.state.columns.review.title, 'Review!');
  assert.equal(snap.json.state.cards.k1.column, 'review');
  await Promise.all([cm.close(), ca.close(), co.close()]);
});

h.itest('an accepted cid keeps its seq after a demotion; new column events are refused', async () => {
  const t = await team();
  const ca = await h.connect(gw1.wsUrl, { token: t.a.token });
  await ca.join(t.board);
  const first = await ca.publishOk(t.board, column('qa'), { kind: 'column.create', cid: 'a-qa' });
  const demote = await api('PATCH', `/workspaces/${t.ws}/members/${t.a.id}`, { token: t.o.token, body: { role: 'member' } });
  assert.equal(demote.status, 200, demote.body);
  const retry = await ca.publishOk(t.board, column('qa'), { kind: 'column.create', cid: 'a-qa' });
  assert.equal(retry.seq, first.seq);
  assert.equal(retry.duplicate, true);
  const fresh = await ca.publish(t.board, column('qa2'), { kind: 'column.create', cid: 'a-qa2' });
  assert.equal(fresh.code, 'forbidden');
  assert.equal(fresh.message, COLUMNS_MSG);
  await ca.close();
});

h.itest('a removed member: refused on a fresh connection, and on a socket that still has the room', async () => {
  const t = await team();
  const [o, m] = [t.o, t.m];
  const stale = await h.connect(gw1.wsUrl, { token: m.token });
  await stale.join(t.board);
  await stale.publishOk(t.board, { id: 'k1', column: 'todo', title: 'Mine', position: 'V' }, { kind: 'card.create', cid: 'm1' });

  // A membership the kick never reached: the user is off the list, the
  // socket still holds the room.
  redisCli('HDEL', aclKey(t.board), String(m.id));
  const r = await stale.publish(t.board, { id: 'k1', title: 'x' }, { kind: 'card.update', cid: 'm2' });
  assert.equal(r.type, 'error');
  assert.equal(r.code, 'forbidden');
  assert.equal(r.message, NOT_MEMBER_MSG);
  // The gateway ends that membership, telling the client as a kick does.
  const kick = await stale.next((x) => x.type === 'error' && x.id === undefined && x.room === t.board);
  assert.equal(kick.code, 'forbidden');
  assert.equal(kick.message, NOT_MEMBER_MSG);
  assert.equal((await stale.publish(t.board, {}, { kind: 'card.update', cid: 'm3' })).code, 'not_joined');
  // The worker's publish is refused by the same list, though PostgreSQL
  // still counts the user as a member.
  const rest = await api('POST', `/rooms/${t.board}/events`, { token: m.token, body: { kind: 'card.update', payload: {} } });
  assert.equal(rest.status, 403, rest.body);
  assert.equal(rest.json.error, 'forbidden');
  assert.equal(rest.json.message, NOT_MEMBER_MSG);

  // The real removal through the API.
  assert.equal((await api('DELETE', `/workspaces/${t.ws}/members/${m.id}`, { token: o.token })).status, 204);
  const fresh = await h.connect(gw2.wsUrl, { token: m.token });
  const join = await fresh.request({ type: 'join', room: t.board });
  assert.equal(join.code, 'forbidden');
  assert.equal((await fresh.publish(t.board, {}, { kind: 'card.update', cid: 'm4' })).code, 'not_joined');
  const rest2 = await api('POST', `/rooms/${t.board}/events`, { token: m.token, body: { kind: 'card.update', payload: {} } });
  assert.equal(rest2.status, 403, rest2.body);

  // Nothing of that took a seq.
  const co = await h.connect(gw2.wsUrl, { token: o.token });
  await co.join(t.board);
  assert.equal((await co.publishOk(t.board, column('z'), { kind: 'column.create', cid: 'o1' })).seq, 2);
  await Promise.all([stale.close(), fresh.close(), co.close()]);
});

h.itest('server-side publish applies the same rules: 403 for a member\'s column event, 201 for cards and admins', async () => {
  const t = await team();
  const post = (who, kind, payload, cid) => api('POST', `/rooms/${t.board}/events`,
    { token: who.token, body: { kind, payload, cid } });

  const card = await api('POST', `/boards/${t.board}/cards`, { token: t.m.token, body: { title: 'REST card' } });
  assert.equal(card.status, 201, card.body);
  assert.equal(card.json.seq, 1);
  const refused = await post(t.m, 'column.create', column('ops'), 'm-col');
  assert.equal(refused.status, 403, refused.body);
  assert.equal(refused.json.error, 'forbidden');
  assert.equal(refused.json.message, COLUMNS_MSG);
  assert.equal((await post(t.m, 'column.delete', { id: 'todo' })).status, 403);

  const ok = await post(t.a, 'column.create', column('ops'), 'a-col');
  assert.equal(ok.status, 201, ok.body);
  assert.equal(ok.json.seq, 2);
  const owner = await post(t.o, 'column.move', { id: 'ops', position: 'y' });
  assert.equal(owner.status, 201, owner.body);
  assert.equal(owner.json.seq, 3);
  const comment = await post(t.m, 'comment.add', { card: card.json.card.id, id: 'c1', text: 'ok' });
  assert.equal(comment.status, 201, comment.body);
  assert.equal(comment.json.seq, 4);
  // Elsewhere column.* is just a kind.
  const chat = await api('POST', `/rooms/${t.chat}/events`, { token: t.m.token, body: { kind: 'column.create', payload: {} } });
  assert.equal(chat.status, 201, chat.body);
});

h.itest('server-side publish: an accepted cid keeps its seq after a demotion; a new cid is refused', async () => {
  const t = await team();
  const post = (cid, id) => api('POST', `/rooms/${t.board}/events`,
    { token: t.a.token, body: { kind: 'column.create', payload: column(id), cid } });

  const first = await post('a-rest-qa', 'qa');
  assert.equal(first.status, 201, first.body);
  assert.equal(first.json.duplicate, false);
  const demote = await api('PATCH', `/workspaces/${t.ws}/members/${t.a.id}`, { token: t.o.token, body: { role: 'member' } });
  assert.equal(demote.status, 200, demote.body);

  const retry = await post('a-rest-qa', 'qa');
  assert.equal(retry.status, 200, retry.body);
  assert.equal(retry.json.duplicate, true);
  assert.equal(retry.json.seq, first.json.seq);
  assert.equal(retry.json.epoch, first.json.epoch);
  assert.equal(retry.json.cid, 'a-rest-qa');
  const fresh = await post('a-rest-qa2', 'qa2');
  assert.equal(fresh.status, 403, fresh.body);
  assert.equal(fresh.json.error, 'forbidden');
  assert.equal(fresh.json.message, COLUMNS_MSG);
});
