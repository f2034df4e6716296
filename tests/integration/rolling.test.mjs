// A rolling restart behind the shipped nginx configuration loses nothing.
//
// Topology: redis (AOF everysec) + PostgreSQL + one chorus-worker, three
// chorus-gateway processes, and a real nginx started with a rendered copy of
// deploy/nginx (only ports, upstream addresses and the web root replaced;
// tests/deploy/render.mjs). Clients connect only through nginx and publish
// durable events continuously. Meanwhile each gateway in turn gets SIGTERM
// (--drain-seconds 2), must answer /readyz 503, send every client a
// reconnect notice and a 1001 close, exit 0, and is started again on the
// same port; the next one follows once it is ready again.
//
// The clients do what a browser client does (web JS client, docs/protocol.md):
// on a close they reconnect through the load balancer, rejoin with `since` =
// the last seq they hold and the room's epoch, and resend every publish not
// yet acked with its original cid. chorus-loadtest's chat and fanout
// scenarios do not reconnect a client after a 1001 close (docs/loadtest.md,
// "Phases"), so the clients are driven from Node here.
//
// Checked at the end:
//  - every client received every seq of its room exactly once, in order
//    (sequence checker: 0 gaps, 0 duplicates, one epoch);
//  - every publish was acked, each cid with exactly one seq, and a room's
//    acked seqs are exactly 1..N;
//  - PostgreSQL holds exactly those events: one row per acked (room, seq)
//    with that cid, N rows per room, seqs contiguous;
//  - each gateway exited with status 0, and no token reached nginx's log.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  Gateway, cleanup, freePort, httpGet, itest, setup, startPostgres, startRedis, startWorker,
  tmpDir, token, waitFor, withTimeout,
} from './harness.mjs';
import { REPO_ROOT, renderNginx } from '../deploy/render.mjs';

const ROOMS = 6;
const CLIENTS_PER_ROOM = 4;
const PUBLISH_EVERY_MS = 100; // 10 publishes per second per client
const DRAIN_SECONDS = 2;
const WARMUP_MS = 3000;
const TAIL_MS = 3000;

// ------------------------------------------------------------ nginx

/** nginx in the foreground, in its own process group (master + workers). */
class Nginx {
  constructor(conf, prefix) {
    this.conf = conf;
    this.prefix = prefix;
    this.logFile = path.join(prefix, 'logs', 'nginx.out');
    this.child = null;
    this.exited = null;
  }

  async start(port) {
    const fd = fs.openSync(this.logFile, 'a');
    this.child = spawn('nginx', ['-c', this.conf, '-p', this.prefix, '-g', 'daemon off;'],
      { stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    process.on('exit', () => this.killGroup('SIGKILL'));
    await waitFor(async () => {
      if (this.child.exitCode !== null) throw new Error(`nginx exited: ${fs.readFileSync(this.logFile, 'utf8')}`);
      return (await httpGet(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 1000 })).status === 200;
    }, { timeoutMs: 10000, what: 'nginx /healthz to answer 200' });
  }

  killGroup(sig) {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try { process.kill(-this.child.pid, sig); } catch { /* gone */ }
  }

  /** Graceful stop (SIGQUIT), then SIGKILL to the group after 5 s. */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGQUIT');
    const t = setTimeout(() => this.killGroup('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
    this.killGroup('SIGKILL'); // workers still finishing open WebSockets
  }
}

// ------------------------------------------------------------ clients

/**
 * A client that behaves like the browser client: one room, durable
 * publishes with unique cids kept pending until acked, and on any close a
 * reconnect through the load balancer, a rejoin with since/epoch and a
 * resend of everything pending. Counts what the sequence checker sees.
 */
class ResumingClient {
  constructor({ idx, room, url, via }) {
    this.idx = idx;
    this.room = room;
    this.url = url;
    this.via = via; // 'protocol' or 'query'
    this.user = `roll-${idx}`;
    this.tok = token(this.user);
    this.ws = null;
    this.joined = false;
    this.stopping = false;
    this.epoch = null;
    this.joinSeq = null; // the seq of the first join: everything up to it counts as received
    this.last = null; // highest seq received
    this.received = 0;
    this.gaps = 0;
    this.dups = 0;
    this.epochMismatch = 0;
    this.k = 0;
    this.pending = new Map(); // cid -> payload, in publish order
    this.inflight = new Map(); // request id -> cid
    this.acked = new Map(); // cid -> seq
    this.duplicateAcks = 0;
    this.publishErrors = new Map(); // code -> count
    this.connects = 0;
    this.reconnectNotices = 0;
    this.closes = []; // close codes
    this.closesAfterNotice = 0;
    this.handshakeFailures = 0;
    this.problems = [];
    this.reqId = 0;
    this.noticeSeen = false;
  }

  get ready() { return this.joined && this.ws?.readyState === WebSocket.OPEN; }

  /** Connects (retrying with a short backoff) and joins; resolves once joined. */
  async connect(deadline) {
    for (;;) {
      if (this.stopping) return;
      try {
        await this.#openAndJoin();
        return;
      } catch (err) {
        this.handshakeFailures++;
        if (Date.now() > deadline) throw new Error(`client ${this.idx}: could not reconnect: ${err.message}`);
        await sleep(50 + Math.floor(Math.random() * 200));
      }
    }
  }

  #openAndJoin() {
    return new Promise((resolve, reject) => {
      let url = this.url;
      const protocols = ['chorus.v1'];
      if (this.via === 'query') url += `?token=${encodeURIComponent(this.tok)}`;
      else protocols.push(`bearer.${this.tok}`);
      const ws = new WebSocket(url, protocols, { perMessageDeflate: false, handshakeTimeout: 5000 });
      let settled = false;
      let joinedHere = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        try { ws.terminate(); } catch { /* ignore */ }
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error('no joined within 5 s')), 5000);
      ws.on('unexpected-response', (req, res) => {
        res.resume();
        fail(new Error(`upgrade refused: HTTP ${res.statusCode}`));
      });
      ws.on('error', (err) => fail(err));
      ws.on('open', () => {
        this.ws = ws;
        this.connects++;
        this.noticeSeen = false;
        const join = { type: 'join', id: `j${++this.reqId}`, room: this.room };
        if (this.last !== null) {
          join.since = this.last;
          join.epoch = this.epoch;
        }
        ws.send(JSON.stringify(join));
      });
      ws.on('message', (data) => {
        let m;
        try { m = JSON.parse(data.toString('utf8')); } catch { this.problems.push('unparsable message'); return; }
        if (!settled && m.type === 'error' && m.id?.startsWith?.('j')) {
          this.problems.push(`join refused: ${JSON.stringify(m)}`);
          fail(new Error(`join refused: ${m.code}`));
          return;
        }
        if (!settled && m.type === 'joined') {
          settled = true;
          joinedHere = true;
          clearTimeout(timer);
          if (this.epoch === null) {
            this.epoch = m.epoch;
            this.joinSeq = m.seq;
            this.last = m.seq;
          } else if (m.epoch !== this.epoch) {
            this.epochMismatch++;
          }
          this.joined = true;
          this.#flush();
          resolve();
          return;
        }
        this.#onMessage(m);
      });
      ws.on('close', (code) => {
        clearTimeout(timer);
        if (joinedHere) {
          this.#onClose(code);
        } else {
          // Not joined yet: the connect loop retries.
          if (this.ws === ws) this.ws = null;
          fail(new Error(`closed with ${code} before joined`));
        }
      });
    });
  }

  #onMessage(m) {
    switch (m.type) {
      case 'event':
        if (m.room !== this.room || m.ephemeral) return;
        if (m.epoch !== this.epoch) { this.epochMismatch++; return; }
        if (m.seq === this.last + 1) {
          this.last++;
          this.received++;
        } else if (m.seq <= this.last) {
          this.dups++;
        } else {
          this.gaps += m.seq - this.last - 1;
          this.last = m.seq;
          this.received++;
        }
        return;
      case 'ack': {
        const cid = this.inflight.get(m.id);
        if (cid === undefined) return;
        this.inflight.delete(m.id);
        if (m.cid !== cid) this.problems.push(`ack for ${cid} carries cid ${m.cid}`);
        const prev = this.acked.get(cid);
        if (prev !== undefined && prev !== m.seq) this.problems.push(`${cid} acked as ${prev} and as ${m.seq}`);
        if (m.epoch !== this.epoch) this.problems.push(`${cid} acked in epoch ${m.epoch}`);
        this.acked.set(cid, m.seq);
        if (m.duplicate) this.duplicateAcks++;
        this.pending.delete(cid);
        return;
      }
      case 'error': {
        const cid = this.inflight.get(m.id);
        if (cid === undefined) { this.problems.push(`error: ${JSON.stringify(m)}`); return; }
        this.inflight.delete(m.id);
        this.publishErrors.set(m.code, (this.publishErrors.get(m.code) ?? 0) + 1);
        // Still pending: resent with the same cid a little later.
        setTimeout(() => this.#flush(), 200);
        return;
      }
      case 'reconnect':
        this.reconnectNotices++;
        this.noticeSeen = true;
        return;
      default:
    }
  }

  #onClose(code) {
    this.closes.push(code);
    if (code === 1001 && this.noticeSeen) this.closesAfterNotice++;
    this.joined = false;
    this.inflight.clear(); // their publishes stay pending and are resent after the rejoin
    this.ws = null;
    if (this.stopping) return;
    setTimeout(() => {
      this.connect(Date.now() + 20000).catch((err) => this.problems.push(err.message));
    }, Math.floor(Math.random() * 100));
  }

  /** Sends every pending publish that has no request in flight. */
  #flush() {
    if (!this.ready) return;
    const busy = new Set(this.inflight.values());
    for (const [cid, payload] of this.pending) {
      if (busy.has(cid)) continue;
      const id = ++this.reqId;
      this.inflight.set(id, cid);
      this.ws.send(JSON.stringify({ type: 'publish', id, room: this.room, kind: 'chat.message', cid, payload }));
    }
  }

  /** A new durable publish (sent now, or after the next rejoin). */
  publishNext() {
    const cid = `c${this.idx}-${++this.k}`;
    this.pending.set(cid, { text: `message ${this.k} from ${this.user}`, n: this.k });
    this.#flush();
  }

  close() {
    this.stopping = true;
    try { this.ws?.terminate(); } catch { /* ignore */ }
  }
}

// ------------------------------------------------------------ the test

describe('rolling restart behind nginx', () => {
  let redis;
  let pg;
  let worker;
  let nginx;
  let lbPort;
  const gateways = [];
  const clients = [];

  setup(async () => {
    redis = await startRedis({ appendfsync: 'everysec' });
    pg = await startPostgres();
    worker = await startWorker({ name: 'roll-w1', redis, pg });
    // Fixed ports: each gateway comes back on the port the load balancer knows.
    for (let i = 1; i <= 3; i++) {
      const gw = new Gateway({
        name: `gw${i}`, port: await freePort(), redis,
        // The harness default is --drain-seconds 1; the later flag wins.
        args: ['--drain-seconds', String(DRAIN_SECONDS)],
      });
      gateways.push(await gw.start());
    }
    lbPort = await freePort();
    const dir = path.join(tmpDir(), 'nginx');
    const { conf, prefix } = renderNginx({
      outDir: path.join(dir, 'conf'), prefix: path.join(dir, 'prefix'), listenPort: lbPort,
      gateways: gateways.map((g) => `127.0.0.1:${g.port}`),
      workers: [`127.0.0.1:${worker.port}`],
      webRoot: path.join(REPO_ROOT, 'web'),
    });
    nginx = new Nginx(conf, prefix);
    await nginx.start(lbPort);
  }, 90000);

  after(async () => {
    for (const c of clients) c.close();
    if (nginx) await nginx.stop();
    await cleanup();
  });

  const metric = (text, name) => {
    const m = new RegExp(`^${name}\\s+([0-9.eE+-]+)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };

  itest('SIGTERM each gateway in turn under load: 0 gaps, 0 duplicates, every ack in PostgreSQL once',
    { timeout: 120000 }, async () => {
      const runId = crypto.randomBytes(4).toString('hex');
      const rooms = Array.from({ length: ROOMS }, (_, r) => `roll-${runId}-${r}`);
      const url = `ws://127.0.0.1:${lbPort}/ws`;
      for (let i = 0; i < ROOMS * CLIENTS_PER_ROOM; i++) {
        clients.push(new ResumingClient({ idx: i, room: rooms[i % ROOMS], url, via: i % 2 ? 'query' : 'protocol' }));
      }
      // Everyone joins before the first publish, so every client must end
      // up with every event of its room.
      await Promise.all(clients.map((c) => c.connect(Date.now() + 15000)));
      for (const c of clients) assert.equal(c.joinSeq, 0, `client ${c.idx} joined a fresh room`);

      // Continuous traffic, staggered over the period.
      const timers = clients.map((c, i) => {
        let iv = null;
        const t = setTimeout(() => { iv = setInterval(() => c.publishNext(), PUBLISH_EVERY_MS); },
          Math.floor((i * PUBLISH_EVERY_MS) / clients.length));
        return () => { clearTimeout(t); if (iv) clearInterval(iv); };
      });
      const t0 = Date.now();
      const exits = [];
      try {
        await sleep(WARMUP_MS);
        for (const gw of gateways) {
          const before = await gw.get('/metrics');
          const conns = metric(before.body, 'chorus_gateway_connections');
          assert.ok(conns > 0, `${gw.name} holds clients before its restart (${conns})`);

          gw.child.kill('SIGTERM');
          // Readiness turns false at once, so a health-checking balancer stops
          // sending new clients (nginx learns it from the 503 upgrades).
          const ready = await waitFor(async () => {
            const r = await gw.get('/readyz', { timeoutMs: 1000 }).catch(() => null);
            return r && r.status === 503 ? r : null;
          }, { timeoutMs: 2000, intervalMs: 20, what: `${gw.name} /readyz 503 while draining` });
          assert.match(ready.body, /"draining":true/);

          // Not gw.stop(): a second SIGTERM would end the drain at once.
          const status = await withTimeout(gw.exited, (DRAIN_SECONDS + 8) * 1000, `${gw.name} to exit after draining`);
          exits.push({ name: gw.name, ...status });
          assert.deepEqual({ code: status.code, signal: status.signal }, { code: 0, signal: null },
            `${gw.name} exits 0 after draining`);

          await gw.start();
          await waitFor(async () => (await gw.get('/readyz', { timeoutMs: 1000 })).status === 200,
            { timeoutMs: 10000, what: `${gw.name} ready again` });
          await sleep(1500);
        }
        await sleep(TAIL_MS);
      } finally {
        for (const stop of timers) stop();
      }
      const trafficSeconds = (Date.now() - t0) / 1000;

      // Every client is back, and everything it published is acked.
      await waitFor(() => clients.every((c) => c.ready && c.pending.size === 0), {
        timeoutMs: 20000, intervalMs: 100,
        what: 'every client joined with nothing pending',
      }).catch((err) => {
        const stuck = clients.filter((c) => !(c.ready && c.pending.size === 0))
          .map((c) => `#${c.idx} ready=${c.ready} pending=${c.pending.size} problems=${c.problems.join('; ')}`);
        throw new Error(`${err.message}: ${stuck.join(' | ')}`);
      });

      // Per room: the acked seqs are exactly 1..N, one cid each.
      const byRoom = new Map(rooms.map((r) => [r, new Map()])); // room -> seq -> cid
      for (const c of clients) {
        const m = byRoom.get(c.room);
        for (const [cid, seq] of c.acked) {
          assert.ok(!m.has(seq), `${c.room}: seq ${seq} acked for both ${m.get(seq)} and ${cid}`);
          m.set(seq, cid);
        }
      }
      const finalSeq = new Map();
      for (const [room, m] of byRoom) {
        const n = m.size;
        assert.ok(n > 0, `${room} has events`);
        for (let s = 1; s <= n; s++) assert.ok(m.has(s), `${room}: acked seqs are contiguous (missing ${s} of ${n})`);
        finalSeq.set(room, n);
      }
      const published = clients.reduce((a, c) => a + c.k, 0);
      const acked = clients.reduce((a, c) => a + c.acked.size, 0);
      assert.equal(acked, published, 'every publish was acked exactly once (by cid)');

      // Every member received every event of its room: no gap, no duplicate.
      await waitFor(() => clients.every((c) => c.last === finalSeq.get(c.room)), {
        timeoutMs: 10000, intervalMs: 100, what: 'every client to hold its room\'s last seq',
      });
      for (const c of clients) {
        assert.deepEqual(
          { gaps: c.gaps, dups: c.dups, epochMismatch: c.epochMismatch, received: c.received, problems: c.problems },
          { gaps: 0, dups: 0, epochMismatch: 0, received: finalSeq.get(c.room), problems: [] },
          `client ${c.idx} (${c.room}): sequence checker`,
        );
      }

      // The restarts really moved the clients: every client was closed by a
      // drain at least once, each time after a reconnect notice.
      for (const c of clients) {
        assert.ok(c.closes.length >= 1, `client ${c.idx} was moved by the rolling restart`);
        assert.ok(c.closes.every((code) => code === 1001), `client ${c.idx} closes: ${c.closes}`);
        assert.equal(c.closesAfterNotice, c.closes.length, `client ${c.idx}: every 1001 came after {"type":"reconnect"}`);
      }

      // PostgreSQL: every acked event exactly once, seqs contiguous, one epoch.
      const list = rooms.map((r) => `'${r}'`).join(',');
      const q = (sql) => {
        const r = pg.psql(sql);
        if (!r.ok) throw new Error(`psql: ${r.stderr}`);
        return r.rows;
      };
      await waitFor(() => {
        const counts = new Map(q(`SELECT room, count(*) FROM events WHERE room IN (${list}) GROUP BY room`)
          .map((l) => l.split('\t')).map(([r, n]) => [r, Number(n)]));
        return rooms.every((r) => counts.get(r) === finalSeq.get(r));
      }, { timeoutMs: 20000, intervalMs: 200, what: 'the worker to persist every acked event' });
      const stats = q(`SELECT room, count(*), count(DISTINCT seq), min(seq), max(seq), count(DISTINCT epoch),
                              count(DISTINCT cid)
                         FROM events WHERE room IN (${list}) GROUP BY room ORDER BY room`);
      for (const line of stats) {
        const [room, n, distinct, min, max, epochs, cids] = line.split('\t');
        const want = String(finalSeq.get(room));
        assert.deepEqual({ n, distinct, min, max, epochs, cids }, { n: want, distinct: want, min: '1', max: want, epochs: '1', cids: want },
          `${room}: rows in PostgreSQL`);
      }
      const rows = q(`SELECT room, seq, cid, epoch FROM events WHERE room IN (${list})`);
      const epochOf = new Map(clients.map((c) => [c.room, String(c.epoch)]));
      for (const line of rows) {
        const [room, seq, cid, epoch] = line.split('\t');
        assert.equal(byRoom.get(room).get(Number(seq)), cid, `${room} seq ${seq}: the acked cid is stored`);
        assert.equal(epoch, epochOf.get(room), `${room} seq ${seq}: the acked epoch`);
      }
      assert.equal(rows.length, acked, 'as many rows as acks');

      // nginx logged the upgrades (half of them carried ?token=) without a
      // token, in the access log and in the error log.
      const access = fs.readFileSync(path.join(nginx.prefix, 'logs', 'access.log'), 'utf8');
      assert.match(access, /GET \/ws HTTP\/1\.1" 101 /, 'upgrades are logged');
      assert.doesNotMatch(access, /token=|eyJ/, 'no token in the access log');
      const errorLog = fs.readFileSync(path.join(nginx.prefix, 'logs', 'error.log'), 'utf8');
      assert.doesNotMatch(errorLog, /token=|eyJ/, 'no token in the error log');

      const moved = clients.reduce((a, c) => a + c.closes.length, 0);
      const dupAcks = clients.reduce((a, c) => a + c.duplicateAcks, 0);
      const errs = {};
      for (const c of clients) for (const [k, v] of c.publishErrors) errs[k] = (errs[k] ?? 0) + v;
      process.stdout.write(`# rolling restart: ${clients.length} clients in ${ROOMS} rooms, ${acked} events acked `
        + `over ${trafficSeconds.toFixed(1)} s, ${moved} drain closes, ${dupAcks} resends answered as duplicates, `
        + `publish errors ${JSON.stringify(errs)}, gateway exits ${JSON.stringify(exits)}\n`);
    });
});
