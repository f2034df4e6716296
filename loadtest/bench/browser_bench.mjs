// browser_bench.mjs — what the browser benchmarks (board_load.mjs,
// whiteboard_render.mjs) share: a fresh cluster (redis, PostgreSQL, the
// worker, two gateways, nginx serving web/, from tests/integration/e2e)
// and headless Chromium, a user with a workspace and one room, Node
// clients (the real web/src/lib/client.js over the `ws` package), the
// browser page signed in, figures as text and JSON, and cleanup.
//
// A benchmark calls runBench(spec, body); body(bench) measures and puts
// its figures into bench.out, which is written as JSON to the file named
// by the environment variable spec.jsonEnv. Run through bench_lib.sh's
// bench_browser_run, which builds and passes the binaries
// (CHORUS_GATEWAY_BIN, CHORUS_WORKER_BIN).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const IT = path.join(ROOT, 'tests', 'integration');
const req = createRequire(path.join(IT, 'package.json'));

/** Imports a module of the repository by its path from the root. */
export const importRepo = (...parts) => import(pathToFileURL(path.join(ROOT, ...parts)).href);

const { default: WebSocket } = await import(pathToFileURL(req.resolve('ws')).href);
export const h = await importRepo('tests', 'integration', 'harness.mjs');
const { startCluster } = await importRepo('tests', 'integration', 'e2e', 'cluster.mjs');
const { launchBrowser, newUser, appUrl, closeBrowsers } = await importRepo('tests', 'integration', 'e2e', 'browser.mjs');
const { ChorusClient } = await importRepo('web', 'src', 'lib', 'client.js');

const PASSWORD = 'correct horse battery';

export const log = (...a) => process.stdout.write(`${a.join(' ')}\n`);
/** The p-th percentile of an ascending array (nearest rank). */
export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
export const median = (xs) => pct([...xs].sort((a, b) => a - b), 50);
export const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One API call; resolves the JSON answer, throws on HTTP >= 300. */
export async function api(cluster, method, p, { token, body } = {}) {
  const r = await cluster.api(method, p, { token, body });
  if (r.status >= 300) throw new Error(`${method} ${p}: HTTP ${r.status} ${r.body}`);
  return r.json;
}

/** A Node client (not connected yet) on gateway i % 2, with the cluster's origin. */
export function client(cluster, token, i) {
  const gws = cluster.gateways.map((g) => g.wsUrl);
  return new ChorusClient({
    urls: [gws[i % gws.length]],
    getToken: async () => token,
    WebSocketImpl: class extends WebSocket {
      constructor(url, protocols) { super(url, protocols, { origin: cluster.origin }); }
    },
  });
}

/**
 * What body(bench) gets: the cluster and browser, the user (name, token,
 * registration answer), its workspace and room, and `out` for the figures.
 */
class Bench {
  constructor(cluster, browser, out) {
    this.cluster = cluster;
    this.browser = browser;
    this.out = out;
  }

  /** Registers a user `${prefix}<time>` and creates a workspace with one room. */
  async createRoom(prefix, kind, name) {
    this.user = `${prefix}${Date.now().toString(36)}`;
    this.reg = await api(this.cluster, 'POST', '/auth/register', { body: { username: this.user, password: PASSWORD, display_name: 'Bench' } });
    this.token = this.reg.access_token;
    this.workspace = (await api(this.cluster, 'POST', '/workspaces', { token: this.token, body: { name: 'Bench' } })).workspace;
    this.room = (await api(this.cluster, 'POST', `/workspaces/${this.workspace.id}/rooms`, { token: this.token, body: { kind, name } })).room;
  }

  /** A Node client on gateway i % 2, connected and joining the room; resolves {c, hd} at once (await hd.ready). */
  join(i, opts = {}) {
    const c = client(this.cluster, this.token, i);
    c.connect();
    return { c, hd: c.join(this.room.id, opts) };
  }

  /** The room's snapshot from the API. */
  snapshot() {
    return api(this.cluster, 'GET', `/rooms/${this.room.id}/snapshot`, { token: this.token });
  }

  /** Waits until the snapshot includes seq (the worker persisted up to it). */
  waitSnapshot(seq, what, { timeoutMs = 60000, intervalMs } = {}) {
    return h.waitFor(async () => (await this.snapshot()).seq >= seq, { timeoutMs, intervalMs, what });
  }

  /**
   * A browser page (1280×800) pinned to gateway 1, signed in as the user;
   * resolves {page, url}, url being the room's in the app.
   */
  async signIn() {
    const { page } = await newUser(this.browser, 'bench');
    const base = appUrl(this.cluster.url, { ws: [this.cluster.gateways[0].wsUrl] });
    await page.goto(`${base}#/login`);
    await page.getByLabel('Username').fill(this.user);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your workspaces' }).waitFor();
    return { page, url: `${base}#/w/${this.workspace.id}/r/${this.room.id}` };
  }
}

/**
 * Runs one benchmark and exits: prints the banner, starts the cluster (two
 * gateways with --publish-rate publishRate) and Chromium, runs body(bench),
 * stops everything, writes bench.out to process.env[jsonEnv] if set.
 * Exit status 1 (with the servers' last log lines) when anything failed.
 * spec: {name, banner, publishRate, out (the initial figures), jsonEnv}.
 */
export function runBench({ name, banner, publishRate, out = {}, jsonEnv }, body) {
  const main = async () => {
    const t0 = Date.now();
    log(`# ${name}: ${banner}`);
    const [cluster, browser] = await Promise.all([
      startCluster({ gateways: 2, gatewayArgs: ['--publish-rate', String(publishRate)] }),
      launchBrowser(),
    ]);
    const bench = new Bench(cluster, browser, out);
    try {
      await body(bench);
    } finally {
      await closeBrowsers();
      await h.cleanup();
    }
    log(`# done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (jsonEnv && process.env[jsonEnv]) fs.writeFileSync(process.env[jsonEnv], `${JSON.stringify(bench.out, null, 2)}\n`);
  };
  main().then(() => process.exit(0), (err) => {
    process.stderr.write(`${name} failed: ${err?.stack ?? err}\n`);
    h.dumpLogs?.(`${name} failed`, 40);
    closeBrowsers().finally(() => h.cleanup().finally(() => process.exit(1)));
  });
}
