// Shadow mode: WARDEN_MODE=shadow and per-rule `shadow: true` allow, audit `would-deny` with the real reason, and count it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const viewer = testKey('viewer-1', ['viewer']);
const admin = testKey('admin-1', ['admin']);

const policy = {
  roles: { admin: ['*'], viewer: ['nodes:read'] },
  rateLimits: { tiny: { limit: 1, window: '60s', by: 'ip' } },
  rules: [
    { match: { path: '/public' }, public: true, rateLimit: 'tiny' },
    { match: { path: '/nodes/new/**' }, require: ['nodes:admin'], shadow: true },
    { match: { path: '/nodes/**' }, require: ['nodes:read'] },
    { match: { path: '/internal/**' }, deny: true },
  ],
  default: 'deny',
};

function ask(w: TestWarden, uri: string, id: string, key?: string) {
  const headers: Record<string, string> = {
    'X-Forwarded-Method': 'GET',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'api.example.com',
    'X-Forwarded-Uri': uri,
    'X-Forwarded-For': '203.0.113.7',
    'X-Request-ID': id,
  };
  if (key) headers['X-API-Key'] = key;
  return send(`${w.url}/verify/traefik`, { headers });
}
const line = (w: TestWarden, id: string) => w.audit.find((a) => a.reqId === id)!;

describe('WARDEN_MODE=shadow', () => {
  let w: TestWarden;
  beforeAll(async () => {
    w = await startWarden({ policy, keys: [viewer.entry, admin.entry], env: { WARDEN_MODE: 'shadow' } });
  });
  afterAll(() => w.close());

  it('allows every deny and audits it as would-deny with the real reason', async () => {
    const cases: [string, string | undefined, string, number | null][] = [
      ['/nodes/1', undefined, 'missing_credentials', 2],
      ['/nodes/1', 'wdn_wrong', 'invalid_credentials', 2],
      ['/internal/x', admin.key, 'rule_deny', 3],
      ['/elsewhere', viewer.key, 'default_deny', null],
      ['/api%2fx', viewer.key, 'bad_path', null],
    ];
    for (const [i, [uri, key, reason, rule]] of cases.entries()) {
      const r = await ask(w, uri, `m${i}`, key);
      expect(r.status, uri).toBe(200);
      expect(line(w, `m${i}`)).toMatchObject({
        decision: 'would-deny',
        reason,
        rule,
        status: 200,
        shadow: 'mode',
      });
    }
    // The identity still reaches the app when there is one.
    const r = await ask(w, '/internal/x', 'm-id', admin.key);
    expect(r.headers['x-user-id']).toBe('admin-1');
  });

  it('allows rate-limited requests as would-deny too', async () => {
    expect((await ask(w, '/public', 'rl1')).status).toBe(200);
    expect(line(w, 'rl1').decision).toBe('allow');
    expect((await ask(w, '/public', 'rl2')).status).toBe(200);
    expect(line(w, 'rl2')).toMatchObject({
      decision: 'would-deny',
      reason: 'rate_limited',
      rule: 0,
      shadow: 'mode',
    });
  });

  it('still refuses a broken forwarded context', async () => {
    const r = await send(`${w.url}/verify/traefik`, { headers: { 'X-Forwarded-Method': 'GET' } });
    expect(r.status).toBe(403);
  });

  it('counts would-deny decisions in metrics', async () => {
    const m = await send(`${w.url}/metrics`);
    expect(m.body).toMatch(
      /warden_decisions_total\{decision="would-deny",reason="rule_deny",dialect="traefik",auth_method="api_key"\} [1-9]/,
    );
  });
});

describe('a rule with shadow: true', () => {
  let w: TestWarden;
  beforeAll(async () => {
    w = await startWarden({ policy, keys: [viewer.entry, admin.entry] });
  });
  afterAll(() => w.close());

  it('decides by the other rules and audits what the shadow rule would have denied', async () => {
    const r = await ask(w, '/nodes/new/x', 's1', viewer.key);
    expect(r.status).toBe(200);
    expect(r.headers['x-user-id']).toBe('viewer-1');
    expect(line(w, 's1')).toMatchObject({
      decision: 'would-deny',
      reason: 'insufficient_permissions',
      rule: 1,
      shadow: 'rule',
    });
    // What the shadow rule allows is a plain allow, decided by the enforced rules.
    await ask(w, '/nodes/new/x', 's2', admin.key);
    expect(line(w, 's2')).toMatchObject({ decision: 'allow', reason: 'permitted', rule: 2 });
  });

  it('never lets a shadow rule open what the other rules deny', async () => {
    const anon = await ask(w, '/nodes/new/x', 's3');
    expect(anon.status).toBe(401);
    expect(line(w, 's3')).toMatchObject({ decision: 'unauthenticated', rule: 2 });
    const denied = await ask(w, '/internal/x', 's4', admin.key);
    expect(denied.status).toBe(403);
  });

  it('leaves every other rule enforced', async () => {
    expect((await ask(w, '/internal/x', 's5', admin.key)).status).toBe(403);
    expect(line(w, 's5')).toMatchObject({ decision: 'forbidden', reason: 'rule_deny', rule: 3 });
    const m = await send(`${w.url}/metrics`);
    expect(m.body).toMatch(
      /warden_decisions_total\{decision="would-deny",reason="insufficient_permissions",dialect="traefik",auth_method="api_key"\} 1/,
    );
  });
});
