// Extra identity headers from claims (policy headers.extra): values type-checked, bad ones sent empty and audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { ownKeys } from '../helpers/config.js';
import { send } from '../helpers/http.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { developer: ['api:*'] },
  headers: {
    preset: 'authelia',
    extra: { 'X-Tenant': 'tenant_id', 'X-Org-Unit': 'org.unit', 'X-Level': 'level' },
  },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const dev = testKey('dev-1', ['developer']);
let iss: TestIssuer;
let w: TestWarden;

beforeAll(async () => {
  iss = await startIssuer([await makeKey('ES256')]);
  w = await startWarden({
    policy,
    keys: [dev.entry],
    env: { WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: iss.issuer, audience: 'api' }]) },
  });
});
afterAll(async () => {
  await w.close();
  await iss.close();
});

const verify = (headers: Record<string, string>) =>
  send(`${w.url}/verify/traefik`, {
    headers: {
      'X-Forwarded-Method': 'GET',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'app.example.com',
      'X-Forwarded-Uri': '/api/x',
      'X-Forwarded-For': '203.0.113.5',
      ...headers,
    },
  });
const bearer = async (claims: Record<string, unknown>) => ({
  Authorization: `Bearer ${await iss.mint({ aud: 'api', sub: 'u1', groups: ['developer'], ...claims })}`,
});

describe('headers.extra', () => {
  it('sends each claim as its header, beside the preset names', async () => {
    const r = await verify(await bearer({ tenant_id: 'acme', org: { unit: 'r&d' }, level: 3 }));
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({
      'remote-user': 'u1',
      'remote-groups': 'developer',
      'x-tenant': 'acme',
      'x-org-unit': 'r&d',
      'x-level': '3',
    });
    expect(w.audit.at(-1)!.headerProblems).toBeUndefined();
  });

  it('sends every extra header empty for an API key, so the proxy overwrites a client copy', async () => {
    const r = await verify({ 'X-API-Key': dev.key, 'X-Tenant': 'spoofed' });
    expect(r.status).toBe(200);
    expect(r.headers['x-tenant']).toBe('');
    expect(r.headers['x-org-unit']).toBe('');
  });

  it('sends a CR/LF, non-ASCII, oversized, object or array claim empty and says why in the audit line, never a 500', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { tenant_id: 'acme\r\nX-User-ID: admin' },
        /X-Tenant: claim tenant_id is control or non-ASCII characters; sent empty/,
      ],
      [{ tenant_id: 'Zürich' }, /X-Tenant: claim tenant_id is control or non-ASCII/],
      [{ tenant_id: 'x'.repeat(2000) }, /X-Tenant: claim tenant_id is longer than 1024 characters/],
      [{ tenant_id: { id: 1 } }, /X-Tenant: claim tenant_id is a object/],
      [{ tenant_id: ['a', 'b'] }, /X-Tenant: claim tenant_id is an array/],
    ];
    for (const [claims, problem] of cases) {
      const r = await verify(await bearer({ ...claims, level: 1 }));
      expect(r.status).toBe(200);
      expect(r.headers['x-tenant']).toBe('');
      expect(r.headers['x-level']).toBe('1');
      expect((w.audit.at(-1)!.headerProblems as string[]).join('\n')).toMatch(problem);
    }
  });

  it('refuses extra headers that warden sets itself, and bad claim paths', async () => {
    const bad = {
      ...policy,
      headers: {
        extra: {
          'X-User-ID': 'sub',
          'Set-Cookie': 'x',
          'X-Warden-Assertion': 'a',
          'X-Accel-Expires': 'ttl',
          'X-Ok': 'no spaces allowed',
          'X-Tenant': 't',
          'x-tenant': 't',
        },
      },
    };
    const err = await loadConfig(ownKeys({ WARDEN_POLICY: JSON.stringify(bad) }), { fetch }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const messages = (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages.filter((m) => m.includes('set by warden, a proxy or HTTP itself'))).toHaveLength(4);
    expect(messages).toContain(
      'headers.extra.x-tenant: x-tenant and X-Tenant are one header (names are case-insensitive)',
    );
    expect(messages.some((m) => m.startsWith('headers.extra.X-Ok'))).toBe(true);
  });
});
