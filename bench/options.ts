// What a run does: the BENCH_* environment knobs and the command-line options (which win over them).
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export type Layout = 'split' | 'shared';

export interface Options {
  root: string;
  nginx: string;
  wrk: string;
  redisServer: string;
  redisCli: string;
  /** Seconds per measured wrk run, rounds, seconds of unmeasured warm-up per configuration. */
  duration: number;
  rounds: number;
  warmup: number;
  threads: number;
  connections: number;
  path: string;
  keepTmp: boolean;
  /** The warden build measured, and whether it came from BENCH_WARDEN_CLI (not this tree's build). */
  wardenCli: string;
  wardenCliFromEnv: boolean;
  /** Another build's cli.js, measured as "warden (baseline)" alongside; null when not asked for. */
  baselineCli: string | null;
  wardenNodeArgs: string[];
  layout: Layout;
  redisWanted: boolean;
  jwt: boolean;
  cache: boolean;
  nodeFloor: boolean;
  /** Rewrite the summary in bench/README.md for this layout. */
  record: boolean;
}

export const USAGE = `usage: npm run bench -- [--rounds N] [--duration S] [--warmup S] [--baseline PATH/cli.js] [--record]
  --rounds N       measured rounds (BENCH_ROUNDS, default 5)
  --duration S     seconds per configuration and round (BENCH_DURATION, default 10)
  --warmup S       unmeasured warm-up seconds per configuration (BENCH_WARMUP, default 3; 0 for none)
  --baseline PATH  another build's dist/cli.js (BENCH_BASELINE_CLI): adds "warden (baseline)" and,
                   with JWT, "warden JWT (baseline)", with paired per-round ratios new/baseline
  --record         rewrite this layout's summary in bench/README.md (defaults or longer, this build only)
Environment: see bench/README.md (BENCH_LAYOUT, BENCH_REDIS, BENCH_JWT, BENCH_CACHE, BENCH_NODE_FLOOR, ...).
`;

/** Thrown for a knob or option that cannot be used; main prints it before anything has started. */
export class OptionError extends Error {}

function integer(name: string, raw: string | undefined, dflt: number, min: 0 | 1): number {
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new OptionError(
      `${name} must be a ${min === 1 ? 'positive' : 'non-negative'} integer, got "${raw}"`,
    );
  return n;
}

function layoutFrom(env: NodeJS.ProcessEnv): Layout {
  // split (default with 2+ CPUs and taskset): nginx and wrk on CPU 0, the auth servers and Redis on
  // CPU 1. shared: no pinning. See bench/README.md.
  const layout =
    env.BENCH_LAYOUT ?? (cpus().length >= 2 && existsSync('/usr/bin/taskset') ? 'split' : 'shared');
  if (layout !== 'split' && layout !== 'shared')
    throw new OptionError(`BENCH_LAYOUT must be split or shared, got "${layout}"`);
  return layout;
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        rounds: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        baseline: { type: 'string' },
        record: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new OptionError(`${(e as Error).message}\n${USAGE}`);
  }
}

/** The options of this run; throws OptionError on a bad value; null when --help was asked for. */
export function readOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options | null {
  const args = parseCommandLine(argv);
  if (args.help) return null;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const baseline = args.baseline ?? env.BENCH_BASELINE_CLI ?? '';
  return {
    root,
    nginx: env.NGINX_BIN ?? '/usr/sbin/nginx',
    wrk: env.WRK_BIN ?? '/usr/bin/wrk',
    redisServer: env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server',
    redisCli: env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli',
    duration: integer(
      args.duration !== undefined ? '--duration' : 'BENCH_DURATION',
      args.duration ?? env.BENCH_DURATION,
      10,
      1,
    ),
    rounds: integer(
      args.rounds !== undefined ? '--rounds' : 'BENCH_ROUNDS',
      args.rounds ?? env.BENCH_ROUNDS,
      5,
      1,
    ),
    warmup: integer(
      args.warmup !== undefined ? '--warmup' : 'BENCH_WARMUP',
      args.warmup ?? env.BENCH_WARMUP,
      3,
      0,
    ),
    threads: 1,
    connections: 32,
    path: '/api/nodes',
    keepTmp: env.BENCH_KEEP_TMP === '1',
    wardenCli: env.BENCH_WARDEN_CLI ?? join(root, 'dist', 'cli.js'),
    wardenCliFromEnv: Boolean(env.BENCH_WARDEN_CLI),
    baselineCli: baseline === '' ? null : resolve(baseline),
    wardenNodeArgs: (env.BENCH_WARDEN_NODE_ARGS ?? '').split(' ').filter(Boolean),
    layout: layoutFrom(env),
    redisWanted: env.BENCH_REDIS !== '0',
    jwt: env.BENCH_JWT !== '0',
    cache: env.BENCH_CACHE !== '0',
    nodeFloor: env.BENCH_NODE_FLOOR !== '0',
    record: args.record,
  };
}

/**
 * Why this run may not be recorded in bench/README.md (empty when it may): recorded figures are
 * this tree's build, unprofiled, with the defaults or longer, and the standard configurations only
 * (a baseline changes the interleaving order).
 */
export function notRecordable(o: Options): string[] {
  return [
    o.wardenCliFromEnv ? 'BENCH_WARDEN_CLI is set (not this build)' : null,
    o.wardenNodeArgs.length ? 'BENCH_WARDEN_NODE_ARGS is set (e.g. a profiler)' : null,
    o.duration < 10 ? `duration ${o.duration} < 10` : null,
    o.rounds < 3 ? `rounds ${o.rounds} < 3` : null,
    o.baselineCli !== null ? 'a baseline is measured (--baseline / BENCH_BASELINE_CLI)' : null,
  ].filter((x): x is string => x !== null);
}

/** The knobs as recorded in the results file. */
export function knobs(o: Options): Record<string, unknown> {
  return {
    duration: o.duration,
    rounds: o.rounds,
    warmup: o.warmup,
    threads: o.threads,
    connections: o.connections,
    path: o.path,
    layout: o.layout,
    redis: o.redisWanted,
    jwt: o.jwt,
    cache: o.cache,
    nodeFloor: o.nodeFloor,
    keepTmp: o.keepTmp,
    wardenCli: o.wardenCli,
    wardenCliFromEnv: o.wardenCliFromEnv,
    baselineCli: o.baselineCli,
    wardenNodeArgs: o.wardenNodeArgs,
    nginx: o.nginx,
    wrk: o.wrk,
    redisServer: o.redisServer,
    redisCli: o.redisCli,
    record: o.record,
  };
}
