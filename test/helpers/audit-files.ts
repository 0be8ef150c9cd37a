// An audit trail's files as tests write, read and tamper with them: a warden writing one, in rotation order, copied, line by line.
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { auditVerifyCommand } from '../../src/tooling/audit-verify-command.js';
import { send } from './http.js';
import { traefikHeaders } from './replicas.js';
import { testDir } from './tmp.js';
import { startWarden, testKey, type TestWarden } from './warden.js';

/** The files of a rotated trail in `dir`, oldest first: audit.jsonl.N … audit.jsonl.1, audit.jsonl. */
export function trailFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0))
    .map((f) => join(dir, f));
}

/** Lines in all of `files`. */
export const lineCount = (files: string[]): number =>
  files.reduce((n, f) => n + readFileSync(f, 'utf8').trim().split('\n').length, 0);

/** A copy of `dir` for this test (removed after it), with `files` (all in `dir`) named in the copy, in order. */
export function copyTrail(dir: string, files: string[]): string[] {
  const to = testDir('warden-trail-copy-');
  cpSync(dir, to, { recursive: true });
  return files.map((f) => join(to, f.slice(dir.length + 1)));
}

/** A file's lines, without their newlines. */
export const lines = (f: string): string[] => readFileSync(f, 'utf8').split('\n').slice(0, -1);

/** Write lines, each ending in a newline. */
export const writeLines = (f: string, ls: string[]): void =>
  writeFileSync(f, ls.map((l) => `${l}\n`).join(''));

/** The policy of {@link startTrailWarden}: developers may call /api/**. */
export const TRAIL_POLICY = {
  roles: { developer: ['api:*'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const DEV = testKey('dev', ['developer']);

/**
 * A warden writing its trail to `file` only (rotated every 16 KiB, 50 files kept) as replica
 * `edge-1`, with one developer key; `dir` and `env` as startWarden takes them.
 */
export function startTrailWarden(
  file: string,
  opts: { dir?: string; env?: Record<string, string> } = {},
): Promise<TestWarden> {
  return startWarden({
    policy: TRAIL_POLICY,
    keys: [DEV.entry],
    ...(opts.dir !== undefined && { dir: opts.dir }),
    env: {
      WARDEN_AUDIT_SINKS: 'file',
      WARDEN_AUDIT_FILE: file,
      WARDEN_AUDIT_FILE_MAX_SIZE: '16KiB',
      WARDEN_AUDIT_FILE_KEEP: '50',
      WARDEN_REPLICA_ID: 'edge-1',
      ...opts.env,
    },
  });
}

/** Decision `i` of a trail: GET /api/<i> from 203.0.113.5, with the developer key but every fourth time (401). */
export async function sendTrailRequest(w: TestWarden, i: number): Promise<void> {
  await send(`${w.url}/verify/traefik`, {
    headers: { ...traefikHeaders(`/api/${i}`, '203.0.113.5'), ...(i % 4 ? { 'X-API-Key': DEV.key } : {}) },
  });
}

/** `warden audit verify ARGS…` in process, `input` its standard input: exit code and what it printed. */
export async function auditVerify(
  args: string[],
  input: Readable = Readable.from([]),
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { out: (s: string) => (stdout += s), err: (s: string) => (stderr += s) };
  const code = await auditVerifyCommand(args, io, input);
  return { code, stdout, stderr };
}
