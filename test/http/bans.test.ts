// Admin bans and alerts with the memory store (no Redis): the API's answers, enforcement, counts, alert windows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { ifStarted } from '../helpers/hooks.js';
import type { RawResponse } from '../helpers/http.js';
import { within } from '../helpers/redis.js';
import { adminCall, verifyAnswer, verifyStatus } from '../helpers/replicas.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { ops: ['warden:admin'], watch: ['warden:console'], dev: ['api:*'] },
  bans: false,
  rules: [
    { match: { path: '/health' }, public: true },
    { match: { path: '/api/**' }, require: ['api:read'] },
  ],
  alerts: [
    { name: 'denied', on: 'denials', by: 'identity', threshold: 3, window: '1m' },
    { name: 'busy', on: 'requests', by: 'ip', threshold: 1000, window: '1m' },
  ],
};
const admin = testKey('ops-1', ['ops']);
const dev = testKey('dev-1', ['dev']);
const viewer = testKey('viewer-1', []);
const watcher = testKey('watch-1', ['watch']);
const old = testKey('old-1', ['dev']);

const json = (r: RawResponse) => JSON.parse(r.body) as Record<string, unknown>;

describe('admin bans and alerts, memory store', () => {
  let w: TestWarden;
  let receiver: WebhookReceiver;
  const clock = new FakeClock();
  beforeAll(async () => {
    receiver = await startReceiver();
    w = await startWarden({
      policy,
      keys: [admin.entry, dev.entry, viewer.entry, watcher.entry, old.entry],
      env: { WARDEN_ALERT_WEBHOOK_URL: receiver.url },
      clock,
    });
  });
  afterAll(async () => {
    await ifStarted(w)?.close();
    await ifStarted(receiver)?.close();
  });

  const ban = (body: unknown, key: string | null = admin.key) => adminCall(w, key, 'POST', '/bans', body);
  const valid = { type: 'ip', value: '198.51.100.1', duration: '1h', reason: 'abuse' };

  it('needs warden:admin: 401 without a key, 403 with a key that lacks it, nothing banned', async () => {
    const none = await ban(valid, null);
    expect(none.status).toBe(401);
    const weak = await ban(valid, viewer.key);
    expect(weak.status).toBe(403);
    expect(json(weak)).toMatchObject({ error: 'forbidden', required: ['warden:admin'] });
    expect((await adminCall(w, viewer.key, 'GET', '/bans')).status).toBe(403);
    expect((await adminCall(w, viewer.key, 'DELETE', '/bans/x?reason=y')).status).toBe(403);
    expect((await adminCall(w, viewer.key, 'GET', '/alerts')).status).toBe(403);
    expect(json(await adminCall(w, admin.key, 'GET', '/bans')).bans).toEqual([]);
  });

  it('warden:console reads bans and alerts; banning and unbanning still need warden:admin', async () => {
    const bans = await adminCall(w, watcher.key, 'GET', '/bans');
    expect(bans.status).toBe(200);
    expect(json(bans)).toMatchObject({ bans: [] });
    const alerts = await adminCall(w, watcher.key, 'GET', '/alerts');
    expect(alerts.status).toBe(200);
    expect((json(alerts).alerts as { name: string }[]).map((a) => a.name)).toEqual(['denied', 'busy']);
    const tried = await ban(valid, watcher.key);
    expect(tried.status).toBe(403);
    expect(json(tried)).toMatchObject({ required: ['warden:admin'] });
    expect((await adminCall(w, watcher.key, 'DELETE', '/bans/x?reason=y')).status).toBe(403);
    expect(json(await adminCall(w, admin.key, 'GET', '/bans')).bans).toEqual([]);
  });

  it.each([
    [{ ...valid, type: 'host' }, 'type', /ip, cidr, identity/],
    [{ ...valid, reason: undefined }, 'reason', /required/],
    [{ ...valid, reason: '   ' }, 'reason', /required/],
    [{ ...valid, value: '' }, 'value', /required/],
    [{ ...valid, duration: '10s' }, 'duration', /1 minute and 30 days/],
    [{ ...valid, duration: '31d' }, 'duration', /1 minute and 30 days/],
    [{ ...valid, duration: 'soon' }, 'duration', /./],
    [{ ...valid, duration: '2020-01-01T00:00:00Z' }, 'duration', /1 minute and 30 days/],
    [{ ...valid, value: 'not-an-ip' }, 'value', /not an IP address/],
    [{ ...valid, type: 'cidr', value: '0.0.0.0/0' }, 'value', /good part of the Internet/],
    [{ ...valid, type: 'cidr', value: '::/0' }, 'value', /good part of the Internet/],
    [{ ...valid, type: 'cidr', value: '10.0.0.0' }, 'value', /not a CIDR/],
    [{ ...valid, value: '127.0.0.1' }, 'value', /trusted proxy/],
    [{ ...valid, type: 'cidr', value: '127.0.0.0/16' }, 'value', /trusted proxy/],
    [{ ...valid, type: 'cidr', value: '96.0.0.0/3' }, 'value', /good part of the Internet/],
    [{ ...valid, extra: 1 }, 'body', /./],
  ])('refuses %j with 400 naming %s', async (body, field, message) => {
    const r = await ban(body);
    expect(r.status, r.body).toBe(400);
    expect(json(r)).toMatchObject({ error: 'bad_request', field });
    expect(String(json(r).message)).toMatch(message);
    expect(json(await adminCall(w, admin.key, 'GET', '/bans')).bans).toEqual([]);
  });

  it('a trusted proxy inside a wide CIDR is named in the refusal', async () => {
    const r = await ban({ ...valid, type: 'cidr', value: '127.0.0.0/8' });
    expect(json(r)).toMatchObject({ field: 'value' });
    expect(String(json(r).message)).toContain('127.0.0.0/8');
  });

  it('bans an IP on every route, public ones included, until it is lifted with a reason', async () => {
    const r = await ban(valid);
    expect(r.status, r.body).toBe(201);
    const id = (json(r).ban as { id: string }).id;
    const refused = await verifyAnswer(w, '/health', undefined, '198.51.100.1');
    expect(refused.status).toBe(429);
    expect(json(refused)).toMatchObject({ error: 'rate_limited', reason: 'banned' });
    expect(refused.headers['retry-after']).toBe('3600');
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.1')).toBe(429);
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.2')).toBe(200);
    // This replica's own refusals show at once.
    const listed = json(await adminCall(w, admin.key, 'GET', '/bans')).bans as Record<string, unknown>[];
    expect(listed).toEqual([
      {
        id,
        type: 'ip',
        value: '198.51.100.1',
        reason: 'abuse',
        createdBy: 'ops-1',
        createdAt: new Date(clock.now()).toISOString(),
        expiresAt: new Date(clock.now() + 3600_000).toISOString(),
        refused: 2,
      },
    ]);
    const noReason = await adminCall(w, admin.key, 'DELETE', `/bans/${id}`);
    expect(noReason.status).toBe(400);
    expect(json(noReason)).toMatchObject({ field: 'reason' });
    expect((await adminCall(w, admin.key, 'DELETE', '/bans/ban_nothing?reason=x')).status).toBe(404);
    const lifted = await adminCall(w, admin.key, 'DELETE', `/bans/${id}`, { reason: 'false positive' });
    expect(lifted.status).toBe(200);
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.1')).toBe(200);
    expect(w.audit.filter((l) => l.event === 'ban' || l.event === 'unban')).toMatchObject([
      { event: 'ban', id, by: 'ops-1', reason: 'abuse', type: 'ip', value: '198.51.100.1' },
      { event: 'unban', id, by: 'ops-1', reason: 'false positive', refused: 2 },
    ]);
  });

  it('a ban ends by itself when its time is over', async () => {
    const r = await ban({ ...valid, value: '198.51.100.9', duration: '2m' });
    expect(r.status).toBe(201);
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.9')).toBe(429);
    clock.advance(120_000);
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.9')).toBe(200);
    expect(json(await adminCall(w, admin.key, 'GET', '/bans')).bans).toEqual([]);
  });

  it('an identity ban refuses that identity, from any address', async () => {
    const r = await ban({ type: 'identity', value: 'dev-1', duration: '1h', reason: 'leaked key' });
    expect(r.status).toBe(201);
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.30')).toBe(429);
    expect(w.audit.at(-1)).toMatchObject({ reason: 'banned', sub: 'dev-1', status: 429 });
    await adminCall(w, admin.key, 'DELETE', `/bans/${(json(r).ban as { id: string }).id}?reason=rotated`);
    expect(await verifyStatus(w, '/api/x', dev.key, '198.51.100.30')).toBe(200);
  });

  it('a revocation lists the requests it refused, and its lifting is audited with a reason and that count', async () => {
    const r = await adminCall(w, admin.key, 'POST', '/revocations', {
      type: 'key',
      id: 'old-1',
      reason: 'leaked',
    });
    expect(r.status).toBe(201);
    for (let i = 0; i < 2; i++) expect(await verifyStatus(w, '/api/x', old.key, '198.51.100.50')).toBe(401);
    expect(json(await adminCall(w, admin.key, 'GET', '/revocations')).revocations).toEqual([
      { type: 'key', id: 'old-1', reason: 'leaked', createdAt: clock.now(), refused: 2 },
    ]);
    const bad = await adminCall(w, admin.key, 'DELETE', '/revocations/key/old-1?reason=%07');
    expect(bad.status).toBe(400);
    expect(json(bad)).toMatchObject({ field: 'reason' });
    expect((await adminCall(w, admin.key, 'DELETE', '/revocations/key/old-1?reason=rotated')).status).toBe(
      200,
    );
    expect(w.audit.find((l) => l.event === 'revocation_removed')).toMatchObject({
      id: 'old-1',
      by: 'ops-1',
      reason: 'rotated',
      refused: 2,
    });
    expect(await verifyStatus(w, '/api/x', old.key, '198.51.100.50')).toBe(200);
  });

  it('an alert fires once per window and subject; a new window fires again', async () => {
    const before = receiver.posts.length;
    // viewer-1 is refused (403) on /api: the third denial in a minute fires.
    for (let i = 0; i < 2; i++) expect(await verifyStatus(w, '/api/x', viewer.key)).toBe(403);
    expect(receiver.posts.length).toBe(before);
    for (let i = 0; i < 5; i++) await verifyStatus(w, '/api/x', viewer.key);
    await within(1000, () => receiver.posts.length === before + 1);
    expect(receiver.accepted().at(-1)).toMatchObject({
      text: 'warden alert "denied": identity viewer-1 reached 3 refused requests within 1m',
      subject: 'viewer-1',
    });
    clock.advance(61_000);
    for (let i = 0; i < 3; i++) await verifyStatus(w, '/api/x', viewer.key);
    await within(1000, () => receiver.posts.length === before + 2);
    const alerts = json(await adminCall(w, admin.key, 'GET', '/alerts'));
    expect(alerts).toEqual({
      webhook: true,
      alerts: [
        {
          name: 'denied',
          on: 'denials',
          by: 'identity',
          threshold: 3,
          window: 60,
          lastFired: {
            at: new Date(clock.now()).toISOString(),
            subject: 'viewer-1',
            windowEndsAt: new Date(clock.now() + 60_000).toISOString(),
          },
        },
        { name: 'busy', on: 'requests', by: 'ip', threshold: 1000, window: 60, lastFired: null },
      ],
    });
    expect(receiver.posts.length).toBe(before + 2);
  });

  it('alerts reload with the policy', async () => {
    w.writePolicy({
      ...policy,
      alerts: [{ name: 'fails', on: 'auth_failures', by: 'ip', threshold: 2, window: '5m' }],
    });
    expect(await w.reload()).toMatchObject({ ok: true, changed: true });
    const before = receiver.posts.length;
    for (let i = 0; i < 2; i++)
      await verifyStatus(w, '/api/x', 'wdn_wrong_key_xxxxxxxxxxxxxxxxxxxxxx', '203.0.113.40');
    await within(1000, () => receiver.posts.length === before + 1);
    expect(receiver.accepted().at(-1)).toMatchObject({ alert: { name: 'fails' }, subject: '203.0.113.40' });
    expect(
      (json(await adminCall(w, admin.key, 'GET', '/alerts')).alerts as { name: string }[]).map((a) => a.name),
    ).toEqual(['fails']);
  });
});
