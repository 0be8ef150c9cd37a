import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { developer: ['api:*'] },
  rules: [
    { match: { path: '/health' }, public: true },
    { match: { path: '/api/**' }, require: ['api:read'] },
    { match: { path: '/admin/**' }, deny: true },
    { match: { path: '/net/**' }, public: true, networks: ['203.0.113.0/24'] },
  ],
  default: 'deny',
};
const dev = testKey('dev-1', ['developer']);
let w: TestWarden;
let nginxDefault: TestWarden;
beforeAll(async () => {
  w = await startWarden({
    policy,
    keys: [dev.entry],
    env: { WARDEN_TRUSTED_PROXIES: '127.0.0.1/32,10.0.0.0/8' },
  });
  nginxDefault = await startWarden({ policy, keys: [dev.entry], env: { WARDEN_PROXY: 'envoy' } });
});
afterAll(async () => {
  await w.close();
  await nginxDefault.close();
});

const fwd: Record<string, string> = {
  'X-Forwarded-Method': 'GET',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'app.example.com',
  'X-Forwarded-Uri': '/api/x',
  'X-Forwarded-For': '203.0.113.9',
};
const reason = (body: string) => (JSON.parse(body) as { reason: string }).reason;

describe('Traefik and Caddy dialects', () => {
  for (const d of ['traefik', 'caddy']) {
    it(`${d}: reads X-Forwarded-*`, async () => {
      const r = await send(`${w.url}/verify/${d}`, { headers: { ...fwd, 'X-API-Key': dev.key } });
      expect(r.status).toBe(200);
      expect(w.audit.at(-1)).toMatchObject({
        dialect: d,
        host: 'app.example.com',
        path: '/api/x',
        clientIp: '203.0.113.9',
      });
    });
  }

  it('denies a missing required header, never falling back to / or Host', async () => {
    for (const name of Object.keys(fwd)) {
      const headers = Object.fromEntries(
        Object.entries({ ...fwd, 'X-API-Key': dev.key }).filter(([k]) => k !== name),
      );
      const r = await send(`${w.url}/verify/traefik`, { headers });
      expect(r.status, name).toBe(403);
      expect(reason(r.body)).toBe('bad_forwarded_context');
    }
    const empty = await send(`${w.url}/verify/traefik`, { headers: { ...fwd, 'X-Forwarded-Uri': '' } });
    expect(reason(empty.body)).toBe('bad_forwarded_context');
  });

  it('denies a duplicated required header', async () => {
    const r = await send(`${w.url}/verify/traefik`, {
      headers: [...Object.entries(fwd), ['X-Forwarded-Uri', '/health']],
    });
    expect(r.status).toBe(403);
    expect(reason(r.body)).toBe('bad_forwarded_context');
  });

  it('denies the other family of headers', async () => {
    for (const [k, v] of [
      ['X-Original-URL', 'https://a/health'],
      ['X-Original-URI', '/health'],
      ['X-Original-Method', 'GET'],
    ]) {
      const r = await send(`${w.url}/verify/traefik`, { headers: { ...fwd, [k!]: v! } });
      expect(reason(r.body), k).toBe('bad_forwarded_context');
    }
  });

  it('denies malformed method, proto and host', async () => {
    for (const [k, v] of [
      ['X-Forwarded-Method', 'get me'],
      ['X-Forwarded-Proto', 'gopher'],
      ['X-Forwarded-Host', 'a b'],
    ]) {
      const r = await send(`${w.url}/verify/traefik`, { headers: { ...fwd, [k!]: v! } });
      expect(reason(r.body), k).toBe('bad_forwarded_context');
    }
  });

  it('refuses bad paths with bad_path, and judges encodings as their canonical path', async () => {
    for (const uri of [
      '/api%2fx',
      '/api/%2e%2e%2fadmin',
      '/a%00',
      '/api/x;jsessionid=1',
      '/api/x#f',
      '/%252e',
      '/%c0%ae',
      '/a\\b',
      // ambiguous segments: a server that trims, cuts at `;` or applies NFKC reads /admin/x
      '/health/..%20/admin/x',
      '/health/..%3B/admin/x',
      '/health/..%EF%BC%8Fadmin/x',
      '/health/%EF%BC%8E%EF%BC%8E/admin/x',
      '/health/%E2%80%A5/admin/x',
    ]) {
      const r = await send(`${w.url}/verify/traefik`, {
        headers: { ...fwd, 'X-Forwarded-Uri': uri, 'X-API-Key': dev.key },
      });
      expect(r.status, uri).toBe(403);
      expect(reason(r.body), uri).toBe('bad_path');
    }
    for (const uri of ['/health/../admin/x', '//admin/x', '/%61dmin/x', '/ADMIN/x']) {
      const r = await send(`${w.url}/verify/traefik`, {
        headers: { ...fwd, 'X-Forwarded-Uri': uri, 'X-API-Key': dev.key },
      });
      expect(reason(r.body), uri).toBe('rule_deny');
    }
  });

  it('takes the client IP right to left past trusted proxies', async () => {
    const through = await send(`${w.url}/verify/traefik`, {
      headers: { ...fwd, 'X-Forwarded-Uri': '/net/x', 'X-Forwarded-For': '6.6.6.6, 203.0.113.7, 10.0.0.2' },
    });
    expect(through.status).toBe(200);
    expect(w.audit.at(-1)!.clientIp).toBe('203.0.113.7');
    const spoofed = await send(`${w.url}/verify/traefik`, {
      headers: { ...fwd, 'X-Forwarded-Uri': '/net/x', 'X-Forwarded-For': '203.0.113.7, 198.51.100.1' },
    });
    expect(spoofed.status).toBe(403);
    expect(reason(spoofed.body)).toBe('network_not_allowed');
  });
});

describe('nginx dialect', () => {
  const base = { 'X-Original-Method': 'GET', 'X-Forwarded-For': '203.0.113.9', 'X-API-Key': dev.key };
  it('reads X-Original-URL', async () => {
    const r = await send(`${w.url}/verify/nginx`, {
      headers: { ...base, 'X-Original-URL': 'https://app.example.com:8443/api/x?y=1' },
    });
    expect(r.status).toBe(200);
    expect(w.audit.at(-1)).toMatchObject({ dialect: 'nginx', host: 'app.example.com', path: '/api/x' });
  });

  it('reads X-Original-URI with Host, and X-Real-IP', async () => {
    const r = await send(`${w.url}/verify/nginx`, {
      headers: {
        'X-Original-Method': 'GET',
        'X-Original-URI': '/api/x',
        Host: 'app.example.com',
        'X-Real-IP': '203.0.113.8',
        'X-API-Key': dev.key,
      },
    });
    expect(r.status).toBe(200);
    expect(w.audit.at(-1)).toMatchObject({ host: 'app.example.com', clientIp: '203.0.113.8' });
  });

  it('denies missing, duplicated and foreign headers', async () => {
    const cases: [string, string][][] = [
      [
        ['X-Original-Method', 'GET'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
      [
        ['X-Original-URL', 'https://a/api/x'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
      [
        ['X-Original-URL', 'https://a/api/x'],
        ['X-Original-Method', 'GET'],
      ],
      [
        ['X-Original-URL', 'https://a/api/x'],
        ['X-Original-Method', 'GET'],
        ['X-Forwarded-For', '1.2.3.4'],
        ['X-Forwarded-Uri', '/health'],
      ],
      [
        ['X-Original-URL', 'https://a/api/x'],
        ['X-Original-URL', 'https://a/health'],
        ['X-Original-Method', 'GET'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
      [
        ['X-Original-URL', 'https://a'],
        ['X-Original-Method', 'GET'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
      [
        ['X-Original-URL', '/api/x'],
        ['X-Original-Method', 'GET'],
        ['X-Forwarded-For', '1.2.3.4'],
      ],
    ];
    for (const headers of cases) {
      const r = await send(`${w.url}/verify/nginx`, { headers });
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(reason(r.body)).toBe('bad_forwarded_context');
    }
  });
});

describe('Envoy dialect', () => {
  it('judges the request own method and path after the prefix', async () => {
    const ok = await send(`${w.url}/verify/envoy/api/x?q=1`, {
      method: 'POST',
      headers: { Host: 'app.example.com', 'X-Forwarded-For': '203.0.113.9', 'X-API-Key': dev.key },
    });
    expect(ok.status).toBe(200);
    expect(w.audit.at(-1)).toMatchObject({
      dialect: 'envoy',
      method: 'POST',
      path: '/api/x',
      host: 'app.example.com',
    });
    const raw = await send(`${w.url}/verify/envoy`, {
      rawPath: '/verify/envoy/%61dmin/x',
      headers: { Host: 'app.example.com', 'X-Forwarded-For': '203.0.113.9', 'X-API-Key': dev.key },
    });
    expect(reason(raw.body)).toBe('rule_deny');
  });

  it('denies a missing X-Forwarded-For and foreign headers', async () => {
    expect(reason((await send(`${w.url}/verify/envoy/api/x`, { headers: { Host: 'a' } })).body)).toBe(
      'bad_forwarded_context',
    );
    expect(
      reason(
        (
          await send(`${w.url}/verify/envoy/api/x`, {
            headers: { Host: 'a', 'X-Forwarded-For': '1.2.3.4', 'X-Forwarded-Uri': '/health' },
          })
        ).body,
      ),
    ).toBe('bad_forwarded_context');
  });

  it('bare /verify answers in the WARDEN_PROXY dialect', async () => {
    const r = await send(`${nginxDefault.url}/verify/api/x`, {
      headers: { Host: 'app.example.com', 'X-Forwarded-For': '203.0.113.9', 'X-API-Key': dev.key },
    });
    expect(r.status).toBe(200);
    expect(nginxDefault.audit.at(-1)).toMatchObject({ dialect: 'envoy', path: '/api/x' });
  });
});

describe('trusted proxies', () => {
  it('answers only callers inside WARDEN_TRUSTED_PROXIES', async () => {
    const r = await send(`${w.url}/verify/traefik`, {
      headers: { ...fwd, 'X-API-Key': dev.key },
      localAddress: '127.0.0.2',
    });
    expect(r.status).toBe(403);
    expect(reason(r.body)).toBe('untrusted_proxy');
    expect(r.headers['x-user-id']).toBeUndefined();
    expect(w.audit.at(-1)).toMatchObject({
      decision: 'malformed',
      reason: 'untrusted_proxy',
      peer: '127.0.0.2',
    });
  });
});

describe('bounded input', () => {
  it('answers a 20 KB key and a 16 KB path with 431 or 401/403, and keeps serving', async () => {
    const big = await send(`${w.url}/verify/traefik`, {
      headers: { ...fwd, 'X-API-Key': 'k'.repeat(20_000) },
    }).catch(() => ({ status: 431 }));
    expect([401, 431]).toContain(big.status);
    const longPath = await send(`${w.url}/verify/traefik`, {
      headers: { ...fwd, 'X-Forwarded-Uri': '/' + 'a'.repeat(16_000), 'X-API-Key': dev.key },
    }).catch(() => ({ status: 431 }));
    expect([403, 431]).toContain(longPath.status);
    const after = await send(`${w.url}/verify/traefik`, { headers: { ...fwd, 'X-API-Key': dev.key } });
    expect(after.status).toBe(200);
  });
});

describe('health, readiness, metrics', () => {
  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    expect((await send(`${w.url}/healthz`, { localAddress: '127.0.0.2' })).status).toBe(200);
    const ready = await send(`${w.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true });
    const m = await send(`${w.url}/metrics`);
    expect(m.body).toMatch(
      /warden_decisions_total\{decision="allow",reason="permitted",dialect="traefik",auth_method="api_key"\} \d+/,
    );
    expect(m.body).toContain('warden_verify_duration_seconds_bucket');
  });
});
