// cluster.mjs — a whole Chorus deployment for the browser tests: redis,
// PostgreSQL, a worker, N gateways (room access lists required, Origin
// allowlist = the page's origin) and an nginx that serves web/ and routes
// /api/ to the worker and /ws to the gateways, like deploy/nginx/dev.conf.in.
//
// Every process is a harness process: cleanup() stops it, and the
// harness's exit hook kills whatever a crashed test file left running.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from '../harness.mjs';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
export const WEB_ROOT = path.join(REPO_ROOT, 'web');
const TEMPLATE = path.join(path.dirname(new URL(import.meta.url).pathname), 'nginx.conf.in');
const NGINX_BIN = process.env.CHORUS_NGINX_BIN ?? '/usr/sbin/nginx';
const MIME_TYPES = '/etc/nginx/mime.types';

// The harness's process base class: processes built on it are registered
// for cleanup() and for the exit hook, and log into the test's temporary
// folder.
const { Managed } = h;

/** Replaces @NAME@ placeholders; fails on any left over. */
export function render(template, vars) {
  const out = template.replace(/@([A-Z0-9_]+)@/g, (m, name) => {
    if (!(name in vars)) throw new Error(`nginx template: no value for ${m}`);
    return String(vars[name]);
  });
  return out;
}

/** nginx in the foreground with a rendered copy of e2e/nginx.conf.in. */
export class Nginx extends Managed {
  constructor({ port, prefix, workerPort, gatewayPorts, webRoot = WEB_ROOT }) {
    const conf = path.join(prefix, 'nginx.conf');
    super('nginx', 'nginx', NGINX_BIN, ['-c', conf, '-p', `${prefix}/`, '-g', 'daemon off;'], {});
    this.port = port;
    this.prefix = prefix;
    this.conf = conf;
    this.url = `http://127.0.0.1:${port}`;
    this.origin = this.url;
    for (const d of ['logs', 'tmp']) fs.mkdirSync(path.join(prefix, d), { recursive: true });
    const servers = gatewayPorts
      .map((p) => `        server 127.0.0.1:${p} max_fails=0;`)
      .join('\n');
    fs.writeFileSync(conf, render(fs.readFileSync(TEMPLATE, 'utf8'), {
      PREFIX: prefix,
      HTTP_PORT: port,
      GATEWAY_SERVERS: servers,
      WORKER_PORT: workerPort,
      WEB_ROOT: webRoot,
      MIME_TYPES,
    }));
  }

  /** Checks the config, starts nginx and waits until it serves the app. */
  async start(timeoutMs = 10000) {
    const t = spawnSync(NGINX_BIN, ['-t', '-q', '-c', this.conf, '-p', `${this.prefix}/`], { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(`nginx -t failed for ${this.conf}:\n${t.stderr}`);
    this.spawn();
    await h.waitFor(async () => {
      if (!this.running) throw new Error(`nginx exited: ${JSON.stringify(this.exitStatus)}`);
      const r = await h.httpGet(`${this.url}/`, { timeoutMs: 1000 }).catch(() => ({ status: 0 }));
      return r.status === 200;
    }, { timeoutMs, what: `nginx to serve ${this.url}/` });
    return this;
  }
}

/**
 * Starts redis, PostgreSQL, a worker, `gateways` gateways and nginx.
 * Resolves {redis, pg, worker, gateways, nginx, url, api}.
 *
 * api(method, path, opts) calls the worker's API (/api/v1 + path) through
 * nginx, as the browser does.
 */
export async function startCluster({ gateways = 2, gatewayArgs = [], workerArgs = [] } = {}) {
  // The page's origin must be known before the gateways start (their
  // Origin allowlist), so nginx's port is chosen first.
  const httpPort = await h.freePort();
  const origin = `http://127.0.0.1:${httpPort}`;
  const [redis, pg] = await Promise.all([h.startRedis(), h.startPostgres()]);
  const worker = await h.startWorker({ redis, pg, args: workerArgs });
  const gws = [];
  for (let i = 1; i <= gateways; i++) {
    gws.push(await h.startGateway({
      name: `gw${i}`,
      redis,
      args: ['--room-acl', 'required', '--allowed-origins', origin, ...gatewayArgs],
    }));
  }
  await h.waitFor(async () => (await h.httpGet(`${worker.httpUrl}/readyz`)).status === 200,
    { timeoutMs: 20000, what: 'worker /readyz' });
  const nginx = new Nginx({
    port: httpPort,
    prefix: path.join(h.tmpDir(), 'nginx'),
    workerPort: worker.port,
    gatewayPorts: gws.map((g) => g.port),
  });
  await nginx.start();
  const api = (method, p, opts = {}) => h.httpJson(`${nginx.url}/api/v1${p}`, { method, ...opts });
  return { redis, pg, worker, gateways: gws, nginx, url: nginx.url, origin, api };
}
