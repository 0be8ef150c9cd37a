// Two warden replicas sharing one real redis-server: limits, revocations, bans, and Redis dying mid-traffic.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { ifStarted } from '../helpers/hooks.js';

const policy = {
  roles: { ops: ['warden:admin'], dev: ['api:*'] },
  rateLimits: { shared: { limit: 5, window: '60s', by: 'identity' } },
  bans: { failures: 10, window: '5m', ban: '15m' },
  rules: [
    { match: { path: '/health' }, public: true },
    { match: { path: '/limited/**' }, require: ['api:read'], rateLimit: 'shared' },
    { match: { path: '/api/**' }, require: ['api:read'] },
  ],
};
const admin = testKey('ops-1', ['ops']);
const dev = testKey('dev-1', ['dev']);
const limited = testKey('lim-1', ['dev']);
const victim = testKey('victim-1', ['dev']);
const bystander = testKey('bystander-1', ['dev']);
const fresh = testKey('fresh-1', ['dev']);
const keys = [admin, dev, limited, victim, bystander, fresh].map((k) => k.entry);

const ask = (w: TestWarden, path: string, headers: Record<string, string> = {}, ip = '203.0.113.10') =>
  send(`${w.url}/verify/traefik`, { headers: { ...traefikHeaders(path, ip), ...headers } });
const revoke = (w: TestWarden, body: unknown, key = admin.key) =>
  send(`${w.url}/admin/revocations`, {
    method: 'POST',
    headers: {
      'X-API-Key': key,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(JSON.stringify(body))),
    },
    body: JSON.stringify(body),
  });

redisDescribe('two replicas sharing Redis', () => {
  let redis: RedisServer;
  let a: TestWarden;
  let b: TestWarden;
  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url };
    a = await startWarden({ policy, keys, env });
    b = await startWarden({ policy, keys, env });
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(redis)?.stop();
  });

  it('reports Redis in readiness', async () => {
    const r = await send(`${a.url}/readyz`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ready: true, store: { kind: 'redis', state: 'ready' } });
  });

  it('gives a client its limit once across both replicas, not twice', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await ask(i % 2 ? b : a, '/limited/x', { 'X-API-Key': limited.key })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.slice(5)).toEqual([429, 429, 429, 429, 429]);
  });

  it('a revoke on A is refused on B within 100 ms, with the same 401 as an unknown key', async () => {
    expect((await ask(b, '/api/x', { 'X-API-Key': victim.key })).status).toBe(200);
    const r = await revoke(a, { type: 'key', id: 'victim-1', reason: 'incident 42' });
    expect(r.status).toBe(201);
    const took = await within(
      1000,
      async () => (await ask(b, '/api/x', { 'X-API-Key': victim.key })).status === 401,
      1,
    );
    console.log(`revocation reached replica B in ${took} ms`);
    expect(took).toBeLessThanOrEqual(100);
    const refused = await ask(b, '/api/x', { 'X-API-Key': victim.key, Accept: 'application/json' });
    const unknown = await ask(b, '/api/x', { 'X-API-Key': 'wdn_unknown', Accept: 'application/json' });
    expect(refused.body).toBe(unknown.body);
    expect(b.audit.at(-2)).toMatchObject({
      decision: 'unauthenticated',
      reason: 'invalid_credentials',
      cause: 'revoked',
      keyId: 'victim-1',
    });
    expect(
      a.audit.some(
        (l) =>
          l.event === 'revocation_added' &&
          l.id === 'victim-1' &&
          l.by === 'ops-1' &&
          l.reason === 'incident 42',
      ),
    ).toBe(true);
  });

  it('guards the admin endpoint: 401 without a key, 403 without warden:admin, 400 naming the bad field', async () => {
    expect((await revoke(a, { type: 'key', id: 'x' }, 'wdn_nope')).status).toBe(401);
    const forbidden = await revoke(a, { type: 'key', id: 'x' }, dev.key);
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body)).toMatchObject({ required: ['warden:admin'] });
    for (const [body, field] of [
      [{ type: 'key' }, 'id'],
      [{ type: 'cookie', id: 'x' }, 'type'],
      [{ type: 'key', id: 'x', expires: 'tomorrow' }, 'expires'],
      [{ type: 'key', id: 'x', extra: 1 }, 'body'],
    ] as const) {
      const r = await revoke(a, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(JSON.parse(r.body).field).toBe(field);
    }
    const unknown = await revoke(a, { type: 'key', id: 'no-such-key', expires: '1h' });
    expect(unknown.status).toBe(201);
    expect(JSON.parse(unknown.body)).toMatchObject({ knownId: false });
    // Listed by the other replica once the revocation has reached it through Redis (pub/sub: not instant).
    const ids = async () =>
      JSON.parse((await send(`${b.url}/admin/revocations`, { headers: { 'X-API-Key': admin.key } })).body)
        .revocations.map((r: { id: string }) => r.id)
        .sort();
    await within(1000, async () => (await ids()).length === 2);
    expect(await ids()).toEqual(['no-such-key', 'victim-1']);
  });

  it('bans an IP on every replica after repeated failures; a correct key is then refused too', async () => {
    const ip = '198.51.100.66';
    for (let i = 0; i < 10; i++)
      expect((await ask(i % 2 ? a : b, '/api/x', { 'X-API-Key': `wdn_guess_${i}` }, ip)).status).toBe(401);
    for (const w of [a, b]) {
      await within(
        1000,
        async () => (await ask(w, '/api/x', { 'X-API-Key': bystander.key }, ip)).status === 429,
      );
      const r = await ask(w, '/api/x', { 'X-API-Key': bystander.key }, ip);
      expect(r.status).toBe(429);
      expect(JSON.parse(r.body)).toMatchObject({ reason: 'banned' });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(800);
      expect((await ask(w, '/health', {}, ip)).status).toBe(200);
      expect((await ask(w, '/api/x', { 'X-API-Key': bystander.key }, '198.51.100.67')).status).toBe(200);
    }
    expect([...a.audit, ...b.audit].filter((l) => l.event === 'ban_started' && l.ip === ip)).toHaveLength(1);
  });

  it('survives Redis being killed under traffic, and recovers within 2 s of its return', async () => {
    const seen = { unauth: new Set<number>(), revoked: new Set<number>(), good: new Set<number>() };
    // Set once Redis is back; read by the traffic loop between its rounds.
    let stop = false;
    const drive = async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const w = i % 2 ? a : b;
        seen.unauth.add((await ask(w, '/api/x')).status);
        seen.revoked.add((await ask(w, '/api/x', { 'X-API-Key': victim.key })).status);
        seen.good.add((await ask(w, '/api/x', { 'X-API-Key': dev.key }, '203.0.113.20')).status);
      }
    };
    const traffic = drive();
    await new Promise((r) => setTimeout(r, 200));
    await redis.stop(true);
    // Still ready (every replica unready at once would empty the Service), and saying it is degraded.
    await within(3000, async () => {
      const r = await send(`${a.url}/readyz`);
      return r.status === 200 && /^degraded: /.test(JSON.parse(r.body).details.store ?? '');
    });
    // While Redis is down each replica enforces limits from memory.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await ask(a, '/limited/y', { 'X-API-Key': dev.key }, '203.0.113.30')).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    await new Promise((r) => setTimeout(r, 300));
    await redis.restart();
    const healthy = async (w: typeof a) => {
      const r = await send(`${w.url}/readyz`);
      return r.status === 200 && JSON.parse(r.body).store.state === 'ready';
    };
    const recovered = await within(2000, async () => (await healthy(a)) && (await healthy(b)), 20);
    console.log(`replicas ready again ${recovered} ms after Redis returned`);
    stop = true;
    await traffic;
    // Never a 2xx; 429 appears once the revoked key's failures ban the IP.
    for (const set of [seen.unauth, seen.revoked]) {
      expect(set.has(401)).toBe(true);
      expect([...set].every((s) => s === 401 || s === 429)).toBe(true);
    }
    expect([...seen.good].every((s) => s === 200)).toBe(true);
    // Back on Redis: a fresh identity's limit is shared again, and the revocation was written back.
    const after: number[] = [];
    for (let i = 0; i < 8; i++)
      after.push((await ask(i % 2 ? b : a, '/limited/x', { 'X-API-Key': fresh.key }, '203.0.113.40')).status);
    expect(after.filter((s) => s === 200)).toHaveLength(5);
    expect(await redis.cli('HEXISTS', 'warden:set:{revocations}', 'key:victim-1')).toBe('1');
  });
});

redisDescribe('revocations while Redis is away', () => {
  let redis: RedisServer;
  let a: TestWarden;
  let b: TestWarden;
  const late = testKey('late-1', ['dev']);
  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url };
    a = await startWarden({ policy, keys: [...keys, late.entry], env });
    b = await startWarden({ policy, keys: [...keys, late.entry], env });
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(redis)?.stop();
  });

  it('a revoke during an outage holds at once on that replica, and everywhere once Redis returns', async () => {
    await redis.stop(true);
    const r = await revoke(a, { type: 'key', id: 'late-1', reason: 'outage' });
    expect(r.status).toBe(202);
    expect(JSON.parse(r.body)).toMatchObject({ stored: 'local' });
    expect((await ask(a, '/api/x', { 'X-API-Key': late.key }, '203.0.113.50')).status).toBe(401);
    await redis.restart();
    await within(
      3000,
      async () => (await ask(b, '/api/x', { 'X-API-Key': late.key }, '203.0.113.51')).status === 401,
      20,
    );
    expect(await redis.cli('HEXISTS', 'warden:set:{revocations}', 'key:late-1')).toBe('1');
  });
});

redisDescribe('Redis down at start', () => {
  it('refuses API keys until revocations load, without banning their owners', async () => {
    const { freePort } = await import('../e2e/harness/net.js');
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const w = await startWarden({
      policy: { ...policy, bans: { failures: 3, window: '5m', ban: '15m' } },
      keys,
      env: { REDIS_URL: dead },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push((await ask(w, '/api/x', { 'X-API-Key': dev.key }, '203.0.113.60')).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
      expect(w.audit.at(-1)).toMatchObject({ cause: 'revocations_unavailable' });
      expect((await send(`${w.url}/readyz`)).status).toBe(503);
    } finally {
      await w.close();
    }
  }, 20_000);
});
