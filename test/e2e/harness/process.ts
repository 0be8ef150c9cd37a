// A child process for e2e tests (nginx, caddy): output captured, exit noticed, stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** A started child process. */
export interface Child {
  proc: ChildProcess;
  /** stdout and stderr so far (bounded). */
  output: () => string;
  /** Non-null once the process has exited. A plain function: handed around as a callback. */
  exited: () => string | null;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const MAX_OUTPUT = 64 * 1024;

/** Spawn `cmd args` with the given env and cwd. */
export function startChild(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  const proc = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exit: string | null = null;
  const take = (b: Buffer) => {
    if (out.length < MAX_OUTPUT) out += b.toString('utf8');
  };
  proc.stdout.on('data', take);
  proc.stderr.on('data', take);
  proc.on('error', (e) => (exit = `failed to start ${cmd}: ${e.message}`));
  // If the test process dies first, take this child with it (by its own pid).
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.on('exit', (code, signal) => {
    exit = `${cmd} exited (code ${code}, signal ${signal})\n${out}`;
    process.off('exit', reap);
  });
  return {
    proc,
    output: () => out,
    exited: () => exit,
    async stop(graceMs = 3000) {
      if (exit !== null || proc.pid === undefined) return;
      const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Absolute path of an executable: first on PATH, then the given fallbacks; null if none. */
export function findBinary(name: string, fallbacks: string[] = []): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((d) => join(d, name)), ...fallbacks]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Register a suite that needs system software: skipped with a visible message when `missing`
 * says what is absent, failing instead when CI=true (where .ci/run installs it).
 */
export function describeNeeding(name: string, missing: string | null, fn: () => void): void {
  if (missing === null) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () =>
      it('has what it needs installed (required when CI=true)', () => expect.fail(missing)),
    );
    return;
  }
  console.warn(`SKIPPED ${name}: ${missing}`);
  describe.skip(name, fn);
}
