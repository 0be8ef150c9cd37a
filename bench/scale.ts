// npm run bench -- --scale: how warden's cost grows with the size of what it holds. Each case is a
// warden (pinned to CPU 1) loaded with a policy, keys or clients of one size; wrk (CPU 0) asks its
// /verify/nginx straight; each case is paired with a fresh 20-rule warden started with it, run in turn.
// Start time (spawn to /readyz) and resident memory (after start, and the peak after the load) are
// read per case. See bench/README.md, "Scale".
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildGitState, machine } from './machine.js';
import {
  configureSession,
  fail,
  freePorts,
  installHandlers,
  onCpu,
  sleep,
  spawnOn,
  stopChild,
} from './proc.js';
import { recordScale, writeResults } from './results.js';
import { startRedis } from './servers.js';
import { median } from './stats.js';
import { wrk, writeWrkScript, type WrkResult } from './wrk.js';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const ROLES = { admin: ['*'], developer: ['api:*', 'nodes:*'], viewer: ['nodes:read'] };

/** One size of one dimension: what the warden is given, and the request wrk repeats. */
interface Case {
  id: string;
  label: string;
  policy: unknown;
  /** Keys file entries written as block YAML, as a generator would. */
  keys: number;
  /** The request: host, path, and which key (index) it carries. */
  host: string;
  path: string;
  key: number;
  /** wrk gives each request a client IP of its own among this many (1: one client). */
  clients: number;
  /** Key revocations in force (of other keys), in the state directory's revocation set. */
  revocations: number;
  /** Keys stored in Redis (WARDEN_KEYS_STORE=redis), written with a pipeline; null: no Redis at all. */
  redisKeys: number | null;
}

const keyOf = (i: number) => `wdn_bench_customer_${i}_${'k'.repeat(20)}`;

/** 19 rules that do not match the request, then the one that does (the ordinary policy). */
function ordinaryRules(): unknown[] {
  const misses = Array.from({ length: 19 }, (_, i) => ({
    match: { path: `/service${i}/**`, methods: ['GET', 'POST'] },
    require: ['nodes:read'],
  }));
  return [...misses, { match: { path: '/api/**' }, require: ['api:read'], rateLimit: 'perIp' }];
}

/** One rule per tenant host; the request is for the last tenant (a walk would try every rule first). */
function tenantRules(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    match: { host: `tenant${i}.example.com`, path: '/**' },
    require: ['api:read'],
    rateLimit: 'perIp',
  }));
}

/** Half path-keyed (`/svcN/**`), half `**`-led (`/**‍/xN`), then the matching rule last. */
function mixedRules(n: number): unknown[] {
  const rules: unknown[] = Array.from({ length: n - 1 }, (_, i) =>
    i % 2 === 0
      ? { match: { path: `/svc${i}/**` }, require: ['nodes:write'] }
      : { match: { path: `/**/x${i}` }, require: ['nodes:write'] },
  );
  return [...rules, { match: { path: '/api/**' }, require: ['api:read'], rateLimit: 'perIp' }];
}

const policyOf = (rules: unknown[]) => ({
  roles: ROLES,
  // Generous: the bench measures the lookup, never a 429; distinct clients each get their own window.
  rateLimits: { perIp: { limit: 1_000_000_000, window: '60s', by: 'ip' } },
  rules,
  default: 'deny',
});

function cases(): Case[] {
  const base = {
    keys: 6,
    host: 'api.example.com',
    path: '/api/nodes',
    key: 5,
    clients: 1,
    revocations: 0,
    redisKeys: null,
  };
  return [
    { ...base, id: 'rules20', label: '20 rules, 6 keys', policy: policyOf(ordinaryRules()) },
    // A control: the same warden as the first, another process. How far it strays from 1.000 is
    // what this machine's process-to-process noise is worth in every other row.
    {
      ...base,
      id: 'rules20b',
      label: '20 rules, 6 keys (control: a second process)',
      policy: policyOf(ordinaryRules()),
    },
    {
      ...base,
      id: 'tenants1k',
      label: '1 000 tenant-host rules',
      policy: policyOf(tenantRules(1000)),
      host: 'tenant999.example.com',
    },
    {
      ...base,
      id: 'tenants10k',
      label: '10 000 tenant-host rules',
      policy: policyOf(tenantRules(10_000)),
      host: 'tenant9999.example.com',
    },
    { ...base, id: 'mixed10k', label: '10 000 mixed rules', policy: policyOf(mixedRules(10_000)) },
    {
      ...base,
      id: 'keys100k',
      label: '100 000 keys (file)',
      policy: policyOf(ordinaryRules()),
      keys: 100_000,
      key: 99_999,
    },
    {
      ...base,
      id: 'revoked100k',
      label: '100 000 revocations',
      policy: policyOf(ordinaryRules()),
      revocations: 100_000,
    },
    {
      ...base,
      id: 'redisfile',
      label: 'with Redis: a file key (6 keys)',
      policy: policyOf(ordinaryRules()),
      redisKeys: 0,
    },
    {
      ...base,
      id: 'redis1m',
      label: 'with Redis: 1 000 000 keys in Redis',
      policy: policyOf(ordinaryRules()),
      redisKeys: 1_000_000,
      key: 1_000_000 - 1,
    },
    {
      ...base,
      id: 'clients1m',
      label: '1 000 000 client IPs, per-IP limit',
      policy: policyOf(ordinaryRules()),
      clients: 1_000_000,
    },
  ];
}

function keysYaml(n: number): string {
  const lines = ['keys:'];
  for (let i = 0; i < n; i++)
    lines.push(
      `  - id: customer-${i}`,
      `    sha256: ${createHash('sha256').update(keyOf(i)).digest('hex')}`,
      '    roles: [developer]',
    );
  return lines.join('\n') + '\n';
}

/**
 * The done hook of wrk.ts, and a request function that gives each request the next of `clients`
 * client IPs. The request is formatted once with a placeholder address and then only the address
 * changes: wrk.format on every request cost wrk (one core) more than the warden, which sat idle.
 */
function clientsScript(dir: string, clients: number, doneScript: string): string {
  const path = join(dir, `clients-${clients}.lua`);
  writeFileSync(
    path,
    `${readFileSync(doneScript, 'utf8')}
local n = 0
local head, tail
request = function()
  if head == nil then
    wrk.headers["X-Real-IP"] = "@IP@"
    local r = wrk.format(nil)
    local i, j = r:find("@IP@", 1, true)
    head, tail = r:sub(1, i - 1), r:sub(j + 1)
  end
  n = (n + 1) % ${clients}
  return head .. string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) .. tail
end
`,
  );
  return path;
}

interface Started {
  c: Case;
  port: number;
  pid: number;
  child: ChildProcess;
  startMs: number;
  rssStartMb: number;
  /** `warden check` of the case's policy and keys, timed alone before the rounds (ms). */
  checkMs: number;
}

/** A run, with the warden's CPU time per request over it (µs, user + system, from /proc). */
type Run = WrkResult & { cpuUs: number };

/** What the rule-match timing uses of the built warden (dist/, imported at run time). */
interface PolicyModules {
  compilePolicy(p: unknown): unknown;
  matchRule(policy: unknown, method: string, host: string, path: string): unknown;
  parse(p: unknown): unknown;
}

async function policyModules(): Promise<PolicyModules> {
  const load = async (path: string) =>
    (await import(pathToFileURL(join(ROOT, 'dist', path)).href)) as Record<string, unknown>;
  const compile = await load('policy/compile.js');
  const decide = await load('policy/decide.js');
  const schema = (await load('config/policy-schema.js')).policySchema as { parse(p: unknown): unknown };
  return {
    compilePolicy: compile.compilePolicy as PolicyModules['compilePolicy'],
    matchRule: decide.matchRule as PolicyModules['matchRule'],
    parse: (p) => schema.parse(p),
  };
}

/**
 * The rule lookup alone, in this process: ns per `matchRule` of the case's request (median of 7
 * runs of 100 000). What the policy's size costs per request, apart from any process's noise.
 */
function ruleMatchNs(m: PolicyModules, c: Case): number {
  const policy = m.compilePolicy(m.parse(c.policy));
  const n = 100_000;
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      if (!m.matchRule(policy, 'GET', c.host, c.path)) fail(`${c.id}: no rule matches the request`);
    runs.push(Number(process.hrtime.bigint() - t) / n);
  }
  return Math.round(median(runs));
}

/** Seconds of unmeasured load right before each measured run. */
const WARM_S = 3;

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_S = 100;

function cpuTicks(pid: number): number {
  // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function memMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** How long `warden check` takes on a case's policy and keys files (ms), on CPU 1 like the wardens. */
function timeCheck(tmp: string, c: Case): number {
  const dir = join(tmp, c.id);
  const started = performance.now();
  const [cmd, args] = onCpu(1, process.execPath, [CLI, 'check']);
  const r = spawnSync(cmd, args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      WARDEN_POLICY: join(dir, 'policy.json'),
      WARDEN_API_KEYS: join(dir, 'keys.yaml'),
      WARDEN_STATE_DIR: join(dir, 'state'),
    },
  });
  const ms = Math.round(performance.now() - started);
  if (r.status !== 0 && r.status !== 1) fail(`${c.id}: warden check exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** The redis-server the Redis cases share (each under its own key prefix), and redis-cli. */
interface RedisServer {
  port: number;
  cli: string;
}

/**
 * Store `n` keys the way `POST /admin/keys` does (src/store/redis-keys.ts: an entry per id, a
 * lookup record per hash, the id index), through `redis-cli --pipe`. The 6 keys of the keys file
 * use other ids (`customer-N` there, `stored-N` here).
 */
function fillStoredKeys(dir: string, redis: RedisServer, prefix: string, n: number): void {
  const file = join(dir, 'stored-keys.resp');
  const fd = openSync(file, 'w');
  const resp = (...args: string[]) =>
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  const base = `${prefix}{keys}:`;
  let chunk = '';
  for (let i = 0; i < n; i++) {
    const entry = { id: `stored-${i}`, roles: ['developer'], createdAt: 1_767_225_600_000 };
    const sha = createHash('sha256').update(keyOf(i)).digest('hex');
    chunk +=
      resp('SET', `${base}entry:${entry.id}`, JSON.stringify({ entry, sha256: sha, previous: [] })) +
      resp('SET', `${base}hash:${sha}`, JSON.stringify({ entry, version: 'current' })) +
      resp('ZADD', `${base}index`, '0', entry.id);
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  const r = spawnSync('sh', ['-c', `${redis.cli} -p ${redis.port} --pipe < ${file}`], { encoding: 'utf8' });
  if (r.status !== 0 || !/errors: 0/.test(r.stdout)) fail(`redis-cli --pipe: ${r.stdout}${r.stderr}`);
}

let redis: RedisServer | null = null;

async function startCase(tmp: string, c: Case, port: number): Promise<Started> {
  const dir = join(tmp, c.id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(c.policy));
  writeFileSync(join(dir, 'keys.yaml'), keysYaml(c.keys));
  // The revocation set as `warden keys revoke` keeps it without Redis (<state dir>/revocations.json).
  mkdirSync(join(dir, 'state'), { recursive: true });
  const revoked = Array.from({ length: c.revocations }, (_, i) => ({
    id: `key:gone-${i}`,
    createdAt: Date.now(),
  }));
  writeFileSync(join(dir, 'state', 'revocations.json'), JSON.stringify({ entries: revoked }));
  // As the main bench's wardens (servers.ts): nothing inherited but PATH; audit lines to a file.
  const env = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: String(port),
    WARDEN_POLICY: join(dir, 'policy.json'),
    WARDEN_API_KEYS: join(dir, 'keys.yaml'),
    WARDEN_PROXY: 'nginx',
    WARDEN_TRUSTED_PROXIES: '127.0.0.0/8,::1',
    WARDEN_STATE_DIR: join(dir, 'state'),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...(c.redisKeys !== null && redis
      ? { REDIS_URL: `redis://127.0.0.1:${redis.port}`, WARDEN_REDIS_PREFIX: `${c.id}:` }
      : {}),
    ...(c.redisKeys ? { WARDEN_KEYS_STORE: 'redis' } : {}),
  };
  if (c.redisKeys && redis) fillStoredKeys(dir, redis, `${c.id}:`, c.redisKeys);
  const started = performance.now();
  const stdio: StdioOptions = [
    'ignore',
    openSync(join(dir, 'audit.jsonl'), 'w'),
    openSync(join(dir, 'stderr.log'), 'w'),
  ];
  const child = spawnOn(1, process.execPath, [CLI, 'serve'], { cwd: dir, env, stdio }, `warden ${c.id}`);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 1200) fail(`warden ${c.id} not ready after 60 s (see ${join(dir, 'stderr.log')})`);
    await sleep(20);
  }
  const startMs = Math.round(performance.now() - started);
  const pid = child.pid ?? fail(`warden ${c.id}: no pid`);
  return { c, port, pid, child, startMs, rssStartMb: memMb(pid, 'VmRSS'), checkMs: NaN };
}

/** One request as nginx's auth_request sends it, checked before anything is measured. */
function headersOf(c: Case): Record<string, string> {
  return {
    'X-Original-Method': 'GET',
    'X-Original-URI': c.path,
    'X-Forwarded-Proto': 'https',
    Host: c.host,
    'X-Real-IP': '203.0.113.7',
    'X-API-Key': keyOf(c.key),
  };
}

async function preflight(s: Started): Promise<void> {
  // node:http, not fetch: the request names its own Host, as nginx's auth subrequest does.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: s.port, path: '/verify/nginx', headers: headersOf(s.c) },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
  if (status !== 200) fail(`${s.c.id}: pre-flight answered ${status}`);
}

export async function runScale(argv: readonly string[]): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 6);
  const seconds = Number(process.env.BENCH_DURATION ?? 10);
  const record = argv.includes('--record');
  if (record && (rounds < 4 || rounds % 2 !== 0 || seconds < 6))
    fail('--record needs an even number of rounds, at least 4, of 6 s or more');
  const tmp = mkdtempSync(join(tmpdir(), 'warden-bench-scale-'));
  configureSession({ tmp, keepTmp: process.env.BENCH_KEEP_TMP === '1', pin: true });
  installHandlers();
  // BENCH_CASES=tenants10k,keys100k,…: only these (each is paired with a 20-rule warden of its own).
  const only = process.env.BENCH_CASES?.split(',');
  const all = cases();
  const reference = all[0] ?? fail('no 20-rule case');
  const measured = all.slice(1).filter((c) => !only || only.includes(c.id));
  if (record && only) fail('--record needs every case (unset BENCH_CASES)');
  const cli = process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli';
  const redisPort = (await freePorts(['redis'])).redis;
  await startRedis(tmp, { server: process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server', cli }, redisPort);
  redis = { port: redisPort, cli };
  const modules = await policyModules();
  const bench: Bench = {
    tmp,
    seconds,
    scriptOf: luaScripts(tmp),
    refRuns: [],
    refMatchNs: ruleMatchNs(modules, reference),
  };
  const rows: Row[] = [];
  for (const c of measured) {
    const pair = await measurePair(bench, reference, c, rounds, ruleMatchNs(modules, c));
    if (rows.length === 0) rows.push(pair.ref);
    rows.push(pair.row);
    process.stdout.write(`${c.id}: ${pair.row.ratio.toFixed(3)} (${pair.row.pairedRatios.join(' ')})\n`);
  }
  const first = rows[0];
  if (first) first.rps = Math.round(median(bench.refRuns.map((x) => x.rps)));
  await report(rows, { rounds, seconds, record });
}

/** What every pair of a run shares: where files go, the run length, the wrk scripts, the references' runs. */
interface Bench {
  tmp: string;
  seconds: number;
  scriptOf: (c: Case) => string;
  /** Every measured run of every case's 20-rule reference (for the first row's req/s). */
  refRuns: Run[];
  /** The 20-rule policy's rule lookup (ns). */
  refMatchNs: number;
}

interface Row {
  id: string;
  label: string;
  rps: number;
  ratio: number;
  cpuUsPerRequest: number;
  cpuRatio: number;
  pairedRatios: number[];
  ruleMatchNs: number;
  p99ms: number;
  startMs: number;
  checkMs: number;
  rssStartMb: number;
  rssPeakMb: number;
  rounds: number[];
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * One case against a 20-rule warden started with it: both fresh, both alive only for this case, so
 * neither has run, idled or been started more than the other. Each round runs both once, the
 * reference first in even rounds and the case first in odd ones, and the round's ratio is the
 * case's to the reference's. An earlier design kept one 20-rule warden for the whole bench and ran it
 * around every case: it was loaded twice as often as any other, and a second 20-rule process came
 * out 6–10 % behind it (bench/results/20261203T103449Z.json: control 0.940).
 */
async function measurePair(
  b: Bench,
  reference: Case,
  c: Case,
  rounds: number,
  matchNs: number,
): Promise<{ ref: Row; row: Row }> {
  const ports = await freePorts(['ref', 'case']);
  const ref = await startCase(b.tmp, { ...reference, id: `${reference.id}-for-${c.id}` }, ports.ref);
  const cas = await startCase(b.tmp, c, ports.case);
  for (const s of [ref, cas]) await preflight(s);
  cas.checkMs = timeCheck(b.tmp, cas.c);
  // Every partner holds the same files: the first pair's check stands for them all.
  if (b.refRuns.length === 0) ref.checkMs = timeCheck(b.tmp, ref.c);
  const refRuns: Run[] = [];
  const caseRuns: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [ref, cas] : [cas, ref];
    for (const s of order) (s === ref ? refRuns : caseRuns).push(await measure(b, s));
  }
  b.refRuns.push(...refRuns);
  const rowOf = (s: Started, own: Run[], paired: number[], cpu: number[], ns: number): Row => ({
    id: s.c.id,
    label: s.c.label,
    rps: Math.round(median(own.map((x) => x.rps))),
    ratio: paired.length ? round3(median(paired)) : 1,
    cpuUsPerRequest: Math.round(median(own.map((x) => x.cpuUs)) * 10) / 10,
    cpuRatio: cpu.length ? round3(median(cpu)) : 1,
    pairedRatios: paired.map(round3),
    ruleMatchNs: ns,
    p99ms: median(own.map((x) => x.p99ms)),
    startMs: s.startMs,
    checkMs: s.checkMs,
    rssStartMb: s.rssStartMb,
    rssPeakMb: memMb(s.pid, 'VmHWM'),
    rounds: own.map((x) => Math.round(x.rps)),
  });
  const paired = caseRuns.map((x, i) => x.rps / (refRuns[i]?.rps ?? NaN));
  const cpu = caseRuns.map((x, i) => (refRuns[i]?.cpuUs ?? NaN) / x.cpuUs);
  const rows = {
    ref: { ...rowOf(ref, refRuns, [], [], b.refMatchNs), id: reference.id, label: reference.label },
    row: rowOf(cas, caseRuns, paired, cpu, matchNs),
  };
  await Promise.all([stopChild(ref.child), stopChild(cas.child)]);
  return rows;
}

/** One measured run of `s`, after WARM_S of unmeasured load, with the warden's CPU time per request. */
async function measure(b: Bench, s: Started): Promise<Run> {
  const settings = {
    bin: process.env.WRK_BIN ?? 'wrk',
    threads: 1,
    connections: 32,
    script: b.scriptOf(s.c),
  };
  // Unmeasured load first: the pair's other warden ran in between, and took the caches.
  await wrk(settings, urlOf(s), WARM_S, headerLine(s.c));
  const cpu = cpuTicks(s.pid);
  const res = await wrk(settings, urlOf(s), b.seconds, headerLine(s.c));
  if (res.non2xx > 0 || res.socketErrors > 0)
    fail(`${s.c.id}: ${res.non2xx} non-2xx answers, ${res.socketErrors} socket errors`);
  return { ...res, cpuUs: ((cpuTicks(s.pid) - cpu) * 1e6) / TICKS_PER_S / res.requests };
}

/** Print the table, write the results file, and with --record put the table in bench/README.md. */
async function report(rows: Row[], run: { rounds: number; seconds: number; record: boolean }): Promise<void> {
  const table = [
    '| case | req/s (median) | ratio to 20 rules | CPU µs/request | CPU ratio | rule match ns | p99 ms | start ms | RSS after start MB | peak RSS MB | check ms |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (x) =>
        `| ${x.label} | ${x.rps} | ${x.ratio.toFixed(3)} | ${x.cpuUsPerRequest} | ${x.cpuRatio.toFixed(3)} | ${x.ruleMatchNs} | ${x.p99ms.toFixed(2)} | ${x.startMs} | ${x.rssStartMb} | ${x.rssPeakMb} | ${x.checkMs} |`,
    ),
  ].join('\n');
  const stored = rows.find((x) => x.id === 'redis1m');
  const fileKey = rows.find((x) => x.id === 'redisfile');
  // Both are paired with a 20-rule warden; their ratio of paired ratios compares them in the same way.
  const storedRatio = stored && fileKey ? round3(stored.ratio / fileKey.ratio) : null;
  const summary =
    storedRatio === null
      ? table
      : `${table}\n\nA key among 1 000 000 stored in Redis / a file key, both with Redis: **${storedRatio.toFixed(3)}** (target ≥ 0.9).`;
  process.stdout.write(`\n${summary}\n`);
  const iso = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const bin = process.env.WRK_BIN ?? 'wrk';
  const file = await writeResults(join(ROOT, 'bench', 'results'), iso, {
    kind: 'scale',
    date: iso,
    git: buildGitState(CLI),
    machine: machine({ nginx: 'nginx', wrk: bin }),
    rounds: run.rounds,
    seconds: run.seconds,
    design: 'pairs: each case against a fresh 20-rule warden, alternating which runs first',
    rows,
    storedKeyRatio: storedRatio,
  });
  process.stdout.write(`results: ${relative(ROOT, file)}\n`);
  if (run.record) {
    const link = relative(join(ROOT, 'bench'), file);
    await recordScale(join(ROOT, 'bench', 'README.md'), `${summary}\n\n- every round: [${link}](${link})`);
  }
}

const urlOf = (s: Started) => `http://127.0.0.1:${s.port}/verify/nginx`;

/** wrk's -H takes one header; the others go in the Lua script's wrk.headers. */
function headerLine(c: Case): string {
  return `X-API-Key: ${keyOf(c.key)}`;
}

/** Each case's wrk script (the summary hook, the request's headers, the client IPs), written once into `tmp`. */
const luaScripts = (tmp: string) => {
  const scripts = new Map<string, string>();
  return (c: Case): string => {
    const found = scripts.get(c.id);
    if (found) return found;
    const dir = join(tmp, 'lua', c.id);
    mkdirSync(dir, { recursive: true });
    return write(c, dir, scripts);
  };
};

function write(c: Case, dir: string, scripts: Map<string, string>): string {
  const done = writeWrkScript(dir);
  const headers = Object.entries(headersOf(c))
    .filter(([k]) => k !== 'X-API-Key')
    .map(([k, v]) => `wrk.headers["${k}"] = "${v}"`)
    .join('\n');
  const base = join(dir, 'headers.lua');
  writeFileSync(base, `${readFileSync(done, 'utf8')}\n${headers}\n`);
  const path = c.clients > 1 ? clientsScript(dir, c.clients, base) : base;
  scripts.set(c.id, path);
  return path;
}
