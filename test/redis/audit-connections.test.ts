// The Redis connections a replica opens (CLIENT LIST on a real redis-server): the audit stream has its own only with the redis sink.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ifStarted } from '../helpers/hooks.js';
import { send } from '../helpers/http.js';
import { traefikHeaders, verifyStatus } from '../helpers/replicas.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { viewer: ['warden:console'], dev: ['api:*'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const viewer = testKey('viewer-1', ['viewer']);
const dev = testKey('dev-1', ['dev']);
const keys = [viewer.entry, dev.entry];

interface Overview {
  source: string;
  replicas: string[];
  totals: Record<string, number>;
}

const overview = async (w: TestWarden): Promise<Overview> => {
  const r = await send(`${w.url}/admin/overview`, { headers: { 'X-API-Key': viewer.key } });
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as Overview;
};

redisDescribe('Redis connections of a replica', () => {
  let redis: RedisServer;
  const wardens: TestWarden[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const w of wardens) await w.close();
    await ifStarted(redis)?.stop();
  });

  /** Clients connected now, the redis-cli asking not counted. */
  const connections = async () =>
    (await redis.cli('CLIENT', 'LIST')).split('\n').filter((l) => l !== '' && !l.includes('cmd=client|list'))
      .length;

  /** A replica started, used (a decision, the overview read and shared) and closed: the connections it held meanwhile. */
  const connectionsOf = async (sinks: string): Promise<number> => {
    const w = await startWarden({
      policy,
      keys,
      env: { REDIS_URL: redis.url, WARDEN_AUDIT_SINKS: sinks, WARDEN_REPLICA_ID: sinks.replace(',', '-') },
    });
    try {
      expect(await verifyStatus(w, '/api/x', dev.key)).toBe(200);
      expect((await overview(w)).source).toBe('redis');
      return await connections();
    } finally {
      await w.close();
      await within(1000, async () => (await connections()) === 0);
    }
  };

  it('opens a connection for the audit stream only with the redis audit sink', async () => {
    expect(await connections()).toBe(0);
    const without = await connectionsOf('stdout');
    const withSink = await connectionsOf('stdout,redis');
    expect({ without, withSink }).toEqual({ without: withSink - 1, withSink });
  });

  it('shares the overview through Redis without the redis sink', async () => {
    // A prefix of its own: the replicas of the other test shared their minutes under the default one.
    const env = { REDIS_URL: redis.url, WARDEN_AUDIT_SINKS: 'stdout', WARDEN_REDIS_PREFIX: 'shared:' };
    const a = await startWarden({ policy, keys, env: { ...env, WARDEN_REPLICA_ID: 'a' } });
    wardens.push(a);
    const b = await startWarden({ policy, keys, env: { ...env, WARDEN_REPLICA_ID: 'b' } });
    wardens.push(b);
    for (let i = 0; i < 3; i++) expect(await verifyStatus(a, '/api/x', dev.key)).toBe(200);
    const refused = await send(`${b.url}/verify/traefik`, {
      headers: traefikHeaders('/api/x', '198.51.100.9'),
    });
    expect(refused.status).toBe(401);
    // Each reader shares its own minutes first: asking a, then b, gives b both.
    await overview(a);
    const o = await overview(b);
    expect(o).toMatchObject({ source: 'redis', replicas: ['a', 'b'] });
    expect(o.totals).toMatchObject({ allow: 3, unauthenticated: 1 });
  });
});
