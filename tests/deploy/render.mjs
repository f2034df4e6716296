// render.mjs — renders the shipped production configs (deploy/nginx,
// deploy/haproxy) with test addresses, for `nginx -t`, `haproxy -c` and the
// rolling-restart test that runs nginx for real.
//
// Only what cannot work on a test machine is replaced: the listen ports, the
// upstream server addresses (compose service names do not resolve here), the
// web root and the TLS certificate paths. Every replacement must match, so a
// change to the shipped files that breaks an assumption here fails loudly
// instead of testing something else.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const DEPLOY_DIR = path.join(REPO_ROOT, 'deploy');

/** Replaces pattern in text (must match at least once, or exactly `count` times). */
function mustReplace(text, pattern, replacement, what, count) {
  const re = pattern instanceof RegExp ? new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`) : null;
  const matches = re ? [...text.matchAll(re)].length : text.split(pattern).length - 1;
  if (matches === 0 || (count !== undefined && matches !== count)) {
    throw new Error(`render: expected ${count ?? 'at least one'} match of ${what}, found ${matches}`);
  }
  return re ? text.replace(re, replacement) : text.split(pattern).join(replacement);
}

/**
 * Rewrites the `server HOST:PORT params;` lines of one nginx upstream block
 * to the given addresses, keeping the parameters of the first line.
 */
function rewriteNginxUpstream(text, name, addrs) {
  const re = new RegExp(`(upstream ${name} \\{)([\\s\\S]*?)(\\n\\})`);
  const m = re.exec(text);
  if (!m) throw new Error(`render: upstream ${name} not found`);
  const body = m[2];
  const servers = [...body.matchAll(/^([ \t]*)server[ \t]+(\S+)([^;\n]*);[ \t]*$/gm)];
  if (servers.length === 0) throw new Error(`render: upstream ${name} has no server lines`);
  const [, indent, , params] = servers[0];
  const lines = addrs.map((a) => `${indent}server ${a}${params};`).join('\n');
  let replaced = false;
  const newBody = body.replace(/^([ \t]*)server[ \t]+(\S+)([^;\n]*);[ \t]*\n?/gm, () => {
    if (replaced) return '';
    replaced = true;
    return `${lines}\n`;
  });
  return text.replace(re, `${m[1]}${newBody}${m[3]}`);
}

/** Reads the addresses of the server lines of an nginx upstream block. */
export function nginxUpstreamServers(text, name) {
  const m = new RegExp(`upstream ${name} \\{([\\s\\S]*?)\\n\\}`).exec(text);
  if (!m) return [];
  return [...m[1].matchAll(/^\s*server\s+(\S+)/gm)].map((x) => x[1]);
}

/**
 * Renders deploy/nginx into outDir (nginx.conf + chorus/*.conf) and creates
 * the prefix folders. Returns {conf, prefix}.
 *   listenPort: the plain-HTTP port (on 127.0.0.1)
 *   gateways, workers: arrays of "127.0.0.1:PORT"
 *   webRoot: folder served at /
 *   tls: optional {port, cert, key}: also enables chorus/tls.conf
 */
export function renderNginx({ outDir, prefix, listenPort, gateways, workers, webRoot, tls = null }) {
  const src = path.join(DEPLOY_DIR, 'nginx');
  fs.mkdirSync(path.join(outDir, 'chorus'), { recursive: true });
  for (const d of ['logs', 'run', 'tmp']) fs.mkdirSync(path.join(prefix, d), { recursive: true });

  let main = fs.readFileSync(path.join(src, 'nginx.conf'), 'utf8');
  main = mustReplace(main, /listen 8080 /, `listen 127.0.0.1:${listenPort} `, 'the plain-HTTP listen line', 1);
  fs.writeFileSync(path.join(outDir, 'nginx.conf'), main);

  let ups = fs.readFileSync(path.join(src, 'chorus', 'upstreams.conf'), 'utf8');
  ups = rewriteNginxUpstream(ups, 'chorus_gateways', gateways);
  ups = rewriteNginxUpstream(ups, 'chorus_api', workers);
  fs.writeFileSync(path.join(outDir, 'chorus', 'upstreams.conf'), ups);

  let loc = fs.readFileSync(path.join(src, 'chorus', 'locations.conf'), 'utf8');
  loc = mustReplace(loc, 'root /usr/share/chorus/web;', `root ${webRoot};`, 'the web root', 1);
  fs.writeFileSync(path.join(outDir, 'chorus', 'locations.conf'), loc);

  if (tls) {
    let t = fs.readFileSync(path.join(src, 'chorus', 'tls.conf.example'), 'utf8');
    t = mustReplace(t, /listen 8443 /, `listen 127.0.0.1:${tls.port} `, 'the HTTPS listen line', 1);
    t = mustReplace(t, '/etc/chorus/tls/fullchain.pem', tls.cert, 'the certificate path', 1);
    t = mustReplace(t, '/etc/chorus/tls/privkey.pem', tls.key, 'the key path', 1);
    fs.writeFileSync(path.join(outDir, 'chorus', 'tls.conf'), t);
  }
  return { conf: path.join(outDir, 'nginx.conf'), prefix };
}

/**
 * Renders deploy/haproxy/haproxy.cfg to outFile with test addresses.
 *   bindPort: port of the public frontend; statsPort: the stats/metrics frontend
 *   gateways, workers, web: arrays of "127.0.0.1:PORT"
 *   statsSocket: path of the admin socket (default: next to outFile)
 */
export function renderHaproxy({ outFile, bindPort, statsPort, gateways, workers, web, statsSocket }) {
  let cfg = fs.readFileSync(path.join(DEPLOY_DIR, 'haproxy', 'haproxy.cfg'), 'utf8');
  cfg = mustReplace(cfg, '/tmp/haproxy-chorus.sock', statsSocket ?? `${outFile}.sock`, 'the stats socket path', 1);
  cfg = mustReplace(cfg, /bind :8080\b/, `bind 127.0.0.1:${bindPort}`, 'the public bind line', 1);
  cfg = mustReplace(cfg, /bind :8404\b/, `bind 127.0.0.1:${statsPort}`, 'the stats bind line', 1);
  const rewrite = (text, backend, addrs) => {
    // The section runs from its header line to the next section header.
    const re = new RegExp(`(\\nbackend ${backend}\\n)([\\s\\S]*?)(?=\\n(?:backend|frontend|listen|defaults|resolvers|global|program|peers)\\b|$(?![\\s\\S]))`);
    const m = re.exec(text);
    if (!m) throw new Error(`render: backend ${backend} not found`);
    const servers = [...m[2].matchAll(/^([ \t]*)server[ \t]+(\S+)[ \t]+(\S+)(.*)$/gm)];
    if (servers.length === 0) throw new Error(`render: backend ${backend} has no server lines`);
    const [, indent, , , params] = servers[0];
    const lines = addrs.map((a, i) => `${indent}server ${backend}-${i + 1} ${a}${params}`).join('\n');
    let done = false;
    const body = m[2].replace(/^([ \t]*)server[ \t]+(\S+)[ \t]+(\S+)(.*)\n?/gm, () => {
      if (done) return '';
      done = true;
      return `${lines}\n`;
    });
    return text.replace(re, `${m[1]}${body}`);
  };
  cfg = rewrite(cfg, 'chorus_gateways', gateways);
  cfg = rewrite(cfg, 'chorus_api', workers);
  cfg = rewrite(cfg, 'chorus_web', web);
  fs.writeFileSync(outFile, cfg);
  return outFile;
}

/** Runs a command synchronously; returns {status, out} (stdout + stderr). */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000, ...opts });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}
