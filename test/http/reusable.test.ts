// Which decisions warden marks reusable for the proxy (rule `cache:`), and for how long.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerSafe } from '../../src/util/header-safe.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { nginxIdentityBlock } from '../../src/tooling/recipe-command.js';
import { send } from '../helpers/http.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { viewer: ['nodes:read'], nobody: [] },
  rules: [{ match: { path: '/cached/**' }, require: ['nodes:read'], cache: { allow: '300s', deny: '300s' } }],
};
const viewer = testKey('viewer', ['viewer']);
const nobody = testKey('nobody', ['nobody']);
const soon = testKey('soon', ['viewer'], { expires: new Date(Date.now() + 90_000).toISOString() });

const traefik = (w: TestWarden, headers: Record<string, string>) =>
  send(`${w.url}/verify/traefik`, {
    headers: {
      'X-Forwarded-Method': 'GET',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'a.example',
      'X-Forwarded-Uri': '/cached/x',
      'X-Forwarded-For': '203.0.113.5',
      ...headers,
    },
  });
const nginx = (w: TestWarden, headers: [string, string][]) =>
  send(`${w.url}/verify/nginx`, {
    headers: [
      ['X-Original-URL', 'https://a.example/cached/x'],
      ['X-Original-Method', 'GET'],
      ['X-Forwarded-For', '203.0.113.5'],
      ...headers,
    ],
  });
const maxAge = (r: { headers: Record<string, unknown> }) =>
  Number(/max-age=(\d+)/.exec(String(r.headers['cache-control']))?.[1] ?? NaN);

describe('reusable decisions', () => {
  let w: TestWarden;
  let iss: TestIssuer;
  beforeAll(async () => {
    iss = await startIssuer([await makeKey('ES256')]);
    w = await startWarden({
      policy,
      keys: [
        viewer.entry,
        nobody.entry,
        soon.entry,
        { id: 'agent-1', certSubject: 'CN=agent-1', roles: ['viewer'] },
      ],
      env: {
        WARDEN_CLIENT_CERT: 'nginx',
        WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: iss.issuer, audience: 'api' }]),
      },
    });
  });
  afterAll(async () => {
    await w.close();
    await iss.close();
  });

  it('marks an allow for the rule’s time, bounded by the key’s expiry and the token’s exp', async () => {
    const r = await traefik(w, { 'X-API-Key': viewer.key });
    expect(r.headers['cache-control']).toBe('private, max-age=300');
    expect(r.headers['x-accel-expires']).toBe('300');
    expect(maxAge(await traefik(w, { 'X-API-Key': soon.key }))).toBeLessThanOrEqual(90);
    const token = await iss.mint({
      aud: 'api',
      sub: 'u',
      groups: ['viewer'],
      exp: Math.floor(Date.now() / 1000) + 40,
    });
    expect(maxAge(await traefik(w, { Authorization: `Bearer ${token}` }))).toBeLessThanOrEqual(40);
  });

  it('never marks a client-certificate identity (the proxy’s cache key does not hold the certificate)', async () => {
    const r = await nginx(w, [
      ['X-SSL-Client-Verify', 'SUCCESS'],
      ['X-SSL-Client-S-DN', 'CN=agent-1'],
    ]);
    expect(r.status).toBe(200);
    expect(r.headers['x-user-id']).toBe('agent-1');
    expect(r.headers['cache-control']).toBeUndefined();
    expect(r.headers['x-accel-expires']).toBeUndefined();
  });

  it('marks a 403 only for nginx, which consumes it; to Traefik every deny stays no-store', async () => {
    expect((await nginx(w, [['X-API-Key', nobody.key]])).headers['cache-control']).toBe(
      'private, max-age=300',
    );
    const t = await traefik(w, { 'X-API-Key': nobody.key });
    expect(t.status).toBe(403);
    expect(t.headers['cache-control']).toBe('no-store');
  });

  it('takes client-certificate headers only on their own proxy’s dialect', async () => {
    const r = await traefik(w, { 'X-SSL-Client-Verify': 'SUCCESS', 'X-SSL-Client-S-DN': 'CN=agent-1' });
    expect(r.status).toBe(401);
  });
});

describe('with assertions', () => {
  it('marks an allow no longer than half an assertion’s lifetime, so a cached assertion never expires at the proxy', async () => {
    const dir = testDir('warden-reuse-');
    writeFileSync(
      join(dir, 'a.pem'),
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    const w = await startWarden({
      policy,
      keys: [viewer.entry],
      env: { WARDEN_ASSERTION_KEY: join(dir, 'a.pem'), WARDEN_ASSERTION_TTL: '40s' },
    });
    try {
      expect(maxAge(await traefik(w, { 'X-API-Key': viewer.key }))).toBe(20);
    } finally {
      await w.close();
    }
  });
});

describe('header values and recipe names', () => {
  it('percent-encodes % too, so a plain value never spells an encoded one', () => {
    expect(headerSafe('山田')).toBe('%E5%B1%B1%E7%94%B0');
    expect(headerSafe('%E5%B1%B1%E7%94%B0')).toBe('%25E5%25B1%25B1%25E7%2594%25B0');
    expect(headerSafe('Ada Lovelace')).toBe('Ada Lovelace');
  });

  it('gives extra headers their own nginx variables: User-ID cannot take X-User-ID’s', () => {
    const block = nginxIdentityBlock(policySchema.parse({ headers: { extra: { 'User-ID': 'tenant' } } }));
    expect(block.match(/auth_request_set \$warden_user_id /g)).toHaveLength(1);
    expect(block).toMatch(/auth_request_set \$warden_extra_user_id +\$upstream_http_user_id;/);
    expect(block).toMatch(/proxy_set_header User-ID +\$warden_extra_user_id;/);
  });
});
