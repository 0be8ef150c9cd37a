// The auth services behind nginx: wardens, the redis-server some use, the trivial node server.
import type { StdioOptions } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { WardenSpec } from './configs.js';
import { fail, run, sleep, spawnOn, waitFor } from './proc.js';

/** What every warden of a run shares, and the run-time parts of their settings. */
export interface WardenContext {
  tmp: string;
  wardenCli: string;
  baselineCli: string | null;
  nodeArgs: readonly string[];
  policyFile: string;
  cachedPolicyFile: string;
  /** The MCP configuration's policy (a protected resource), or null when it is not measured. */
  mcpPolicyFile: string | null;
  keysFile: string;
  redisUrl: string;
  jwtIssuer: string | null;
}

/**
 * Inherited variables that would point a warden at a Redis (or change its key prefix), or change its
 * audit sinks or metrics: dropped, so that each configuration is exactly what its spec says.
 */
const isRedisVar = (name: string): boolean =>
  name === 'REDIS_URL' ||
  name.startsWith('WARDEN_REDIS_') ||
  name.startsWith('WARDEN_AUDIT_') ||
  name.startsWith('WARDEN_METRICS');

function wardenEnv(ctx: WardenContext, spec: WardenSpec, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !isRedisVar(name)),
  );
  if (spec.jwtIssuer && ctx.jwtIssuer === null) throw new Error(`${spec.name}: no JWT issuer started`);
  if (spec.policy === 'mcp' && ctx.mcpPolicyFile === null) throw new Error(`${spec.name}: no MCP policy`);
  const policies = { plain: ctx.policyFile, cached: ctx.cachedPolicyFile, mcp: ctx.mcpPolicyFile };
  return Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: String(port),
    WARDEN_POLICY: policies[spec.policy] ?? ctx.policyFile,
    WARDEN_API_KEYS: ctx.keysFile,
    WARDEN_PROXY: 'nginx',
    WARDEN_TRUSTED_PROXIES: '127.0.0.0/8,::1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...(spec.redis ? { REDIS_URL: ctx.redisUrl } : {}),
    ...(spec.jwtIssuer
      ? { WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: ctx.jwtIssuer, audience: 'bench' }]) }
      : {}),
    ...spec.env,
  });
}

/**
 * Start one warden with its own directory <tmp>/<dir>/ (working directory, so also its state dir):
 * audit stream (stdout, one JSON line per decision) to audit.jsonl, as a real deployment would ship
 * it, ops log (stderr) to stderr.log. All wardens share the policy, keys and nginx dialect; only the
 * spec decides the store (Redis settings of the calling environment are not passed on).
 * Resolves when /readyz answers 200 (policy loaded, Redis answering if configured).
 */
export async function startWarden(ctx: WardenContext, dir: string, spec: WardenSpec, port: number) {
  const cwd = join(ctx.tmp, dir);
  mkdirSync(cwd, { recursive: true });
  const cli = spec.build === 'baseline' ? ctx.baselineCli : ctx.wardenCli;
  if (cli === null) throw new Error(`${spec.name}: no baseline build given`);
  const stdio: StdioOptions = [
    'ignore',
    openSync(join(cwd, 'audit.jsonl'), 'w'),
    openSync(join(cwd, 'stderr.log'), 'w'),
  ];
  const env = wardenEnv(ctx, spec, port);
  spawnOn(1, process.execPath, [...ctx.nodeArgs, cli, 'serve'], { cwd, env, stdio }, spec.name);
  await waitFor(`http://127.0.0.1:${port}/readyz`, spec.name);
}

/** redis-cli against 127.0.0.1:port; its output, trimmed. */
export const redisCli = (bin: string, port: number, ...args: string[]): string =>
  run(bin, ['-h', '127.0.0.1', '-p', String(port), ...args]).trim();

/** A throw-away redis-server (no persistence) on 127.0.0.1:port, log in <tmp>/redis/; resolves on PONG. */
export async function startRedis(tmp: string, bins: { server: string; cli: string }, port: number) {
  const cwd = join(tmp, 'redis');
  mkdirSync(cwd, { recursive: true });
  const log = openSync(join(cwd, 'redis.log'), 'w');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  spawnOn(1, bins.server, args, { cwd, stdio: ['ignore', log, log] }, 'redis-server');
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    last = redisCli(bins.cli, port, 'ping');
    if (last === 'PONG') return;
    await sleep(100);
  }
  fail(`redis-server not answering PING on port ${port} after 15000 ms (${last})`);
}

/** A counter from redis-cli INFO stats (e.g. total_commands_processed). */
export function redisInfo(cli: string, port: number, field: string): number {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(redisCli(cli, port, 'info', 'stats'));
  if (!m) fail(`redis-cli info stats: no ${field}`);
  return Number(m[1]);
}

/** Sum of a Prometheus counter over all its label sets, from warden's /metrics. */
export async function metricSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'gm');
  return [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const NODE_FLOOR_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200, { 'content-length': '2' }); res.end('ok'); return; }
  const k = req.headers['x-api-key'];
  if (typeof k !== 'string' || k.length < 20) { res.writeHead(401, { 'content-length': '0', 'www-authenticate': 'ApiKey' }); res.end(); return; }
  res.writeHead(200, { 'content-length': '0', 'X-User-ID': 'bench', 'X-User-Roles': 'developer', 'X-User-Name': 'Bench Client', 'X-User-Email': '', 'X-Auth-Method': 'api_key' });
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * The reference auth service: a do-nothing Node.js http server (a constant 200 with the identity
 * headers). It shows how close any Node.js auth service can get to nginx's static answer.
 */
export async function startNodeFloor(port: number): Promise<void> {
  const env = { ...process.env, PORT: String(port) };
  spawnOn(1, process.execPath, ['-e', NODE_FLOOR_SERVER], { env, stdio: 'ignore' }, 'trivial node server');
  await waitFor(`http://127.0.0.1:${port}/healthz`, 'trivial node server');
}
