// WARDEN_JWT_ISSUERS: inline JSON or a YAML file, every problem reported with its path, nothing unsafe accepted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configProblems, ownKeys } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

describe('WARDEN_JWT_ISSUERS', () => {
  it('reads a YAML file with defaults filled in', async () => {
    const dir = testDir('warden-iss-');
    const file = join(dir, 'issuers.yaml');
    writeFileSync(
      file,
      '- issuer: https://login.example.com/realms/acme\n  audience: warden-api\n  rolesClaim: realm_access.roles\n',
    );
    const c = await loadConfig(ownKeys({ WARDEN_JWT_ISSUERS: file }), { fetch });
    expect(c.issuers).toEqual([
      {
        issuer: 'https://login.example.com/realms/acme',
        audience: 'warden-api',
        rolesClaim: 'realm_access.roles',
        clockToleranceSec: 30,
        subjectPrefix: '',
      },
    ]);
    expect(Object.isFrozen(c.issuers[0])).toBe(true);
  });

  it('is empty when unset', async () => {
    expect((await loadConfig(ownKeys({}), { fetch })).issuers).toEqual([]);
  });

  it('refuses plain http off loopback, HMAC and none, a tolerance over 60 s, a duplicate issuer, unknown fields', async () => {
    const list = [
      { issuer: 'http://idp.example.com', audience: 'a', subjectPrefix: 'i:' },
      { issuer: 'https://a.example.com', audience: 'a', algorithms: ['HS256'], subjectPrefix: 'a:' },
      { issuer: 'https://b.example.com', audience: 'a', algorithms: ['none'], subjectPrefix: 'b:' },
      { issuer: 'https://c.example.com', audience: 'a', clockToleranceSec: 61, subjectPrefix: 'c:' },
      { issuer: 'https://c.example.com', audience: 'a', subjectPrefix: 'c2:' },
      {
        issuer: 'https://d.example.com',
        audience: [],
        jwksUri: 'http://keys.example.com/jwks',
        typo: 1,
        subjectPrefix: 'd:',
      },
      {
        issuer: 'http://127.0.0.1:8999',
        audience: 'a',
        jwksUri: 'http://localhost:8999/jwks',
        subjectPrefix: 'l:',
      },
    ];
    const p = await configProblems({ WARDEN_JWT_ISSUERS: JSON.stringify(list) });
    const at = (path: string) => p.filter((x) => x.startsWith(`env WARDEN_JWT_ISSUERS: ${path}`));
    expect(at('[0].issuer')[0]).toMatch(/https/);
    expect(at('[1].algorithms[0]')[0]).toMatch(/asymmetric only/);
    expect(at('[2].algorithms[0]')).toHaveLength(1);
    expect(at('[3].clockToleranceSec')).toHaveLength(1);
    expect(at('[4].issuer')[0]).toMatch(/listed twice/);
    expect(at('[5].audience')).toHaveLength(1);
    expect(at('[5].jwksUri')).toHaveLength(1);
    expect(p.some((x) => x.includes('typo'))).toBe(true);
    expect(at('[6]')).toEqual([]); // loopback may be plain http
  });

  it('with several issuers, wants a subjectPrefix on each, none the start of another', async () => {
    const list = [
      { issuer: 'https://a.example.com', audience: 'a' },
      { issuer: 'https://b.example.com', audience: 'a', subjectPrefix: 'b:' },
      { issuer: 'https://c.example.com', audience: 'a', subjectPrefix: 'b:c:' },
      { issuer: 'https://d.example.com', audience: 'a', subjectPrefix: 'b:' },
      { issuer: 'https://e.example.com', audience: 'a', subjectPrefix: 'e:' },
    ];
    const p = await configProblems({ WARDEN_JWT_ISSUERS: JSON.stringify(list) });
    const at = (path: string) => p.filter((x) => x.startsWith(`env WARDEN_JWT_ISSUERS: ${path}`));
    expect(at('[0].subjectPrefix')[0]).toMatch(/each needs a subjectPrefix/);
    expect(at('[1].subjectPrefix')).toEqual([]);
    expect(at('[2].subjectPrefix')[0]).toMatch(/overlaps issuer \[1\]/);
    expect(at('[3].subjectPrefix')).toHaveLength(2); // the same as [1], and the start of [2]
    expect(at('[4]')).toEqual([]);
    // One issuer needs none.
    expect(await configProblems({ WARDEN_JWT_ISSUERS: JSON.stringify([list[0]]) })).toEqual([]);
  });

  it('names a missing file and reports it with the policy problems', async () => {
    const dir = testDir('warden-iss-');
    writeFileSync(join(dir, 'policy.yaml'), 'rules: 7\n');
    const p = await configProblems({
      WARDEN_JWT_ISSUERS: join(dir, 'nope.yaml'),
      WARDEN_POLICY: join(dir, 'policy.yaml'),
    });
    expect(p).toContainEqual(`${join(dir, 'nope.yaml')} (WARDEN_JWT_ISSUERS): file not found`);
    expect(p.some((x) => x.includes('(WARDEN_POLICY): rules'))).toBe(true);
  });
});
