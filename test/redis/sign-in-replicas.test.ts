// Sessions shared by two replicas through Redis: signed in on one, valid on the other, signed out everywhere.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisDescribe, startRedis, type RedisServer } from '../helpers/redis.js';
import { devSignIn, logout, startSignIn, verifyAs, type SignInSetup } from '../oauth2/helpers.js';
import { ifStarted } from '../helpers/hooks.js';

redisDescribe('sign-in sessions on two replicas (Redis)', () => {
  let redis: RedisServer;
  let a: SignInSetup;
  let b: SignInSetup;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startSignIn({ devUsers: true, env: { REDIS_URL: redis.url } });
    // Replica B: same public URL and secret, its own port.
    b = await startSignIn({ devUsers: true, env: { REDIS_URL: redis.url, WARDEN_PUBLIC_URL: a.publicUrl } });
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(redis)?.stop();
  });

  it('a session made on A is valid on B; signing out on B ends it on A', async () => {
    const { cookie } = await devSignIn(a, 'developer', 'developer-demo-pass');
    expect((await verifyAs(a, { cookie: cookie! })).headers['x-user-id']).toBe('developer');
    expect((await verifyAs(b, { cookie: cookie! })).headers['x-user-id']).toBe('developer');
    const out = await logout(b, cookie!, a.publicUrl);
    expect(out.status).toBe(303);
    expect((await verifyAs(a, { cookie: cookie!, accept: 'application/json' })).status).toBe(401);
    expect((await verifyAs(b, { cookie: cookie!, accept: 'application/json' })).status).toBe(401);
    const keys = await redis.cli('--scan');
    expect(keys).not.toContain(cookie!.split('=')[1]!.slice(0, 30));
  });
});
