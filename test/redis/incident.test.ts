// Incident response across two replicas on a real redis-server: bans, their effect counts, revocation counts, alerts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { ifStarted } from '../helpers/hooks.js';
import type { RawResponse } from '../helpers/http.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { adminCall, verifyAnswer, verifyStatus } from '../helpers/replicas.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { ops: ['warden:admin'], dev: ['api:*'] },
  bans: false,
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
  alerts: [{ name: 'auth-failures', on: 'auth_failures', by: 'ip', threshold: 5, window: '10m' }],
};
const admin = testKey('ops-1', ['ops']);
const dev = testKey('dev-1', ['dev']);
const agent = testKey('agent-7', ['dev']);
const doomed = testKey('agent-9', ['dev']);

const json = (r: RawResponse) => JSON.parse(r.body) as Record<string, unknown>;

redisDescribe('incident response, two replicas sharing one Redis', () => {
  let redis: RedisServer;
  let receiver: WebhookReceiver;
  let a: TestWarden;
  let b: TestWarden;
  const clock = new FakeClock();
  beforeAll(async () => {
    redis = await startRedis();
    // The first POST fails: the alert must be delivered by a retry.
    receiver = await startReceiver((n) => ({ status: n === 0 ? 500 : 204 }));
    const env = { REDIS_URL: redis.url, WARDEN_ALERT_WEBHOOK_URL: receiver.url };
    const keys = [admin.entry, dev.entry, agent.entry, doomed.entry];
    a = await startWarden({ policy, keys, env, clock });
    b = await startWarden({ policy, keys, env, clock });
    // A first request warms each replica up: the 100 ms below measure the store, not a cold start.
    for (const w of [a, b]) {
      await verifyStatus(w, '/api/x', dev.key);
      await adminCall(w, admin.key, 'GET', '/bans');
    }
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(receiver)?.close();
    await ifStarted(redis)?.stop();
  });

  /** Wait (bounded) for each replica's counts to reach the store: the clock passes a flush interval. */
  async function countedOn(
    w: TestWarden,
    path: string,
    pick: (body: Record<string, unknown>) => unknown,
    want: unknown,
  ) {
    clock.advance(1000);
    await within(2000, async () => pick(json(await adminCall(w, admin.key, 'GET', path))) === want, 20);
  }

  it('an IP banned on A is refused by B within 100 ms, counted on both, and unbanned', async () => {
    const ip = '198.51.100.23';
    expect(await verifyStatus(b, '/api/x', dev.key, ip)).toBe(200);
    const r = await adminCall(a, admin.key, 'POST', '/bans', {
      type: 'ip',
      value: ip,
      duration: '1h',
      reason: 'credential stuffing from this host',
    });
    expect(r.status, r.body).toBe(201);
    const ban = json(r).ban as Record<string, unknown>;
    expect(ban).toMatchObject({ type: 'ip', value: ip, createdBy: 'ops-1', refused: 0 });
    const took = await within(1000, async () => (await verifyStatus(b, '/api/x', dev.key, ip)) === 429, 1);
    console.log(`an IP banned on A was refused by B after ${took} ms`);
    expect(took).toBeLessThanOrEqual(100);
    const refused = await verifyAnswer(b, '/api/x', dev.key, ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3500);
    expect(b.audit.at(-1)).toMatchObject({ decision: 'limited', reason: 'banned', ban: ban.id, status: 429 });
    expect(a.audit.find((l) => l.event === 'ban' && l.id === ban.id)).toMatchObject({
      by: 'ops-1',
      value: ip,
      reason: 'credential stuffing from this host',
    });
    // Another client is not touched.
    expect(await verifyStatus(b, '/api/x', dev.key, '198.51.100.24')).toBe(200);
    // Refusals on both replicas add up in the store.
    expect(await verifyStatus(a, '/api/x', undefined, ip)).toBe(429);
    const count = (body: Record<string, unknown>) =>
      (body.bans as { id: string; refused: number }[]).find((x) => x.id === ban.id)?.refused;
    await countedOn(a, '/bans', count, 3);

    const lifted = await adminCall(a, admin.key, 'DELETE', `/bans/${String(ban.id)}?reason=host%20cleaned`);
    expect(lifted.status, lifted.body).toBe(200);
    expect(json(lifted).ban).toMatchObject({ id: ban.id, refused: 3 });
    await within(1000, async () => (await verifyStatus(b, '/api/x', dev.key, ip)) === 200, 1);
    expect(a.audit.find((l) => l.event === 'unban' && l.id === ban.id)).toMatchObject({
      by: 'ops-1',
      reason: 'host cleaned',
      refused: 3,
    });
    expect((json(await adminCall(b, admin.key, 'GET', '/bans')).bans as unknown[]).length).toBe(0);
  });

  it('a CIDR ban refuses an address inside the range on the other replica, not one outside', async () => {
    const r = await adminCall(b, admin.key, 'POST', '/bans', {
      type: 'cidr',
      value: '192.0.2.77/24',
      duration: '30m',
      reason: 'botnet range',
    });
    expect(r.status, r.body).toBe(201);
    const ban = json(r).ban as Record<string, unknown>;
    // Written as the network it covers.
    expect(ban.value).toBe('192.0.2.0/24');
    await within(1000, async () => (await verifyStatus(a, '/api/x', dev.key, '192.0.2.200')) === 429, 1);
    expect(await verifyStatus(a, '/api/x', dev.key, '192.0.3.1')).toBe(200);
    expect(await verifyStatus(a, '/api/x', dev.key, '192.0.1.255')).toBe(200);
    const v6 = await adminCall(b, admin.key, 'POST', '/bans', {
      type: 'cidr',
      value: '2001:DB8:AB::/48',
      duration: '30m',
      reason: 'v6 range',
    });
    expect(json(v6).ban).toMatchObject({ value: '2001:db8:ab::/48' });
    await within(1000, async () => (await verifyStatus(a, '/api/x', dev.key, '2001:db8:ab:1::9')) === 429, 1);
    expect(await verifyStatus(a, '/api/x', dev.key, '2001:db8:ac::9')).toBe(200);
    for (const x of [ban, json(v6).ban as Record<string, unknown>])
      expect(
        (await adminCall(b, admin.key, 'DELETE', `/bans/${String(x.id)}`, { reason: 'done' })).status,
      ).toBe(200);
  });

  it('an identity ban refuses that identity from any address, after authentication, and no other', async () => {
    const r = await adminCall(a, admin.key, 'POST', '/bans', {
      type: 'identity',
      value: 'agent-7',
      duration: new Date(clock.now() + 2 * 3600_000).toISOString(),
      reason: 'agent-7 key leaked in a public repo',
    });
    expect(r.status, r.body).toBe(201);
    await within(1000, async () => (await verifyStatus(b, '/api/x', agent.key, '203.0.113.50')) === 429, 1);
    expect(await verifyStatus(b, '/api/x', agent.key, '203.0.113.51')).toBe(429);
    expect(b.audit.at(-1)).toMatchObject({
      reason: 'banned',
      sub: 'agent-7',
      ban: (json(r).ban as { id: string }).id,
    });
    expect(await verifyStatus(b, '/api/x', dev.key, '203.0.113.50')).toBe(200);
  });

  it('GET /admin/revocations says how many requests each revocation refused, across replicas', async () => {
    expect(
      (
        await adminCall(a, admin.key, 'POST', '/revocations', {
          type: 'key',
          id: 'agent-9',
          reason: 'rotated after the incident',
        })
      ).status,
    ).toBe(201);
    await within(1000, async () => (await verifyStatus(b, '/api/x', doomed.key)) === 401, 1);
    expect(await verifyStatus(a, '/api/x', doomed.key)).toBe(401);
    expect(await verifyStatus(b, '/api/x', doomed.key)).toBe(401);
    const refused = (body: Record<string, unknown>) =>
      (body.revocations as { type: string; id: string; refused: number }[]).find((x) => x.id === 'agent-9')
        ?.refused;
    await countedOn(b, '/revocations', refused, 3);
    // The existing fields stay as they were.
    const entry = (json(await adminCall(b, admin.key, 'GET', '/revocations')).revocations as unknown[])[0];
    expect(entry).toMatchObject({ type: 'key', id: 'agent-9', reason: 'rotated after the incident' });
  });

  it('an alert counted on both replicas posts once per window and subject, retried after a 500', async () => {
    const bad = 'wdn_not_a_key_of_anyone_xxxxxxxxxxxx';
    const attacker = '203.0.113.99';
    const quiet = '203.0.113.98';
    for (const w of [a, b, a, b]) expect(await verifyStatus(w, '/api/x', bad, attacker)).toBe(401);
    // A subject under the threshold posts nothing.
    for (const w of [a, b, a]) await verifyStatus(w, '/api/x', bad, quiet);
    expect(receiver.posts).toHaveLength(0);
    // The fifth failure fires, and later ones in the same window do not fire again.
    for (const w of [b, a, b, a]) await verifyStatus(w, '/api/x', bad, attacker);
    await within(3000, () => receiver.accepted().length === 1, 20);
    expect(receiver.posts.map((p) => p.status)).toEqual([500, 204]);
    const post = receiver.accepted()[0]!;
    expect(post.text).toBe(
      'warden alert "auth-failures": client IP 203.0.113.99 reached 5 failed authentications within 10m',
    );
    expect(post).toMatchObject({
      alert: { name: 'auth-failures', on: 'auth_failures', by: 'ip', threshold: 5, window: 600 },
      subject: attacker,
    });
    for (const w of [a, b]) await verifyStatus(w, '/api/x', bad, attacker);
    // Both replicas list the last firing (kept in the store).
    const listed = json(await adminCall(a, admin.key, 'GET', '/alerts'));
    expect(listed).toMatchObject({
      webhook: true,
      alerts: [{ name: 'auth-failures', lastFired: { subject: attacker } }],
    });
    expect(json(await adminCall(b, admin.key, 'GET', '/alerts'))).toEqual(listed);
    expect(receiver.accepted()).toHaveLength(1);
    expect(receiver.posts).toHaveLength(2);
  });

  it('with Redis down, a ban is refused with a clear message and bans in force still hold', async () => {
    await redis.stop(true);
    try {
      const r = await adminCall(a, admin.key, 'POST', '/bans', {
        type: 'ip',
        value: '198.51.100.77',
        duration: '1h',
        reason: 'during the outage',
      });
      expect(r.status).toBe(503);
      expect(String(json(r).message)).toMatch(/does not answer: nothing changed/);
      expect(await verifyStatus(b, '/api/x', dev.key, '198.51.100.77')).toBe(200);
      // The identity banned earlier is still refused on both replicas, from memory.
      for (const w of [a, b]) expect(await verifyStatus(w, '/api/x', agent.key)).toBe(429);
      const listed = json(await adminCall(a, admin.key, 'GET', '/bans'));
      expect(listed.countsShared).toBe(false);
      expect((listed.bans as { value: string }[]).map((x) => x.value)).toEqual(['agent-7']);
    } finally {
      await redis.restart();
    }
  });
});
