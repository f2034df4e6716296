// checks.mjs — static consistency checks of everything under deploy/:
// docker-compose, Kubernetes manifests, systemd units, Dockerfiles, example
// env files and the load balancer configs, against each other and against
// the real flags and CHORUS_* variables of the binaries (their --help).
//
// Each check returns a list of problems (strings); [] means it passed.
// tests/integration/deploy.test.mjs runs them under ctest. By hand:
//
//   CHORUS_GATEWAY_BIN=build/release/gateway/chorus-gateway \
//   CHORUS_WORKER_BIN=build/release/worker/chorus-worker node tests/deploy/checks.mjs
//
// Nothing here runs containers (no Docker engine on the development
// machines): the files are parsed and compared, not deployed.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DEPLOY_DIR, REPO_ROOT, nginxUpstreamServers } from './render.mjs';

// The yaml package is installed with the integration tests' dependencies.
const require = createRequire(path.join(REPO_ROOT, 'tests', 'integration', 'package.json'));
const YAML = require('yaml');

/** The seconds the gateway keeps draining after the window (gateway/node.c DRAIN_GRACE_MS). */
export const DRAIN_GRACE_SECONDS = 5;
/** Variables read by libraries rather than by our option parser. */
const LIBRARY_ENV = { worker: new Set(['PGPASSWORD']), gateway: new Set() };
const SECRET_KEY = /SECRET|PASSWORD|TOKEN/;
const PLACEHOLDER = /^REPLACE_[A-Z0-9_]+$/;

const read = (rel) => fs.readFileSync(path.join(DEPLOY_DIR, rel), 'utf8');
const exists = (rel) => fs.existsSync(path.join(DEPLOY_DIR, rel));

// ------------------------------------------------------------ binaries

/**
 * Flags and environment variables from a binary's --help:
 * lines "  --flag   CHORUS_VAR   help".
 */
export function helpOf(bin) {
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`${bin} --help exited with ${r.status}: ${r.stderr}`);
  const flags = new Set();
  const envs = new Set();
  for (const m of r.stdout.matchAll(/^\s+(--[a-z0-9-]+)(?:\s+(CHORUS_[A-Z0-9_]+))?/gm)) {
    flags.add(m[1]);
    if (m[2]) envs.add(m[2]);
  }
  if (flags.size < 5 || envs.size < 5) throw new Error(`${bin} --help: could not parse options`);
  return { flags, envs, text: r.stdout };
}

/** Both binaries' options: {gateway: {flags, envs}, worker: {flags, envs}}. */
export function loadHelp(gatewayBin = process.env.CHORUS_GATEWAY_BIN, workerBin = process.env.CHORUS_WORKER_BIN) {
  if (!gatewayBin || !workerBin) throw new Error('set CHORUS_GATEWAY_BIN and CHORUS_WORKER_BIN');
  return { gateway: helpOf(gatewayBin), worker: helpOf(workerBin) };
}

/** Which binary an image name or a path runs, or null. */
function binaryOf(s) {
  if (/chorus-gateway/.test(s)) return 'gateway';
  if (/chorus-worker|chorus-migrate/.test(s)) return 'worker';
  return null;
}

/** Problems with CHORUS_* names used for `kind` (gateway or worker). */
function checkEnvNames(names, kind, help, where) {
  const out = [];
  for (const n of names) {
    if (LIBRARY_ENV[kind].has(n)) continue;
    if (!n.startsWith('CHORUS_')) {
      out.push(`${where}: ${n} is not a chorus-${kind} variable`);
    } else if (!help[kind].envs.has(n)) {
      out.push(`${where}: ${n} is not in chorus-${kind} --help`);
    }
  }
  return out;
}

/** Problems with command-line arguments of `kind`. */
function checkArgs(args, kind, help, where) {
  const out = [];
  const list = [...args];
  if (kind === 'worker' && list.length && !list[0].startsWith('--')) {
    const sub = list.shift();
    if (!['serve', 'migrate'].includes(sub)) out.push(`${where}: unknown chorus-worker command ${sub}`);
  }
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (!a.startsWith('--')) continue;
    const flag = a.split('=')[0];
    if (!help[kind].flags.has(flag)) out.push(`${where}: ${flag} is not a chorus-${kind} flag`);
  }
  return out;
}

/** "20s", "1m30s", "90" (seconds) -> seconds. */
function durationSeconds(s) {
  if (typeof s === 'number') return s;
  if (/^\d+(\.\d+)?$/.test(String(s).trim())) return Number(s);
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(String(s).trim());
  if (!m || !String(s).trim()) return NaN;
  return (Number(m[1] ?? 0) * 3600) + (Number(m[2] ?? 0) * 60) + Number(m[3] ?? 0) + (Number(m[4] ?? 0) / 1000);
}

/** KEY=VALUE lines of an env file (comments and blanks skipped). */
export function parseEnvFile(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const i = t.indexOf('=');
    if (i > 0) out.set(t.slice(0, i).trim(), t.slice(i + 1).trim());
  }
  return out;
}

/** Environment of a compose service as a Map (list or mapping form). */
function composeEnv(svc) {
  const env = new Map();
  const e = svc.environment;
  if (Array.isArray(e)) {
    for (const item of e) {
      const i = String(item).indexOf('=');
      env.set(i < 0 ? item : item.slice(0, i), i < 0 ? '' : item.slice(i + 1));
    }
  } else if (e) {
    for (const [k, v] of Object.entries(e)) if (k !== '<<') env.set(k, v === null ? '' : String(v));
  }
  return env;
}

/** ENV lines of a Dockerfile's final stage: Map name -> value. */
function dockerfileEnv(text) {
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1].replace(/\\\n/g, ' ');
  const env = new Map();
  for (const m of last.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const kv of m[1].matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env.set(kv[1], kv[2].replace(/^"|"$/g, ''));
  }
  return env;
}

// ------------------------------------------------------------ docker-compose

export function loadCompose() {
  return YAML.parse(read('docker-compose.yml'), { merge: true });
}

export function checkCompose(help) {
  const p = [];
  const c = loadCompose();
  const services = c.services ?? {};
  const envExample = parseEnvFile(read('.env.example'));
  const raw = read('docker-compose.yml');

  // Every ${VAR} comes from .env.example; secrets are only ever interpolated.
  for (const m of raw.matchAll(/\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}/g)) {
    if (!envExample.has(m[1])) p.push(`compose: \${${m[1]}} is not in deploy/.env.example`);
  }
  for (const [k, v] of envExample) {
    if (SECRET_KEY.test(k) && !PLACEHOLDER.test(v)) p.push(`.env.example: ${k} must be a REPLACE_… placeholder`);
  }
  if (!/^\.env$/m.test(read('.gitignore'))) p.push('deploy/.gitignore does not ignore .env');

  const byKind = { gateway: [], worker: [] };
  for (const [name, svc] of Object.entries(services)) {
    const env = composeEnv(svc);
    for (const [k, v] of env) {
      if (SECRET_KEY.test(k) && k !== 'CHORUS_JWT_KEY_FILE' && !/^\$\{[A-Z0-9_]+(:\?[^}]*)?\}$/.test(v)) {
        p.push(`compose ${name}: ${k} must come from deploy/.env as \${VAR:?…}, not a literal`);
      }
    }
    const cmd = Array.isArray(svc.command) ? svc.command.map(String) : [];
    const rp = cmd.indexOf('--requirepass');
    if (rp >= 0 && !/^\$\{[A-Z0-9_]+/.test(cmd[rp + 1] ?? '')) p.push(`compose ${name}: --requirepass must be interpolated`);

    const kind = binaryOf(String(svc.image ?? ''));
    if (!kind) continue;
    const dockerfile = svc.build?.dockerfile;
    if (!dockerfile || !fs.existsSync(path.join(REPO_ROOT, dockerfile))) p.push(`compose ${name}: build.dockerfile ${dockerfile} missing`);
    const fullEnv = new Map([...dockerfileEnv(fs.readFileSync(path.join(REPO_ROOT, dockerfile), 'utf8')), ...env]);
    p.push(...checkEnvNames(env.keys(), kind, help, `compose ${name}`));
    p.push(...checkArgs(cmd, kind, help, `compose ${name} command`));
    byKind[kind].push({ name, svc, env: fullEnv, cmd });
  }

  // Topology: 3 gateways, 2 serving workers, one migrate job.
  const gateways = byKind.gateway;
  const serving = byKind.worker.filter((w) => (w.cmd[0] ?? 'serve') === 'serve');
  const migrate = byKind.worker.filter((w) => w.cmd[0] === 'migrate');
  if (gateways.length !== 3) p.push(`compose: ${gateways.length} gateway services, expected 3`);
  if (serving.length !== 2) p.push(`compose: ${serving.length} worker services, expected 2`);
  if (migrate.length !== 1) p.push(`compose: ${migrate.length} migrate services, expected 1`);
  for (const m of migrate) {
    if (m.svc.restart !== 'no') p.push(`compose ${m.name}: a one-shot service needs restart: "no"`);
  }
  for (const w of serving) {
    const dep = w.svc.depends_on?.[migrate[0]?.name];
    if (dep?.condition !== 'service_completed_successfully') {
      p.push(`compose ${w.name}: must depend on ${migrate[0]?.name} with condition service_completed_successfully`);
    }
  }

  // Unique node ids and consumer names; one partition count everywhere.
  const dupes = (list, key) => {
    const seen = new Map();
    for (const x of list) {
      const v = x.env.get(key);
      if (!v) p.push(`compose ${x.name}: ${key} not set (must be unique)`);
      else if (seen.has(v)) p.push(`compose: ${key}=${v} used by ${seen.get(v)} and ${x.name}`);
      else seen.set(v, x.name);
    }
  };
  dupes(gateways, 'CHORUS_NODE_ID');
  dupes(serving, 'CHORUS_CONSUMER');
  const parts = new Set([...gateways, ...serving].map((x) => x.env.get('CHORUS_PARTITIONS') ?? '16'));
  if (parts.size !== 1) p.push(`compose: CHORUS_PARTITIONS differs between services: ${[...parts]}`);

  // Health checks on /readyz, stop grace >= drain window + the gateway's grace.
  for (const x of [...gateways, ...serving]) {
    const test = (x.svc.healthcheck?.test ?? []).join(' ');
    if (!test.includes('/readyz')) p.push(`compose ${x.name}: healthcheck must probe /readyz (got "${test}")`);
  }
  for (const g of gateways) {
    const drain = Number(g.env.get('CHORUS_DRAIN_SECONDS') ?? 10);
    const grace = durationSeconds(g.svc.stop_grace_period ?? '10s');
    if (!(grace >= drain + DRAIN_GRACE_SECONDS)) {
      p.push(`compose ${g.name}: stop_grace_period ${g.svc.stop_grace_period} < drain ${drain} s + ${DRAIN_GRACE_SECONDS} s`);
    }
    if ((g.svc.stop_signal ?? 'SIGTERM') !== 'SIGTERM') p.push(`compose ${g.name}: stop_signal must be SIGTERM`);
  }

  // Redis: AOF everysec (or always), data volume.
  const redis = services.redis;
  if (!redis) {
    p.push('compose: no redis service');
  } else {
    const cmd = (redis.command ?? []).map(String);
    const after = (f) => cmd[cmd.indexOf(f) + 1];
    if (after('--appendonly') !== 'yes') p.push('compose redis: --appendonly yes missing');
    if (!['everysec', 'always'].includes(after('--appendfsync'))) p.push('compose redis: --appendfsync everysec|always missing');
    if (after('--maxmemory-policy') !== 'noeviction') p.push('compose redis: --maxmemory-policy noeviction missing');
    if (!(redis.volumes ?? []).some((v) => String(v).endsWith(':/data'))) p.push('compose redis: no volume on /data');
  }
  // PostgreSQL 15 with a named volume.
  const pg = services.postgres;
  if (!pg) {
    p.push('compose: no postgres service');
  } else {
    if (!/^postgres:15/.test(pg.image)) p.push(`compose postgres: image ${pg.image} is not PostgreSQL 15`);
    const vol = (pg.volumes ?? []).map(String).find((v) => v.endsWith(':/var/lib/postgresql/data'));
    if (!vol) p.push('compose postgres: no volume on /var/lib/postgresql/data');
    else if (!(vol.split(':')[0] in (c.volumes ?? {}))) p.push(`compose postgres: volume ${vol.split(':')[0]} not declared`);
  }

  // Gateways and workers must keep their addresses (nginx resolves once),
  // and CHORUS_REDIS must be Redis's fixed address.
  const ip = (svc) => Object.values(svc.networks ?? {}).find((n) => n?.ipv4_address)?.ipv4_address;
  for (const x of [...gateways, ...serving]) if (!ip(x.svc)) p.push(`compose ${x.name}: needs a fixed ipv4_address`);
  const redisAddr = redis && ip(redis);
  for (const x of [...gateways, ...byKind.worker]) {
    if (x.env.get('CHORUS_REDIS') !== `${redisAddr}:6379`) {
      p.push(`compose ${x.name}: CHORUS_REDIS=${x.env.get('CHORUS_REDIS')} is not redis at ${redisAddr}:6379`);
    }
  }
  return p;
}

/** Compose gateway and worker services with their ports, for the LB checks. */
export function composeBackends() {
  const c = loadCompose();
  const out = { gateways: [], workers: [] };
  for (const [name, svc] of Object.entries(c.services ?? {})) {
    const kind = binaryOf(String(svc.image ?? ''));
    if (!kind) continue;
    const env = new Map([...dockerfileEnv(fs.readFileSync(path.join(REPO_ROOT, svc.build.dockerfile), 'utf8')), ...composeEnv(svc)]);
    if (kind === 'gateway') out.gateways.push(`${name}:${(env.get('CHORUS_LISTEN') ?? '0.0.0.0:8080').split(':').pop()}`);
    else if ((svc.command?.[0] ?? 'serve') === 'serve') out.workers.push(`${name}:${(env.get('CHORUS_WORKER_LISTEN') ?? '0.0.0.0:8090').split(':').pop()}`);
  }
  return out;
}

// ------------------------------------------------------------ load balancers

export function checkLoadBalancers() {
  const p = [];
  const { gateways, workers } = composeBackends();
  const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

  const stripComments = (t) => t.replace(/#[^\n]*/g, '');
  const ups = stripComments(read('nginx/chorus/upstreams.conf'));
  const ngw = nginxUpstreamServers(ups, 'chorus_gateways');
  const napi = nginxUpstreamServers(ups, 'chorus_api');
  if (!same(ngw, gateways)) p.push(`nginx chorus_gateways ${ngw} != compose gateways ${gateways}`);
  if (!same(napi, workers)) p.push(`nginx chorus_api ${napi} != compose workers ${workers}`);
  if (/\b(ip_hash|hash\s|sticky)\b/.test(ups)) p.push('nginx upstreams: no stickiness allowed');

  const nginxMain = read('nginx/nginx.conf');
  const loc = read('nginx/chorus/locations.conf');
  const fmt = /log_format\s+chorus\s+([\s\S]*?);/.exec(nginxMain)?.[1] ?? '';
  if (!fmt) p.push('nginx: log_format chorus missing');
  if (/\$request\b|\$request_uri|\$args|\$query_string|\$arg_/.test(fmt)) p.push('nginx log_format logs the query string');
  const ws = /location = \/ws \{([\s\S]*?)\n\}/.exec(loc)?.[1] ?? '';
  for (const need of ['proxy_set_header Upgrade', 'proxy_set_header Connection        $connection_upgrade', 'proxy_read_timeout 1h', 'proxy_send_timeout 1h', 'http_503']) {
    if (!ws.includes(need)) p.push(`nginx /ws location lacks "${need}"`);
  }
  const api = /location \/api\/ \{([\s\S]*?)\n\}/.exec(loc)?.[1] ?? '';
  if (!/proxy_set_header X-Forwarded-For\s+\$remote_addr;/.test(api)) p.push('nginx /api/: X-Forwarded-For must be overwritten with $remote_addr');

  const hap = stripComments(read('haproxy/haproxy.cfg'));
  const section = (name) => new RegExp(`\\nbackend ${name}\\n([\\s\\S]*?)(?=\\n(?:backend|frontend|listen|defaults|resolvers|global)\\b|$(?![\\s\\S]))`).exec(hap)?.[1] ?? '';
  const servers = (s) => [...s.matchAll(/^\s*server\s+\S+\s+(\S+)/gm)].map((m) => m[1]);
  const hgw = section('chorus_gateways');
  if (!same(servers(hgw), gateways)) p.push(`haproxy chorus_gateways ${servers(hgw)} != compose gateways ${gateways}`);
  if (!same(servers(section('chorus_api')), workers)) p.push(`haproxy chorus_api != compose workers ${workers}`);
  if (!/option httpchk GET \/readyz/.test(hgw)) p.push('haproxy chorus_gateways: option httpchk GET /readyz missing');
  if (!/balance roundrobin/.test(hgw)) p.push('haproxy chorus_gateways: balance roundrobin missing');
  if (/^\s*(cookie|stick|hash-type|balance source)/m.test(hgw)) p.push('haproxy chorus_gateways: no stickiness allowed');
  if (/^\s*[^#\n]*on-marked-down shutdown-sessions/m.test(hap)) p.push('haproxy: on-marked-down shutdown-sessions would cut drains short');
  if (!/timeout tunnel 1h/.test(hap)) p.push('haproxy: timeout tunnel 1h missing');
  const lf = /log-format "([^"]*)"/.exec(hap)?.[1] ?? '';
  if (!lf || /%r\b|%HU|%HQ|%\{[^}]*\}r\b/.test(lf)) p.push('haproxy log-format missing or logs the query string');
  if (!/http-request set-header X-Forwarded-For %\[src\]/.test(section('chorus_api'))) p.push('haproxy chorus_api: X-Forwarded-For must be overwritten');

  // Prometheus scrapes the same nodes directly.
  const prom = YAML.parse(read('prometheus/prometheus.yml'));
  const targets = (job) => (prom.scrape_configs ?? []).filter((s) => s.job_name === job)
    .flatMap((s) => (s.static_configs ?? []).flatMap((x) => x.targets));
  if (!same(targets('chorus-gateway'), gateways)) p.push(`prometheus chorus-gateway targets != compose gateways ${gateways}`);
  if (!same(targets('chorus-worker'), workers)) p.push(`prometheus chorus-worker targets != compose workers ${workers}`);
  return p;
}

// ------------------------------------------------------------ Kubernetes

/** Every object of every manifest under deploy/k8s (not overlays): [{file, obj}]. */
export function loadK8s(dir = 'k8s') {
  const out = [];
  for (const f of fs.readdirSync(path.join(DEPLOY_DIR, dir)).sort()) {
    if (!f.endsWith('.yaml') || f === 'kustomization.yaml') continue;
    const docs = YAML.parseAllDocuments(read(path.join(dir, f)));
    for (const d of docs) {
      if (d.errors.length) throw new Error(`${dir}/${f}: ${d.errors[0].message}`);
      const obj = d.toJS();
      if (obj) out.push({ file: f, obj });
    }
  }
  return out;
}

const podSpecOf = (o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'Job' ? o.spec?.template?.spec : null);
const labelsMatch = (sel, labels) => Object.entries(sel ?? {}).every(([k, v]) => labels?.[k] === v);

export function checkK8s(help) {
  const p = [];
  const all = loadK8s();
  const objs = all.map((x) => x.obj);
  const find = (kind, name) => objs.find((o) => o.kind === kind && o.metadata?.name === name);
  const kust = YAML.parse(read('k8s/kustomization.yaml'));

  // The kustomization lists every manifest but the example Secret.
  const files = [...new Set(all.map((x) => x.file))].filter((f) => f !== 'secret.example.yaml');
  const listed = kust.resources ?? [];
  for (const f of files) if (!listed.includes(f)) p.push(`k8s: ${f} is not in kustomization.yaml`);
  for (const f of listed) if (!exists(path.join('k8s', f))) p.push(`k8s: kustomization lists missing ${f}`);
  if (kust.namespace !== 'chorus') p.push('k8s: kustomization namespace must be chorus');

  // Secrets: only placeholders, the generator's file is git-ignored.
  const secretsEnv = parseEnvFile(read('k8s/secrets.env.example'));
  for (const [k, v] of secretsEnv) if (!PLACEHOLDER.test(v)) p.push(`k8s secrets.env.example: ${k} is not a REPLACE_… placeholder`);
  const gen = (kust.secretGenerator ?? []).find((s) => s.name === 'chorus-secrets');
  if (!gen || !(gen.envs ?? []).includes('secrets.env')) p.push('k8s: secretGenerator chorus-secrets from secrets.env missing');
  if (!/^k8s\/secrets\.env$/m.test(read('.gitignore'))) p.push('deploy/.gitignore does not ignore k8s/secrets.env');
  for (const { file, obj } of all) {
    if (obj.kind !== 'Secret') continue;
    if (listed.includes(file)) p.push(`k8s: Secret in ${file} would be applied; use the secretGenerator`);
    for (const [k, v] of Object.entries({ ...obj.stringData, ...obj.data })) {
      if (!PLACEHOLDER.test(String(v))) p.push(`k8s ${file}: ${k} is not a REPLACE_… placeholder`);
      if (!secretsEnv.has(k)) p.push(`k8s ${file}: ${k} is not in secrets.env.example`);
    }
  }

  // ConfigMaps as a map name -> data.
  const cms = new Map(objs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));
  const partitions = new Set();
  const images = new Set();

  for (const { file, obj } of all) {
    const spec = podSpecOf(obj);
    if (!spec) continue;
    const where = `k8s ${file} ${obj.kind}/${obj.metadata.name}`;
    const podSc = spec.securityContext ?? {};
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const sc = c.securityContext ?? {};
      if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) p.push(`${where} ${c.name}: securityContext.runAsNonRoot missing`);
      if (sc.allowPrivilegeEscalation !== false) p.push(`${where} ${c.name}: allowPrivilegeEscalation must be false`);
      if (!c.resources?.requests || !c.resources?.limits?.memory) p.push(`${where} ${c.name}: resources.requests and limits.memory needed`);
      images.add(String(c.image).split(':')[0]);

      const kind = binaryOf(String(c.image));
      if (!kind) continue;
      const names = [];
      for (const e of c.env ?? []) {
        names.push(e.name);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && (ref.name !== 'chorus-secrets' || !secretsEnv.has(ref.key))) p.push(`${where}: secret key ${ref.name}/${ref.key} unknown`);
        const cref = e.valueFrom?.configMapKeyRef;
        if (cref && !(cms.get(cref.name) ?? {})[cref.key]) p.push(`${where}: configmap key ${cref.name}/${cref.key} unknown`);
        if (typeof e.value === 'string' && SECRET_KEY.test(e.name)) p.push(`${where}: ${e.name} must come from the Secret`);
      }
      for (const ef of c.envFrom ?? []) {
        const name = ef.configMapRef?.name;
        if (!cms.has(name)) { p.push(`${where}: envFrom configmap ${name} missing`); continue; }
        names.push(...Object.keys(cms.get(name)));
        if (cms.get(name).CHORUS_PARTITIONS) partitions.add(cms.get(name).CHORUS_PARTITIONS);
      }
      p.push(...checkEnvNames(names, kind, help, where));
      p.push(...checkArgs([...(c.command ?? []).slice(1), ...(c.args ?? [])], kind, help, `${where} args`));
    }
  }
  if (partitions.size > 1) p.push(`k8s: CHORUS_PARTITIONS differs: ${[...partitions]}`);

  // Gateway Deployment: probes, preStop, grace >= preStop + drain + 5 s.
  const gw = find('Deployment', 'chorus-gateway');
  if (!gw) {
    p.push('k8s: Deployment chorus-gateway missing');
  } else {
    const spec = gw.spec.template.spec;
    const c = spec.containers[0];
    if (c.readinessProbe?.httpGet?.path !== '/readyz') p.push('k8s gateway: readinessProbe must GET /readyz');
    if (c.livenessProbe?.httpGet?.path !== '/healthz') p.push('k8s gateway: livenessProbe must GET /healthz');
    const pre = c.lifecycle?.preStop;
    if (!pre) p.push('k8s gateway: preStop hook missing');
    const sleep = Number(pre?.exec?.command?.[0] === 'sleep' ? pre.exec.command[1] : pre?.sleep?.seconds ?? 0);
    const cfg = Object.assign({}, ...(c.envFrom ?? []).map((ef) => cms.get(ef.configMapRef?.name) ?? {}));
    const drain = Number(cfg.CHORUS_DRAIN_SECONDS ?? 10);
    const tgp = spec.terminationGracePeriodSeconds ?? 30;
    if (!(tgp >= sleep + drain + DRAIN_GRACE_SECONDS)) {
      p.push(`k8s gateway: terminationGracePeriodSeconds ${tgp} < preStop ${sleep} + drain ${drain} + ${DRAIN_GRACE_SECONDS}`);
    }
    if (!cfg.CHORUS_WORKERS) p.push('k8s gateway: set CHORUS_WORKERS (the default counts the node\'s CPUs)');
    if (gw.spec.strategy?.rollingUpdate?.maxUnavailable !== 0) p.push('k8s gateway: rollingUpdate.maxUnavailable should be 0');
    const nodeId = (c.env ?? []).find((e) => e.name === 'CHORUS_NODE_ID');
    if (nodeId?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') p.push('k8s gateway: CHORUS_NODE_ID should be the pod name');
    const podLabels = gw.spec.template.metadata.labels;
    const pdb = objs.find((o) => o.kind === 'PodDisruptionBudget' && labelsMatch(o.spec?.selector?.matchLabels, podLabels));
    if (!pdb) p.push('k8s gateway: no PodDisruptionBudget selects its pods');
    const hpa = objs.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec?.scaleTargetRef?.name === 'chorus-gateway');
    if (!hpa) p.push('k8s gateway: no HorizontalPodAutoscaler');
    else if (!(hpa.spec.metrics ?? []).length || !(hpa.spec.minReplicas >= 2)) p.push('k8s gateway HPA: metrics and minReplicas >= 2 needed');
  }

  // Worker Deployment: probes, unique consumer names.
  const wk = find('Deployment', 'chorus-worker');
  if (!wk) {
    p.push('k8s: Deployment chorus-worker missing');
  } else {
    const c = wk.spec.template.spec.containers[0];
    if (c.readinessProbe?.httpGet?.path !== '/readyz') p.push('k8s worker: readinessProbe must GET /readyz');
    if (c.livenessProbe?.httpGet?.path !== '/healthz') p.push('k8s worker: livenessProbe must GET /healthz');
    const consumer = (c.env ?? []).find((e) => e.name === 'CHORUS_CONSUMER');
    if (consumer?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') p.push('k8s worker: CHORUS_CONSUMER must be unique per pod (metadata.name)');
  }

  // Migrations Job.
  const job = objs.find((o) => o.kind === 'Job');
  const jc = job?.spec?.template?.spec?.containers?.[0];
  if (!jc || binaryOf(jc.image) !== 'worker' || (jc.args ?? [])[0] !== 'migrate') p.push('k8s: a Job running chorus-worker migrate is missing');

  // Redis and PostgreSQL StatefulSets.
  const redis = find('StatefulSet', 'redis');
  if (!redis) {
    p.push('k8s: StatefulSet redis missing');
  } else {
    const a = (redis.spec.template.spec.containers[0].args ?? []).map(String);
    const after = (f) => a[a.indexOf(f) + 1];
    if (after('--appendonly') !== 'yes') p.push('k8s redis: --appendonly yes missing');
    if (!['everysec', 'always'].includes(after('--appendfsync'))) p.push('k8s redis: --appendfsync missing');
    if (after('--maxmemory-policy') !== 'noeviction') p.push('k8s redis: --maxmemory-policy noeviction missing');
    if (!(redis.spec.volumeClaimTemplates ?? []).length) p.push('k8s redis: no volumeClaimTemplates');
  }
  const pg = find('StatefulSet', 'postgres');
  if (!pg) {
    p.push('k8s: StatefulSet postgres missing');
  } else {
    const vct = (pg.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name);
    const mounts = pg.spec.template.spec.containers[0].volumeMounts ?? [];
    if (!mounts.some((m) => m.mountPath === '/var/lib/postgresql/data' && vct.includes(m.name))) {
      p.push('k8s postgres: /var/lib/postgresql/data must be on a volumeClaimTemplate');
    }
    if (!/^postgres:15/.test(pg.spec.template.spec.containers[0].image)) p.push('k8s postgres: not PostgreSQL 15');
  }

  // Services select pods and have no affinity; Ingress backends exist.
  const workloads = objs.filter(podSpecOf);
  for (const s of objs.filter((o) => o.kind === 'Service')) {
    if (!workloads.some((w) => labelsMatch(s.spec.selector, w.spec.template.metadata.labels))) p.push(`k8s Service ${s.metadata.name} selects no pods`);
    if (s.spec.sessionAffinity && s.spec.sessionAffinity !== 'None') p.push(`k8s Service ${s.metadata.name}: no session affinity allowed`);
  }
  const ingresses = objs.filter((o) => o.kind === 'Ingress');
  let wsIngress = null;
  for (const ing of ingresses) {
    const ann = ing.metadata.annotations ?? {};
    if (Object.keys(ann).some((k) => /affinity|upstream-hash-by/.test(k))) p.push(`k8s Ingress ${ing.metadata.name}: no affinity allowed`);
    for (const rule of ing.spec.rules ?? []) {
      for (const pth of rule.http?.paths ?? []) {
        const svc = find('Service', pth.backend.service.name);
        if (!svc) { p.push(`k8s Ingress ${ing.metadata.name}: service ${pth.backend.service.name} missing`); continue; }
        const port = pth.backend.service.port;
        if (!svc.spec.ports.some((sp) => sp.name === port.name || sp.port === port.number)) p.push(`k8s Ingress ${ing.metadata.name}: port ${JSON.stringify(port)} not on ${svc.metadata.name}`);
        if (pth.path === '/ws') wsIngress = ing;
      }
    }
  }
  if (!wsIngress) {
    p.push('k8s: no Ingress path /ws');
  } else {
    const ann = wsIngress.metadata.annotations ?? {};
    for (const k of ['proxy-read-timeout', 'proxy-send-timeout']) {
      if (!(Number(ann[`nginx.ingress.kubernetes.io/${k}`]) >= 3600)) p.push(`k8s /ws Ingress: ${k} must be >= 3600`);
    }
    if (!/http_503/.test(ann['nginx.ingress.kubernetes.io/proxy-next-upstream'] ?? '')) p.push('k8s /ws Ingress: proxy-next-upstream should include http_503 (draining)');
  }

  // The kustomization's images cover our images.
  const kimages = new Set((kust.images ?? []).map((i) => i.name));
  for (const img of images) if (img.startsWith('chorus-') && !kimages.has(img)) p.push(`k8s: image ${img} not under kustomization images`);

  // Overlays: their bases and patches exist, deletions name real objects.
  for (const overlay of ['overlays/managed', 'overlays/hpa-connections']) {
    const dir = path.join('k8s', overlay);
    const k = YAML.parse(read(path.join(dir, 'kustomization.yaml')));
    for (const r of k.resources ?? []) if (!exists(path.join(dir, r))) p.push(`k8s ${overlay}: resource ${r} missing`);
    for (const patch of k.patches ?? []) {
      if (patch.path) {
        if (!exists(path.join(dir, patch.path))) { p.push(`k8s ${overlay}: patch ${patch.path} missing`); continue; }
        for (const d of YAML.parseAllDocuments(read(path.join(dir, patch.path)))) {
          const o = d.toJS();
          if (o && !find(o.kind, o.metadata?.name)) p.push(`k8s ${overlay}: patch targets unknown ${o.kind}/${o.metadata?.name}`);
        }
      }
      if (patch.target) {
        if (!find(patch.target.kind, patch.target.name)) p.push(`k8s ${overlay}: patch target ${patch.target.kind}/${patch.target.name} unknown`);
        for (const op of YAML.parse(patch.patch ?? '[]') ?? []) {
          const m = /^\/data\/(.+)$/.exec(op.path ?? '');
          if (m && op.op === 'replace' && !(m[1] in (cms.get(patch.target.name) ?? {}))) p.push(`k8s ${overlay}: replaces missing ${patch.target.name}/${m[1]}`);
        }
      }
    }
  }
  return p;
}

// ------------------------------------------------------------ systemd

/** Key=value pairs of a unit file, [key, value] in order. */
export function parseUnit(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';') || t.startsWith('[')) continue;
    const i = t.indexOf('=');
    if (i > 0) out.push([t.slice(0, i), t.slice(i + 1)]);
  }
  return out;
}

export function checkSystemd(help) {
  const p = [];
  for (const unit of ['chorus-gateway.service', 'chorus-worker.service']) {
    const kv = parseUnit(read(path.join('systemd', unit)));
    const get = (k) => kv.filter(([a]) => a === k).map(([, b]) => b);
    const kind = unit.includes('gateway') ? 'gateway' : 'worker';
    const exec = get('ExecStart')[0] ?? '';
    const argv = exec.split(/\s+/);
    if (binaryOf(argv[0]) !== kind) p.push(`${unit}: ExecStart ${argv[0]} is not chorus-${kind}`);
    p.push(...checkArgs(argv.slice(1), kind, help, `${unit} ExecStart`));
    const env = new Map(get('Environment').map((e) => e.split('=')).map(([k, ...v]) => [k, v.join('=')]));
    for (const f of get('EnvironmentFile')) {
      const base = path.basename(f.replace(/^-/, ''));
      const example = path.join('systemd', `${base}.example`);
      if (!exists(example)) { p.push(`${unit}: no ${example} for EnvironmentFile=${f}`); continue; }
      for (const [k, v] of parseEnvFile(read(example))) {
        env.set(k, v);
        if (SECRET_KEY.test(k) && !PLACEHOLDER.test(v)) p.push(`${example}: ${k} must be a REPLACE_… placeholder`);
      }
    }
    if (!get('EnvironmentFile').length) p.push(`${unit}: secrets belong in an EnvironmentFile`);
    p.push(...checkEnvNames(env.keys(), kind, help, unit));
    if (get('Restart')[0] !== 'on-failure') p.push(`${unit}: Restart=on-failure`);
    if (get('KillSignal')[0] !== 'SIGTERM') p.push(`${unit}: KillSignal=SIGTERM`);
    if (!(Number(get('LimitNOFILE')[0]) >= 65536)) p.push(`${unit}: LimitNOFILE too low or missing`);
    const stop = durationSeconds(get('TimeoutStopSec')[0] ?? '90s');
    if (kind === 'gateway') {
      const drain = Number(env.get('CHORUS_DRAIN_SECONDS') ?? 10);
      if (!(stop >= drain + DRAIN_GRACE_SECONDS)) p.push(`${unit}: TimeoutStopSec ${stop} < drain ${drain} + ${DRAIN_GRACE_SECONDS}`);
      // A second SIGTERM ends the drain at once: only the supervisor may get one.
      if (get('KillMode')[0] !== 'mixed') p.push(`${unit}: KillMode=mixed (the supervisor forwards SIGTERM)`);
    }
    if (kind === 'worker' && !env.get('CHORUS_CONSUMER')) p.push(`${unit}: set a stable CHORUS_CONSUMER`);
  }
  return p;
}

// ------------------------------------------------------------ Dockerfiles

export const DOCKERFILES = {
  gateway: 'docker/gateway.Dockerfile',
  worker: 'docker/worker.Dockerfile',
  loadtest: 'docker/loadtest.Dockerfile',
  web: 'docker/web.Dockerfile',
};

/** Packages apt-get installs in each stage: [{from, name, packages}]. */
export function dockerStages(text) {
  const joined = text.replace(/\\\n/g, ' ');
  const stages = [];
  for (const line of joined.split('\n')) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) { stages.push({ from: from[1], name: from[2] ?? null, packages: [], lines: [] }); continue; }
    const st = stages[stages.length - 1];
    if (!st) continue;
    st.lines.push(line);
    const inst = /apt-get install\s+(.*?)(?:&&|$)/.exec(line);
    if (inst) st.packages.push(...inst[1].split(/\s+/).filter((w) => w && !w.startsWith('-')));
  }
  return stages;
}

export function checkDockerfiles(help) {
  const p = [];
  for (const [what, rel] of Object.entries(DOCKERFILES)) {
    const text = read(rel);
    const stages = dockerStages(text);
    if (stages.length < 2) p.push(`${rel}: not multi-stage`);
    for (const s of stages) if (s.from !== 'debian:bookworm-slim') p.push(`${rel}: FROM ${s.from} (want debian:bookworm-slim)`);
    const final = stages[stages.length - 1];
    if (final.packages.some((x) => x.endsWith('-dev') || x === 'build-essential' || x === 'cmake')) p.push(`${rel}: runtime stage installs build packages`);
    if (what !== 'web' && !stages[0].packages.some((x) => x.endsWith('-dev'))) p.push(`${rel}: build stage has no -dev packages`);
    const user = final.lines.map((l) => /^USER\s+(\S+)/.exec(l)?.[1]).filter(Boolean).pop();
    if (!user || !/^[1-9]\d*(:\d+)?$/.test(user)) p.push(`${rel}: final stage needs a numeric non-root USER (got ${user})`);
    for (const l of final.lines.concat(stages.flatMap((s) => s.lines))) {
      const m = /^COPY\s+(?!--from)(.+)\s+\S+$/.exec(l.trim());
      if (!m) continue;
      for (const src of m[1].split(/\s+/)) {
        if (!fs.existsSync(path.join(REPO_ROOT, src))) p.push(`${rel}: COPY source ${src} does not exist`);
      }
    }
    const kind = binaryOf(`chorus-${what}`);
    if (kind) {
      p.push(...checkEnvNames(dockerfileEnv(text).keys(), kind, help, rel));
      if (!/HEALTHCHECK[\s\S]*\/readyz/.test(text)) p.push(`${rel}: HEALTHCHECK must probe /readyz`);
      if (!/ENTRYPOINT \["\/usr\/local\/bin\/chorus-/.test(text)) p.push(`${rel}: exec-form ENTRYPOINT (the binary must be PID 1 to get SIGTERM)`);
    }
    if (!fs.existsSync(path.join(DEPLOY_DIR, `${rel}.dockerignore`))) p.push(`${rel}: no ${path.basename(rel)}.dockerignore`);
  }
  return p;
}

/** The metric names (chorus_…) used by the dashboard and the alert rules. */
export function referencedMetrics() {
  const names = new Set();
  const add = (s) => { for (const m of String(s).matchAll(/\bchorus_[a-z0-9_]+/g)) names.add(m[0]); };
  const dash = JSON.parse(read('grafana/chorus-dashboard.json'));
  for (const panel of dash.panels) for (const t of panel.targets ?? []) add(t.expr);
  for (const v of dash.templating?.list ?? []) add(v.definition ?? '');
  const rules = YAML.parse(read('prometheus/alerts.yml'));
  for (const g of rules.groups) for (const r of g.rules) add(r.expr);
  return names;
}

/** Dashboard structure: panel ids, layout, datasource and queries. */
export function checkDashboard() {
  const p = [];
  const dash = JSON.parse(read('grafana/chorus-dashboard.json'));
  const ids = new Set();
  for (const panel of dash.panels) {
    if (ids.has(panel.id)) p.push(`dashboard: duplicate panel id ${panel.id}`);
    ids.add(panel.id);
    const g = panel.gridPos;
    if (!g || g.x + g.w > 24 || g.w < 1 || g.h < 1) p.push(`dashboard: panel "${panel.title}" has a bad gridPos`);
    if (panel.type === 'row') continue;
    if (panel.datasource?.uid !== '${datasource}') p.push(`dashboard: panel "${panel.title}" does not use the datasource variable`);
    if (!(panel.targets ?? []).length || panel.targets.some((t) => !t.expr)) p.push(`dashboard: panel "${panel.title}" has no query`);
  }
  const want = ['connections', 'rooms', 'frames', 'bytes', 'publish_ack_seconds_bucket', 'slow_consumer_closes',
    'redis_reconnects', 'redis_up', 'events_persisted', 'persist_lag_events', 'persist_lag_seconds',
    'api_request_duration_seconds_bucket', 'errors'];
  const text = JSON.stringify(dash);
  for (const w of want) if (!text.includes(w)) p.push(`dashboard: nothing shows *${w}*`);
  return p;
}

/** deploy/sysctl/90-chorus.conf: every key exists in this kernel (read-only check). */
export function checkSysctl() {
  const p = [];
  const conf = parseEnvFile(read('sysctl/90-chorus.conf'));
  if (conf.size === 0) p.push('sysctl: no settings');
  for (const [k, v] of conf) {
    if (!fs.existsSync(path.join('/proc/sys', ...k.split('.')))) p.push(`sysctl: ${k} does not exist in /proc/sys`);
    if (!/^\d+( \d+)*$/.test(v)) p.push(`sysctl: ${k} = ${v} is not numeric`);
  }
  for (const k of ['fs.file-max', 'fs.nr_open', 'net.core.somaxconn', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_mem']) {
    if (!conf.has(k)) p.push(`sysctl: ${k} missing`);
  }
  return p;
}

// ------------------------------------------------------------ CLI

if (import.meta.url === `file://${process.argv[1]}`) {
  const help = loadHelp();
  let failed = 0;
  for (const [name, fn] of Object.entries({
    compose: () => checkCompose(help), 'load balancers': checkLoadBalancers, kubernetes: () => checkK8s(help),
    systemd: () => checkSystemd(help), dockerfiles: () => checkDockerfiles(help), dashboard: checkDashboard,
    sysctl: checkSysctl,
  })) {
    const problems = fn();
    failed += problems.length;
    process.stdout.write(`${problems.length ? 'FAIL' : 'ok  '} ${name}\n${problems.map((x) => `     - ${x}\n`).join('')}`);
  }
  process.exit(failed ? 1 : 0);
}
