// Child processes of the benchmark, the temporary directory, failing cleanly, and small helpers.
import {
  spawn,
  spawnSync,
  type ChildProcess,
  type SpawnOptions,
  type SpawnSyncReturns,
} from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/** CPU 0 runs nginx and wrk, CPU 1 the auth servers and Redis (in the split layout only). */
export type Cpu = 0 | 1;

const children = new Set<ChildProcess>();
const state = { tmp: null as string | null, keepTmp: false, cleaned: false, pin: false };

/** Set once at start: the temporary directory, whether to keep it, whether to pin processes to CPUs. */
export function configureSession(opts: { tmp: string; keepTmp: boolean; pin: boolean }): void {
  state.tmp = opts.tmp;
  state.keepTmp = opts.keepTmp;
  state.pin = opts.pin;
}

/** The command and arguments, run under `taskset -c cpu` in the split layout. */
export function onCpu(cpu: Cpu, cmd: string, args: readonly string[]): [string, string[]] {
  return state.pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, [...args]];
}

/** Spawn `cmd args` on `cpu` and track it (see track). */
export function spawnOn(cpu: Cpu, cmd: string, args: readonly string[], opts: SpawnOptions, name: string) {
  const [c, a] = onCpu(cpu, cmd, args);
  return track(spawn(c, a, opts), name);
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

function killQuietly(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Stop every child (SIGTERM, then SIGKILL after 3 s) and remove the temporary directory unless kept. */
export function cleanup(): void {
  if (state.cleaned) return;
  state.cleaned = true;
  for (const child of children) if (running(child)) killQuietly(child, 'SIGTERM');
  // nginx's master stops its worker on SIGTERM; give both a moment, then make sure.
  const deadline = Date.now() + 3000;
  for (const child of children) {
    while (running(child) && Date.now() < deadline && isAlive(child.pid)) sleepSync(50);
    if (isAlive(child.pid)) killQuietly(child, 'SIGKILL');
  }
  if (state.tmp && !state.keepTmp) rmSync(state.tmp, { recursive: true, force: true });
}

/** Print the message, keep the temporary directory for the post-mortem, stop everything, exit 1. */
export function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  if (state.tmp && !state.cleaned) {
    state.keepTmp = true; // logs and configs for the post-mortem
    process.stderr.write(
      `bench: kept ${state.tmp} (nginx/error.log, <warden>/stderr.log and audit.jsonl, redis/redis.log)\n`,
    );
  }
  cleanup();
  process.exit(1);
}

const stack = (e: unknown): string => (e instanceof Error ? (e.stack ?? e.message) : String(e));

/** Clean up on exit, on signals and on anything thrown. */
export function installHandlers(): void {
  process.on('exit', cleanup);
  const codes = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  for (const sig of Object.keys(codes) as (keyof typeof codes)[]) {
    process.on(sig, () => {
      process.stderr.write(`bench: ${sig}, stopping children\n`);
      cleanup();
      process.exit(128 + codes[sig]);
    });
  }
  process.on('uncaughtException', (e) => fail(stack(e)));
  process.on('unhandledRejection', (e) => fail(stack(e)));
}

/** Remember a child for cleanup; any child but wrk exiting before cleanup or stopChild fails the run. */
export function track(child: ChildProcess, name: string): ChildProcess {
  children.add(child);
  child.on('exit', (code, signal) => {
    if (!state.cleaned && name !== 'wrk' && children.has(child))
      fail(`${name} exited unexpectedly (code ${code}, signal ${signal})`);
  });
  return child;
}

/** Forget a child that has exited as expected (wrk). */
export function untrack(child: ChildProcess): void {
  children.delete(child);
}

/** Stop a tracked child that is done with (SIGTERM, SIGKILL after 3 s) and wait for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  untrack(child);
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killQuietly(child, 'SIGTERM');
  const timer = setTimeout(() => killQuietly(child, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Run a command to completion; its stdout, stderr and any spawn error, concatenated. */
export function run(cmd: string, args: readonly string[]): string {
  // stdout and stderr are typed as strings, but are null when the command could not be spawned at all
  // (ENOENT): r.error says why.
  const r: SpawnSyncReturns<string | null> = spawnSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `url` until it answers 2xx; fail the run after `timeoutMs`. */
export async function waitFor(url: string, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      last = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  fail(`${what} not answering at ${url} after ${timeoutMs} ms (${last})`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** One distinct free port on 127.0.0.1 per name. */
export async function freePorts<N extends string>(names: readonly N[]): Promise<Record<N, number>> {
  const ports = {} as Record<N, number>;
  const taken = new Set<number>();
  for (const n of names) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[n] = port;
  }
  return ports;
}
