// npm run bench -- --audit-verify: `warden audit verify` throughput on a 1 000 000-line signed trail.
// The trail is written by warden's own audit log and file sink (dist/), with a checkpoint every 1000
// lines; then the built CLI verifies it as an auditor would (--key), timed, its peak RSS read from /proc.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildGitState } from './machine.js';
import { writeResults } from './results.js';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const LINES = Number(process.env.BENCH_AUDIT_LINES ?? 1_000_000);

/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access -- the built modules are loaded untyped (bench/ compiles alone) */
async function writeTrail(file: string, pem: string): Promise<void> {
  const load = (m: string) => import(pathToFileURL(join(DIST, m)).href);
  const { createAuditLog } = await load('audit/audit-log.js');
  const { AuditChain } = await load('audit/chain.js');
  const { fileSink } = await load('audit/file-sink.js');
  const { checkpointKey } = await load('audit/checkpoint-key.js');
  const clock = { now: () => Date.now() };
  const sink = fileSink(file, { maxBytes: 1024 ** 4, keep: 1, clock }, (e: Error) => {
    throw e;
  });
  const log = createAuditLog([sink], clock, {
    chain: new AuditChain('bench-1'),
    checkpoints: { key: await checkpointKey(pem), everyLines: 1000, everyMs: null },
  });
  for (let i = 0; i < LINES; i++) {
    log.decision({
      reqId: `bench-${i}`,
      decision: i % 10 === 0 ? 'forbidden' : 'allow',
      reason: i % 10 === 0 ? 'insufficient_permissions' : 'permitted',
      status: i % 10 === 0 ? 403 : 200,
      dialect: 'nginx',
      method: 'GET',
      host: 'api.example.com',
      path: `/api/nodes/${i % 977}`,
      clientIp: '203.0.113.7',
      peer: '127.0.0.1',
      sub: 'agent-1',
      authMethod: 'api_key',
      keyId: 'agent-1',
      rule: 19,
      rateLimit: 'bench',
      durationMs: 0.21,
    });
    // Let the turn's decisions be written, and the writer drain, without building up memory.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    if (i % 100_000 === 99_999) await sink.flush(Date.now() + 60_000);
  }
  await log.flush();
  log.close();
}
/* eslint-enable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access */

/** Run the built CLI's `audit verify`; wall time, exit code, output, and the peak RSS (VmHWM) seen. */
function timeVerify(args: string[]): Promise<{ ms: number; code: number; out: string; peakMb: number }> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [join(DIST, 'cli.js'), 'audit', 'verify', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let peakKb = 0;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited between two polls
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(poll);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      resolve({ ms, code: code ?? 1, out, peakMb: Math.round(peakKb / 1024) });
    });
  });
}

/** Generate the trail, verify it (chain and signatures) twice, print and record lines per second. */
export async function runAuditVerify(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'warden-bench-audit-'));
  try {
    const file = join(tmp, 'audit.jsonl');
    const pemFile = join(tmp, 'key.pem');
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(pemFile, pem);
    const writeStart = Date.now();
    await writeTrail(file, pem);
    const mb = statSync(file).size / 1024 ** 2;
    process.stdout.write(
      `trail: ${LINES} decisions, ${mb.toFixed(0)} MiB, written in ${Date.now() - writeStart} ms\n`,
    );
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const r = await timeVerify(['--key', pemFile, file]);
      if (r.code !== 0) throw new Error(`verify exited ${r.code}: ${r.out}`);
      const total = Number(/^([\d ]+) lines/m.exec(r.out)?.[1]?.replace(/ /g, '') ?? NaN);
      const perSec = Math.round(total / (r.ms / 1000));
      process.stdout.write(
        `verify: ${r.out.trim().split('\n').at(-1)} in ${r.ms.toFixed(0)} ms: ${perSec} lines/s, peak RSS ${r.peakMb} MiB\n`,
      );
      runs.push({ lines: total, ms: Math.round(r.ms), linesPerSecond: perSec, peakRssMb: r.peakMb });
    }
    const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const m = { date, nproc: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
    const results = {
      kind: 'audit-verify',
      fileMiB: Math.round(mb),
      runs,
      machine: m,
      git: buildGitState(join(DIST, 'cli.js')),
    };
    const out = await writeResults(join(ROOT, 'bench', 'results'), date, results);
    process.stdout.write(`results: ${out}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
