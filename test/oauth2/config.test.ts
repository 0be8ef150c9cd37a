// Sign-in settings are validated at start with every other setting.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

import { configProblems, ownKeys } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

describe('sign-in configuration', () => {
  it('accepts a provider with the defaults and the shipped dev users', async () => {
    const config = await loadConfig(
      ownKeys({
        WARDEN_OIDC_PROVIDERS: JSON.stringify([
          {
            id: 'kc',
            issuer: 'https://sso.example.com/realms/acme',
            clientId: 'warden',
            clientSecret: 's3cret',
          },
        ]),
        WARDEN_PUBLIC_URL: 'https://auth.example.com',
        WARDEN_SESSION_SECRET: 'a'.repeat(32) + ',' + 'b'.repeat(40),
        WARDEN_DEV_USERS: 'rbac/dev-users.yaml',
      }),
      { fetch },
    );
    expect(config.signIn.providers[0]).toMatchObject({
      scopes: ['openid', 'email', 'profile'],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    expect(config.signIn.devUsers.map((u) => u.username)).toEqual([
      'admin',
      'developer',
      'analyst',
      'viewer',
    ]);
    expect(config.env.WARDEN_SESSION_SECRET).toHaveLength(2);
    expect(config.env.WARDEN_SESSION_LIFETIME).toBe(7 * 86400);
    expect(config.env.WARDEN_SESSION_IDLE).toBe(12 * 3600);
  });

  it('refuses dev users with NODE_ENV=production, saying why', async () => {
    const p = await configProblems({
      WARDEN_DEV_USERS: 'rbac/dev-users.yaml',
      NODE_ENV: 'production',
      WARDEN_PUBLIC_URL: 'https://auth.example.com',
      WARDEN_SESSION_SECRET: 'x'.repeat(32),
    });
    expect(p.some((l) => l.startsWith('env WARDEN_DEV_USERS:') && l.includes('NODE_ENV=production'))).toBe(
      true,
    );
  });

  it('lists every problem: short secret, missing public URL, bad providers file, plain-http issuer', async () => {
    const dir = testDir('warden-signin-');
    const file = join(dir, 'providers.yaml');
    writeFileSync(
      file,
      '- id: Bad Id\n  issuer: http://sso.example.com\n  clientId: x\n  clientSecret: y\n  colour: blue\n- id: ok\n  issuer: https://a.example.com\n  clientId: x\n  clientSecret: y\n- id: ok\n  issuer: https://b.example.com\n  clientId: x\n  clientSecret: y\n',
    );
    const short = await configProblems({ WARDEN_OIDC_PROVIDERS: file, WARDEN_SESSION_SECRET: 'too-short' });
    expect(short.some((l) => l.includes('WARDEN_SESSION_SECRET') && l.includes('32 bytes'))).toBe(true);
    const p = await configProblems({ WARDEN_OIDC_PROVIDERS: file, WARDEN_SESSION_SECRET: 'x'.repeat(32) });
    expect(p.some((l) => l.includes('WARDEN_PUBLIC_URL') && l.includes('required'))).toBe(true);
    const files = await configProblems({
      WARDEN_OIDC_PROVIDERS: file,
      WARDEN_SESSION_SECRET: 'x'.repeat(32),
      WARDEN_PUBLIC_URL: 'https://auth.example.com',
    });
    expect(files).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/providers\.yaml \(WARDEN_OIDC_PROVIDERS\): \[0\]\.id: /),
        expect.stringMatching(/\[0\]\.issuer: must be an https:\/\/ URL/),
        expect.stringMatching(/\[0\]: .*colour/),
        expect.stringMatching(/\[2\]\.id: provider id "ok" is listed twice/),
      ]),
    );
  });

  it('refuses a cookie domain that does not cover the public URL, and plain http in production', async () => {
    const base = { WARDEN_DEV_USERS: 'rbac/dev-users.yaml', WARDEN_SESSION_SECRET: 'x'.repeat(32) };
    const p = await configProblems({
      ...base,
      WARDEN_PUBLIC_URL: 'https://auth.example.com',
      WARDEN_COOKIE_DOMAIN: 'example.org',
    });
    expect(p.some((l) => l.startsWith('env WARDEN_COOKIE_DOMAIN:') && l.includes('parent domain'))).toBe(
      true,
    );
    expect(
      await configProblems({
        ...base,
        WARDEN_PUBLIC_URL: 'https://auth.example.com',
        WARDEN_COOKIE_DOMAIN: '.example.com',
      }),
    ).toEqual([]);
    const prod = await configProblems({
      WARDEN_OIDC_PROVIDERS: JSON.stringify([
        { id: 'kc', issuer: 'https://sso.example.com', clientId: 'x', clientSecret: 'y' },
      ]),
      WARDEN_SESSION_SECRET: 'x'.repeat(32),
      WARDEN_PUBLIC_URL: 'http://auth.example.com',
      NODE_ENV: 'production',
    });
    expect(prod.some((l) => l.startsWith('env WARDEN_PUBLIC_URL:') && l.includes('https'))).toBe(true);
  });

  it('refuses a public URL with a path or query', async () => {
    const p = await configProblems({
      WARDEN_DEV_USERS: '/nonexistent/dev-users.yaml',
      WARDEN_PUBLIC_URL: 'https://auth.example.com/x?y',
      WARDEN_SESSION_SECRET: 'x'.repeat(32),
    });
    expect(p.some((l) => l.startsWith('env WARDEN_PUBLIC_URL:'))).toBe(true);
  });
});
