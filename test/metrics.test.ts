import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from './helpers/http.js';
import { family, scrape, value, type Scrape } from './helpers/prometheus.js';
import { traefikHeaders } from './helpers/replicas.js';
import { startWarden, testKey, type TestWarden } from './helpers/warden.js';
import { ifStarted } from './helpers/hooks.js';

const policy = {
  roles: { developer: ['api:*'] },
  rateLimits: { tight: { limit: 2, window: '60s', by: 'identity' } },
  bans: { failures: 3, window: '60s', ban: '60s' },
  rules: [
    { match: { path: '/health' }, public: true },
    { match: { path: '/limited/**' }, require: ['api:read'], rateLimit: 'tight' },
    { match: { path: '/api/**' }, require: ['api:read'] },
    { match: { path: '/internal/**' }, deny: true },
  ],
};
const dev = testKey('dev', ['developer']);
const dev2 = testKey('dev2', ['developer']);

let w: TestWarden;
let m: Scrape;
const traefik = (uri: string, ip: string, key?: string) =>
  send(`${w.url}/verify/traefik`, { headers: traefikHeaders(uri, ip, key) });
const nginx = (uri: string) =>
  send(`${w.url}/verify/nginx`, {
    headers: {
      'X-Original-URL': `https://app.example.com${uri}`,
      'X-Original-Method': 'GET',
      'X-Forwarded-For': '198.51.100.1',
    },
  });

beforeAll(async () => {
  w = await startWarden({ policy, keys: [dev.entry, dev2.entry] });
  // Known traffic: 14 /verify requests.
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await traefik('/api/x', '203.0.113.1', dev.key)).status);
  for (let i = 0; i < 2; i++) statuses.push((await nginx('/health')).status);
  statuses.push((await traefik('/internal/x', '203.0.113.1', dev.key)).status);
  for (let i = 0; i < 4; i++) statuses.push((await traefik('/limited/x', '203.0.113.1', dev2.key)).status);
  // Three bad keys from one IP: the third failure bans it, the next request is refused as banned.
  for (let i = 0; i < 3; i++)
    statuses.push((await traefik('/api/x', '203.0.113.66', 'wdn_wrong_key')).status);
  statuses.push((await traefik('/api/x', '203.0.113.66', dev.key)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 403, 200, 200, 429, 429, 401, 401, 401, 429]);
  // Reloads: one that changes nothing, one that changes a rule, one refused.
  await w.reload();
  w.writePolicy({ ...policy, rules: [...policy.rules, { match: { path: '/new/**' }, deny: true }] });
  await w.reload();
  w.writePolicy('rules: [ { match: { path: nope } } ]');
  await w.reload();
  m = await scrape(`${w.url}/metrics`);
});
afterAll(() => ifStarted(w)?.close());

describe('/metrics after known traffic (parsed as Prometheus text)', () => {
  it('counts decisions by result, reason, dialect and auth method', () => {
    const d = (decision: string, reason: string, dialect: string, auth_method: string) =>
      value(m, 'warden_decisions_total', { decision, reason, dialect, auth_method });
    expect(d('allow', 'permitted', 'traefik', 'api_key')).toBe(5);
    expect(d('allow', 'public', 'nginx', 'public')).toBe(2);
    expect(d('forbidden', 'rule_deny', 'traefik', 'api_key')).toBe(1);
    expect(d('limited', 'rate_limited', 'traefik', 'api_key')).toBe(2);
    expect(d('unauthenticated', 'invalid_credentials', 'traefik', 'none')).toBe(3);
    expect(d('limited', 'banned', 'traefik', 'api_key')).toBe(1);
    expect(value(m, 'warden_decisions_total')).toBe(14);
    expect(family(m, 'warden_decisions_total')!.type).toBe('COUNTER');
  });

  it('observes every /verify in the latency histogram, by dialect', () => {
    expect(family(m, 'warden_verify_duration_seconds')!.type).toBe('HISTOGRAM');
    expect(value(m, 'warden_verify_duration_seconds_count')).toBe(14);
    expect(value(m, 'warden_verify_duration_seconds_count', { dialect: 'nginx' })).toBe(2);
    expect(value(m, 'warden_verify_duration_seconds_sum')).toBeGreaterThan(0);
    // Cumulative buckets: +Inf holds all 12 traefik answers; every answer here took well under 0.5 s.
    expect(value(m, 'warden_verify_duration_seconds_bucket', { dialect: 'traefik', le: '+Inf' })).toBe(12);
    expect(value(m, 'warden_verify_duration_seconds_bucket', { dialect: 'traefik', le: '0.5' })).toBe(12);
  });

  it('counts rate-limited requests by limit, banned requests and bans started', () => {
    expect(value(m, 'warden_rate_limited_total', { limit: 'tight' })).toBe(2);
    expect(value(m, 'warden_banned_requests_total')).toBe(1);
    expect(value(m, 'warden_bans_total')).toBe(1);
  });

  it('counts policy reloads by result', () => {
    expect(value(m, 'warden_policy_reloads_total', { result: 'changed' })).toBe(1);
    expect(value(m, 'warden_policy_reloads_total', { result: 'unchanged' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'warden_policy_reloads_total', { result: 'rejected' })).toBeGreaterThanOrEqual(1);
  });

  it('reports the audit sinks, Redis, JWKS and process metrics', () => {
    expect(value(m, 'warden_audit_queue_depth', { sink: 'stdout' })).toBe(0);
    expect(value(m, 'warden_audit_dropped_total', { sink: 'stdout' })).toBe(0);
    expect(value(m, 'warden_redis_errors_total')).toBe(0);
    expect(value(m, 'warden_rate_limit_insurance_total')).toBe(0);
    // Defined for the JWT authenticator; no issuer is configured here, so no fetch was counted.
    expect(family(m, 'warden_jwks_fetches_total')!.type).toBe('COUNTER');
    expect(value(m, 'warden_jwks_fetches_total')).toBe(0);
    expect(value(m, 'warden_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(m, 'warden_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(m, 'warden_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    for (const f of m.families) expect(f.name, 'every metric is prefixed warden_').toMatch(/^warden_/);
  });
});
