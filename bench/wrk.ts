// wrk: one run against one URL, and its summary parsed (a Lua `done` hook prints it as JSON).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnOn, untrack } from './proc.js';

const WRK_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"mean\\":%f}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
`;

/** What the Lua hook prints (latencies in µs). */
interface WrkJson {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export interface WrkResult {
  /** Requests/s as wrk prints it. */
  rps: number;
  requests: number;
  durationUs: number;
  non2xx: number;
  socketErrors: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  meanMs: number;
}

export interface WrkSettings {
  bin: string;
  threads: number;
  connections: number;
  /** The Lua script (writeWrkScript). */
  script: string;
}

/** Write the Lua summary hook into `dir`; returns its path. */
export function writeWrkScript(dir: string): string {
  const script = join(dir, 'done.lua');
  writeFileSync(script, WRK_LUA);
  return script;
}

/** The summary of wrk's output, or an error message. */
export function parseWrk(out: string): WrkResult | string {
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) return `wrk output without summary:\n${out}`;
  const j = JSON.parse(line.slice('BENCH_JSON '.length)) as WrkJson;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? j.requests / (j.duration_us / 1e6));
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return {
    rps,
    requests: j.requests,
    durationUs: j.duration_us,
    non2xx: Math.max(non2xx, j.status),
    socketErrors: j.connect + j.read + j.write + j.timeout,
    p50ms: j.p50 / 1000,
    p90ms: j.p90 / 1000,
    p99ms: j.p99 / 1000,
    meanMs: j.mean / 1000,
  };
}

/** `wrk -t<threads> -c<connections> -d<seconds>s --latency -H <header> -s <script> <url>` on CPU 0. */
export function wrk(w: WrkSettings, url: string, seconds: number, header: string): Promise<WrkResult> {
  const args = [
    `-t${w.threads}`,
    `-c${w.connections}`,
    `-d${seconds}s`,
    '--latency',
    '-H',
    header,
    '-s',
    w.script,
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawnOn(0, w.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }, 'wrk');
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      untrack(child);
      if (code !== 0) {
        reject(new Error(`wrk exited ${code}: ${err}${out}`));
        return;
      }
      const r = parseWrk(out);
      if (typeof r === 'string') reject(new Error(`${r}${err}`));
      else resolve(r);
    });
  });
}
