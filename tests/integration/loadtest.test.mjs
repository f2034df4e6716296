// chorus-loadtest against a real cluster: redis + two gateways, clients
// spread over both, so every delivery crosses nodes through Redis.
//
// Checks the tool end to end: exit codes (0 with SLOs met, 3 with one
// failed, 2 for usage errors), the JSON report's delivery accounting
// (every acked publish reached every member of its room, no gap, no
// duplicate), a reconnect storm where every client catches up exactly,
// and refused handshakes counted by kind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe } from 'node:test';
import {
  JWT_SECRET, cleanup, itest, setup, startGateway, startRedis, tmpDir,
} from './harness.mjs';

/** The load tester binary (CHORUS_LOADTEST_BIN, set by the ctest test). */
function loadtestBin() {
  const bin = process.env.CHORUS_LOADTEST_BIN;
  if (!bin) throw new Error('CHORUS_LOADTEST_BIN is not set (path to chorus-loadtest)');
  if (!fs.existsSync(bin)) throw new Error(`CHORUS_LOADTEST_BIN=${bin} does not exist`);
  return bin;
}

const running = new Set();

/** Runs chorus-loadtest; resolves {code, signal, stdout, stderr}. Killed after timeoutMs. */
function runLoadtest(args, { timeoutMs = 25000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(loadtestBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); running.delete(child); reject(err); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const prefix = (name) => `${name}-${crypto.randomBytes(4).toString('hex')}`;

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Fails with the tool's own output when it did not exit with want. */
function assertExit(r, want) {
  assert.equal(r.code, want, `chorus-loadtest exited ${r.code} (signal ${r.signal}), want ${want}\n`
    + `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr.slice(-4000)}`);
}

/** Per room: every member received every acked event, nothing more. */
function assertExactDeliveries(report) {
  let members = 0;
  for (const room of report.rooms) {
    members += room.members;
    assert.equal(room.expected, room.acked * room.members, `${room.room}: expected = acked × members`);
    assert.equal(room.received, room.acked * room.members,
      `${room.room}: ${room.received} delivered, want ${room.acked} acked × ${room.members} members`);
    assert.equal(room.missing, 0, `${room.room}: missing`);
    assert.equal(room.extra, 0, `${room.room}: extra`);
  }
  return members;
}

describe('chorus-loadtest against two gateways', () => {
  let gw1;
  let gw2;
  let urls;

  setup(async () => {
    loadtestBin();
    const redis = await startRedis();
    [gw1, gw2] = await Promise.all([
      startGateway({ name: 'gw1', redis }),
      startGateway({ name: 'gw2', redis }),
    ]);
    urls = `${gw1.wsUrl},${gw2.wsUrl}`;
  });
  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await cleanup();
  });

  itest('fanout: every acked publish reaches every member, in order, once', async () => {
    const json = path.join(tmpDir(), 'fanout.json');
    const html = path.join(tmpDir(), 'fanout.html');
    const r = await runLoadtest(['fanout', '--url', urls, '--secret', JWT_SECRET,
      '--connections', '300', '--rooms', '10', '--publishers', '10', '--rate', '500', '--duration', '3',
      '--procs', '2', '--room-prefix', prefix('fan'), '--json', json, '--html', html,
      '--slo', 'errors=0,gaps=0,dups=0,reorders=0,missing=0,p99<2s']);
    assertExit(r, 0);
    assert.match(r.stdout, /SLO\s+ok/);
    const rep = readJson(json);
    assert.equal(rep.scenario, 'fanout');
    assert.equal(rep.exit_code, 0);
    assert.equal(rep.config.procs, 2);
    assert.equal(rep.connections.ready, 310);
    assert.equal(rep.connections.failed, 0);
    assert.equal(rep.errors.total, 0, JSON.stringify(rep.errors.by_kind));
    assert.deepEqual(rep.correctness, { gaps: 0, dups: 0, reorders: 0, missing: 0 });
    // 500/s for 3 s, all acked (open loop: the schedule is independent of acks).
    assert.equal(rep.publishes.sent, 1500);
    assert.equal(rep.publishes.acked, 1500);
    assert.equal(rep.publishes.unacked, 0);
    // 30 subscribers + 1 publisher per room.
    assert.equal(assertExactDeliveries(rep), 310);
    assert.equal(rep.rooms.reduce((n, room) => n + room.acked, 0), 1500);
    assert.equal(rep.deliveries.received, 1500 * 31);
    assert.equal(rep.latency.latency.count, 1500 * 31, 'every live delivery is timed');
    assert.ok(rep.latency.latency.p99 > 0 && rep.latency.latency.p99 <= rep.latency.latency.max);
    assert.equal(rep.latency.ack.count, 1500);
    assert.equal(rep.latency.connect.count, 310);
    assert.ok(rep.series.length >= 2, 'a time series row per second');
    const page = fs.readFileSync(html, 'utf8');
    assert.match(page, /^<!DOCTYPE html>/);
    assert.ok((page.match(/<svg/g) ?? []).length >= 3, 'percentile, throughput and connection charts');
    assert.doesNotMatch(page, /<script|src=|href=/, 'self-contained');
  });

  itest('reconnect storm: every client rejoins with since and catches up exactly', async () => {
    const json = path.join(tmpDir(), 'storm.json');
    const r = await runLoadtest(['reconnect-storm', '--url', urls, '--secret', JWT_SECRET,
      '--connections', '200', '--rooms', '5', '--publishers', '5', '--rate', '250', '--duration', '4',
      '--drop-at', '1.5', '--procs', '2', '--room-prefix', prefix('storm'), '--json', json, '--quiet',
      '--slo', 'errors=0,gaps=0,dups=0,missing=0,not_caught_up=0,catchup.max<10s']);
    assertExit(r, 0);
    const rep = readJson(json);
    assert.equal(rep.errors.total, 0, JSON.stringify(rep.errors.by_kind));
    assert.equal(rep.reconnect.dropped, 200);
    assert.equal(rep.reconnect.rejoined, 200);
    assert.equal(rep.reconnect.caught_up, 200);
    assert.equal(rep.reconnect.not_caught_up, 0);
    assert.equal(rep.latency.catchup.count, 200);
    assert.ok(rep.reconnect.all_caught_up_seconds < 10);
    assert.deepEqual(rep.correctness, { gaps: 0, dups: 0, reorders: 0, missing: 0 });
    assert.equal(rep.publishes.sent, 1000);
    assert.equal(rep.publishes.acked, 1000);
    assert.equal(assertExactDeliveries(rep), 205);
    assert.equal(rep.deliveries.members_lost, 0);
  });

  itest('a failed SLO condition exits 3 and names the condition', async () => {
    const json = path.join(tmpDir(), 'slo.json');
    const r = await runLoadtest(['idle', '--url', gw1.wsUrl, '--secret', JWT_SECRET,
      '--connections', '20', '--rooms', '2', '--duration', '0.5', '--room-prefix', prefix('idle'),
      '--json', json, '--quiet', '--slo', 'errors=0,connect.max<0us']);
    assertExit(r, 3);
    assert.match(r.stdout, /FAIL connect\.max<0us/);
    const rep = readJson(json);
    assert.equal(rep.connections.ready, 20);
    assert.equal(rep.slo.pass, false);
    assert.deepEqual(rep.slo.conditions.map((c) => c.pass), [true, false]);
    assert.equal(rep.exit_code, 3);
  });

  itest('refused handshakes are counted by kind', async () => {
    const json = path.join(tmpDir(), 'refused.json');
    const r = await runLoadtest(['connect-storm', '--url', urls, '--secret', 'not-the-gateway-secret',
      '--connections', '30', '--json', json, '--quiet', '--slo', 'errors=0']);
    assertExit(r, 3);
    const rep = readJson(json);
    assert.equal(rep.connections.ready, 0);
    assert.equal(rep.connections.failed, 30);
    assert.equal(rep.errors.by_kind.http_401, 30);
    assert.equal(rep.errors.total, 30);
  });

  itest('usage errors exit 2 without touching the cluster', async () => {
    const r1 = await runLoadtest(['fanout', '--secret', 's']);
    assertExit(r1, 2);
    assert.match(r1.stderr, /missing --url/);
    const r2 = await runLoadtest(['idle', '--url', gw1.wsUrl, '--secret', 's', '--slo', 'p99<<1ms']);
    assertExit(r2, 2);
    assert.match(r2.stderr, /SLO/);
    const r3 = await runLoadtest(['--help']);
    assertExit(r3, 0);
    assert.match(r3.stdout, /reconnect-storm/);
  });
});
