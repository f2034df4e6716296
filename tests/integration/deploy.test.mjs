// The deployment files under deploy/ (docs/operations.md).
//
// No Docker engine runs on the development machines, so docker-compose, the
// Dockerfiles and the Kubernetes manifests are checked for syntax and for
// consistency with each other and with the binaries' real flags,
// environment variables and metrics -- not run. What can run here does:
//  - `nginx -t` on the shipped nginx configs (rendered with test ports into
//    a temporary prefix, TLS server included with a throwaway certificate);
//  - `haproxy -c` on the HAProxy config, then HAProxy for real in front of
//    two gateways and a worker: WebSockets (no stickiness) and the API
//    through it, a log without tokens, and a draining gateway taken out by
//    the active GET /readyz check;
//  - `systemd-analyze verify` on the units, `promtool` on the Prometheus
//    files and on every dashboard query (scripts/test.sh installs the tools);
//  - the metric names used by the dashboard and the alerts, against what a
//    running gateway and worker export;
//  - the runtime packages of the Dockerfiles, against the libraries the
//    built binaries load;
//  - the images' healthcheck script, against a running gateway and worker.
// The static checks themselves live in tests/deploy/checks.mjs.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe } from 'node:test';
import {
  cleanup, connect, freePort, gatewayBin, httpGet, httpJson, itest, setup, startGateway, startPostgres,
  startRedis, startWorker, tmpDir, token, waitFor, workerBin,
} from './harness.mjs';
import {
  DOCKERFILES, checkCompose, checkDashboard, checkDockerfiles, checkK8s, checkLoadBalancers, checkSysctl,
  checkSystemd, dockerStages, loadHelp, referencedMetrics,
} from '../deploy/checks.mjs';
import { DEPLOY_DIR, REPO_ROOT, renderHaproxy, renderNginx, run } from '../deploy/render.mjs';

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
/** nginx and haproxy are part of the test environment (scripts/lib/deps.sh). */
const need = (cmd, pkg) => {
  if (!have(cmd)) throw new Error(`${cmd} is not installed (Debian package ${pkg}); scripts/lib/deps.sh must install it`);
};
const noProblems = (problems, what) => assert.deepEqual(problems, [], `${what}:\n  ${problems.join('\n  ')}`);

describe('deploy/: configs checked against the binaries', () => {
  let help;
  let redis;
  let pg;
  let worker;
  let gw;

  setup(async () => {
    help = loadHelp(gatewayBin(), workerBin());
    redis = await startRedis();
    pg = await startPostgres();
    worker = await startWorker({ name: 'deploy-w1', redis, pg });
    gw = await startGateway({ name: 'deploy-gw1', redis });
  }, 90000);
  after(cleanup);

  // ---------------------------------------------------------- static checks

  itest('docker-compose.yml: topology, AOF, volumes, env secrets, drain grace, real flags and variables', () => {
    noProblems(checkCompose(help), 'docker-compose.yml');
  });

  itest('Kubernetes manifests: probes, preStop and grace, PDB, HPA, non-root, AOF, volumes, placeholders only', () => {
    noProblems(checkK8s(help), 'deploy/k8s');
  });

  itest('systemd units: EnvironmentFile, limits, restart, SIGTERM, stop timeout, real variables', () => {
    noProblems(checkSystemd(help), 'deploy/systemd');
  });

  itest('Dockerfiles: multi-stage on bookworm-slim, non-root, sources exist, real variables', () => {
    noProblems(checkDockerfiles(help), 'deploy/docker');
  });

  itest('nginx, HAProxy and Prometheus name the same gateways and workers as compose', () => {
    noProblems(checkLoadBalancers(), 'load balancers');
  });

  itest('Grafana dashboard: layout and queries', () => {
    noProblems(checkDashboard(), 'deploy/grafana/chorus-dashboard.json');
  });

  itest('sysctl settings name real kernel keys', () => {
    noProblems(checkSysctl(), 'deploy/sysctl/90-chorus.conf');
  });

  // ---------------------------------------------------------- tools

  itest('nginx -t: the load balancer (with its HTTPS server) and the static-only config', () => {
    need('nginx', 'nginx');
    const dir = path.join(tmpDir(), 'nginx-t');
    fs.mkdirSync(dir, { recursive: true });
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const ssl = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=chorus.test',
      '-keyout', key, '-out', cert]);
    assert.equal(ssl.status, 0, ssl.out);
    const { conf, prefix } = renderNginx({
      outDir: path.join(dir, 'conf'), prefix: path.join(dir, 'prefix'), listenPort: 18080,
      gateways: ['127.0.0.1:18081', '127.0.0.1:18082', '127.0.0.1:18083'], workers: ['127.0.0.1:18090', '127.0.0.1:18091'],
      webRoot: path.join(REPO_ROOT, 'web'), tls: { port: 18443, cert, key },
    });
    const r = run('nginx', ['-t', '-c', conf, '-p', prefix]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /test is successful/);
    assert.doesNotMatch(r.out, /\[(warn|emerg|alert)\]/, r.out);

    // static.conf: only its listen port and web root differ on a test machine.
    let text = fs.readFileSync(path.join(DEPLOY_DIR, 'nginx', 'static.conf'), 'utf8');
    text = text.replace('listen 8080 ', 'listen 127.0.0.1:18088 ').replace('root /usr/share/chorus/web;', `root ${path.join(REPO_ROOT, 'web')};`);
    const staticConf = path.join(dir, 'conf', 'static.conf');
    fs.writeFileSync(staticConf, text);
    const s = run('nginx', ['-t', '-c', staticConf, '-p', prefix]);
    assert.equal(s.status, 0, s.out);
    assert.doesNotMatch(s.out, /\[(warn|emerg|alert)\]/, s.out);
  });

  itest('haproxy -c: valid, without warnings', () => {
    need('haproxy', 'haproxy');
    const cfg = renderHaproxy({
      outFile: path.join(tmpDir(), 'haproxy-c.cfg'), bindPort: 18180, statsPort: 18181,
      gateways: ['127.0.0.1:18181', '127.0.0.1:18182', '127.0.0.1:18183'], workers: ['127.0.0.1:18190'], web: ['127.0.0.1:18191'],
      statsSocket: path.join(tmpDir(), 'haproxy-c.sock'),
    });
    const r = run('haproxy', ['-c', '-f', cfg]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /Configuration file is valid/);
    assert.doesNotMatch(r.out, /\[(WARNING|ALERT)\]/, r.out);
  });

  itest('systemd-analyze verify: both units', (t) => {
    assert.ok(have('systemd-analyze'), 'systemd-analyze is installed (Debian package systemd)');
    const dir = path.join(tmpDir(), 'systemd');
    fs.mkdirSync(dir, { recursive: true });
    // verify insists that ExecStart exists: point it at the binaries under test.
    const units = [['chorus-gateway.service', gatewayBin()], ['chorus-worker.service', workerBin()]].map(([u, bin]) => {
      const text = fs.readFileSync(path.join(DEPLOY_DIR, 'systemd', u), 'utf8');
      const out = path.join(dir, u);
      const rendered = text.replace(/^ExecStart=\/usr\/local\/bin\/chorus-(gateway|worker)/m, `ExecStart=${bin}`);
      assert.notEqual(rendered, text, `${u}: ExecStart=/usr/local/bin/… expected`);
      fs.writeFileSync(out, rendered);
      return out;
    });
    const r = run('systemd-analyze', ['verify', ...units]);
    // verify exits 0 on unknown or malformed settings too; it only prints them.
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), '', `systemd-analyze verify complained:\n${r.out}`);
  });

  itest('promtool: prometheus.yml, alerts.yml, and every dashboard query as PromQL', (t) => {
    assert.ok(have('promtool'), 'promtool is installed (Debian package prometheus; scripts/test.sh installs it)');
    const cfg = run('promtool', ['check', 'config', path.join(DEPLOY_DIR, 'prometheus', 'prometheus.yml')]);
    assert.equal(cfg.status, 0, cfg.out);
    const rules = run('promtool', ['check', 'rules', path.join(DEPLOY_DIR, 'prometheus', 'alerts.yml')]);
    assert.equal(rules.status, 0, rules.out);
    // Dashboard queries, with Grafana's variables filled in, as recording rules.
    const dash = JSON.parse(fs.readFileSync(path.join(DEPLOY_DIR, 'grafana', 'chorus-dashboard.json'), 'utf8'));
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr))
      .map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$gateway', '.*').replaceAll('$worker', '.*'));
    const file = path.join(tmpDir(), 'dashboard-rules.yml');
    fs.writeFileSync(file, JSON.stringify({
      groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:q${i}`, expr })) }],
    }));
    const q = run('promtool', ['check', 'rules', file]);
    assert.equal(q.status, 0, q.out);
  });

  // ---------------------------------------------------------- against running binaries

  itest('every metric in the dashboard and the alerts is exported by a gateway or a worker', async () => {
    // Traffic first, so that every series exists: a durable publish (ack
    // histogram), an API request (per-route histogram).
    const c = await connect(gw.wsUrl, { token: token('metrics-user') });
    const room = `deploy-${crypto.randomBytes(4).toString('hex')}`;
    await c.join(room);
    await c.publishOk(room, { hello: 1 }, { cid: 'm1' });
    await c.close();
    const reg = await httpJson(`${worker.httpUrl}/api/v1/auth/register`, {
      method: 'POST', body: { username: `u${crypto.randomBytes(3).toString('hex')}`, password: 'correct horse battery' },
    });
    assert.equal(reg.status, 201, reg.body);
    const names = new Set();
    for (const url of [`${gw.httpUrl}/metrics`, `${worker.httpUrl}/metrics`]) {
      const r = await httpGet(url);
      assert.equal(r.status, 200);
      for (const m of r.body.matchAll(/^([a-z_:][a-z0-9_:]*)(?:\{[^}]*\})?\s/gm)) names.add(m[1]);
    }
    const missing = [...referencedMetrics()].filter((n) => !names.has(n));
    assert.deepEqual(missing, [], `metrics used in deploy/ but not exported: ${missing.join(', ')}`);
  });

  itest('the images\' healthcheck script: 200 -> 0, anything else -> 1', async () => {
    const script = path.join(DEPLOY_DIR, 'docker', 'healthcheck.sh');
    const check = (port, p) => spawnSync('bash', [script, String(port), p], { timeout: 10000 }).status;
    assert.equal(check(gw.port, '/readyz'), 0, 'gateway /readyz');
    assert.equal(check(worker.port, '/readyz'), 0, 'worker /readyz');
    assert.equal(check(gw.port, '/no-such-path'), 1, '404 is unhealthy');
    assert.equal(check(await freePort(), '/readyz'), 1, 'nothing listening is unhealthy');
  });

  itest('HAProxy for real: WebSocket and API through it, no token in its log, a draining gateway taken out by GET /readyz',
    { timeout: 60000 }, async () => {
      need('haproxy', 'haproxy');
      // Two gateways of its own: gwA is drained during the test.
      const gwA = await startGateway({ name: 'hap-gwA', redis, args: ['--drain-seconds', '10'] });
      const gwB = await startGateway({ name: 'hap-gwB', redis });
      const bindPort = await freePort();
      const cfg = renderHaproxy({
        outFile: path.join(tmpDir(), 'haproxy.cfg'), bindPort, statsPort: await freePort(),
        gateways: [`127.0.0.1:${gwA.port}`, `127.0.0.1:${gwB.port}`], workers: [`127.0.0.1:${worker.port}`],
        // Any server answering /healthz stands in for the web server.
        web: [`127.0.0.1:${gwB.port}`],
        statsSocket: path.join(tmpDir(), 'haproxy.sock'),
      });
      const logFile = path.join(tmpDir(), 'haproxy.log');
      const fd = fs.openSync(logFile, 'a');
      const hap = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      const exited = new Promise((resolve) => hap.once('exit', resolve));
      const onExit = () => { try { hap.kill('SIGKILL'); } catch { /* gone */ } };
      process.on('exit', onExit);
      const hapLog = () => fs.readFileSync(logFile, 'utf8');
      try {
        const base = `http://127.0.0.1:${bindPort}`;
        const wsUrl = `ws://127.0.0.1:${bindPort}/ws`;
        await waitFor(async () => (await httpGet(`${base}/healthz`, { timeoutMs: 1000 })).status === 200,
          { timeoutMs: 10000, what: 'haproxy to answer /healthz' });
        assert.equal((await httpGet(`${base}/metrics`)).status, 404, '/metrics is not served through the balancer');
        assert.equal((await httpGet(`${base}/readyz`)).status, 404, '/readyz is not served through the balancer');

        // WebSockets with the token in the query string, as a browser may
        // send it; round-robin reaches both gateways.
        const nodes = new Set();
        for (let i = 0; i < 4; i++) {
          const c = await waitFor(() => connect(wsUrl, { token: token(`hap-user${i}`), via: 'query' }),
            { timeoutMs: 10000, intervalMs: 200, what: 'a WebSocket through haproxy' });
          nodes.add(c.welcome.node);
          const room = `hap-${crypto.randomBytes(4).toString('hex')}`;
          await c.join(room);
          const ack = await c.publishOk(room, { via: 'haproxy' }, { cid: `h${i}` });
          const ev = await c.next((m) => m.type === 'event' && m.seq === ack.seq);
          assert.equal(ev.cid, `h${i}`);
          await c.close();
        }
        assert.deepEqual([...nodes].sort(), ['hap-gwA', 'hap-gwB'], 'no stickiness: both gateways serve');

        // The API is routed to the worker.
        const me = await httpJson(`${base}/api/v1/auth/me`);
        assert.equal(me.status, 401, 'the worker answers /api/ (401 without a token)');
        assert.equal(me.json?.error, 'unauthorized');

        // Drain gwA while clients keep it busy: its /readyz turns 503 and the
        // active check takes it out; new clients all land on gwB. Each held
        // client is closed at a random moment of the 10 s window; with 20 of
        // them, gwA is still draining (not yet exited) when the check runs.
        const held = [];
        for (let i = 0; i < 20; i++) held.push(await connect(gwA.wsUrl, { token: token(`hap-held${i}`) }));
        gwA.child.kill('SIGTERM');
        await waitFor(() => /chorus_gateways-1 is DOWN, reason: Layer7 wrong status, code: 503/.test(hapLog()),
          { timeoutMs: 8000, intervalMs: 100, what: 'haproxy to mark the draining gateway DOWN on /readyz 503' });
        for (let i = 0; i < 4; i++) {
          const c = await connect(wsUrl, { token: token(`hap-late${i}`) });
          assert.equal(c.welcome.node, 'hap-gwB', 'a draining gateway gets no new clients');
          await c.close();
        }
        for (const h of held) assert.equal((await h.next('reconnect', 16000)).reason, 'draining');
        const status = await gwA.exited;
        assert.deepEqual({ code: status.code, signal: status.signal }, { code: 0, signal: null });
      } finally {
        hap.kill('SIGUSR1'); // soft stop: flushes the log
        const t = setTimeout(() => hap.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
        process.off('exit', onExit);
      }
      const log = hapLog();
      assert.match(log, /"GET" "\/ws"/, `the upgrade is logged:\n${log}`);
      assert.doesNotMatch(log, /token=|eyJ/, 'no token in the haproxy log');
    });

  itest('Dockerfile runtime packages provide every library the binaries load', (t) => {
    assert.ok(have('dpkg-query') && have('readelf'), 'dpkg-query and readelf (binutils) are installed');
    const bins = { gateway: gatewayBin(), worker: workerBin(), loadtest: process.env.CHORUS_LOADTEST_BIN };
    // Installed packages' Depends, recursively (no apt lists needed).
    const depsCache = new Map();
    const closure = (pkgs) => {
      const seen = new Set();
      const stack = [...pkgs];
      while (stack.length) {
        const pkg = stack.pop();
        if (seen.has(pkg)) continue;
        seen.add(pkg);
        if (!depsCache.has(pkg)) {
          const r = spawnSync('dpkg-query', ['-W', '-f=${Depends},${Pre-Depends}', pkg], { encoding: 'utf8' });
          depsCache.set(pkg, (r.stdout ?? '').split(',').map((d) => d.trim().split(/[\s(:|]/)[0]).filter(Boolean));
        }
        stack.push(...depsCache.get(pkg));
      }
      return seen;
    };
    const ownerOf = (lib) => {
      const r = spawnSync('dpkg', ['-S', lib], { encoding: 'utf8' });
      return r.status === 0 ? r.stdout.split(':')[0] : null;
    };
    const problems = [];
    for (const [what, bin] of Object.entries(bins)) {
      if (!bin) continue;
      const stages = dockerStages(fs.readFileSync(path.join(DEPLOY_DIR, DOCKERFILES[what]), 'utf8'));
      const have_ = closure(['libc6', ...stages[stages.length - 1].packages]);
      const needed = spawnSync('readelf', ['-d', bin], { encoding: 'utf8' }).stdout
        .split('\n').map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1]).filter(Boolean);
      assert.ok(needed.length > 0, `${bin}: no NEEDED entries`);
      for (const so of needed) {
        if (/^lib(asan|ubsan)/.test(so)) continue; // sanitizer builds only
        const file = spawnSync('sh', ['-c', `ldconfig -p | awk '$1 == "${so}" {print $NF; exit}'`], { encoding: 'utf8' }).stdout.trim();
        const pkg = file && ownerOf(fs.realpathSync(file)) ? ownerOf(fs.realpathSync(file)) : (file ? ownerOf(file) : null);
        if (!pkg) { problems.push(`${what}: no package owns ${so}`); continue; }
        if (!have_.has(pkg)) problems.push(`${what}: ${so} comes from ${pkg}, which ${DOCKERFILES[what]} does not install`);
      }
    }
    noProblems(problems, 'runtime packages');
  });
});
