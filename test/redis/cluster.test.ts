// Two wardens on a 3-master Redis Cluster: limit counters spread over every master, revocations over cluster pub/sub.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../e2e/harness/net.js';
import { REDIS_CLI, redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { adminCall, isReady, revokeKey, verifyStatus } from '../helpers/replicas.js';
import { ifStarted } from '../helpers/hooks.js';

const run = promisify(execFile);

const policy = {
  roles: { ops: ['warden:admin'], dev: ['api:*'] },
  rateLimits: {
    shared: { limit: 5, window: '60s', by: 'identity' },
    perip: { limit: 3, window: '60s', by: 'ip' },
  },
  rules: [
    { match: { path: '/limited/**' }, require: ['api:read'], rateLimit: 'shared' },
    { match: { path: '/public/**' }, public: true, rateLimit: 'perip' },
    { match: { path: '/api/**' }, require: ['api:read'] },
  ],
  bans: false,
};
/** Redis key of the `shared` limit's counter for an API key id (rate-limiter-flexible: `<prefix>:<subject>`). */
const limitKey = (id: string) => `warden:rl:shared:5/60/0:id:api_key:${id}`;
const ipKey = (ip: string) => `warden:rl:perip:3/60/0:ip:${ip}`;

const admin = testKey('ops-1', ['ops']);
const revokable = [0, 1, 2].map((i) => testKey(`rev-${i}`, ['dev']));

const masters: RedisServer[] = [];
/** One API key per master, chosen so that its limit counter hashes to a slot that master serves. */
let limited: ReturnType<typeof testKey>[] = [];
/** Client IPs, likewise one per master. */
let ips: string[] = [];
let a: TestWarden;
let b: TestWarden;

/** Slot ranges of each master, from `CLUSTER NODES`. */
async function slotOwners(): Promise<{ port: number; ranges: [number, number][] }[]> {
  const out = await masters[0]!.cli('CLUSTER', 'NODES');
  return out.split('\n').map((line) => {
    const cols = line.split(' ');
    const port = Number(cols[1]!.split('@')[0]!.split(':')[1]);
    const ranges = cols
      .slice(8)
      .filter((r) => /^\d+(-\d+)?$/.test(r))
      .map((r) => {
        const [lo, hi] = r.split('-').map(Number);
        return [lo!, hi ?? lo!] as [number, number];
      });
    return { port, ranges };
  });
}

/** For each master (in `masters` order), the first candidate whose Redis key lives there. */
async function onePerMaster<T>(candidates: T[], key: (c: T) => string): Promise<T[]> {
  const owners = await slotOwners();
  const picked = new Map<number, T>();
  for (const c of candidates) {
    const slot = Number(await masters[0]!.cli('CLUSTER', 'KEYSLOT', key(c)));
    const owner = owners.find((o) => o.ranges.some(([lo, hi]) => slot >= lo && slot <= hi))!;
    if (!picked.has(owner.port)) picked.set(owner.port, c);
    if (picked.size === masters.length) break;
  }
  return masters.map((m) => {
    const c = picked.get(m.port);
    if (c === undefined) throw new Error(`no candidate key hashes to the master on port ${m.port}`);
    return c;
  });
}

const verify = (w: TestWarden, uri: string, key?: string, ip = '203.0.113.7') =>
  verifyStatus(w, uri, key, ip);
const revoke = (w: TestWarden, id: string) => revokeKey(w, admin.key, id, 'cluster test');
const ready = isReady;

redisDescribe('Redis Cluster (3 masters): two wardens', () => {
  // The masters' nodes.conf files: removed once the masters have stopped.
  let confDir: string;
  beforeAll(async () => {
    confDir = makeDir('warden-cluster-');
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      // The bus port defaults to port + 10000, which may be taken or past 65535: pick a free one too.
      const busPort = await freePort();
      masters.push(
        await startRedis(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(confDir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
            '--cluster-port',
            String(busPort),
          ],
          port,
        ),
      );
    }
    await run(
      REDIS_CLI!,
      [
        '--cluster',
        'create',
        ...masters.map((m) => `127.0.0.1:${m.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 20_000 },
    );
    await within(
      20_000,
      async () => {
        for (const m of masters) if (!/cluster_state:ok/.test(await m.cli('CLUSTER', 'INFO'))) return false;
        return true;
      },
      100,
    );

    const candidates = Array.from({ length: 40 }, (_, i) => `lim-${i}`);
    const ids = await onePerMaster(candidates, limitKey);
    limited = ids.map((id) => testKey(id, ['dev']));
    ips = await onePerMaster(
      Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`),
      ipKey,
    );

    const env = {
      WARDEN_REDIS_CLUSTER_NODES: masters.map((m) => `127.0.0.1:${m.port}`).join(','),
      WARDEN_KEYS_STORE: 'redis',
    };
    const keys = [admin, ...limited, ...revokable].map((k) => k.entry);
    [a, b] = await Promise.all([startWarden({ policy, keys, env }), startWarden({ policy, keys, env })]);
    await within(10_000, async () => (await ready(a)) && (await ready(b)), 50);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([ifStarted(a)?.close(), ifStarted(b)?.close()]);
    await Promise.allSettled(masters.map((m) => m.stop()));
    if (ifStarted(confDir)) removeDir(confDir);
  });

  it('shares each identity limit across both wardens, with the counters on all three masters', async () => {
    // Interleave the three identities so every round touches every master.
    const statuses: number[][] = limited.map(() => []);
    for (let i = 0; i < 8; i++) {
      for (const [j, k] of limited.entries())
        statuses[j]!.push(await verify((i + j) % 2 === 0 ? a : b, '/limited/x', k.key));
    }
    for (const s of statuses) expect(s).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    for (const k of limited) {
      expect(await verify(a, '/limited/x', k.key)).toBe(429);
      expect(await verify(b, '/limited/x', k.key)).toBe(429);
    }
    // KEYS is local to a node: each master holds exactly the counter that hashes to it.
    for (const [i, m] of masters.entries()) {
      expect((await m.cli('KEYS', 'warden:rl:shared:*')).split('\n')).toEqual([
        limitKey(limited[i]!.entry.id as string),
      ]);
      expect(Number(await m.cli('GET', limitKey(limited[i]!.entry.id as string)))).toBeGreaterThanOrEqual(5);
    }
  });

  it('shares each per-IP limit across both wardens', async () => {
    for (const [j, ip] of ips.entries()) {
      const s: number[] = [];
      for (let i = 0; i < 5; i++) s.push(await verify((i + j) % 2 === 0 ? a : b, '/public/x', undefined, ip));
      expect(s).toEqual([200, 200, 200, 429, 429]);
    }
    for (const [i, m] of masters.entries())
      expect(await m.cli('KEYS', 'warden:rl:perip:*')).toBe(ipKey(ips[i]!));
  });

  it('refuses on B a key revoked on A, and records the revocation once in the cluster', async () => {
    const times: number[] = [];
    for (const k of revokable) {
      expect(await verify(b, '/api/x', k.key)).toBe(200);
      const t0 = performance.now();
      expect(await revoke(a, k.entry.id as string)).toBe(201);
      await within(1000, async () => (await verify(b, '/api/x', k.key)) === 401, 1);
      times.push(Math.round(performance.now() - t0));
      expect(await verify(a, '/api/x', k.key)).toBe(401);
    }
    console.log(
      `cluster: revocation A→B propagation (POST sent → first 401 on B), ms: ${times.join(', ')} (goal ≤ 100)`,
    );
    for (const t of times) expect(t).toBeLessThanOrEqual(1000);
    // Both wardens' audit lines say why.
    expect(b.audit.filter((l) => l.cause === 'revoked').map((l) => l.keyId)).toEqual(
      expect.arrayContaining(revokable.map((k) => k.entry.id)),
    );
    // The set lives under one hash tag, so one master holds all of it.
    const holders: string[] = [];
    for (const m of masters)
      if ((await m.cli('EXISTS', 'warden:set:{revocations}')) === '1') holders.push(String(m.port));
    expect(holders).toHaveLength(1);
  });

  it('stores keys in the cluster: created on A, accepted on B; deleted on A, refused on B', async () => {
    const made = await adminCall(a, admin.key, 'POST', '/keys', { id: 'stored-1', roles: ['dev'] });
    expect(made.status, made.body).toBe(201);
    const key = (JSON.parse(made.body) as { key: string }).key;
    await within(1000, async () => (await verify(b, '/api/x', key)) === 200, 1);
    expect(await verify(a, '/api/x', key)).toBe(200);
    const entry = JSON.parse((await adminCall(b, admin.key, 'GET', '/keys/stored-1')).body) as { id: string };
    expect(entry.id).toBe('stored-1');
    // Every stored-key record shares the {keys} hash tag: one master holds them all.
    const holders: number[] = [];
    for (const m of masters) if ((await m.cli('EXISTS', 'warden:{keys}:index')) === '1') holders.push(m.port);
    expect(holders).toHaveLength(1);
    expect((await adminCall(a, admin.key, 'DELETE', '/keys/stored-1')).status).toBe(200);
    await within(1000, async () => (await verify(b, '/api/x', key)) === 401, 1);
    expect(await verify(a, '/api/x', key)).toBe(401);
  });

  it('a warden started later loads the revocations from the cluster', async () => {
    const env = { WARDEN_REDIS_CLUSTER_NODES: masters.map((m) => `127.0.0.1:${m.port}`).join(',') };
    const c = await startWarden({ policy, keys: [admin, ...limited, ...revokable].map((k) => k.entry), env });
    try {
      await within(10_000, () => ready(c), 50);
      for (const k of revokable) expect(await verify(c, '/api/x', k.key)).toBe(401);
      for (const k of limited) expect(await verify(c, '/limited/x', k.key)).toBe(429);
    } finally {
      await c.close();
    }
  });
});
