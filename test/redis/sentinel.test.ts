// Two wardens on a 3-node Redis Sentinel set: shared limits and revocations, before and after a master failover.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, sleep, waitForPort } from '../e2e/harness/net.js';
import { startChild, type Child } from '../e2e/harness/process.js';
import {
  REDIS_CLI,
  REDIS_SERVER,
  redisDescribe,
  startRedis,
  within,
  type RedisServer,
} from '../helpers/redis.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { adminCall, isReady, revokeKey, verifyStatus } from '../helpers/replicas.js';
import { ifStarted } from '../helpers/hooks.js';

const run = promisify(execFile);

const policy = {
  roles: { ops: ['warden:admin'], dev: ['api:*'] },
  rateLimits: { shared: { limit: 5, window: '60s', by: 'identity' } },
  rules: [
    { match: { path: '/limited/**' }, require: ['api:read'], rateLimit: 'shared' },
    { match: { path: '/api/**' }, require: ['api:read'] },
  ],
};
const admin = testKey('ops-1', ['ops']);
const before = { limit: testKey('lim-before', ['dev']), revoke: testKey('rev-before', ['dev']) };
const after = { limit: testKey('lim-after', ['dev']), revoke: testKey('rev-after', ['dev']) };
const during = testKey('lim-during', ['dev']);
const steady = testKey('steady', ['dev']);
const keys = [admin, before.limit, before.revoke, after.limit, after.revoke, during, steady].map(
  (k) => k.entry,
);

interface Sentinel {
  port: number;
  /** Its config file and working dir, removed once it has stopped. */
  dir: string;
  child: Child;
  cli(...args: string[]): Promise<string>;
}

let master: RedisServer;
const replicas: RedisServer[] = [];
const sentinels: Sentinel[] = [];
let a: TestWarden;
let b: TestWarden;

async function startSentinel(masterPort: number): Promise<Sentinel> {
  const port = await freePort();
  const dir = makeDir('warden-sentinel-');
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file: each one gets its own writable copy.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 5000',
      'sentinel resolve-hostnames no',
      '',
    ].join('\n'),
  );
  const child = startChild(REDIS_SERVER!, [conf, '--sentinel']);
  try {
    await waitForPort(port, { failed: child.exited });
  } catch (e) {
    await child.stop();
    removeDir(dir);
    throw e;
  }
  return {
    port,
    dir,
    child,
    async cli(...args) {
      const { stdout } = await run(REDIS_CLI!, ['-p', String(port), ...args], { timeout: 5000 });
      return stdout.trim();
    },
  };
}

/** redis-cli's flat `name\nvalue\n…` reply as a record. */
function fields(out: string): Record<string, string> {
  const lines = out.split('\n');
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) m[lines[i]!] = lines[i + 1]!;
  return m;
}

/** The master port the first answering sentinel reports. */
async function currentMasterPort(): Promise<number | null> {
  for (const s of sentinels) {
    try {
      const out = (await s.cli('SENTINEL', 'get-master-addr-by-name', 'mymaster')).split('\n');
      if (out.length === 2) return Number(out[1]);
    } catch {
      // try the next one
    }
  }
  return null;
}

const verify = (w: TestWarden, uri: string, key?: string, ip = '203.0.113.7') =>
  verifyStatus(w, uri, key, ip);
const revoke = (w: TestWarden, id: string) => revokeKey(w, admin.key, id, 'sentinel test');
const ready = isReady;

/** Alternate requests between the wardens; return the statuses in order. */
async function alternate(uri: string, key: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await verify(i % 2 === 0 ? a : b, uri, key));
  return out;
}

redisDescribe('Redis Sentinel: two wardens across a master failover', () => {
  beforeAll(async () => {
    master = await startRedis();
    for (let i = 0; i < 2; i++)
      replicas.push(await startRedis(['--replicaof', '127.0.0.1', String(master.port)]));
    // Sentinels learn replicas from the master's INFO: let replication settle first.
    await within(10_000, async () => /connected_slaves:2/.test(await master.cli('INFO', 'replication')), 50);
    for (const r of replicas)
      await within(10_000, async () => /master_link_status:up/.test(await r.cli('INFO', 'replication')), 50);
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(master.port));
    // Each sentinel must know both replicas and the two other sentinels before a failover can be agreed.
    await within(
      20_000,
      async () => {
        for (const s of sentinels) {
          const m = fields(await s.cli('SENTINEL', 'master', 'mymaster'));
          if (m['num-slaves'] !== '2' || m['num-other-sentinels'] !== '2') return false;
        }
        return true;
      },
      200,
    );
    const env = {
      WARDEN_REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      WARDEN_REDIS_SENTINEL_NAME: 'mymaster',
      WARDEN_REVOCATION_RESYNC: '30s',
      WARDEN_KEYS_STORE: 'redis',
    };
    [a, b] = await Promise.all([startWarden({ policy, keys, env }), startWarden({ policy, keys, env })]);
    await within(5000, async () => (await ready(a)) && (await ready(b)), 50);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([ifStarted(a)?.close(), ifStarted(b)?.close()]);
    await Promise.allSettled([
      ...sentinels.map(async (s) => {
        await s.child.stop();
        removeDir(s.dir);
      }),
      ...replicas.map((r) => r.stop()),
      ifStarted(master)?.stop(),
    ]);
  });

  it('shares one rate limit across both wardens', async () => {
    const statuses = await alternate('/limited/x', before.limit.key, 10);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429, 429, 429]);
    expect(await verify(a, '/limited/x', before.limit.key)).toBe(429);
    expect(await verify(b, '/limited/x', before.limit.key)).toBe(429);
  });

  it('refuses on B a key revoked on A', async () => {
    expect(await verify(b, '/api/x', before.revoke.key)).toBe(200);
    const t0 = Date.now();
    expect(await revoke(a, before.revoke.entry.id as string)).toBe(201);
    const ms = await within(1000, async () => (await verify(b, '/api/x', before.revoke.key)) === 401, 2);
    console.log(`sentinel: revocation propagated A→B in ${Date.now() - t0} ms (poll ${ms} ms after the 201)`);
    expect(await verify(a, '/api/x', before.revoke.key)).toBe(401);
  });

  it('keeps limits and revocations working through a master failover, never allowing an unauthenticated or revoked request', async () => {
    const oldPort = master.port;
    expect(await currentMasterPort()).toBe(oldPort);

    const seen = {
      unauthenticated: [] as number[],
      revoked: [] as number[],
      limited: [] as number[],
      steady: [] as number[],
    };
    // Set once the failover is over; read by the traffic loop between its rounds.
    let stop = false;
    const drive = async () => {
      // Bounded: at most 1500 rounds, and the test stops it once the failover is over.
      for (let i = 0; i < 1500 && !stop; i++) {
        const w = i % 2 === 0 ? a : b;
        // A distinct client IP per round, so the failed credentials never add up to a brute-force ban.
        const ip = `198.51.${(i >> 8) & 255}.${i & 255}`;
        const [u, r, l, s] = await Promise.all([
          verify(w, '/api/x', undefined, ip),
          verify(w, '/api/x', before.revoke.key, ip),
          verify(w, '/limited/x', during.key, ip),
          verify(w, '/api/x', steady.key, ip),
        ]);
        seen.unauthenticated.push(u);
        seen.revoked.push(r);
        seen.limited.push(l);
        seen.steady.push(s);
        await sleep(20);
      }
    };
    const traffic = drive();

    const killedAt = Date.now();
    await master.stop(true);
    try {
      const failoverMs = await within(
        30_000,
        async () => {
          const p = await currentMasterPort();
          return p !== null && p !== oldPort;
        },
        100,
      );
      const newPort = await currentMasterPort();
      expect(replicas.map((r) => r.port)).toContain(newPort);
      const readyMs = await within(15_000, async () => (await ready(a)) && (await ready(b)), 50);
      console.log(
        `sentinel: failover to 127.0.0.1:${newPort} took ${failoverMs} ms after SIGKILL; both wardens ready again ${Date.now() - killedAt} ms after it (${readyMs} ms after the switch)`,
      );
      // Let the traffic run a little on the new master too.
      await sleep(1000);
    } finally {
      stop = true;
      await traffic;
    }

    const count = (xs: number[]) =>
      xs.reduce<Record<number, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {});
    console.log(
      `sentinel: ${seen.unauthenticated.length} rounds during the failover; statuses`,
      JSON.stringify({
        unauthenticated: count(seen.unauthenticated),
        revoked: count(seen.revoked),
        limited: count(seen.limited),
        steady: count(seen.steady),
      }),
    );
    expect(seen.unauthenticated.length).toBeGreaterThan(10);
    expect(seen.unauthenticated.every((s) => s === 401)).toBe(true);
    expect(seen.revoked.every((s) => s === 401)).toBe(true);
    // The insurance limiter answers while the master is gone: allow or limit, never an error.
    expect(seen.limited.every((s) => s === 200 || s === 429)).toBe(true);
    // A valid, unrevoked key on an unlimited route needs no Redis at all.
    expect(seen.steady.every((s) => s === 200)).toBe(true);
    expect(Date.now() - killedAt).toBeLessThan(45_000);
  }, 60_000);

  it('after the failover: a new revocation on A is refused on B', async () => {
    expect(await verify(b, '/api/x', after.revoke.key)).toBe(200);
    const t0 = Date.now();
    expect(await revoke(a, after.revoke.entry.id as string)).toBe(201);
    await within(1000, async () => (await verify(b, '/api/x', after.revoke.key)) === 401, 2);
    console.log(`sentinel: after failover, revocation propagated A→B in ${Date.now() - t0} ms`);
    expect(await verify(a, '/api/x', after.revoke.key)).toBe(401);
    // The revocation made before the failover still holds on both.
    expect(await verify(a, '/api/x', before.revoke.key)).toBe(401);
    expect(await verify(b, '/api/x', before.revoke.key)).toBe(401);
  });

  it('after the failover: a key stored through A works on B, and its deletion reaches B', async () => {
    const made = await adminCall(a, admin.key, 'POST', '/keys', { id: 'stored-after', roles: ['dev'] });
    expect(made.status, made.body).toBe(201);
    const key = (JSON.parse(made.body) as { key: string }).key;
    await within(1000, async () => (await verify(b, '/api/x', key)) === 200, 2);
    expect((await adminCall(a, admin.key, 'DELETE', '/keys/stored-after')).status).toBe(200);
    await within(1000, async () => (await verify(b, '/api/x', key)) === 401, 2);
  });

  it('after the failover: a new limit counter is shared again', async () => {
    const statuses = await alternate('/limited/x', after.limit.key, 10);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
  });

  it('after the failover: a restarted warden loads the revocations from the new master', async () => {
    const env = {
      WARDEN_REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      WARDEN_REDIS_SENTINEL_NAME: 'mymaster',
    };
    const c = await startWarden({ policy, keys, env });
    try {
      await within(5000, () => ready(c), 50);
      expect(await verify(c, '/api/x', before.revoke.key)).toBe(401);
      expect(await verify(c, '/api/x', after.revoke.key)).toBe(401);
      expect(await verify(c, '/api/x', steady.key)).toBe(200);
      expect(await verify(c, '/limited/x', after.limit.key)).toBe(429);
    } finally {
      await c.close();
    }
  });
});
