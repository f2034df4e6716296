// A rolling restart behind the shipped nginx configuration loses nothing.
//
// Topology: redis (AOF everysec) + PostgreSQL + one chorus-worker, three
// chorus-gateway processes, and a real nginx started with a rendered copy of
// deploy/nginx (only ports, upstream addresses and the web root replaced;
// tests/deploy/render.mjs). chorus-loadtest runs its chat scenario through
// nginx only: every client joins its room and publishes durable events
// continuously, its token in the Authorization header, the ?token= query
// parameter or the bearer subprotocol entry (a third each). Meanwhile each
// gateway in turn gets SIGTERM (--drain-seconds 2), must answer /readyz 503,
// send every client a reconnect notice and a 1001 close, exit 0, and is
// started again on the same port; the next one follows once it is ready
// again.
//
// The load tester's clients do what a browser client does (docs/protocol.md,
// docs/loadtest.md "Reconnect"): after the close they reconnect through the
// load balancer with backoff, rejoin with `since` = the last seq they hold
// and the room's epoch, and resend every publish not yet acked with its
// original cid.
//
// Checked at the end, from the tool's JSON report:
//  - the sequence checker saw a continuous stream in every client: 0 gaps,
//    0 duplicates, 0 reorders, and every member received every acked event
//    of its room (0 missing, 0 extra), across the reconnects;
//  - every client was moved by the restarts (closed with 1001, each after a
//    reconnect notice), rejoined and caught up;
//  - every publish was acked, each cid once, and a room's acked seqs are
//    exactly 1..N with no seq given twice;
// and from PostgreSQL: exactly those events, one row per acked (room, seq),
// N rows per room with N distinct seqs and cids of this run, one epoch.
// Also: each gateway exited with status 0, and no token reached nginx's logs.
//
// A second run freezes one gateway (SIGSTOP) so its clients' publishes pile
// up unacked, then kills it (SIGKILL) and starts it again: the clients see
// their connections end without a close frame, reconnect to the others,
// resend the publishes in flight with their cids, and the same checks hold.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Gateway, JWT_SECRET, cleanup, freePort, httpGet, itest, setup, startPostgres, startRedis, startWorker,
  tmpDir, waitFor, withTimeout,
} from './harness.mjs';
import { REPO_ROOT, renderNginx } from '../deploy/render.mjs';

const ROOMS = 6;
const CONNECTIONS = 24; // 4 per room, each publishing 10 durable events per second
const RATE = 240;
const DURATION_S = 20;
const DRAIN_SECONDS = 2;
const WARMUP_MS = 2000;
const CRASH_DURATION_S = 8;
const FREEZE_MS = 1000;

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

// ------------------------------------------------------------ load tester

/** The load tester binary (CHORUS_LOADTEST_BIN, set by the ctest test). */
function loadtestBin() {
  const bin = process.env.CHORUS_LOADTEST_BIN;
  if (!bin) throw new Error('CHORUS_LOADTEST_BIN is not set (path to chorus-loadtest)');
  if (!fs.existsSync(bin)) throw new Error(`CHORUS_LOADTEST_BIN=${bin} does not exist`);
  return bin;
}

/**
 * chorus-loadtest in its own process group (the parent and its worker
 * processes). `running` resolves when its progress lines report the traffic
 * phase; `done` resolves with {code, signal, stdout, stderr} when it exits.
 */
class Loadtest {
  constructor(args) {
    this.stdout = '';
    this.stderr = '';
    this.child = spawn(loadtestBin(), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout.on('data', (d) => { this.stdout += d; });
    this.running = new Promise((resolve, reject) => {
      this.child.stderr.on('data', (d) => {
        this.stderr += d;
        if (/\brunning\s*\]/.test(this.stderr)) resolve();
      });
      this.child.once('exit', () => reject(new Error(`chorus-loadtest exited before running\n${this.stderr}`)));
    });
    this.running.catch(() => {});
    this.done = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  kill() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** The chat run's arguments through url, with rooms <prefix>-0 .. */
function chatArgs({ url, prefix, json, duration }) {
  return ['chat', '--url', url, '--secret', JWT_SECRET,
    '--connections', String(CONNECTIONS), '--rooms', String(ROOMS), '--rate', String(RATE),
    '--duration', String(duration), '--procs', '2', '--room-prefix', prefix,
    '--token-via', 'header,query,subprotocol', '--json', json, '--slo', 'gaps=0,dups=0'];
}

/**
 * The checks every run must pass, from its JSON report: a continuous stream
 * in every client, every publish acked once, a room's acked seqs exactly
 * 1..N, every lost connection back and caught up. Returns room -> N.
 */
function checkReport(rep, duration, why) {
  assert.deepEqual(rep.correctness, { gaps: 0, dups: 0, reorders: 0, missing: 0 }, `correctness${why}`);
  assert.equal(rep.errors.total, 0, `errors ${JSON.stringify(rep.errors.by_kind)}${why}`);
  assert.equal(rep.connections.ready, CONNECTIONS);
  assert.equal(rep.deliveries.members, CONNECTIONS);
  assert.equal(rep.deliveries.members_lost, 0);
  assert.equal(rep.deliveries.extra, 0);

  const rc = rep.reconnect;
  assert.equal(rc.enabled, true);
  assert.equal(rc.rejoined, rc.disconnects, `every lost connection rejoined: ${JSON.stringify(rc)}`);
  assert.equal(rc.caught_up, rc.rejoined, `every rejoin caught up: ${JSON.stringify(rc)}`);
  assert.equal(rc.not_caught_up, 0);
  assert.equal(rep.latency.reconnect.count, rc.rejoined);
  assert.ok(rc.deduplicated <= rc.resent);

  // Every publish was acked once (by cid); a room's acked seqs are exactly
  // 1..N, none given to two publishes, and every member got all N.
  const p = rep.publishes;
  assert.equal(p.unacked, 0);
  assert.equal(p.acked, p.sent, 'every publish acked');
  assert.ok(p.sent >= 0.9 * RATE * duration, `the schedule kept going through the restarts: ${p.sent} sent`);
  assert.equal(p.seq_conflicts, 0);
  assert.equal(rep.rooms.length, ROOMS);
  const acked = new Map();
  for (const room of rep.rooms) {
    const n = room.acked;
    assert.ok(n > 0, `${room.room} has events`);
    assert.deepEqual(
      { count: room.acked_seqs.count, conflicts: room.acked_seqs.conflicts, complete: room.acked_seqs.complete,
        ranges: room.acked_seqs.ranges },
      { count: n, conflicts: 0, complete: true, ranges: [[1, n]] },
      `${room.room}: acked seqs are 1..${n}`);
    assert.equal(room.members, CONNECTIONS / ROOMS);
    assert.equal(room.received, n * room.members, `${room.room}: every member got every acked event`);
    acked.set(room.room, n);
  }
  assert.equal([...acked.values()].reduce((a, b) => a + b, 0), p.acked);
  return acked;
}

/**
 * PostgreSQL holds every acked event exactly once: per room N rows with N
 * distinct seqs 1..N, one epoch, N distinct cids, all of this run.
 */
async function checkPostgres(pg, acked, runId) {
  const list = [...acked.keys()].map((r) => `'${r}'`).join(',');
  const q = (sql) => {
    const r = pg.psql(sql);
    if (!r.ok) throw new Error(`psql: ${r.stderr}`);
    return r.rows;
  };
  await waitFor(() => {
    const counts = new Map(q(`SELECT room, count(*) FROM events WHERE room IN (${list}) GROUP BY room`)
      .map((l) => l.split('\t')).map(([r, n]) => [r, Number(n)]));
    return [...acked].every(([r, n]) => counts.get(r) === n);
  }, { timeoutMs: 20000, intervalMs: 200, what: 'the worker to persist every acked event' });
  const stats = q(`SELECT room, count(*), count(DISTINCT seq), min(seq), max(seq), count(DISTINCT epoch),
                          count(DISTINCT cid), count(*) FILTER (WHERE cid LIKE '${runId}.%')
                     FROM events WHERE room IN (${list}) GROUP BY room ORDER BY room`);
  assert.equal(stats.length, acked.size);
  for (const line of stats) {
    const [room, n, distinct, min, max, epochs, cids, ours] = line.split('\t');
    const want = String(acked.get(room));
    assert.deepEqual({ n, distinct, min, max, epochs, cids, ours },
      { n: want, distinct: want, min: '1', max: want, epochs: '1', cids: want, ours: want },
      `${room}: rows in PostgreSQL`);
  }
}

const causesOf = (rc) => JSON.stringify(Object.fromEntries(Object.entries(rc.causes).filter(([, v]) => v)));

// ------------------------------------------------------------ the test

describe('rolling restart behind nginx', () => {
  let redis;
  let pg;
  let worker;
  let nginx;
  let lbPort;
  const loadtests = [];
  const gateways = [];

  setup(async () => {
    loadtestBin();
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
    for (const lt of loadtests) lt.kill();
    if (nginx) await nginx.stop();
    await cleanup();
  });

  const metric = (text, name) => {
    const m = new RegExp(`^${name}\\s+([0-9.eE+-]+)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };

  itest('SIGTERM each gateway in turn under chorus-loadtest: 0 gaps, 0 duplicates, every ack in PostgreSQL once',
    { timeout: 120000 }, async () => {
      const json = path.join(tmpDir(), 'rolling.json');
      const lt = new Loadtest(chatArgs({
        url: `ws://127.0.0.1:${lbPort}/ws`, prefix: `roll-${crypto.randomBytes(4).toString('hex')}`, json,
        duration: DURATION_S,
      }));
      loadtests.push(lt);
      const ltOutput = () => `--- chorus-loadtest stdout\n${lt.stdout}\n--- stderr\n${lt.stderr.slice(-4000)}`;

      await withTimeout(lt.running, 20000, 'chorus-loadtest to start its traffic');
      await sleep(WARMUP_MS);
      const exits = [];
      const terms = []; // wall-clock ms of each SIGTERM
      for (const gw of gateways) {
        const before = await gw.get('/metrics');
        const conns = metric(before.body, 'chorus_gateway_connections');
        assert.ok(conns > 0, `${gw.name} holds clients before its restart (${conns})`);

        terms.push(Date.now());
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

      const run = await withTimeout(lt.done, (DURATION_S + 30) * 1000, 'chorus-loadtest to finish');
      assert.deepEqual(run, { code: 0, signal: null }, `chorus-loadtest exit status\n${ltOutput()}`);
      const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
      const why = `\n${ltOutput()}`;

      // The restarts happened under traffic.
      for (const t of terms) {
        assert.ok(t * 1000 > rep.timing.start_us && t * 1000 < rep.timing.end_us,
          `every SIGTERM falls inside the traffic phase${why}`);
      }
      const acked = checkReport(rep, DURATION_S, why);

      // Every client was moved at least once (its gateway was restarted
      // while it was connected), by a drain close that came after a
      // reconnect notice.
      const rc = rep.reconnect;
      assert.ok(rc.disconnects >= CONNECTIONS, `every client was moved: ${JSON.stringify(rc)}`);
      assert.ok(rc.causes.close_1001 > 0, `drain closes: ${causesOf(rc)}`);
      assert.ok(rc.notices >= rc.causes.close_1001, `a reconnect notice before every 1001: ${JSON.stringify(rc)}`);
      assert.ok(rc.time_p99_us > 0 && rc.time_p99_us < 10e6, `time to reconnect: ${JSON.stringify(rc)}`);

      await checkPostgres(pg, acked, rep.run_id);

      // nginx logged the upgrades (a third of them carried ?token=) without a
      // token, in the access log and in the error log.
      const access = fs.readFileSync(path.join(nginx.prefix, 'logs', 'access.log'), 'utf8');
      assert.match(access, /GET \/ws HTTP\/1\.1" 101 /, 'upgrades are logged');
      assert.doesNotMatch(access, /token=|eyJ/, 'no token in the access log');
      const errorLog = fs.readFileSync(path.join(nginx.prefix, 'logs', 'error.log'), 'utf8');
      assert.doesNotMatch(errorLog, /token=|eyJ/, 'no token in the error log');

      process.stdout.write(`# rolling restart: ${CONNECTIONS} clients in ${ROOMS} rooms, ${rep.publishes.acked} events `
        + `acked over ${rep.timing.run_seconds.toFixed(1)} s, ${rc.disconnects} connections lost (${causesOf(rc)}), `
        + `${rc.attempts_failed} failed attempts, reconnect p50 ${(rc.time_p50_us / 1000).toFixed(0)} ms `
        + `p99 ${(rc.time_p99_us / 1000).toFixed(0)} ms, ${rc.resent} publishes resent (${rc.deduplicated} already `
        + `stored), gateway exits ${JSON.stringify(exits)}\n`);
    });

  itest('a gateway frozen, then killed under chorus-loadtest: unacked publishes are resent with their cids',
    { timeout: 60000 }, async () => {
      const json = path.join(tmpDir(), 'crash.json');
      const lt = new Loadtest(chatArgs({
        url: `ws://127.0.0.1:${lbPort}/ws`, prefix: `crash-${crypto.randomBytes(4).toString('hex')}`, json,
        duration: CRASH_DURATION_S,
      }));
      loadtests.push(lt);
      const ltOutput = () => `--- chorus-loadtest stdout\n${lt.stdout}\n--- stderr\n${lt.stderr.slice(-4000)}`;
      await withTimeout(lt.running, 20000, 'chorus-loadtest to start its traffic');
      await sleep(WARMUP_MS);

      // The gateway holding the most clients stops answering: their
      // publishes pile up unacked. Then it dies: nginx ends their
      // connections, they reconnect to the others and resend.
      const held = await Promise.all(gateways.map(async (g) => metric((await g.get('/metrics')).body,
        'chorus_gateway_connections')));
      const gw = gateways[held.indexOf(Math.max(...held))];
      assert.ok(Math.max(...held) > 0, `a gateway holds clients (${held})`);
      gw.child.kill('SIGSTOP');
      await sleep(FREEZE_MS);
      await gw.kill9();
      await gw.start();

      const run = await withTimeout(lt.done, (CRASH_DURATION_S + 30) * 1000, 'chorus-loadtest to finish');
      assert.deepEqual(run, { code: 0, signal: null }, `chorus-loadtest exit status\n${ltOutput()}`);
      const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
      const acked = checkReport(rep, CRASH_DURATION_S, `\n${ltOutput()}`);
      const rc = rep.reconnect;
      assert.ok(rc.disconnects >= Math.max(...held), `the frozen gateway's clients reconnected: ${JSON.stringify(rc)}`);
      assert.ok(rc.causes.connection_lost > 0, `connections lost: ${causesOf(rc)}`);
      assert.ok(rc.resent > 0, `publishes in flight at the crash were resent: ${JSON.stringify(rc)}`);
      await checkPostgres(pg, acked, rep.run_id);

      process.stdout.write(`# crash: ${rep.publishes.acked} events acked, ${rc.disconnects} connections lost `
        + `(${causesOf(rc)}), reconnect p99 ${(rc.time_p99_us / 1000).toFixed(0)} ms, ${rc.resent} publishes `
        + `resent with their cid, ${rc.deduplicated} of them already stored\n`);
    });
});
