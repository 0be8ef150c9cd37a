// npm run bench -- --audit-search: the first page of an audit search over 1 000 000 lines in the redis sink's stream.
//
// A redis-server (CPU 1) gets 1 000 000 chained decision lines spread over the last 24 hours, written
// with the redis sink's own append (one Lua call per 1 000 lines, 4 in flight); then the search of the
// built warden (dist/) asks the first page (50 lines) of a few filters, in this process (CPU 0), each
// run several times, and the median is reported. See bench/README.md, "Audit search".
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildGitState } from './machine.js';
import { configureSession, fail, freePorts, installHandlers } from './proc.js';
import { recordAuditSearch, writeResults } from './results.js';
import { redisCli, startRedis } from './servers.js';
import { median } from './stats.js';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const LINES = Number(process.env.BENCH_AUDIT_LINES ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PAGE = 50;
const DAY = 24 * 3600_000;

/** What the bench uses of the built warden (imported from dist/ at run time). */
interface Stream {
  append(lines: { ms: number; line: string }[]): Promise<void>;
  length(): Promise<number>;
}
interface Page {
  lines: unknown[];
  scanned: number;
  partial: boolean;
  next: string | null;
}
interface Search {
  search(q: Record<string, unknown>, cursor: string | null, o: { limit: number }): Promise<Page>;
}
interface Built {
  stream: Stream;
  search: Search;
  seal(body: string): string;
  parse(qs: string): Record<string, unknown>;
  quit(): Promise<unknown>;
}

/** The modules of dist/ the bench loads, as far as it uses them. */
interface Client {
  once(event: 'ready', f: () => void): void;
  quit(): Promise<unknown>;
}
interface Modules {
  redis: { connectRedis(o: { url: string; commandTimeoutMs: number }): Client };
  audit: { redisAuditStream(c: Client, prefix: string, maxLen: number): Stream };
  source: { redisSource(s: Stream): unknown };
  search: { createAuditSearch(s: { redis: unknown }): Search };
  query: {
    parseAuditQuery(
      read: (n: string) => string | undefined,
    ): { query: Record<string, unknown> } | { problem: { field: string; message: string } };
  };
  chain: { AuditChain: new (replica: string) => { seal(body: string): string } };
}

const load = async <K extends keyof Modules>(path: string): Promise<Modules[K]> =>
  (await import(pathToFileURL(join(DIST, path)).href)) as Modules[K];

async function built(port: number): Promise<Built> {
  const redis = await load<'redis'>('store/redis.js');
  const audit = await load<'audit'>('store/redis-audit.js');
  const source = await load<'source'>('audit/search-source.js');
  const search = await load<'search'>('audit/search.js');
  const query = await load<'query'>('audit/search-query.js');
  const chain = await load<'chain'>('audit/chain.js');
  const client = redis.connectRedis({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 10_000 });
  await new Promise<void>((resolve) => client.once('ready', resolve));
  const stream = audit.redisAuditStream(client, 'bench:', LINES);
  const sealer = new chain.AuditChain('bench-1');
  return {
    stream,
    search: search.createAuditSearch({ redis: source.redisSource(stream) }),
    seal: (body) => sealer.seal(body),
    parse: (qs) => {
      const p = new URLSearchParams(qs);
      const r = query.parseAuditQuery((n) => p.get(n) ?? undefined);
      if ('problem' in r) fail(`bad filter ${qs}: ${r.problem.field}: ${r.problem.message}`);
      return r.query;
    },
    quit: () => client.quit(),
  };
}

const DECISIONS = [
  ['allow', 200, 'permitted'],
  ['unauthenticated', 401, 'invalid_credentials'],
  ['forbidden', 403, 'insufficient_permissions'],
  ['limited', 429, 'rate_limited'],
] as const;

/** The i-th line's fields: 200 agents, 80 % allow, two client networks, a rare agent every 5 000th line. */
function body(i: number, ms: number): string {
  const r = (i * 2654435761) >>> 0;
  const d = DECISIONS[r % 100 < 80 ? 0 : r % 100 < 90 ? 1 : r % 100 < 97 ? 2 : 3];
  const sub = i % 5000 === 17 ? 'agent-rare' : `agent-${(r >>> 8) % 200}`;
  const ip = (r >>> 16) % 2 === 0 ? `203.0.113.${r % 251}` : `198.51.100.${r % 241}`;
  const path = `${['/api/nodes/', '/api/users/', '/mcp/', '/health/'][(r >>> 4) % 4] ?? '/'}${r % 1000}`;
  return (
    `{"level":"info","time":"${new Date(ms).toISOString()}","schema":1,"event":"decision","reqId":"bench-${i}"` +
    `,"decision":"${d[0]}","reason":"${d[2]}","status":${d[1]},"dialect":"nginx","method":"GET","host":"app.example.com"` +
    `,"path":"${path}","clientIp":"${ip}","peer":"127.0.0.1","sub":"${sub}","authMethod":"api_key","keyId":"${sub}"` +
    `,"rule":${r % 7},"durationMs":${((r % 900) / 1000 + 0.05).toFixed(3)}`
  );
}

/** Write LINES lines, oldest first, spread over the 24 hours before `now`; returns the seconds it took. */
async function fill(b: Built, now: number): Promise<number> {
  const t0 = performance.now();
  const step = DAY / LINES;
  const batch = 1000;
  let next = 0;
  const worker = async () => {
    // Each batch is sent as soon as it is built, on one connection: Redis runs them in the order taken.
    while (next < LINES) {
      const from = next;
      next = Math.min(LINES, next + batch);
      const lines = [];
      for (let i = from; i < next; i++) {
        const ms = Math.round(now - DAY + i * step);
        lines.push({ ms, line: b.seal(body(i, ms)) });
      }
      await b.stream.append(lines);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return (performance.now() - t0) / 1000;
}

/** The filters timed: [label, query string]; `now` fills in relative times. */
const FILTERS = (now: number): [string, string][] => [
  ['no filter', ''],
  ['identity (0.5 % of lines)', 'identity=agent-7'],
  ['403s of one identity (~0.04 %)', 'identity=agent-7&status=403'],
  ['decision=forbidden (7 %)', 'decision=forbidden'],
  ['refused from a /24 (~0.5 %)', 'ip=198.51.100.0/24&decision=refused&path=/mcp'],
  ['identity, last hour', `identity=agent-7&from=${now - 3600_000}`],
  ['identity, 12 to 11 hours ago', `identity=agent-7&from=${now - 12 * 3600_000}&to=${now - 11 * 3600_000}`],
  ['rare identity (0.02 %)', 'identity=agent-rare'],
  ['matching nothing', 'identity=nobody'],
];

interface Row {
  filter: string;
  query: string;
  medianMs: number;
  msEachRun: number[];
  lines: number;
  scanned: number;
  partial: boolean;
}

async function time(b: Built, label: string, qs: string): Promise<Row> {
  const q = b.parse(qs);
  const ms: number[] = [];
  let page: Page | null = null;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    page = await b.search.search(q, null, { limit: PAGE });
    ms.push(Math.round((performance.now() - t0) * 10) / 10);
  }
  if (!page) fail('no round ran');
  return {
    filter: label,
    query: qs,
    medianMs: median(ms),
    msEachRun: ms,
    lines: page.lines.length,
    scanned: page.scanned,
    partial: page.partial,
  };
}

function table(rows: Row[]): string {
  const head = ['filter', 'first page ms (median)', 'lines', 'lines scanned', 'partial'];
  const body = rows.map((r) => [
    r.filter,
    r.medianMs.toFixed(1),
    r.lines,
    r.scanned,
    r.partial ? 'yes' : 'no',
  ]);
  return [
    `| ${head.join(' | ')} |`,
    '| --- | ---: | ---: | ---: | --- |',
    ...body.map((c) => `| ${c.join(' | ')} |`),
  ].join('\n');
}

/** Run the audit search bench; `--record` rewrites its table in bench/README.md. */
export async function runAuditSearch(argv: readonly string[]): Promise<void> {
  installHandlers();
  const tmp = mkdtempSync(join(tmpdir(), 'warden-bench-audit-'));
  configureSession({ tmp, keepTmp: process.env.BENCH_KEEP_TMP === '1', pin: true });
  const bins = {
    server: process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server',
    cli: process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli',
  };
  const { redis: port } = await freePorts(['redis'] as const);
  await startRedis(tmp, bins, port);
  const b = await built(port);
  const now = Date.now();
  process.stdout.write(`filling ${LINES} lines …\n`);
  const fillSeconds = await fill(b, now);
  const stored = await b.stream.length();
  const memory = /used_memory_human:(\S+)/.exec(redisCli(bins.cli, port, 'info', 'memory'))?.[1] ?? '?';
  process.stdout.write(`${stored} lines stored in ${fillSeconds.toFixed(1)} s; Redis uses ${memory}\n`);
  const rows: Row[] = [];
  for (const [label, qs] of FILTERS(now)) {
    rows.push(await time(b, label, qs));
    process.stdout.write(`${label}: ${rows.at(-1)?.medianMs} ms\n`);
  }
  await b.quit();
  // Other processes on the machine slow every figure: the load is recorded with them.
  const load = loadavg()[0]?.toFixed(1) ?? '?';
  const text = table(rows);
  process.stdout.write(`\n${text}\n`);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const file = await writeResults(join(ROOT, 'bench', 'results'), date, {
    kind: 'audit-search',
    date,
    git: buildGitState(join(DIST, 'cli.js')),
    lines: LINES,
    stored,
    fillSeconds,
    redisMemory: memory,
    loadAverage: load,
    rounds: ROUNDS,
    pageLimit: PAGE,
    rows,
  });
  process.stdout.write(`results: ${relative(ROOT, file)}\n`);
  if (!argv.includes('--record')) return;
  const link = relative(join(ROOT, 'bench'), file);
  await recordAuditSearch(
    join(ROOT, 'bench', 'README.md'),
    [
      `${stored} lines in the stream (${LINES} written in ${fillSeconds.toFixed(1)} s), Redis ${memory}; ` +
        `first page of ${PAGE} lines, median of ${ROUNDS} runs; load average ${load} at the end.`,
      '',
      text,
      '',
      `- every run: [${link}](${link})`,
    ].join('\n'),
  );
  process.stdout.write('bench/README.md updated (audit search)\n');
}
