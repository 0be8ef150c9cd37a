// npm run bench: warden behind nginx auth_request vs nginx's own static auth answer vs no auth.
//
// One nginx (1 worker) with a static upstream and front servers using the deploy/nginx recipe, one
// per configuration of the table in configs.ts (no auth, nginx's static answer, the trivial node
// server, the wardens); wrk (1 thread, 32 connections) measures each, rounds interleaved; medians
// and ratios are printed and written to bench/results/<date-time>.json, and with --record to
// bench/README.md between the results markers. See bench/README.md.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { checkCache, checkRedis, preflight, type CacheCheck, type RedisCheck } from './checks.js';
import { allocatePorts, frontPort, isWarden, plan, type Config, type Plan, type Ports } from './configs.js';
import { MCP_SCOPES, writeKeys, writePolicy } from './fixtures.js';
import { firstVerificationCost, startBenchIssuer, type Alg, type BenchIssuer } from './jwt.js';
import { buildGitState, conditionLines, gitState, machine, type GitState, type Machine } from './machine.js';
import { measure, roundOrder, type Measurement } from './measure.js';
import { startNginx } from './nginx.js';
import { knobs, notRecordable, OptionError, readOptions, USAGE, type Options } from './options.js';
import { configureSession, fail, installHandlers } from './proc.js';
import { analyse, configTable, firstVerifyTable, pairedTable, ratioTable, type Report } from './report.js';
import { recordInReadme, summaryBlock, writeResults } from './results.js';
import { redisInfo, startNodeFloor, startRedis, startWarden } from './servers.js';
import { writeWrkScript } from './wrk.js';
import { runAuditVerify } from './audit-verify.js';
import { runScale } from './scale.js';
import { runAuditSearch } from './audit-search.js';

/** What the MCP configuration's client holds: a token for the resource, and tokens the pre-flight expects refused. */
interface McpClient {
  resource: string;
  /** `aud` the resource url, `scope` the resource's scopes. */
  token: string;
  /** The same without any scope claim: 403 insufficient_scope. */
  unscoped: string;
}

/** A run set up: everything started and checked, ready to measure. */
interface Setup {
  tmp: string;
  plan: Plan;
  ports: Ports;
  key: string;
  jwt: BenchIssuer | null;
  /** The MCP configuration's resource url and the token bound to it, when it is measured. */
  mcp: McpClient | null;
  recipe: string;
  withRedis: boolean;
  redisNote: string | null;
}

/** `npm run bench -- --scale`: the scale table instead of the proxy comparison (scale.ts). */
const SCALE = process.argv.includes('--scale');

function options(): Options {
  try {
    const o = readOptions(process.argv.slice(2), process.env);
    if (o === null) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    return o;
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    process.stderr.write(`bench: ${e.message}\n`);
    process.exit(2);
  }
}

function checkTools(o: Options): void {
  for (const bin of [o.nginx, o.wrk])
    if (!existsSync(bin)) fail(`${bin} not found (apt-get install nginx wrk)`);
  if (!existsSync(o.wardenCli)) fail(`${o.wardenCli} missing: run \`npm run build\` (npm run bench does)`);
  if (o.baselineCli !== null && !existsSync(o.baselineCli))
    fail(`baseline ${o.baselineCli} missing: point --baseline at another build's dist/cli.js`);
  const refused = o.record ? notRecordable(o) : [];
  if (refused.length > 0) fail(`--record refused (nothing was run): ${refused.join('; ')}`);
}

/** Whether warden + Redis is measured, and if not, why (printed and recorded). */
function redisAvailability(o: Options): { withRedis: boolean; redisNote: string | null } {
  const missing = [o.redisServer, o.redisCli].filter((bin) => !existsSync(bin));
  if (!o.redisWanted) return { withRedis: false, redisNote: 'left out (BENCH_REDIS=0)' };
  if (missing.length > 0)
    return {
      withRedis: false,
      redisNote: `skipped: ${missing.join(', ')} not found (apt-get install redis-server)`,
    };
  return { withRedis: true, redisNote: null };
}

/** Start the auth services (redis-server, JWKS issuer, wardens, trivial node server) of the plan. */
async function startServices(o: Options, tmp: string, p: Plan, ports: Ports, withRedis: boolean) {
  const policyFile = join(tmp, 'policy.yaml');
  const cachedPolicyFile = join(tmp, 'policy-cached.yaml');
  const keysFile = join(tmp, 'keys.yaml');
  writePolicy(policyFile);
  writePolicy(cachedPolicyFile, { cached: true });
  const key = writeKeys(keysFile);
  if (withRedis) await startRedis(tmp, { server: o.redisServer, cli: o.redisCli }, ports.redis);
  const jwt = o.jwt ? await startBenchIssuer() : null;
  const mcp = p.targets.some((t) => t.id === 'wardenmcp') && jwt ? await mcpClient(jwt, ports) : null;
  const mcpPolicyFile = mcp ? join(tmp, 'policy-mcp.yaml') : null;
  if (mcp && jwt && mcpPolicyFile)
    writePolicy(mcpPolicyFile, { resource: { url: mcp.resource, issuer: jwt.issuer } });
  const ctx = {
    tmp,
    wardenCli: o.wardenCli,
    baselineCli: o.baselineCli,
    nodeArgs: o.wardenNodeArgs,
    policyFile,
    cachedPolicyFile,
    mcpPolicyFile,
    keysFile,
    redisUrl: `redis://127.0.0.1:${ports.redis}`,
    jwtIssuer: jwt?.issuer ?? null,
  };
  for (const t of p.targets.filter(isWarden)) await startWarden(ctx, t.id, t.answer, ports.auth[t.id]);
  if (p.targets.some((t) => t.answer.kind === 'nodeFloor')) await startNodeFloor(ports.auth.nodefloor);
  return { key, jwt, mcp };
}

/**
 * The MCP configuration's resource is the URL wrk loads it at (a loopback http url, as warden allows
 * for local use) up to the path the rule protects; its tokens come from the same issuer as warden JWT's.
 */
async function mcpClient(jwt: BenchIssuer, ports: Ports): Promise<McpClient> {
  const resource = `http://127.0.0.1:${ports.front.wardenmcp}/api`;
  return {
    resource,
    token: await jwt.mint({ aud: resource, scope: MCP_SCOPES.join(' '), jti: 'bench-mcp-token' }),
    unscoped: await jwt.mint({ aud: resource, jti: 'bench-mcp-unscoped' }),
  };
}

async function setUp(o: Options): Promise<Setup> {
  const { withRedis, redisNote } = redisAvailability(o);
  const p = plan({
    nodeFloor: o.nodeFloor,
    redis: withRedis,
    jwt: o.jwt,
    cache: o.cache,
    baseline: o.baselineCli !== null,
  });
  const tmp = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  configureSession({ tmp, keepTmp: o.keepTmp, pin: o.layout === 'split' });
  const ports = await allocatePorts();
  if (redisNote) process.stdout.write(`warden + Redis: ${redisNote}\n`);
  const { key, jwt, mcp } = await startServices(o, tmp, p, ports, withRedis);
  const recipe = await startNginx({ root: o.root, tmp, nginx: o.nginx }, p.targets, ports);
  const s: Setup = { tmp, plan: p, ports, key, jwt, mcp, recipe, withRedis, redisNote };
  await preflight({
    path: o.path,
    ports,
    targets: p.targets,
    configs: p.configs,
    headers: {
      apiKey: { 'X-API-Key': key },
      bearer: bearerHeaders(s.jwt?.token),
      mcpBearer: bearerHeaders(s.mcp?.token),
    },
    resource: s.mcp
      ? {
          url: s.mcp.resource,
          wrongAudience: bearerHeaders(s.jwt?.token),
          unscoped: bearerHeaders(s.mcp.unscoped),
        }
      : null,
    redisCli: o.redisCli,
  });
  return s;
}

function bearerHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Every configuration gets the API key; the JWT ones, and nginx's static answer they are compared with, the bearer token. */
function wrkHeader(s: Setup, c: Config): string {
  if (c.credential === 'apiKey') return `X-API-Key: ${s.key}`;
  const token = c.credential === 'mcpBearer' ? s.mcp?.token : s.jwt?.token;
  if (!token) throw new Error(`${c.label}: a bearer token without a JWT issuer`);
  return `Authorization: Bearer ${token}`;
}

function measureAll(o: Options, s: Setup): Promise<Measurement> {
  return measure({
    wrk: { bin: o.wrk, threads: o.threads, connections: o.connections, script: writeWrkScript(s.tmp) },
    duration: o.duration,
    rounds: o.rounds,
    warmup: o.warmup,
    configs: s.plan.configs,
    url: (c) => `http://127.0.0.1:${frontPort(s.ports, c.front)}${o.path}`,
    header: (c) => wrkHeader(s, c),
    redisCommands: s.withRedis
      ? () => redisInfo(o.redisCli, s.ports.redis, 'total_commands_processed')
      : null,
  });
}

/** Figures from after the rounds: Redis's and the decision cache's checks, the first-verification cost. */
interface After {
  redis: RedisCheck | null;
  cache: CacheCheck | null;
  firstVerify: Record<Alg, number> | null;
}

async function afterRounds(o: Options, s: Setup, m: Measurement): Promise<After> {
  const has = (id: string) => s.plan.configs.some((c) => c.id === id);
  const redis = has('wardenredis')
    ? await checkRedis(
        s.ports.auth.wardenredis,
        o.redisServer,
        m.rounds.wardenredis ?? [],
        m.redisCommands,
        m.problems,
      )
    : null;
  const cache = has('wardencache')
    ? checkCache(s.tmp, m.rounds.wardencache ?? [], o.warmup, m.problems)
    : null;
  let firstVerify = null;
  if (o.jwt) {
    process.stdout.write('first-time JWT verification cost per algorithm (in-process)…\n');
    firstVerify = await firstVerificationCost(o.wardenCli);
  }
  return { redis, cache, firstVerify };
}

interface Printed {
  conditions: string;
  firstVerify: string;
}

function printReport(
  o: Options,
  s: Setup,
  env: { git: GitState; machine: Machine },
  r: Report,
  a: After,
): Printed {
  const { git, machine: m } = env;
  const conditions = conditionLines({
    machine: m,
    threads: o.threads,
    connections: o.connections,
    duration: o.duration,
    rounds: o.rounds,
    warmup: o.warmup,
    path: o.path,
    pinned: o.layout === 'split',
    recipe: s.recipe,
    git,
    baseline: o.baselineCli ? { cli: o.baselineCli, git: buildGitState(o.baselineCli), jwt: o.jwt } : null,
    redisLine: a.redis?.line ?? `- warden + Redis: ${s.redisNote}`,
    cacheLine: a.cache?.line ?? null,
  });
  const firstVerify = a.firstVerify ? firstVerifyTable(a.firstVerify) : '';
  const paired = pairedTable(r);
  process.stdout.write(
    `\n${configTable(r, true)}\n\n${ratioTable(r)}\n\n${paired ? `${paired}\n\n` : ''}${firstVerify}\n\n${conditions}\n`,
  );
  return { conditions, firstVerify };
}

function resultsJson(o: Options, s: Setup, env: { git: GitState; machine: Machine }, r: Report, a: After) {
  const { git, machine: m } = env;
  return {
    schema: 1,
    date: m.date,
    recorded: o.record,
    layout: o.layout,
    git: { commit: git.commit, rev: git.rev, srcModified: git.srcModified },
    baseline: o.baselineCli ? { cli: o.baselineCli, git: buildGitState(o.baselineCli) } : null,
    knobs: knobs(o),
    machine: m,
    authSubrequest: s.recipe,
    configurations: r.configs.map((c) => ({ ...c, median: r.medians[c.id], rounds: r.rounds[c.id] })),
    roundOrder: Array.from({ length: o.rounds }, (_, i) => roundOrder(r.configs, i + 1).map((c) => c.id)),
    ratios: r.ratios,
    paired: r.paired,
    redis: a.redis ? { ...a.redis, line: undefined } : { note: s.redisNote },
    decisionCache: a.cache ? { decisions: a.cache.decisions, requests: a.cache.requests } : null,
    firstVerificationMicros: a.firstVerify,
  };
}

async function main(): Promise<void> {
  installHandlers();
  const o = options();
  checkTools(o);
  // The source state the build was made from (npm run bench builds just before): taken now, not after
  // the rounds, so that edits made while the benchmark runs are not attributed to the measured build.
  const git = gitState(o.root);
  const s = await setUp(o);
  const m = await measureAll(o, s);
  const a = await afterRounds(o, s, m);
  const r = analyse(s.plan.configs, m.rounds);
  const env = { git, machine: machine({ nginx: o.nginx, wrk: o.wrk }) };
  const printed = printReport(o, s, env, r, a);
  if (m.problems.length > 0)
    fail(`results invalid, nothing written or recorded:\n  ${m.problems.join('\n  ')}`);
  const results = resultsJson(o, s, env, r, a);
  const file = await writeResults(join(o.root, 'bench', 'results'), env.machine.date, results);
  process.stdout.write(`\nresults: ${relative(o.root, file)}\n`);
  if (!o.record) {
    process.stdout.write(`bench/README.md not updated (npm run bench -- --record to record a run)\n`);
    return;
  }
  const link = relative(join(o.root, 'bench'), file);
  const block = summaryBlock(o.layout, printed.conditions, link, r, printed.firstVerify);
  await recordInReadme(join(o.root, 'bench', 'README.md'), o.layout, block);
  process.stdout.write(`bench/README.md updated (${o.layout} layout)\n`);
}

if (SCALE) await runScale(process.argv.slice(2));
else if (process.argv.includes('--audit-verify')) await runAuditVerify();
else if (process.argv.includes('--audit-search')) await runAuditSearch(process.argv.slice(2));
else await main();
process.exit(0);
