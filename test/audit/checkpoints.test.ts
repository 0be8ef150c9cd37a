// Checkpoint lines: when they are written (count, time by an injected timer, shutdown), their signature, the published keys.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, createLocalJWKSet } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog, type DecisionEvent } from '../../src/audit/audit-log.js';
import { AuditChain } from '../../src/audit/chain.js';
import { checkpointKey } from '../../src/audit/checkpoint-key.js';
import type { AuditSink } from '../../src/audit/sink.js';
import { ConfigError } from '../../src/config/errors.js';
import { FakeClock } from '../helpers/clock.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';

const decision = (i: number): DecisionEvent => ({
  reqId: `r${i}`,
  decision: 'allow',
  reason: 'permitted',
  status: 200,
  dialect: 'traefik',
  method: 'GET',
  host: 'api.example.com',
  path: `/api/${i}`,
  clientIp: '203.0.113.7',
  peer: '127.0.0.1',
  sub: 'agent-1',
  authMethod: 'api_key',
  keyId: 'agent-1',
  rule: 1,
  durationMs: 0.4,
});

/** A sink that keeps every line. */
function memorySink(): AuditSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    name: 'memory',
    lines,
    write: (l) => void lines.push(l),
    flush: () => Promise.resolve(),
    close: () => {},
    queued: () => 0,
    dropped: () => 0,
  };
}

const pem = (type: 'ed25519' | 'ec') =>
  (type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('ed25519')
  ).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

const turn = () => new Promise((r) => setImmediate(r));

describe('checkpoint lines', () => {
  it('by count: every N lines, sealing the line before with a JWS jose verifies (Ed25519 and P-256)', async () => {
    for (const type of ['ed25519', 'ec'] as const) {
      const key = await checkpointKey(pem(type));
      const sink = memorySink();
      const clock = new FakeClock(Date.UTC(2026, 10, 23, 4));
      const log = createAuditLog([sink], clock, {
        chain: new AuditChain('edge-1'),
        checkpoints: { key, everyLines: 3, everyMs: null },
      });
      for (let i = 0; i < 7; i++) log.decision(decision(i));
      await turn();
      log.admin({ event: 'policy_reloaded', trigger: 'api' });
      const recs = sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(recs.map((r) => r.type ?? r.event).join(' ')).toBe(
        'decision decision decision checkpoint decision decision decision checkpoint decision policy_reloaded',
      );
      const cp = recs[3]!;
      expect(cp).toMatchObject({
        seals: { seq: 3, hash: recs[2]!.hash },
        kid: key.kid,
        seq: 4,
        replica: 'edge-1',
      });
      expect(sink.lines[3]).toMatch(
        /^\{"type":"checkpoint","seals":\{"seq":3,"hash":"[\w-]{43}"\},"sig":"[\w-]+\.[\w-]+\.[\w-]+","kid":"[\w-]+","seq":4,"replica":"edge-1","hash":"[\w-]{43}"\}\n$/,
      );
      const { payload, protectedHeader } = await compactVerify(
        cp.sig as string,
        createLocalJWKSet({ keys: [key.publicJwk] }),
      );
      expect(protectedHeader).toEqual({ alg: type === 'ec' ? 'ES256' : 'EdDSA', kid: key.kid });
      expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({
        replica: 'edge-1',
        seq: 3,
        hash: recs[2]!.hash,
        time: recs[2]!.time,
      });
      // At shutdown (flush) the lines since the last checkpoint are sealed; a second flush adds nothing.
      await log.flush();
      await log.flush();
      expect(JSON.parse(sink.lines.at(-1)!)).toMatchObject({
        type: 'checkpoint',
        seals: { seq: 10 },
        seq: 11,
      });
      expect(sink.lines).toHaveLength(11);
      log.close();
    }
  });

  it('by time: the injected timer seals lines that waited the duration, and nothing when no line is new', async () => {
    const key = await checkpointKey(pem('ed25519'));
    const sink = memorySink();
    const clock = new FakeClock(Date.UTC(2026, 10, 23, 4));
    const checks: { ms: number; check: () => void }[] = [];
    let stopped = false;
    const log = createAuditLog([sink], clock, {
      chain: new AuditChain('edge-1'),
      checkpoints: {
        key,
        everyLines: 1000,
        everyMs: 60_000,
        every: (ms, check) => {
          checks.push({ ms, check });
          return () => (stopped = true);
        },
      },
    });
    expect(checks).toHaveLength(1);
    const tick = () => checks[0]!.check();
    log.decision(decision(1));
    await turn();
    clock.advance(30_000);
    log.decision(decision(2));
    await turn();
    tick();
    expect(sink.lines).toHaveLength(2);
    // 60 s after the first unsealed line, not after the last one.
    clock.advance(30_000);
    tick();
    expect(sink.lines).toHaveLength(3);
    expect(JSON.parse(sink.lines[2]!)).toMatchObject({ type: 'checkpoint', seals: { seq: 2 } });
    clock.advance(120_000);
    tick();
    expect(sink.lines).toHaveLength(3);
    log.close();
    expect(stopped).toBe(true);
  });
});

describe('WARDEN_AUDIT_SIGNING_KEY', () => {
  let w: TestWarden | null = null;
  afterEach(async () => {
    await w?.close();
    w = null;
  });
  const policy = { rules: [{ match: { path: '/**' }, public: true }] };

  it('publishes the checkpoint keys at /.well-known/jwks.json beside the assertion keys, and keeps a replaced key listed', async () => {
    const dir = testDir('warden-signing-');
    const keyFile = join(dir, 'audit-key.pem');
    writeFileSync(keyFile, pem('ec'));
    const env = { WARDEN_AUDIT_SIGNING_KEY: keyFile, WARDEN_ASSERTION_KEY: 'generate' };
    w = await startWarden({ policy, dir, env });
    const first = (await (await fetch(`${w.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, string>[];
    };
    expect(first.keys.map((k) => k.alg)).toEqual(['ES256', 'ES256']);
    const auditKid = first.keys[1]!.kid;
    await w.close();
    // The operator replaces the key file: the new key signs, the old one stays published for old checkpoints.
    writeFileSync(keyFile, pem('ed25519'));
    w = await startWarden({ policy, dir, env: { WARDEN_AUDIT_SIGNING_KEY: keyFile } });
    const after = (await (await fetch(`${w.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, string>[];
    };
    expect(after.keys.map((k) => [k.kid === auditKid, k.alg, k.use])).toEqual([
      [true, 'ES256', 'sig'],
      [false, 'EdDSA', 'sig'],
    ]);
    expect(after.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('a key file signs with a state dir it cannot write: the key is published, and a warning says it is not kept', async () => {
    const dir = testDir('warden-signing-ro-');
    const keyFile = join(dir, 'audit-key.pem');
    writeFileSync(keyFile, pem('ed25519'));
    // A state dir under a regular file cannot be made, whoever runs the test.
    const notADir = join(dir, 'file');
    writeFileSync(notADir, '');
    w = await startWarden({
      policy,
      env: { WARDEN_AUDIT_SIGNING_KEY: keyFile, WARDEN_STATE_DIR: join(notADir, 'state') },
    });
    const keys = (await (await fetch(`${w.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(keys.keys).toHaveLength(1);
    expect(w.ops.find((l) => l.event === 'audit_key_not_saved')).toMatchObject({
      level: 40,
      detail: expect.stringContaining('cannot write: ENOTDIR'),
    });
  });

  it('generate: an Ed25519 key kept in WARDEN_STATE_DIR, the same after a restart', async () => {
    const dir = testDir('warden-signing-gen-');
    w = await startWarden({ policy, dir, env: { WARDEN_AUDIT_SIGNING_KEY: 'generate' } });
    const before = await (await fetch(`${w.url}/.well-known/jwks.json`)).text();
    await w.close();
    expect(readFileSync(join(dir, 'state', 'audit-signing-key.pem'), 'utf8')).toMatch(
      /^-----BEGIN PRIVATE KEY-----/,
    );
    w = await startWarden({ policy, dir, env: { WARDEN_AUDIT_SIGNING_KEY: 'generate' } });
    const again = await (await fetch(`${w.url}/.well-known/jwks.json`)).text();
    expect(again).toBe(before);
    expect((JSON.parse(again) as { keys: { crv: string }[] }).keys.map((k) => k.crv)).toEqual(['Ed25519']);
  });

  it('a key file that cannot be read or is of another type stops warden (exit 2) naming it', async () => {
    const dir = testDir('warden-signing-bad-');
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const p384 = join(dir, 'p384.pem');
    writeFileSync(
      p384,
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    for (const [file, message] of [
      [join(dir, 'missing.pem'), 'cannot read: ENOENT'],
      [rsa, 'unsupported key type rsa'],
      [p384, 'unsupported key type ec (secp384r1)'],
    ] as const) {
      const e = await startWarden({ policy, env: { WARDEN_AUDIT_SIGNING_KEY: file } }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems[0]).toMatchObject({ source: 'env WARDEN_AUDIT_SIGNING_KEY' });
      expect((e as ConfigError).problems[0]!.message).toContain(`${file} (WARDEN_AUDIT_SIGNING_KEY)`);
      expect((e as ConfigError).problems[0]!.message).toContain(message);
    }
  });
});
