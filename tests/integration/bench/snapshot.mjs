// snapshot.mjs — how long GET /rooms/{room}/snapshot takes on a big
// whiteboard: time to first byte and to the last byte, cold (the first
// request after a worker start) and warm, plus the answer's size.
//
//   CHORUS_WORKER_BIN=build/release/worker/chorus-worker \
//     node tests/integration/bench/snapshot.mjs
//
// Fills one whiteboard with SNAP_STROKES stroke.add events (default 10,000,
// the reducer's object limit) of SNAP_POINTS points (43) with coordinates
// rounded to multiples of SNAP_STEP (0.25), published through
// POST /rooms/{room}/events; waits until every event is in PostgreSQL and
// the snapshot row of the last seq is saved; restarts the worker and times
// one cold request, then SNAP_RUNS (5) warm ones, one after a new event
// (persisted or not yet), two concurrent ones, and a cold one again (the
// room now 2 events past its snapshot row). Prints one line per figure
// and, last, the figures as one JSON line (SNAP_SAVE=file: also writes the
// cold answer there). Starts its own redis-server and PostgreSQL
// (harness.mjs).

import fs from 'node:fs';
import http from 'node:http';
import * as h from '../harness.mjs';

const STROKES = Number(process.env.SNAP_STROKES ?? 10000);
const POINTS = Number(process.env.SNAP_POINTS ?? 43);
const RUNS = Number(process.env.SNAP_RUNS ?? 5);
const STEP = Number(process.env.SNAP_STEP ?? 0.25);   // coordinates rounded to multiples of this
const COLORS = ['#1e90ff', '#e03131', '#2f9e44', '#1b1c22'];

const log = (...a) => process.stdout.write(`${a.join(' ')}\n`);
const ms = (ns) => Number(ns) / 1e6;
const f1 = (x) => x.toFixed(1);

let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const q = (x) => Math.round(x / STEP) * STEP;

function stroke(i) {
  let x = rand() * 1000, y = rand() * 620, ang = rand() * 6.28;
  const points = [];
  for (let k = 0; k < POINTS; k++) {
    points.push([q(x), q(y)]);
    ang += (rand() - 0.5) * 0.3;
    x += Math.cos(ang) * (2 + rand() * 6);
    y += Math.sin(ang) * (2 + rand() * 6);
  }
  return { id: `s${String(i).padStart(5, '0')}`, points, color: COLORS[i % COLORS.length], size: 4 };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function post(url, tok, body) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': data.length, authorization: `Bearer ${tok}` },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** One GET on a fresh connection: {ttfb, total} in ms, bytes, and the parsed body. */
function timedGet(url, tok) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let t1 = 0n;
    const req = http.request(url, { agent: false, headers: { connection: 'close', authorization: `Bearer ${tok}` } }, (res) => {
      const chunks = [];
      res.once('data', () => { t1 = process.hrtime.bigint(); });
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const t2 = process.hrtime.bigint();
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode} ${body}`));
        resolve({ ttfb: ms(t1 - t0), total: ms(t2 - t0), bytes: body.length, body, json: JSON.parse(body) });
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const [redis, pg] = await Promise.all([h.startRedis(), h.startPostgres()]);
// SNAP_MIGRATIONS: another migrations folder, to time a build older than
// the newest migration (e.g. one without 0004_snapshot_text.sql).
const args = ['--log-level', 'warn', ...(process.env.SNAP_MIGRATIONS ? ['--migrations', process.env.SNAP_MIGRATIONS] : [])];
let worker = await h.startWorker({ redis, pg, args });
await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
  { timeoutMs: 15000, what: 'worker /readyz' });
const api = (m, p, o) => worker.api(m, `/api/v1${p}`, o);
const out = { strokes: STROKES, points: POINTS, step: STEP };
try {
  const reg = await api('POST', '/auth/register', { body: { username: `snap${Date.now().toString(36)}`, password: 'correct horse' } });
  const tok = reg.json.access_token;
  const ws = await api('POST', '/workspaces', { token: tok, body: { name: 'Bench' } });
  const mk = await api('POST', `/workspaces/${ws.json.workspace.id}/rooms`, { token: tok, body: { kind: 'whiteboard', name: 'Big' } });
  const room = mk.json.room.id;

  const t0 = Date.now();
  let next = 0, bytes = 0;
  const pubUrl = () => `${worker.httpUrl}/api/v1/rooms/${room}/events`;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < STROKES) {
      const payload = stroke(next++);
      bytes += JSON.stringify(payload).length;
      const r = await post(pubUrl(), tok, { kind: 'stroke.add', payload });
      if (r.status !== 201) throw new Error(`publish: ${r.status} ${r.body}`);
    }
  }));
  log(`published ${STROKES} strokes (${(bytes / 1e6).toFixed(1)} MB of payload) in ${Date.now() - t0} ms`);
  out.payload_bytes = bytes;
  await h.waitFor(() => {
    const r = pg.psql(`SELECT (SELECT count(*) FROM events WHERE room = '${room}'), ` +
      `(SELECT coalesce(max(seq), 0) FROM snapshots WHERE room = '${room}')`);
    const [n, s] = (r.rows[0] ?? '0\t0').split('\t').map(Number);
    return n === STROKES && s === STROKES;
  }, { timeoutMs: 300000, intervalMs: 500, what: 'every event persisted and the last snapshot row saved' });
  log(`persisted, snapshot row at seq ${STROKES} after ${Date.now() - t0} ms`);

  await worker.stop();
  await worker.start();
  await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
    { timeoutMs: 15000, what: 'worker /readyz' });
  const url = `${worker.httpUrl}/api/v1/rooms/${room}/snapshot`;
  const show = (name, r) => log(`${name}: first byte ${f1(r.ttfb)} ms, total ${f1(r.total)} ms, ${r.bytes} bytes`);

  const cold = await timedGet(url, tok);
  show('cold', cold);
  out.cold = { ttfb_ms: cold.ttfb, total_ms: cold.total };
  out.bytes = cold.bytes;
  if (process.env.SNAP_SAVE) fs.writeFileSync(process.env.SNAP_SAVE, cold.body);
  const warm = [];
  for (let i = 0; i < RUNS; i++) warm.push(await timedGet(url, tok));
  warm.sort((a, b) => a.total - b.total);
  const mid = warm[Math.floor(warm.length / 2)];
  show(`warm (median of ${RUNS})`, mid);
  out.warm = { ttfb_ms: mid.ttfb, total_ms: mid.total, runs: warm.map((r) => [r.ttfb, r.total]) };

  // One more event: persisted (waited for), then one still only in Redis.
  const ev = { kind: 'object.move', payload: { id: 's00001', dx: 1.5, dy: -2.25 } };
  let r = await post(pubUrl(), tok, ev);
  await h.waitFor(() => pg.psql(`SELECT count(*) FROM events WHERE room = '${room}'`).rows[0] === String(STROKES + 1),
    { timeoutMs: 10000, what: 'the move persisted' });
  const moved = await timedGet(url, tok);
  show('after 1 persisted event', moved);
  out.after_event = { ttfb_ms: moved.ttfb, total_ms: moved.total, seq: moved.json.seq };
  r = await post(pubUrl(), tok, ev);
  const fresh = await timedGet(url, tok);
  show('right after 1 more event', fresh);
  out.after_fresh_event = { ttfb_ms: fresh.ttfb, total_ms: fresh.total, seq: fresh.json.seq, published: JSON.parse(r.body).seq };

  const [a, b] = await Promise.all([timedGet(url, tok), timedGet(url, tok)]);
  show('concurrent #1', a);
  show('concurrent #2', b);
  out.concurrent = [[a.ttfb, a.total], [b.ttfb, b.total]];

  // Cold again, now with events after the newest snapshot row.
  await h.waitFor(() => pg.psql(`SELECT count(*) FROM events WHERE room = '${room}'`).rows[0] === String(STROKES + 2),
    { timeoutMs: 10000, what: 'the second move persisted' });
  await worker.stop();
  await worker.start();
  await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
    { timeoutMs: 15000, what: 'worker /readyz' });
  const behind = await timedGet(url, tok);
  show('cold, 2 events after the newest snapshot row', behind);
  out.cold_row_behind = { ttfb_ms: behind.ttfb, total_ms: behind.total };
  log(JSON.stringify(out));
} finally {
  agent.destroy();
  await h.cleanup();
}
