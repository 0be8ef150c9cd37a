// Real redis-server processes for tests: one per suite on an ephemeral port, plus Sentinel and Cluster sets.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { describeNeeding, findBinary, startChild, type Child } from '../e2e/harness/process.js';
import { freePort, sleep, waitForPort } from '../e2e/harness/net.js';
import { makeDir, removeDir } from './tmp.js';

const run = promisify(execFile);

/** Paths of the Redis binaries, null when not installed. */
export const REDIS_SERVER = findBinary('redis-server', ['/usr/bin/redis-server']);
export const REDIS_CLI = findBinary('redis-cli', ['/usr/bin/redis-cli']);

/** A running redis-server. */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  child: Child;
  /** Stop it (SIGKILL when `hard`), then remove its dir. */
  stop(hard?: boolean): Promise<void>;
  /** Start it again on the same port with the same arguments, in its dir made afresh (it persists nothing). */
  restart(): Promise<void>;
  /** Run redis-cli against it. */
  cli(...args: string[]): Promise<string>;
}

/** Start redis-server with `--save "" --appendonly no` on a free port (or the given one). */
export async function startRedis(extra: string[] = [], port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const dir = makeDir('warden-redis-');
  const args = [
    '--port',
    String(p),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extra,
  ];
  const boot = async () => {
    const child = startChild(REDIS_SERVER!, args);
    try {
      await waitForPort(p, { failed: child.exited });
    } catch (e) {
      await child.stop();
      throw e;
    }
    return child;
  };
  let first: Child;
  try {
    first = await boot();
  } catch (e) {
    removeDir(dir);
    throw e;
  }
  const server: RedisServer = {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    dir,
    child: first,
    async stop(hard = false) {
      if (hard) {
        const done = new Promise<void>((r) =>
          server.child.exited() ? r() : server.child.proc.once('exit', () => r()),
        );
        server.child.proc.kill('SIGKILL');
        await done;
      } else await server.child.stop();
      removeDir(dir);
    },
    async restart() {
      mkdirSync(dir, { recursive: true });
      server.child = await boot();
    },
    async cli(...a: string[]) {
      const { stdout } = await run(REDIS_CLI!, ['-p', String(p), ...a]);
      return stdout.trim();
    },
  };
  return server;
}

/**
 * A suite that needs redis-server: skipped with a visible message when the binary is missing,
 * failing instead when CI=true.
 */
export function redisDescribe(name: string, fn: () => void): void {
  const installed = REDIS_SERVER !== null && REDIS_CLI !== null;
  describeNeeding(
    name,
    installed
      ? null
      : 'redis-server/redis-cli are not installed: the Redis tests cannot run (apt-get install redis-server)',
    fn,
  );
}

/** Poll until `check` holds or `ms` pass; returns the time it took. */
export async function within(ms: number, check: () => boolean | Promise<boolean>, step = 5): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await sleep(step);
  }
  throw new Error(`condition not met within ${ms} ms`);
}
