// The worker's persistence path: migrations, Redis persistence streams ->
// PostgreSQL, exactly-once rows across worker crashes and a PostgreSQL
// outage, snapshots, stream trimming and the sequence-regression guard.
//
// Topology: redis <- gw1, gw2 (clients publish through them, never straight
// into Redis), one chorus-worker (consumer "w1") and a private PostgreSQL.
// Every check compares what the gateways acknowledged with the rows in
// PostgreSQL: each acked (room, epoch, seq) must be there exactly once.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MIGRATIONS_DIR, cleanup, connect, httpGet, itest, roomId, setup, startGateway,
  startPostgres, startRedis, startWorker, token, waitFor, workerBin,
} from './harness.mjs';

const PARTITIONS = 16;

/** Partition of a room: FNV-1a 32 modulo the partition count (common/keys.c). */
function partition(room) {
  let h = 2166136261;
  for (const b of Buffer.from(room)) {
    h ^= b;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h % PARTITIONS;
}

const sqlText = (s) => `'${String(s).replaceAll("'", "''")}'`;

describe('worker persistence', () => {
  let redis;
  let pg;
  let gw1;
  let gw2;
  let worker;

  setup(async () => {
    redis = await startRedis();
    pg = await startPostgres();
    const gwArgs = ['--publish-rate', '100000'];
    [gw1, gw2] = await Promise.all([
      startGateway({ name: 'gw1', redis, args: gwArgs }),
      startGateway({ name: 'gw2', redis, args: gwArgs }),
    ]);
    worker = await startWorker({
      name: 'w1', redis, pg,
      args: ['--snapshot-every', '100', '--snapshot-seconds', '2', '--claim-idle-ms', '3000'],
    });
  }, 120000);
  after(cleanup);

  // ------------------------------------------------------------ helpers

  const redisCli = (...args) => {
    const r = spawnSync('redis-cli', ['-p', String(redis.port), '--raw', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  const sql = (q) => {
    const r = pg.psql(q);
    if (!r.ok) throw new Error(`psql failed: ${r.stderr}`);
    return r.rows;
  };

  const metric = async (name) => {
    const r = await httpGet(`${worker.httpUrl}/metrics`, { timeoutMs: 3000 });
    const line = r.body.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  };

  /** Clients on both gateways, alternating. */
  async function clients(n, label) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const gw = i % 2 ? gw2 : gw1;
      out.push(await connect(gw.wsUrl, { token: token(`${label}${i}`), label: `${label}${i}@${gw.name}` }));
    }
    return out;
  }

  /**
   * Publishes from client c into rooms (round robin) with `window` requests
   * in flight until shouldStop() or `count` publishes. Every publish must be
   * acked: a gateway error fails the test. Returns the acks.
   */
  async function publishLoop(c, rooms, {
    count = Infinity, window = 20, tag, kind = 'note', payload, delayMs = 0, shouldStop = () => false,
  }) {
    const acks = [];
    let next = 0;
    const one = async () => {
      while (next < count && !shouldStop()) {
        const i = next++;
        const room = rooms[i % rooms.length];
        const cid = `${tag}-${i}`;
        const body = payload ? payload(i) : { i, tag };
        const r = await c.publish(room, body, { cid, kind: typeof kind === 'function' ? kind(i) : kind, timeoutMs: 10000 });
        if (r.type !== 'ack') throw new Error(`${c.label}: publish ${cid} not acked: ${JSON.stringify(r)}`);
        acks.push({ room, seq: r.seq, epoch: r.epoch, cid });
        if (delayMs) await sleep(delayMs);
      }
    };
    await Promise.all(Array.from({ length: window }, one));
    return acks;
  }

  async function joinAll(cs, rooms) {
    for (const c of cs) for (const room of rooms) await c.join(room);
  }

  /** Drops the events queued on clients that only publish (they all receive the fan-out). */
  const drain = (cs) => { for (const c of cs) { c.queue.length = 0; c.all.length = 0; } };

  /** Waits until PostgreSQL holds n events for rooms. */
  async function waitPersisted(rooms, n, timeoutMs) {
    const list = rooms.map(sqlText).join(',');
    return waitFor(() => Number(sql(`SELECT count(*) FROM events WHERE room IN (${list})`)[0]) >= n,
      { timeoutMs, intervalMs: 250, what: `${n} events of ${rooms.length} rooms in PostgreSQL` });
  }

  /** Every ack is a row, exactly once, and nothing else is there; per room the seqs are 1..n. */
  function checkExactlyOnce(rooms, acks) {
    const list = rooms.map(sqlText).join(',');
    const rows = sql(`SELECT room, epoch, seq, cid FROM events WHERE room IN (${list}) ORDER BY room, epoch, seq`);
    const got = new Map(rows.map((l) => {
      const [room, epoch, seq, cid] = l.split('\t');
      return [`${room}|${epoch}|${seq}`, cid];
    }));
    assert.equal(rows.length, got.size, 'no (room, epoch, seq) appears twice');
    assert.equal(acks.length, new Set(acks.map((a) => `${a.room}|${a.epoch}|${a.seq}`)).size,
      'every ack has its own (room, epoch, seq)');
    for (const a of acks) {
      const cid = got.get(`${a.room}|${a.epoch}|${a.seq}`);
      assert.equal(cid, a.cid, `acked ${a.cid} is the row ${a.room} seq ${a.seq}`);
    }
    assert.equal(rows.length, acks.length, 'PostgreSQL holds exactly the acked events');
    const gaps = sql(`SELECT room, epoch, count(*), min(seq), max(seq), count(DISTINCT seq)
                        FROM events WHERE room IN (${list}) GROUP BY room, epoch
                        HAVING min(seq) <> 1 OR max(seq) <> count(*) OR count(DISTINCT seq) <> count(*)`);
    assert.deepEqual(gaps, [], 'per room and epoch, seqs are 1..n without gaps or duplicates');
  }

  // ------------------------------------------------------------ tests

  itest('migrations: two concurrent runs apply each version once; a third finds nothing to do', { timeout: 60000 }, async () => {
    sql('DROP DATABASE IF EXISTS migtest');
    const created = pg.psql('CREATE DATABASE migtest', { db: 'postgres' });
    assert.ok(created.ok, created.stderr);
    const conninfo = `host=127.0.0.1 port=${pg.port} dbname=migtest user=chorus`;
    const run = () => new Promise((resolve) => {
      const child = spawn(workerBin(), ['migrate', '--pg', conninfo, '--migrations', MIGRATIONS_DIR,
        '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.on('exit', (code) => resolve({ code, out }));
    });
    const [a, b] = await Promise.all([run(), run()]);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    const versions = pg.psql('SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version',
      { db: 'migtest' }).rows;
    const files = pg.psql('SELECT count(*) FROM schema_migrations', { db: 'migtest' }).rows;
    assert.ok(versions.length >= 2, `versions recorded: ${versions}`);
    for (const v of versions) assert.equal(v.split('\t')[1], '1', `version ${v} recorded once`);
    assert.equal(Number(files[0]), versions.length);
    const c = await run();
    assert.equal(c.code, 0, c.out);
    assert.match(c.out, /migrations up to date/);
    assert.equal(pg.psql('SELECT count(*) FROM schema_migrations', { db: 'migtest' }).rows[0], files[0]);
    const conflicts = pg.psql("SELECT to_regclass('events_conflicts') IS NOT NULL", { db: 'migtest' }).rows[0];
    assert.equal(conflicts, 't', 'migration 0002 created events_conflicts');
    const versions3 = pg.psql("SELECT to_regclass('room_versions') IS NOT NULL AND to_regclass('events_card_idx') IS NOT NULL",
      { db: 'migtest' }).rows[0];
    assert.equal(versions3, 't', 'migration 0003 created room_versions and events_card_idx');
    assert.ok(versions.length >= 3, `versions recorded: ${versions}`);
    const text4 = pg.psql("SELECT data_type FROM information_schema.columns WHERE table_name = 'snapshots' AND column_name = 'state'",
      { db: 'migtest' }).rows[0];
    assert.equal(text4, 'text', 'migration 0004 made snapshots.state text');
    assert.ok(versions.length >= 4, `versions recorded: ${versions}`);
  });

  itest('10,000 events through two gateways land exactly once, in seq order per room', { timeout: 60000 }, async () => {
    const rooms = Array.from({ length: 8 }, (_, i) => roomId(`bulk${i}`));
    const cs = await clients(6, 'bulk');
    await joinAll(cs, rooms);
    const per = Math.ceil(10000 / cs.length);
    const acks = (await Promise.all(cs.map((c, k) => publishLoop(c, rooms, {
      count: Math.min(per, 10000 - k * per), tag: `bulk${k}`, window: 25,
    })))).flat();
    drain(cs);
    assert.equal(acks.length, 10000);
    await waitPersisted(rooms, 10000, 30000);
    checkExactlyOnce(rooms, acks);
    for (const c of cs) await c.close();
  });

  itest('kill -9 of the worker five times while publishing: every acked event once', { timeout: 90000 }, async () => {
    const rooms = Array.from({ length: 4 }, (_, i) => roomId(`crash${i}`));
    const cs = await clients(4, 'crash');
    await joinAll(cs, rooms);
    let stop = false;
    const loops = cs.map((c, k) => publishLoop(c, rooms, {
      tag: `crash${k}`, window: 4, delayMs: 5, shouldStop: () => stop,
    }));
    for (let i = 0; i < 5; i++) {
      await sleep(400 + Math.floor(Math.random() * 600));
      await worker.kill9();
      await sleep(100);
      await worker.start();
    }
    await sleep(500);
    stop = true;
    const acks = (await Promise.all(loops)).flat();
    drain(cs);
    assert.ok(acks.length > 500, `published ${acks.length} events during the crashes`);
    await waitPersisted(rooms, acks.length, 30000);
    checkExactlyOnce(rooms, acks);
    for (const c of cs) await c.close();
  });

  itest('PostgreSQL down for 30 s while publishing: the worker stays up, then catches up', { timeout: 120000 }, async () => {
    const rooms = Array.from({ length: 3 }, (_, i) => roomId(`outage${i}`));
    const cs = await clients(2, 'outage');
    await joinAll(cs, rooms);
    let stop = false;
    const loops = cs.map((c, k) => publishLoop(c, rooms, {
      tag: `outage${k}`, window: 2, delayMs: 10, shouldStop: () => stop,
    }));
    await sleep(1000);
    // Fast shutdown: the worker's sessions are cut, as in a crash of the server.
    await pg.stop({ signal: 'SIGINT', timeoutMs: 20000 });
    const downAt = Date.now();
    await waitFor(async () => (await httpGet(`${worker.httpUrl}/readyz`)).status === 503,
      { timeoutMs: 10000, what: 'worker /readyz to answer 503 with PostgreSQL down' });
    while (Date.now() - downAt < 30000) {
      assert.equal((await httpGet(`${worker.httpUrl}/healthz`)).status, 200, 'worker /healthz stays 200');
      assert.ok(worker.running, 'worker still running');
      await sleep(2000);
    }
    assert.equal((await httpGet(`${worker.httpUrl}/readyz`)).status, 503);
    await pg.start();
    await waitFor(async () => (await httpGet(`${worker.httpUrl}/readyz`)).status === 200,
      { timeoutMs: 20000, what: 'worker /readyz to answer 200 again' });
    await sleep(500);
    stop = true;
    const acks = (await Promise.all(loops)).flat();
    drain(cs);
    assert.ok(acks.length > 200, `published ${acks.length} events across the outage`);
    await waitPersisted(rooms, acks.length, 30000);
    checkExactlyOnce(rooms, acks);
    assert.ok(await metric('chorus_worker_pg_errors_total') > 0, 'the outage was seen');
    assert.equal(await metric('chorus_worker_pg_up'), 1);
    for (const c of cs) await c.close();
  });

  itest('snapshots of a board room: state.seq equals the row, newest three kept', { timeout: 60000 }, async () => {
    const room = 'board.1.1';
    const [c] = await clients(1, 'board');
    await c.join(room);
    const N = 150;
    const kind = (i) => (i < N ? 'card.create' : i < 2 * N ? 'card.move' : 'card.update');
    const payload = (i) => {
      const k = i % N;
      if (i < N) return { id: `k${k}`, column: 'todo', title: `Card ${k}`, position: `a${k}V` };
      if (i < 2 * N) return { id: `k${k}`, column: 'doing', position: `b${k}V` };
      return { id: `k${k}`, title: `Card ${k} (edited ${i})` };
    };
    // Five bursts of 100; after each, the snapshot at its last seq (taken by
    // count, or by time when a rebuild skipped the count's boundary).
    const acks = [];
    for (let b = 0; b < 5; b++) {
      const burst = await publishLoop(c, [room], {
        count: 100, window: 1, tag: `board${b}`, kind: (i) => kind(b * 100 + i), payload: (i) => payload(b * 100 + i),
      });
      acks.push(...burst);
      const want = String(100 * (b + 1));
      await waitFor(() => sql(`SELECT max(seq) FROM snapshots WHERE room = 'board.1.1'`)[0] === want,
        { timeoutMs: 15000, what: `a snapshot of board.1.1 at seq ${want}` });
    }
    drain([c]);
    const epoch = acks[0].epoch;
    assert.equal(acks.at(-1).seq, 500);
    // The state is stored as the worker's canonical JSON text (migration 0004).
    const rows = sql(`SELECT epoch, seq, (s->>'seq')::bigint, jsonb_array_length(jsonb_path_query_array(s->'cards', '$.*')),
                             s->'cards'->'k7'->>'column', s->'cards'->'k7'->>'version'
                        FROM (SELECT epoch, seq, state::jsonb AS s FROM snapshots WHERE room = 'board.1.1') x ORDER BY seq`);
    assert.deepEqual(rows.map((r) => r.split('\t')[1]), ['300', '400', '500'],
      `the newest three snapshots are kept: ${rows.join(' | ')}`);
    for (const r of rows) {
      const [ep, seq, stateSeq] = r.split('\t');
      assert.equal(ep, String(epoch));
      assert.equal(stateSeq, seq, 'state.seq equals the seq column');
    }
    const head = sql(`SELECT left(state, 14) FROM snapshots WHERE room = 'board.1.1' ORDER BY seq DESC LIMIT 1`)[0];
    assert.equal(head, '{"activity":[{', 'compact, sorted keys');
    const [, seq, , cards, col, version] = rows.at(-1).split('\t');
    assert.equal(seq, '500');
    assert.equal(cards, String(N), 'every card created is in the state');
    assert.equal(col, 'doing', 'card.move applied');
    assert.ok(Number(version) >= 2, 'card.update applied');
    assert.ok(await metric('chorus_worker_snapshots_saved_total') >= 5);
    await c.close();
  });

  itest('a sequence regression in Redis is detected, kept aside and the room moves to a new epoch', { timeout: 60000 }, async () => {
    const room = roomId('regress');
    const [c] = await clients(1, 'regress');
    await c.join(room);
    const first = await publishLoop(c, [room], { count: 5, window: 1, tag: 'before' });
    const epoch = first[0].epoch;
    await waitPersisted([room], 5, 10000);
    // Redis "forgets" seqs 3..5, as after a power failure with appendfsync everysec.
    // (The room stream loses its tail too; here it is simply dropped.)
    const meta = `ch:{p${partition(room)}}:m:${room}`;
    assert.equal(redisCli('HGET', meta, 'seq'), '5');
    redisCli('HSET', meta, 'seq', '2');
    redisCli('DEL', `ch:{p${partition(room)}}:s:${room}`);
    // Published at once: the worker may move the room to a new epoch between
    // them, so some may already get the new epoch. Those in the old epoch
    // reuse seqs 3.. and must be kept aside.
    const reused = await publishLoop(c, [room], { count: 3, window: 3, tag: 'after' });
    const old = reused.filter((a) => a.epoch === epoch).sort((x, y) => x.seq - y.seq);
    const fresh = reused.filter((a) => a.epoch !== epoch);
    assert.ok(old.length >= 1, 'at least one publish reused a seq in the old epoch');
    assert.deepEqual(old.map((a) => a.seq), [3, 4, 5].slice(0, old.length));
    await waitFor(() => Number(sql(`SELECT count(*) FROM events_conflicts WHERE room = ${sqlText(room)}`)[0]) === old.length,
      { timeoutMs: 10000, what: `${old.length} rows in events_conflicts` });
    const kept = sql(`SELECT epoch, seq, cid FROM events_conflicts WHERE room = ${sqlText(room)} ORDER BY seq`);
    assert.deepEqual(kept, old.map((a) => `${epoch}\t${a.seq}\t${a.cid}`), 'the newcomers are kept aside');
    const orig = sql(`SELECT seq, cid FROM events WHERE room = ${sqlText(room)} AND epoch = ${epoch} ORDER BY seq`);
    assert.deepEqual(orig, ['1\tbefore-0', '2\tbefore-1', '3\tbefore-2', '4\tbefore-3', '5\tbefore-4'],
      'the original history is untouched');
    assert.ok(await metric('chorus_worker_seq_conflicts_total') >= old.length);
    await waitFor(() => redisCli('HGET', meta, 'epoch') !== String(epoch),
      { timeoutMs: 10000, what: 'the room to move to a new epoch' });
    const [next] = await publishLoop(c, [room], { count: 1, window: 1, tag: 'new' });
    assert.ok(next.epoch > epoch, 'a new epoch');
    assert.equal(next.seq, fresh.length + 1, 'the sequence starts again in the new epoch');
    await waitFor(() => sql(`SELECT cid FROM events WHERE room = ${sqlText(room)} AND epoch = ${next.epoch} AND seq = ${next.seq}`)[0] === 'new-0',
      { timeoutMs: 10000, what: 'the first events of the new epoch in PostgreSQL' });
    await c.close();
  });

  itest('acknowledged entries are trimmed from the persistence streams', { timeout: 30000 }, async () => {
    const streams = Array.from({ length: PARTITIONS }, (_, i) => `ch:{p${i}}:persist`);
    const total = () => streams.reduce((n, s) => n + Number(redisCli('XLEN', s)), 0);
    // By now tens of thousands of entries went through the streams.
    await waitFor(() => total() <= 2 * PARTITIONS,
      { timeoutMs: 15000, what: `the persistence streams to be trimmed (XLEN total ${total()})` });
    assert.ok(await metric('chorus_worker_trimmed_entries_total') > 0);
    await waitFor(async () => await metric('chorus_worker_persist_lag_events') === 0,
      { timeoutMs: 5000, what: 'persistence lag 0' });
    const info = redisCli('XINFO', 'GROUPS', streams[0]);
    assert.match(info, /chorus-persist/, 'the worker consumer group exists');
  });
});
