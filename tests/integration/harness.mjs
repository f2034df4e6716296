// harness.mjs — shared machinery for the Chorus integration tests.
//
// Starts real processes (redis-server, PostgreSQL, chorus-gateway,
// chorus-worker) on free loopback
// ports with their files in a temporary folder, and talks to them the way
// clients do: a WebSocket client speaking protocol v1 (on the `ws` package),
// plain HTTP, and raw TCP for hand-made handshakes and frames.
//
// Invariants:
//  - Every process and socket it creates is registered, and cleanup() ends
//    all of them; an 'exit' hook SIGKILLs whatever is left, so a crashed or
//    interrupted test file never leaves servers running.
//  - Process output goes to log files in the temporary folder; a failing
//    test (itest/setup) prints the tail of every log.
//  - Nothing here sleeps for a fixed time to "let things settle": waits poll
//    a condition with a deadline and fail with a message naming it.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, test } from 'node:test';
import WebSocket from 'ws';

export const TEST_TIMEOUT = 30000;
export const JWT_SECRET = 'chorus-integration-secret-0123456789';
export const WS_PATH = '/ws';
export const SUBPROTOCOL = 'chorus.v1';
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// ------------------------------------------------------------ registry

/** Live child processes: Set of {name, child}. */
const processes = new Set();
/** Open sockets and WebSocket clients, destroyed by cleanup(). */
const sockets = new Set();
/** Every gateway process started, for the exit-status check in cleanup(). */
const gatewaysStarted = [];
/** Log files, in creation order: {name, file}. */
const logs = [];
let tmpRoot = null;

function sigkillAll() {
  for (const p of processes) {
    try { p.child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}

process.on('exit', () => {
  sigkillAll();
  if (tmpRoot && !process.env.CHORUS_KEEP_TMP) {
    try { fs.rmSync(tmpRoot, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    sigkillAll();
    process.exit(128 + os.constants.signals[sig]);
  });
}

/** The temporary folder of this test file (created on first use). */
export function tmpDir() {
  if (!tmpRoot) tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-it-'));
  return tmpRoot;
}

/** Prints the last lines of every process log (to stderr). */
export function dumpLogs(why = '', lines = 120) {
  const out = [`\n===== process logs${why ? ` (${why})` : ''} =====`];
  for (const { name, file } of logs) {
    let text = '';
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) { text = `<unreadable: ${e.message}>`; }
    const all = text.split('\n');
    const tail = all.slice(-lines).join('\n');
    out.push(`----- ${name}: ${file} (last ${Math.min(lines, all.length)} lines) -----`, tail);
  }
  out.push('===== end of process logs =====\n');
  process.stderr.write(out.join('\n'));
}

/**
 * test() with the suite's timeout, printing the process logs if it fails.
 * Usage, as node:test: itest('name', [{timeout}], async (t) => {...})
 */
export function itest(name, opts, fn) {
  if (typeof opts === 'function') [opts, fn] = [{}, opts];
  return test(name, { timeout: TEST_TIMEOUT, ...opts }, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      dumpLogs(`failed: ${name}`);
      throw err;
    }
  });
}

/** before() with a timeout, printing the process logs if it fails. */
export function setup(fn, timeout = 60000) {
  before(async () => {
    try {
      await fn();
    } catch (err) {
      dumpLogs('setup failed');
      throw err;
    }
  }, { timeout });
}

/**
 * Ends every client, gateway and redis this file started. For after().
 * Fails if a gateway did not exit with status 0 on SIGTERM (or died on its
 * own earlier): under ASan that is where leaks and shutdown bugs show.
 */
export async function cleanup() {
  for (const s of sockets) {
    try {
      if (s instanceof WebSocket) s.terminate(); else s.destroy();
    } catch { /* ignore */ }
  }
  sockets.clear();
  const stopAll = (list) => Promise.all(list.map((p) => p.owner.stop({ timeoutMs: 5000 }).catch(() => p.owner.kill9())));
  await stopAll([...processes].filter((p) => p.kind === 'gateway'));
  await stopAll([...processes]);
  const bad = gatewaysStarted
    .filter((g) => !g.killed && g.exitStatus && g.exitStatus.code !== 0)
    .map((g) => `${g.name} exited with ${JSON.stringify(g.exitStatus)}`);
  if (bad.length) {
    dumpLogs('gateway exit status');
    throw new Error(`gateway shutdown: ${bad.join('; ')}`);
  }
}

// ------------------------------------------------------------ utilities

/** Polls cond() (sync or async) every intervalMs until truthy; returns its value. */
export async function waitFor(cond, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await cond();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects with a named error if promise does not settle within ms. */
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const handedOut = new Set();

/** A TCP port on 127.0.0.1 that was free a moment ago (never the same twice here). */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port');
}

/** A fresh room id, unique across tests. */
export function roomId(prefix = 'room') {
  return `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
}

// ------------------------------------------------------------ processes

/** A child process with its output in a log file. */
/** A child process with its log file, registered for cleanup (extend it for new servers). */
export class Managed {
  constructor(kind, name, cmd, args, env) {
    this.kind = kind;
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = env;
    this.child = null;
    this.exited = null; // Promise<{code, signal}> of the current child
    this.exitStatus = null;
    this.killed = false; // kill9() was used: the exit status is not the process's own
    this.logFile = path.join(tmpDir(), `${name}.log`);
    if (!logs.some((l) => l.file === this.logFile)) logs.push({ name, file: this.logFile });
  }

  get pid() { return this.child?.pid; }

  get running() { return this.child !== null && this.exitStatus === null; }

  spawn() {
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `\n### ${new Date().toISOString()} ${this.cmd} ${this.args.join(' ')}\n`);
    const child = spawn(this.cmd, this.args, {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...this.env },
    });
    fs.closeSync(fd);
    this.child = child;
    this.exitStatus = null;
    this.killed = false;
    if (this.kind === 'gateway') gatewaysStarted.push(this);
    const entry = { kind: this.kind, name: this.name, child, owner: this };
    processes.add(entry);
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.exitStatus = { code: null, signal: null, error: err };
        processes.delete(entry);
        resolve(this.exitStatus);
      });
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        processes.delete(entry);
        resolve(this.exitStatus);
      });
    });
    return child;
  }

  log() {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  /** SIGTERM (or sig), then waits for the exit; SIGKILL after timeoutMs. */
  async stop({ signal = 'SIGTERM', timeoutMs = 10000 } = {}) {
    if (!this.running) return this.exitStatus;
    this.child.kill(signal);
    try {
      return await withTimeout(this.exited, timeoutMs, `${this.name} to exit after ${signal}`);
    } catch (err) {
      this.killed = true;
      this.child.kill('SIGKILL');
      await this.exited;
      throw err;
    }
  }

  /** SIGKILL and wait for the exit. */
  async kill9() {
    if (!this.running) return this.exitStatus;
    this.killed = true;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

// ------------------------------------------------------------ redis

/** True if redis on port answers PING with +PONG (not -LOADING) within 1 s. */
export function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v) => { sock.destroy(); clearTimeout(timer); resolve(v); };
    const timer = setTimeout(() => done(false), 1000);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/** A private redis-server with an append-only file in its own folder. */
export class RedisServer extends Managed {
  constructor({ port, dir, appendfsync = 'everysec', name = 'redis' }) {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', appendfsync, '--save', '',
      '--daemonize', 'no'];
    super('redis', name, 'redis-server', args, {});
    this.port = port;
    this.dir = dir;
    this.addr = `127.0.0.1:${port}`;
  }

  /** Starts it and waits for PONG. */
  async start(timeoutMs = 10000) {
    fs.mkdirSync(this.dir, { recursive: true });
    this.spawn();
    await waitFor(async () => {
      if (!this.running) throw new Error(`${this.name} exited: ${JSON.stringify(this.exitStatus)}`);
      return redisPing(this.port);
    }, { timeoutMs, what: `${this.name} to answer PING on ${this.addr}` });
    return this;
  }

  /** Starts it again with the same port and folder (the AOF is reloaded). */
  async restart(timeoutMs = 10000) {
    if (this.running) await this.kill9();
    return this.start(timeoutMs);
  }
}

/** Starts a redis-server on a free port; retries if the port was taken meanwhile. */
export async function startRedis({ appendfsync = 'everysec', name = 'redis' } = {}) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const r = new RedisServer({ port, dir: path.join(tmpDir(), `${name}-${port}`), appendfsync, name });
    try {
      return await r.start();
    } catch (err) {
      lastErr = err;
      await r.kill9();
    }
  }
  throw lastErr;
}

// ------------------------------------------------------------ gateway

/** The gateway binary (CHORUS_GATEWAY_BIN, set by the ctest test). */
export function gatewayBin() {
  const bin = process.env.CHORUS_GATEWAY_BIN;
  if (!bin) throw new Error('CHORUS_GATEWAY_BIN is not set (path to chorus-gateway)');
  if (!fs.existsSync(bin)) throw new Error(`CHORUS_GATEWAY_BIN=${bin} does not exist`);
  return bin;
}

/** A chorus-gateway process. */
export class Gateway extends Managed {
  constructor({ name, port, redis, secret = JWT_SECRET, args = [] }) {
    const argv = ['--listen', `127.0.0.1:${port}`, '--workers', '1', '--node-id', name,
      '--redis', redis.addr ?? redis, '--jwt-secret', secret, '--drain-seconds', '1',
      '--log-level', 'info', ...args];
    super('gateway', name, gatewayBin(), argv, {});
    this.port = port;
    this.host = `127.0.0.1:${port}`;
    this.httpUrl = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}${WS_PATH}`;
    this.origin = `http://127.0.0.1:${port}`;
  }

  /** Starts it and waits until GET /healthz answers 200. */
  async start(timeoutMs = 15000) {
    this.spawn();
    await waitFor(async () => {
      if (!this.running) throw new Error(`${this.name} exited: ${JSON.stringify(this.exitStatus)}`);
      const r = await httpGet(`${this.httpUrl}/healthz`, { timeoutMs: 1000 });
      return r.status === 200;
    }, { timeoutMs, intervalMs: 50, what: `${this.name} /healthz to answer 200` });
    return this;
  }

  /** GET path on this gateway. */
  get(p, opts) { return httpGet(`${this.httpUrl}${p}`, opts); }
}

/**
 * Starts a gateway on a free port, connected to redis; args are extra
 * command-line arguments. If it exits because the port was taken
 * meanwhile, tries again on another port.
 */
export async function startGateway({ name, redis, args = [], secret = JWT_SECRET }) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const gw = new Gateway({ name, port, redis, secret, args });
    try {
      return await gw.start();
    } catch (err) {
      const exitedByItself = !gw.running;
      await gw.kill9();
      const portTaken = exitedByItself && /address already in use|EADDRINUSE/i.test(gw.log());
      if (!portTaken || attempt >= 3) throw err;
    }
  }
}

// ------------------------------------------------------------ postgres

const PG_BIN = process.env.CHORUS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_OS_USER = 'chorus';

/**
 * The command prefix that runs PostgreSQL programs as an unprivileged user
 * (initdb and postgres refuse root): setpriv execs, so the pid we hold is
 * the server's own and signals reach it directly.
 */
function pgRunAs() {
  if (process.getuid?.() !== 0) return { prefix: [], uid: null, gid: null };
  let uid, gid;
  const lookup = () => {
    const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${PG_OS_USER}:`));
    if (!line) return false;
    [uid, gid] = line.split(':').slice(2, 4).map(Number);
    return true;
  };
  if (!lookup()) {
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PG_OS_USER]);
    if (r.status !== 0 && !lookup()) throw new Error(`useradd ${PG_OS_USER} failed: ${r.stderr}`);
    lookup();
  }
  return { prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'], uid, gid };
}

/** A private PostgreSQL 15 server (initdb in its own folder, trust auth on loopback). */
export class PostgresServer extends Managed {
  constructor({ port, dir, name = 'postgres' }) {
    const run = pgRunAs();
    const sockDir = path.join(dir, 'sock');
    const args = [...run.prefix.slice(1), path.join(PG_BIN, 'postgres'), '-D', path.join(dir, 'data'),
      '-p', String(port), '-k', sockDir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200'];
    super('postgres', name, run.prefix.length ? run.prefix[0] : path.join(PG_BIN, 'postgres'),
      run.prefix.length ? args : args.slice(run.prefix.length), {});
    this.run = run;
    this.port = port;
    this.dir = dir;
    this.sockDir = sockDir;
    this.database = 'chorus';
    this.user = 'chorus';
    /** libpq connection string for the test database. */
    this.conninfo = `host=127.0.0.1 port=${port} dbname=chorus user=chorus`;
  }

  /**
   * Stops the server with SIGINT ("fast" shutdown: connected clients are
   * disconnected); SIGTERM would wait for every client to leave.
   */
  stop(opts = {}) {
    return super.stop({ signal: 'SIGINT', ...opts });
  }

  /** initdb (first time only), start, wait until it accepts connections, create the database. */
  async start(timeoutMs = 30000) {
    const data = path.join(this.dir, 'data');
    if (!fs.existsSync(path.join(data, 'PG_VERSION'))) {
      fs.mkdirSync(this.sockDir, { recursive: true });
      fs.mkdirSync(data, { recursive: true, mode: 0o700 });
      // The server user must reach its folders inside the 0700 temp root.
      fs.chmodSync(tmpDir(), 0o711);
      if (this.run.uid !== null) {
        for (const d of [this.dir, this.sockDir, data]) fs.chownSync(d, this.run.uid, this.run.gid);
      }
      const r = spawnSync(this.run.prefix[0] ?? path.join(PG_BIN, 'initdb'),
        [...this.run.prefix.slice(1), ...(this.run.prefix.length ? [path.join(PG_BIN, 'initdb')] : []),
          '-D', data, '-U', this.user, '--auth=trust', '-E', 'UTF8', '--no-sync'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`initdb failed: ${r.stdout}\n${r.stderr}`);
    }
    this.spawn();
    await waitFor(async () => {
      if (!this.running) throw new Error(`${this.name} exited: ${JSON.stringify(this.exitStatus)}`);
      return this.psql('SELECT 1', { db: 'postgres', quiet: true }).ok;
    }, { timeoutMs, intervalMs: 100, what: `${this.name} to accept connections on ${this.port}` });
    if (!this.created) {
      const r = this.psql('CREATE DATABASE chorus', { db: 'postgres' });
      if (!r.ok && !/already exists/.test(r.stderr)) throw new Error(`CREATE DATABASE: ${r.stderr}`);
      this.created = true;
    }
    return this;
  }

  /**
   * Runs SQL through psql (synchronously) and returns {ok, stdout, stderr,
   * rows}: rows are the unaligned, tab-separated output lines.
   */
  psql(sql, { db = this.database, quiet = false } = {}) {
    const r = spawnSync('psql', ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
      '-h', '127.0.0.1', '-p', String(this.port), '-U', this.user, '-d', db, '-c', sql],
    { encoding: 'utf8', timeout: 30000 });
    const ok = r.status === 0;
    if (!ok && !quiet && r.stderr) process.stderr.write(`psql: ${r.stderr}`);
    return { ok, stdout: r.stdout ?? '', stderr: r.stderr ?? '', rows: (r.stdout ?? '').split('\n').filter((l) => l.length) };
  }
}

/** Starts a PostgreSQL server on a free port with an empty database "chorus". */
export async function startPostgres({ name = 'postgres' } = {}) {
  const port = await freePort();
  const pg = new PostgresServer({ port, dir: path.join(tmpDir(), `${name}-${port}`), name });
  return pg.start();
}

// ------------------------------------------------------------ worker

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'migrations');

/** The worker binary (CHORUS_WORKER_BIN, set by the ctest test). */
export function workerBin() {
  const bin = process.env.CHORUS_WORKER_BIN;
  if (!bin) throw new Error('CHORUS_WORKER_BIN is not set (path to chorus-worker)');
  if (!fs.existsSync(bin)) throw new Error(`CHORUS_WORKER_BIN=${bin} does not exist`);
  return bin;
}

/** A chorus-worker process (`serve`: migrations, persistence and the HTTP API). */
export class Worker extends Managed {
  constructor({ name, port, redis, pg, secret = JWT_SECRET, args = [] }) {
    const argv = ['serve', '--listen', `127.0.0.1:${port}`, '--pg', pg.conninfo ?? pg,
      '--redis', redis.addr ?? redis, '--jwt-secret', secret, '--migrations', MIGRATIONS_DIR,
      '--consumer', name, '--log-level', 'info', ...args];
    super('worker', name, workerBin(), argv, {});
    this.port = port;
    this.httpUrl = `http://127.0.0.1:${port}`;
  }

  /** Starts it and waits until GET /healthz answers 200. */
  async start(timeoutMs = 20000) {
    this.spawn();
    await waitFor(async () => {
      if (!this.running) throw new Error(`${this.name} exited: ${JSON.stringify(this.exitStatus)}`);
      const r = await httpGet(`${this.httpUrl}/healthz`, { timeoutMs: 1000 }).catch(() => ({ status: 0 }));
      return r.status === 200;
    }, { timeoutMs, intervalMs: 100, what: `${this.name} /healthz to answer 200` });
    return this;
  }

  /** A JSON request to the worker's HTTP API: resolves {status, headers, body, json}. */
  api(method, p, { body, token: tok, headers = {}, timeoutMs = 10000 } = {}) {
    return httpJson(`${this.httpUrl}${p}`, { method, body, token: tok, headers, timeoutMs });
  }
}

/** Starts a worker on a free port (retrying if the port was taken meanwhile). */
export async function startWorker({ name = 'worker', redis, pg, args = [], secret = JWT_SECRET }) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const w = new Worker({ name, port, redis, pg, secret, args });
    try {
      return await w.start();
    } catch (err) {
      const exitedByItself = !w.running;
      await w.kill9();
      if (!(exitedByItself && /address already in use|EADDRINUSE/i.test(w.log())) || attempt >= 3) throw err;
    }
  }
}

/**
 * An HTTP request with an optional JSON body and bearer token. Resolves
 * {status, headers, body, json} (json is null when the body is not JSON).
 */
export function httpJson(url, { method = 'GET', body, token: tok, headers = {}, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = { connection: 'close', ...headers };
    if (data) { h['content-type'] ??= 'application/json'; h['content-length'] = data.length; }
    if (tok) h.authorization = `Bearer ${tok}`;
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// ------------------------------------------------------------ HTTP

/** GET (or another method) with no keep-alive. Resolves {status, headers, body}. */
export function httpGet(url, { method = 'GET', headers = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends one HTTP/1.1 keep-alive GET over a raw socket, waits for the
 * response head, and resolves with the still-open socket (registered for
 * cleanup), to leave an idle HTTP connection on the server.
 */
export function rawHttpKeepAlive(port, p = '/healthz', timeoutMs = 5000) {
  const sock = net.connect({ host: '127.0.0.1', port });
  sockets.add(sock);
  let buf = '';
  return withTimeout(new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.once('connect', () => sock.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) resolve(sock);
    });
  }), timeoutMs, `HTTP response on ${p}`);
}

// ------------------------------------------------------------ JWT

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/**
 * Signs claims as an HS256 JWT. opts.header replaces the header, opts.alg
 * 'none' produces an unsigned token (for rejection tests).
 */
export function mintJwt(claims, { secret = JWT_SECRET, header, alg = 'HS256' } = {}) {
  const h = header ?? { alg, typ: 'JWT' };
  const head = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(claims))}`;
  if (alg === 'none') return `${head}.`;
  const sig = crypto.createHmac('sha256', secret).update(head).digest();
  return `${head}.${b64url(sig)}`;
}

/** Seconds since the epoch. */
export const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * A token for user sub. name defaults to the capitalised sub, exp to one
 * hour from now; nbf, iss, aud are added when given; secret selects the key.
 */
export function token(sub, { name, exp, nbf, iss, aud, secret, alg, extra = {} } = {}) {
  const claims = { sub, name: name ?? sub.charAt(0).toUpperCase() + sub.slice(1), exp: exp ?? nowSec() + 3600, ...extra };
  if (nbf !== undefined) claims.nbf = nbf;
  if (iss !== undefined) claims.iss = iss;
  if (aud !== undefined) claims.aud = aud;
  return mintJwt(claims, { secret, alg });
}

// ------------------------------------------------------------ WebSocket client

/** Turns a predicate spec into a function: a function, a type string, or an object pattern. */
export function matcher(pred) {
  if (typeof pred === 'function') return pred;
  if (typeof pred === 'string') return (m) => m.type === pred;
  if (pred && typeof pred === 'object') {
    return (m) => Object.entries(pred).every(([k, v]) => {
      if (v && typeof v === 'object') return JSON.stringify(m[k]) === JSON.stringify(v);
      return m[k] === v;
    });
  }
  return () => true;
}

function describePred(pred) {
  if (typeof pred === 'function') return pred.name || 'predicate';
  return JSON.stringify(pred);
}

let reqCounter = 0;

/**
 * A protocol v1 client. Incoming JSON messages are queued; next() takes the
 * earliest queued message matching a predicate (leaving the others), or
 * waits for one. `all` keeps every message in arrival order.
 */
export class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.queue = [];
    this.all = [];
    this.waiters = [];
    this.welcome = null;
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        sockets.delete(ws);
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`${this.label}: connection closed (code ${code}) while waiting for ${w.what}`));
        }
        resolve(this.closeInfo);
      });
    });
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('error', () => { /* surfaced through close */ });
  }

  #onMessage(data, isBinary) {
    let msg;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      msg = { type: '__unparsable__', raw: data.toString('utf8'), binary: isBinary };
    }
    this.all.push(msg);
    const i = this.waiters.findIndex((w) => w.match(msg));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(msg);
    } else {
      this.queue.push(msg);
    }
  }

  /** The session id from the welcome message. */
  get session() { return this.welcome?.session; }

  /** The user (JWT sub) from the welcome message. */
  get user() { return this.welcome?.user; }

  /** The subprotocol the server selected ('' if none). */
  get protocol() { return this.ws.protocol; }

  /**
   * Resolves with the next message matching pred (function, type string or
   * object pattern), consuming it. Rejects on timeout or close.
   */
  next(pred, timeoutMs = 5000) {
    const match = matcher(pred);
    const i = this.queue.findIndex(match);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    const what = describePred(pred);
    if (this.closeInfo) {
      return Promise.reject(new Error(`${this.label}: connection closed (code ${this.closeInfo.code}) before ${what}`));
    }
    return new Promise((resolve, reject) => {
      const w = { match, resolve, reject, what, timer: null };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const pending = this.queue.map((m) => JSON.stringify(m)).join('\n    ');
        reject(new Error(`${this.label}: no message matching ${what} within ${timeoutMs} ms; unconsumed:\n    ${pending || '(none)'}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Takes n messages matching pred, in arrival order. */
  async take(pred, n, timeoutMs = 5000) {
    const out = [];
    const deadline = Date.now() + timeoutMs;
    for (let k = 0; k < n; k++) {
      out.push(await this.next(pred, Math.max(1, deadline - Date.now())));
    }
    return out;
  }

  /** Waits ms, then fails if a message matching pred arrived (and is unconsumed). */
  async expectNone(pred, ms = 300) {
    await sleep(ms);
    const match = matcher(pred);
    const found = this.queue.filter(match);
    if (found.length) {
      throw new Error(`${this.label}: unexpected message(s) matching ${describePred(pred)}: ${found.map((m) => JSON.stringify(m)).join(', ')}`);
    }
  }

  /** Sends obj as a JSON text frame. */
  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /** Sends obj with a fresh id (unless it has one) and resolves with the reply carrying that id. */
  request(obj, timeoutMs = 5000) {
    const id = obj.id ?? `r${++reqCounter}`;
    this.send({ ...obj, id });
    return this.next((m) => m.id === id && m.type !== 'event', timeoutMs);
  }

  /** join; resolves with the joined message, throws on an error reply. */
  async join(room, { since, epoch, timeoutMs = 5000 } = {}) {
    const req = { type: 'join', room };
    if (since !== undefined) req.since = since;
    if (epoch !== undefined) req.epoch = epoch;
    const r = await this.request(req, timeoutMs);
    if (r.type !== 'joined') throw new Error(`${this.label}: join ${room} failed: ${JSON.stringify(r)}`);
    return r;
  }

  /** leave; resolves with the reply (left or error). */
  leave(room, timeoutMs = 5000) {
    return this.request({ type: 'leave', room }, timeoutMs);
  }

  /** publish; resolves with the reply (ack or error). */
  publish(room, payload, { cid, kind = 'message', ephemeral = false, id, timeoutMs = 5000 } = {}) {
    const req = { type: 'publish', room, kind, payload, ephemeral };
    if (cid !== undefined) req.cid = cid;
    if (id !== undefined) req.id = id;
    return this.request(req, timeoutMs);
  }

  /** publish that must be acked; returns the ack. */
  async publishOk(room, payload, opts = {}) {
    const r = await this.publish(room, payload, opts);
    if (r.type !== 'ack') throw new Error(`${this.label}: publish to ${room} not acked: ${JSON.stringify(r)}`);
    return r;
  }

  /** Starts the close handshake; resolves with the server's {code, reason}. */
  close(code = 1000, reason = '', timeoutMs = 5000) {
    if (!this.closeInfo) this.ws.close(code, reason);
    return withTimeout(this.closed, timeoutMs, `${this.label} close handshake`);
  }

  /** Drops the TCP connection without a close handshake. */
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

/**
 * Opens a WebSocket. Resolves {ok: true, client, response} on 101, or
 * {ok: false, status, headers, body} if the server refused the upgrade.
 *
 * opts.token: JWT; opts.via: 'query' (default), 'header' or 'protocol'
 * (offers ['chorus.v1', 'bearer.'+token]); opts.protocols: subprotocols to
 * offer (default ['chorus.v1']); opts.origin: Origin header; opts.path.
 */
export function handshake(baseUrl, { token: tok, via = 'query', origin, protocols, headers = {}, label, timeoutMs = 5000 } = {}) {
  let url = baseUrl;
  const hdrs = { ...headers };
  let protos = protocols ?? [SUBPROTOCOL];
  if (tok !== undefined) {
    if (via === 'query') url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(tok)}`;
    else if (via === 'header') hdrs.Authorization = `Bearer ${tok}`;
    else if (via === 'protocol') protos = [...(protocols ?? [SUBPROTOCOL]), `bearer.${tok}`];
    else throw new Error(`unknown token transport ${via}`);
  }
  const ws = new WebSocket(url, protos, {
    headers: hdrs,
    origin,
    perMessageDeflate: false,
    handshakeTimeout: timeoutMs,
    followRedirects: false,
  });
  sockets.add(ws);
  ws.on('error', () => { /* reported through the promise below or the close event */ });
  return new Promise((resolve, reject) => {
    let response = null;
    ws.once('upgrade', (res) => { response = { status: res.statusCode, headers: res.headers }; });
    ws.once('unexpected-response', (req, res) => {
      const chunks = [];
      const sock = res.socket;
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        sockets.delete(ws);
        // Without an agent, a finished keep-alive response leaves its socket open.
        req.destroy();
        sock.destroy();
        resolve({ ok: false, status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    ws.once('open', () => {
      resolve({ ok: true, client: new Client(ws, label ?? url.replace(/token=[^&]+/, 'token=…')), response });
    });
    ws.once('error', (err) => {
      sockets.delete(ws);
      reject(err);
    });
  });
}

/**
 * Connects and waits for the welcome message; throws if the handshake is
 * refused. Same options as handshake(); the client's welcome is set.
 */
export async function connect(baseUrl, opts = {}) {
  const r = await handshake(baseUrl, opts);
  if (!r.ok) throw new Error(`handshake to ${baseUrl} refused: HTTP ${r.status} ${r.body}`);
  const c = r.client;
  c.response = r.response;
  c.welcome = await c.next('welcome', opts.timeoutMs ?? 5000);
  return c;
}

// ------------------------------------------------------------ raw TCP / frames

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/**
 * Encodes one frame. mask: true masks with a random key (client frames must
 * be masked). length overrides the declared payload length (header-only
 * tests); payload may then be shorter or empty.
 */
export function encodeFrame({ fin = true, rsv = 0, opcode = OP.TEXT, payload = Buffer.alloc(0), mask = true, length } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = length ?? data.length;
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  let head;
  if (len < 126) {
    head = Buffer.from([b0, (mask ? 0x80 : 0) | len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0; head[1] = (mask ? 0x80 : 0) | 126; head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0; head[1] = (mask ? 0x80 : 0) | 127; head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** Payload of a close frame: 2-byte code then UTF-8 reason. */
export function closePayload(code, reason = '') {
  const r = Buffer.from(reason, 'utf8');
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/**
 * Parses one frame from the start of buf. Returns {frame, rest} or null if
 * buf holds only part of a frame.
 */
export function decodeFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const rsv = (buf[0] >> 4) & 7;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2); off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`server frame length ${big} is absurd`);
    len = Number(big); off = 10;
  }
  let key = null;
  if (masked) {
    if (buf.length < off + 4) return null;
    key = buf.subarray(off, off + 4); off += 4;
  }
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  const frame = { fin, rsv, opcode, masked, payload };
  if (opcode === OP.CLOSE) {
    frame.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
    frame.reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
  }
  return { frame, rest: buf.subarray(off + len) };
}

/**
 * A raw TCP connection speaking a hand-made HTTP upgrade, then raw frames.
 * After open(): status, headers, body (non-101), and for 101 a frame reader.
 */
export class RawConn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.ended = false;
    this.status = 0;
    this.headers = {};
    this.body = '';
    this.upgraded = false;
    this.endedPromise = new Promise((resolve) => {
      sock.on('close', () => {
        this.ended = true;
        sockets.delete(sock);
        this.#wake();
        resolve();
      });
    });
    sock.on('error', () => { /* seen as close */ });
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      if (this.upgraded) this.#parseFrames();
      this.#wake();
    });
  }

  /**
   * Connects to 127.0.0.1:port and sends an upgrade request. headers are
   * merged over the defaults (Host, Upgrade, Connection, a random
   * Sec-WebSocket-Key, Sec-WebSocket-Version 13); a value of null removes a
   * default. Resolves once the response head (and for non-101, the body)
   * has arrived.
   */
  static async open(port, { path: p = WS_PATH, method = 'GET', headers = {}, token: tok, timeoutMs = 5000 } = {}) {
    const key = crypto.randomBytes(16).toString('base64');
    let target = p;
    if (tok !== undefined) target += `${target.includes('?') ? '&' : '?'}token=${encodeURIComponent(tok)}`;
    const defaults = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
    };
    const merged = { ...defaults, ...headers };
    const lines = [`${method} ${target} HTTP/1.1`];
    for (const [k, v] of Object.entries(merged)) if (v !== null && v !== undefined) lines.push(`${k}: ${v}`);
    const sock = net.connect({ host: '127.0.0.1', port });
    sockets.add(sock);
    await withTimeout(new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    }), timeoutMs, `TCP connect to ${port}`);
    const conn = new RawConn(sock);
    conn.key = merged['Sec-WebSocket-Key'];
    sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    await conn.#readHead(timeoutMs);
    return conn;
  }

  #wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  #changed(timeoutMs, what) {
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), timeoutMs, what);
  }

  async #readHead(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let idx;
    while ((idx = this.buf.indexOf('\r\n\r\n')) < 0) {
      if (this.ended) throw new Error(`connection closed before a response head; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      await this.#changed(Math.max(1, deadline - Date.now()), 'HTTP response head');
    }
    const head = this.buf.subarray(0, idx).toString('latin1').split('\r\n');
    this.buf = this.buf.subarray(idx + 4);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
    if (!m) throw new Error(`bad status line ${JSON.stringify(head[0])}`);
    this.status = Number(m[1]);
    for (const line of head.slice(1)) {
      const c = line.indexOf(':');
      if (c > 0) this.headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    if (this.status === 101) {
      this.upgraded = true;
      this.#parseFrames();
      return;
    }
    // Body: Content-Length bytes, or whatever arrives until close / 500 ms idle.
    const want = this.headers['content-length'] !== undefined ? Number(this.headers['content-length']) : null;
    while (want === null ? !this.ended : this.buf.length < want) {
      if (this.ended) break;
      try {
        await this.#changed(want === null ? 500 : Math.max(1, deadline - Date.now()), 'HTTP response body');
      } catch (err) {
        if (want !== null) throw err;
        break;
      }
    }
    this.body = this.buf.subarray(0, want ?? this.buf.length).toString('utf8');
  }

  #parseFrames() {
    for (;;) {
      const r = decodeFrame(this.buf);
      if (!r) return;
      this.frames.push(r.frame);
      this.buf = r.rest;
    }
  }

  /** The expected Sec-WebSocket-Accept for the key this connection sent. */
  expectedAccept() {
    return crypto.createHash('sha1').update(this.key + WS_GUID).digest('base64');
  }

  /** Writes raw bytes. Errors (server already gone) are ignored. */
  write(buf) {
    if (!this.sock.destroyed) this.sock.write(buf, () => {});
  }

  /** Writes one masked (by default) frame; see encodeFrame. */
  sendFrame(opts) { this.write(encodeFrame(opts)); }

  /** Writes a masked text frame holding JSON. */
  sendJson(obj) { this.sendFrame({ opcode: OP.TEXT, payload: Buffer.from(JSON.stringify(obj)) }); }

  /** Resolves with the next server frame (matching pred if given). */
  async nextFrame(pred = () => true, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.ended) throw new Error('connection closed before the expected frame');
      await this.#changed(Math.max(1, deadline - Date.now()), 'a server frame');
    }
  }

  /** Resolves with the next JSON text message (matching pred if given). */
  async nextJson(pred = () => true, timeoutMs = 5000) {
    const m = matcher(pred);
    const f = await this.nextFrame((fr) => {
      if (fr.opcode !== OP.TEXT) return false;
      try { return m(JSON.parse(fr.payload.toString('utf8'))); } catch { return false; }
    }, timeoutMs);
    return JSON.parse(f.payload.toString('utf8'));
  }

  /**
   * Resolves with the server's close frame {code, reason} (data frames
   * before it are skipped). Fails if the TCP connection ends without one.
   */
  async waitClose(timeoutMs = 5000) {
    const f = await this.nextFrame((fr) => fr.opcode === OP.CLOSE, timeoutMs);
    return { code: f.code, reason: f.reason, masked: f.masked };
  }

  /** Resolves when the server has closed the TCP connection. */
  waitEnd(timeoutMs = 5000) {
    return withTimeout(this.endedPromise, timeoutMs, 'the server to close the TCP connection');
  }

  destroy() {
    this.sock.destroy();
  }
}
