// CSRF tokens across replicas without WARDEN_SESSION_SECRET (API-key access): one random key shared through a real Redis.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { ifStarted } from '../helpers/hooks.js';
import { send } from '../helpers/http.js';
import { redisDescribe, startRedis, type RedisServer } from '../helpers/redis.js';
import { formTokens, KEYS, page, startConsole, through, type ConsoleSetup } from './helpers.js';

/** POST a console form with the admin's API key, as a script or a browser extension holding it would. */
function postWithKey(s: ConsoleSetup, path: string, cookie: string, form: Record<string, string>) {
  return send(`${s.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie,
      origin: s.url,
      'x-api-key': KEYS.ops.key,
    },
    body: new URLSearchParams(form).toString(),
  });
}

/** The form tokens replica `s` gives the admin's API key on the revocations page. */
async function tokensFrom(s: ConsoleSetup) {
  const res = await page(s, '/console/revocations', undefined, { 'x-api-key': KEYS.ops.key });
  expect(res.status).toBe(200);
  return formTokens(res);
}

redisDescribe('console CSRF tokens across replicas without a session secret', () => {
  let redis: RedisServer;
  let a: ConsoleSetup;
  let b: ConsoleSetup;
  const clock = new FakeClock();
  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, WARDEN_REDIS_PREFIX: 'csrftest:' };
    a = await startConsole({ signIn: false, clock, env: { ...env, WARDEN_REPLICA_ID: 'a' } });
    b = await startConsole({ signIn: false, clock, env: { ...env, WARDEN_REPLICA_ID: 'b' } });
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(redis)?.stop();
  });

  it('a form loaded from replica A is accepted when posted to replica B, and B revokes', async () => {
    const t = await tokensFrom(a);
    const res = await postWithKey(b, '/console/revocations', t.cookie, {
      csrf: t.csrf,
      type: 'key',
      id: 'dev-1',
      reason: 'posted through the other replica',
    });
    expect(res.status, res.body).toBe(200);
    expect(res.body).toContain('key dev-1 revoked');
    expect((await through(a, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(401);
    // And the other way round: B's form posted to A lifts it.
    const back = await tokensFrom(b);
    // The same console cookie gets the same token from either replica.
    const sameCookie = await page(a, '/console/revocations', back.cookie, { 'x-api-key': KEYS.ops.key });
    expect(formTokens(sameCookie, back.cookie).csrf).toBe(back.csrf);
    const lifted = await postWithKey(a, '/console/revocations/remove', back.cookie, {
      csrf: back.csrf,
      type: 'key',
      id: 'dev-1',
      reason: 'a false alarm',
    });
    expect(lifted.status, lifted.body).toBe(200);
    expect(lifted.body).toContain('key dev-1 is no longer revoked');
  });

  it('a forged or another cookie’s token is still refused by either replica, nothing changed', async () => {
    const t = await tokensFrom(a);
    const other = await tokensFrom(b);
    for (const [s, csrf, cookie] of [
      [b, 'x'.repeat(43), t.cookie],
      [a, t.csrf, other.cookie],
    ] as const) {
      const res = await postWithKey(s, '/console/revocations', cookie, {
        csrf,
        type: 'key',
        id: 'dev-1',
        reason: 'should not happen',
      });
      expect(res.status).toBe(403);
    }
    expect((await through(b, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(200);
  });

  it('the key lives in Redis under warden’s prefix, once, and appears in no log line', async () => {
    expect(await redis.cli('--scan', '--pattern', '*csrf-key*')).toBe('csrftest:rec:{console}:csrf-key');
    const key = await redis.cli('GET', 'csrftest:rec:{console}:csrf-key');
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const s of [a, b])
      for (const line of [...s.w.audit, ...s.w.ops]) expect(JSON.stringify(line)).not.toContain(key);
  });

  it('a replica started after Redis lost the key and one that kept it agree again once a token fails', async () => {
    await redis.cli('FLUSHALL');
    const c = await startConsole({
      signIn: false,
      clock,
      env: { REDIS_URL: redis.url, WARDEN_REDIS_PREFIX: 'csrftest:', WARDEN_REPLICA_ID: 'c' },
    });
    try {
      // C found no key and wrote its own; A's form is refused once by A's old key, then A reads C's.
      const fromC = await tokensFrom(c);
      // A re-reads the shared key after a refused token at most once a second.
      clock.advance(1500);
      const res = await postWithKey(a, '/console/revocations', fromC.cookie, {
        csrf: fromC.csrf,
        type: 'key',
        id: 'watch-1',
        reason: 'after the Redis restart',
      });
      expect(res.status, res.body).toBe(200);
      expect(res.body).toContain('key watch-1 revoked');
    } finally {
      await c.close();
    }
  });
});
