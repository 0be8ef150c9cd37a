import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { AuditChain, replicaName, splitChained } from '../../src/audit/chain.js';
import { fileSink } from '../../src/audit/file-sink.js';
import { destinationSink } from '../../src/audit/sink.js';
import { systemClock } from '../../src/util/clock.js';
import { send } from '../helpers/http.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { ALLOWED, captureLog } from '../helpers/audit-capture.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

/**
 * The rule of CONTRACT.md, written again from its text (not warden's code): cut `,"hash":"…"}` from
 * the end, append `}`, h = base64url(SHA-256(prev + "\n" + body)) without padding; per replica,
 * seq from 1 with no gap. Returns the problems found, by 1-based line.
 */
function independentlyVerify(lines: string[]): string[] {
  const problems: string[] = [];
  const state = new Map<string, { seq: number; prev: string }>();
  lines.forEach((line, i) => {
    const m = /^(.*),"hash":"([^"]*)"\}$/s.exec(line);
    if (!m) return void problems.push(`${i + 1}: no hash`);
    const body = `${m[1]}}`;
    const parsed = JSON.parse(line) as { seq: number; replica: string; hash: string };
    const keys = Object.keys(parsed);
    if (keys.at(-1) !== 'hash') problems.push(`${i + 1}: hash not last`);
    const s = state.get(parsed.replica) ?? { seq: 0, prev: '' };
    if (parsed.seq !== s.seq + 1) problems.push(`${i + 1}: seq ${parsed.seq} after ${s.seq}`);
    const h = createHash('sha256')
      .update(Buffer.from(`${s.prev}\n${body}`, 'utf8'))
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    if (h !== m[2]) problems.push(`${i + 1}: hash`);
    state.set(parsed.replica, { seq: parsed.seq, prev: m[2]! });
  });
  return problems;
}

describe('the audit chain', () => {
  it('gives every line seq from 1, the replica, and hash last, as CONTRACT.md defines the bytes', async () => {
    const { lines, log } = captureLog({ chain: new AuditChain('edge-1') });
    log.decision({ ...ALLOWED, reqId: 'a' });
    log.decision({ ...ALLOWED, reqId: 'b', sub: 'José', path: '/ü/€/😀' });
    log.admin({ event: 'revocation_added', id: 'k"1', by: 'ops' });
    log.decision({ ...ALLOWED, reqId: 'c', headerProblems: ['x-team: ü'] });
    log.admin({ event: 'policy_reloaded', trigger: 'SIGHUP' });
    await log.flush();
    const text = lines.map((l) => l.slice(0, -1));
    expect(lines.every((l) => l.endsWith('}\n'))).toBe(true);
    const parsed = text.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(parsed.map((p) => p.replica)).toEqual(Array(5).fill('edge-1'));
    expect(parsed.map((p) => Object.keys(p).slice(-3))).toEqual(Array(5).fill(['seq', 'replica', 'hash']));
    expect(independentlyVerify(text)).toEqual([]);
    expect(log.chain.head).toEqual({ seq: 5, hash: parsed[4]!.hash });
  });

  it('holds for any strings a decision carries', async () => {
    const { lines, log } = captureLog();
    const str = fc.string({ unit: 'binary' });
    await fc.assert(
      fc.asyncProperty(str, str, fc.option(str, { nil: null }), async (reqId, path, sub) => {
        log.decision({ ...ALLOWED, reqId, path, sub });
        if (sub !== null) log.admin({ event: 'ban_started', ip: sub });
        await new Promise((r) => setImmediate(r));
      }),
      { numRuns: 100 },
    );
    expect(independentlyVerify(lines.map((l) => l.slice(0, -1)))).toEqual([]);
  });

  it('detects an edited byte, a removed line and swapped lines (the independent check is not vacuous)', () => {
    const chain = new AuditChain('r');
    const lines = [1, 2, 3, 4].map((i) => chain.seal(`{"n":${i}`).slice(0, -1));
    expect(independentlyVerify(lines)).toEqual([]);
    expect(independentlyVerify(lines.map((l, i) => (i === 1 ? l.replace('"n":2', '"n":5') : l)))).toEqual([
      '2: hash',
    ]);
    expect(independentlyVerify([lines[0]!, lines[2]!, lines[3]!])).toEqual(['2: seq 3 after 1', '2: hash']);
    expect(independentlyVerify([lines[0]!, lines[2]!, lines[1]!, lines[3]!])).toContain('2: seq 3 after 1');
  });

  it('never writes an admin event field named seq, replica or hash beside the chain members', () => {
    const { lines, log } = captureLog({ chain: new AuditChain('edge-1') });
    log.admin({ event: 'policy_reloaded', seq: 99, replica: 'forged', hash: 'x', summary: { seq: 1 } });
    const line = lines[0]!.slice(0, -1);
    expect(line.match(/"seq":/g)).toHaveLength(2);
    expect(JSON.parse(line)).toMatchObject({ seq: 1, replica: 'edge-1', summary: { seq: 1 } });
    expect(independentlyVerify([line])).toEqual([]);
  });

  it('continues from a given head, and splits a line back into its body and hash', () => {
    const a = new AuditChain('r');
    const first = a.seal('{"x":1');
    const b = new AuditChain('r', a.head);
    const second = b.seal('{"x":2');
    expect(independentlyVerify([first, second].map((l) => l.slice(0, -1)))).toEqual([]);
    const split = splitChained(second.slice(0, -1));
    expect(split).toEqual({ body: '{"x":2,"seq":2,"replica":"r"}', hash: b.head.hash });
    expect(splitChained('{"x":1}')).toBeNull();
    expect(splitChained('{"hash":"short"}')).toBeNull();
  });

  it('names the replica WARDEN_REPLICA_ID, else the host and the start time', () => {
    expect(replicaName('edge-1', 'host', 0)).toBe('edge-1');
    expect(replicaName(undefined, 'host-a', Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe(
      'host-a@2026-01-02T03:04:05.006Z',
    );
  });

  it('sends the same bytes to every sink', async () => {
    const dir = testDir('warden-chain-');
    const file = join(dir, 'audit.jsonl');
    const captured: string[] = [];
    const memory = new Writable({
      write: (c, _e, cb) => {
        captured.push(String(c));
        cb();
      },
    });
    const log = createAuditLog(
      [
        fileSink(file, { maxBytes: 1024 * 1024, keep: 1, clock: systemClock }, () => {}),
        destinationSink('m', memory, systemClock),
      ],
      systemClock,
    );
    for (let i = 0; i < 50; i++) log.decision({ ...ALLOWED, reqId: `r${i}`, sub: i % 7 === 0 ? 'ü' : 'a' });
    log.admin({ event: 'policy_reloaded' });
    await log.flush();
    log.close();
    expect(readFileSync(file, 'utf8')).toBe(captured.join(''));
    expect(captured).toHaveLength(51);
  });
});

describe('a running warden', () => {
  let w: TestWarden | null = null;
  afterEach(async () => {
    await w?.close();
    w = null;
  });

  it('chains decisions and admin events under WARDEN_REPLICA_ID, on stdout and in the file alike', async () => {
    const dir = testDir('warden-chain-run-');
    const file = join(dir, 'audit.jsonl');
    const dev = testKey('dev', ['developer']);
    const policy = {
      roles: { developer: ['api:*'] },
      rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
    };
    w = await startWarden({
      policy,
      keys: [dev.entry],
      env: { WARDEN_AUDIT_SINKS: 'stdout,file', WARDEN_AUDIT_FILE: file, WARDEN_REPLICA_ID: 'edge-1' },
    });
    for (let i = 0; i < 20; i++)
      await send(`${w.url}/verify/traefik`, {
        headers: {
          ...traefikHeaders(`/api/${i}`, '203.0.113.5'),
          ...(i % 3 ? { 'X-API-Key': dev.key } : {}),
        },
      });
    w.writePolicy({ ...policy, rules: [...policy.rules, { match: { path: '/x/**' }, deny: true }] });
    await w.reload();
    await w.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(21);
    expect(independentlyVerify(lines)).toEqual([]);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual(w.audit);
    expect(new Set(w.audit.map((l) => l.replica))).toEqual(new Set(['edge-1']));
    expect(w.audit.some((l) => l.event === 'policy_reloaded')).toBe(true);
    w = null;
  });

  it('names the replica after the host by default', async () => {
    w = await startWarden({ policy: { rules: [] } });
    await send(`${w.url}/verify/traefik`, { headers: traefikHeaders('/a', '203.0.113.5') });
    await w.close();
    const replica = String(w.audit.at(-1)?.replica);
    expect(replica.startsWith(`${hostname()}@`)).toBe(true);
    expect(Number.isNaN(Date.parse(replica.slice(hostname().length + 1)))).toBe(false);
    w = null;
  });
});
