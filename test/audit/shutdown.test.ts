// A real warden process under load, stopped with SIGTERM: every answered request reaches the webhook once.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../e2e/harness/net.js';
import { auditVerify, lines, trailFiles } from '../helpers/audit-files.js';
import { REDIS_CLI, REDIS_SERVER, startRedis, within } from '../helpers/redis.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { testKey } from '../helpers/warden.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { ifStarted } from '../helpers/hooks.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const dev = testKey('dev', ['developer']);

let dir: string;
let receiver: WebhookReceiver;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Tested as users run it: built JS (built once by test/global-setup.ts), a process of its own, a real signal.
  dir = makeDir('warden-shutdown-');
  writeFileSync(
    join(dir, 'policy.yaml'),
    stringify({
      roles: { developer: ['api:*'] },
      rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
    }),
  );
  writeFileSync(join(dir, 'keys.yaml'), stringify({ keys: [dev.entry] }));
  receiver = await startReceiver();
}, 120_000);
afterAll(async () => {
  // What still runs is killed and waited for: nothing may write to the dir once it is removed.
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const gone = running.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  for (const c of running) c.kill('SIGKILL');
  await Promise.all(gone);
  await ifStarted(receiver)?.close();
  if (ifStarted(dir)) removeDir(dir);
});

function wardenProcess(env: Record<string, string>): {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const proc = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      WARDEN_POLICY: join(dir, 'policy.yaml'),
      WARDEN_API_KEYS: join(dir, 'keys.yaml'),
      WARDEN_STATE_DIR: join(dir, 'state'),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(proc);
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, stderr: () => err, exited };
}

/** One GET /verify/traefik with the given request id; resolves with the status, rejects on a socket error. */
function verify(port: number, agent: Agent, reqId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/verify/traefik',
        agent,
        headers: { ...traefikHeaders('/api/x', '203.0.113.5', dev.key), 'X-Request-ID': reqId },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Run warden under load, SIGTERM it, and check what the webhook receiver got. */
async function sigtermUnderLoad(extraEnv: Record<string, string>): Promise<void> {
  receiver.posts.length = 0;
  {
    const port = await freePort();
    const w = wardenProcess({
      PORT: String(port),
      WARDEN_AUDIT_SINKS: 'webhook',
      WARDEN_AUDIT_WEBHOOK_URL: receiver.url,
      WARDEN_AUDIT_WEBHOOK_BATCH: '100',
      WARDEN_AUDIT_WEBHOOK_INTERVAL: '500ms',
      WARDEN_SHUTDOWN_TIMEOUT: '10s',
      ...extraEnv,
    });
    await within(
      15_000,
      async () =>
        (await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) === 200,
      50,
    );

    // 16 clients on keep-alive connections, each sending requests back to back until warden stops answering.
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const answered: string[] = [];
    const failures: string[] = [];
    let signalled = false;
    const clients = Array.from({ length: 16 }, async (_, c) => {
      for (let i = 0; ; i++) {
        const id = `load-${c}-${i}`;
        try {
          const status = await verify(port, agent, id);
          expect(status).toBe(200);
          answered.push(id);
        } catch (e) {
          failures.push((e as NodeJS.ErrnoException).code ?? String(e));
          if (signalled) return;
          throw e;
        }
      }
    });
    // Under load until more than 200 requests were answered (a count, not a time: a slow machine just takes longer).
    await within(30_000, () => answered.length > 200, 10);
    const before = answered.length;
    signalled = true;
    w.proc.kill('SIGTERM');
    await Promise.all(clients);
    agent.destroy();
    const code = await w.exited;

    expect(code, w.stderr()).toBe(0);
    expect(before, 'requests answered before SIGTERM').toBeGreaterThan(200);
    // New connections are refused once the listener is closed (or an idle keep-alive is closed under a client).
    expect(new Set(failures).size).toBeGreaterThan(0);
    for (const f of failures) expect(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']).toContain(f);

    const decisions = receiver.accepted().filter((e) => e.event === 'decision');
    const seen = new Map<string, number>();
    for (const e of decisions) {
      const id = e.reqId as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    const missing = answered.filter((id) => !seen.has(id));
    const unanswered = [...seen.keys()].filter((id) => !answered.includes(id));
    console.log(
      `shutdown under load: ${answered.length} answered (${answered.length - before} after SIGTERM), ${decisions.length} events in ${receiver.posts.length} POSTs, client errors ${JSON.stringify([...new Set(failures)])}`,
    );
    expect(twice, 'events delivered twice').toEqual([]);
    expect(missing, 'answered requests without an event').toEqual([]);
    expect(unanswered, 'events for requests no client saw answered').toEqual([]);
    expect(decisions).toHaveLength(answered.length);
    // Batched: far fewer POSTs than events.
    expect(receiver.posts.length).toBeLessThan(decisions.length / 10);
    expect(w.stderr()).toContain('warden stopped');
  }
}

describe('graceful shutdown (a warden process, SIGTERM under load)', () => {
  it('answers what it accepted, delivers exactly one webhook event per answered request, exits 0', async () => {
    await sigtermUnderLoad({});
  });

  it('ends the signed trail on a checkpoint after the last decision: the file set and the webhook copy verify', async () => {
    const trail = join(dir, 'trail');
    mkdirSync(trail);
    await sigtermUnderLoad({
      WARDEN_AUDIT_SINKS: 'webhook,file',
      WARDEN_AUDIT_FILE: join(trail, 'audit.jsonl'),
      WARDEN_AUDIT_FILE_MAX_SIZE: '32KiB',
      WARDEN_AUDIT_FILE_KEEP: '100',
      WARDEN_AUDIT_SIGNING_KEY: 'generate',
      WARDEN_AUDIT_CHECKPOINT: '50',
    });
    const files = trailFiles(trail);
    expect(files.length).toBeGreaterThan(2);
    const last = lines(files.at(-1)!).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(last.at(-1)).toMatchObject({ type: 'checkpoint' });
    expect(last.at(-2)).toMatchObject({ event: 'decision' });
    // The published key list in the state dir is a JWK set: what an auditor is given.
    const jwks = join(dir, 'state', 'audit-signing-keys.json');
    // Standard error with standard output: all it printed is the one summary line, shown when not 0.
    const all = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
    const verified = await auditVerify(['--jwks', jwks, ...files]);
    expect(verified.code, all(verified)).toBe(0);
    expect(all(verified)).toMatch(/^[\d ]+ lines, [\d ]+ checkpoints, 1 replica: intact\n$/);
    const copy = receiver.accepted().map((e) => `${JSON.stringify(e)}\n`);
    const sent = await auditVerify(['--jwks', jwks], Readable.from([copy.join('')]));
    expect(sent.code, all(sent)).toBe(0);
  });

  it.skipIf(!REDIS_SERVER || !REDIS_CLI)(
    'the same with Redis: the connection is closed and the exit is still 0',
    async () => {
      const redis = await startRedis();
      try {
        await sigtermUnderLoad({ REDIS_URL: redis.url });
        // warden's connection is gone: only redis-cli's own remains.
        expect((await redis.cli('client', 'list')).split('\n')).toHaveLength(1);
      } finally {
        await redis.stop();
      }
    },
  );

  it('exits 2 naming the path when the audit file cannot be opened, or the signing key read', async () => {
    const port = await freePort();
    const bad = join(dir, 'no-such-dir', 'audit.jsonl');
    const w = wardenProcess({
      PORT: String(port),
      WARDEN_AUDIT_SINKS: 'stdout,file',
      WARDEN_AUDIT_FILE: bad,
    });
    expect(await w.exited).toBe(2);
    expect(w.stderr()).toContain(`env WARDEN_AUDIT_FILE: cannot open ${bad} for appending (ENOENT)`);
    const key = join(dir, 'no-such-key.pem');
    const k = wardenProcess({ PORT: String(port), WARDEN_AUDIT_SIGNING_KEY: key });
    expect(await k.exited).toBe(2);
    expect(k.stderr()).toContain(
      `env WARDEN_AUDIT_SIGNING_KEY: ${key} (WARDEN_AUDIT_SIGNING_KEY): cannot read: ENOENT`,
    );
  });
});
