// The conditions of a run: the source revision measured, the machine, tool versions.
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { run } from './proc.js';

export interface GitState {
  /** Short commit and "(src/ modified)" as printed, or "unknown". */
  rev: string;
  commit: string | null;
  srcModified: boolean;
}

/** The commit of the tree at `dir` and whether its src/ has uncommitted changes. */
export function gitState(dir: string): GitState {
  const git = (...args: string[]) => run('git', ['-C', dir, ...args]).trim();
  const short = git('rev-parse', '--short', 'HEAD');
  if (!/^[0-9a-f]{4,}$/.test(short)) return { rev: 'unknown', commit: null, srcModified: false };
  const commit = git('rev-parse', 'HEAD');
  const srcModified = git('status', '--porcelain', '--', 'src') !== '';
  return { rev: `${short}${srcModified ? ' (src/ modified)' : ''}`, commit, srcModified };
}

/** The git state of the tree a build (its cli.js) lives in, if it lives in one. */
export function buildGitState(cli: string): GitState {
  const top = run('git', ['-C', dirname(cli), 'rev-parse', '--show-toplevel']).trim();
  return top.startsWith('/') && !top.includes('\n') ? gitState(top) : gitState(dirname(cli));
}

export interface Machine {
  date: string;
  nproc: string;
  cpuModel: string;
  node: string;
  nginx: string;
  wrk: string;
}

function cpuModel(): string {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
}

export function machine(bins: { nginx: string; wrk: string }): Machine {
  const nginx = run(bins.nginx, ['-v'])
    .trim()
    .replace(/^nginx version:\s*(nginx\/)?/, '');
  const wrk = (run(bins.wrk, ['-v']).split('\n')[0] ?? '')
    .replace(/\s*\[.*$/, '')
    .replace(/^wrk\s*/, '')
    .trim();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: run('nproc', []).trim() || String(cpus().length),
    cpuModel: cpuModel(),
    node: process.version,
    nginx,
    wrk,
  };
}

export interface Conditions {
  machine: Machine;
  threads: number;
  connections: number;
  duration: number;
  rounds: number;
  warmup: number;
  path: string;
  pinned: boolean;
  recipe: string;
  git: GitState;
  baseline: { cli: string; git: GitState; jwt: boolean } | null;
  /** The warden + Redis line (its figures, or why it was left out), and the decision cache's, if measured. */
  redisLine: string;
  cacheLine: string | null;
}

/** The list printed under the tables and recorded above them. */
export function conditionLines(c: Conditions): string {
  const m = c.machine;
  const b = c.baseline;
  return [
    `- date: ${m.date}`,
    `- machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpuModel}`,
    `- node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}`,
    `- wrk -t${c.threads} -c${c.connections} -d${c.duration}s, ${c.rounds} rounds interleaved, ${c.warmup}s warm-up each, GET ${c.path} with X-API-Key (warden JWT: Authorization: Bearer, one ES256 token; warden MCP: one ES256 token with aud the resource url and its scopes); nginx 1 worker; warden audit to a file`,
    `- layout: ${c.pinned ? 'split: nginx and wrk pinned to CPU 0, the auth servers and Redis to CPU 1 (taskset)' : 'shared: no pinning, every process on any core'}`,
    `- auth subrequest: ${c.recipe}; warden at git ${c.git.rev}`,
    ...(b
      ? [
          `- baseline: ${b.cli}${b.git.commit ? ` (its tree at git ${b.git.rev})` : ''} as "warden (baseline)"${b.jwt ? ' and "warden JWT (baseline)"' : ''}, with the same settings as "warden"${b.jwt ? ' and "warden JWT"' : ''}`,
        ]
      : []),
    c.redisLine,
    ...(c.cacheLine ? [c.cacheLine] : []),
  ].join('\n');
}
