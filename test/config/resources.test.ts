// Policy `resources:` and the rule fields `resource` and `scopes`: validated at load, every problem with its path.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { resourceKey } from '../../src/util/resource-url.js';
import { configProblems } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

const IDP = 'https://idp.example.com/realms/acme';
const ISSUERS = JSON.stringify([{ issuer: IDP, audience: 'https://api.example.com' }]);

function files(policy: unknown): Record<string, string> {
  const dir = testDir('warden-resources-');
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  writeFileSync(join(dir, 'keys.yaml'), 'keys: []\n');
  return { WARDEN_POLICY: join(dir, 'policy.yaml'), WARDEN_API_KEYS: join(dir, 'keys.yaml') };
}

const memory = {
  id: 'memory',
  url: 'https://mcp.example.com/mcp',
  authorizationServers: [IDP],
  scopes: ['mcp:tools', 'mcp:read'],
  name: 'Acme memory',
};
const good = {
  roles: { dev: ['mcp:use'] },
  resources: [memory],
  rules: [
    {
      match: { host: 'mcp.example.com', path: '/mcp/**' },
      resource: 'memory',
      require: ['mcp:use'],
      scopes: ['mcp:tools'],
    },
  ],
};

describe('resources in the policy', () => {
  it('loads resources and the rule fields that name them', async () => {
    const c = await loadConfig({ ...files(good), WARDEN_JWT_ISSUERS: ISSUERS }, { fetch });
    expect(c.policy.resources).toEqual([memory]);
    expect(c.policy.rules[0]).toMatchObject({ resource: 'memory', scopes: ['mcp:tools'] });
  });

  it('accepts http only on loopback hosts, and a resource without scopes or name', async () => {
    for (const url of ['http://127.0.0.1:8931/mcp', 'http://localhost:3000', 'http://[::1]:9000/mcp']) {
      const policy = { resources: [{ id: 'local', url, authorizationServers: [IDP] }] };
      expect(await configProblems({ ...files(policy), WARDEN_JWT_ISSUERS: ISSUERS }), url).toEqual([]);
    }
  });

  it('refuses urls that are not absolute https (or loopback http), and repeated ids and urls', async () => {
    const policy = {
      resources: [
        { id: 'a', url: 'http://mcp.example.com/mcp', authorizationServers: [IDP] },
        { id: 'b', url: '/mcp', authorizationServers: [IDP] },
        { id: 'c', url: 'https://mcp.example.com/mcp?x=1', authorizationServers: [IDP] },
        { id: 'd', url: 'https://user:pw@mcp.example.com/mcp', authorizationServers: [IDP] },
        { id: 'e', url: 'https://MCP.example.com/other/', authorizationServers: [IDP] },
        { id: 'e', url: 'https://mcp.example.com/other', authorizationServers: [IDP] },
        { id: 'f', url: 'https://mcp.example.com/f', authorizationServers: [], scopes: ['has space'] },
        { id: 'bad id!', url: 'https://mcp.example.com/g', authorizationServers: [IDP], extra: 1 },
      ],
    };
    const text = (await configProblems({ ...files(policy), WARDEN_JWT_ISSUERS: ISSUERS })).join('\n');
    for (const i of [0, 1, 2, 3])
      expect(text).toMatch(new RegExp(`resources\\[${i}\\]\\.url: an absolute https`));
    expect(text).toMatch(/resources\[5\]\.id: resource id "e" is already resources\[4\]'s/);
    expect(text).toMatch(/resources\[5\]\.url: .* is already resources\[4\]'s url/);
    expect(text).toMatch(/resources\[6\]\.authorizationServers: /);
    expect(text).toMatch(/resources\[6\]\.scopes\[0\]: a scope is/);
    expect(text).toMatch(/resources\[7\]\.id: a resource id is/);
    expect(text).toMatch(/resources\[7\]: .*extra/);
  });

  it('checks what rules say about resources: a defined id, a rule that takes tokens, scopes with a resource', async () => {
    const policy = {
      resources: [memory],
      rules: [
        { match: { path: '/a' }, resource: 'nope' },
        { match: { path: '/b' }, resource: 'memory', public: true },
        { match: { path: '/c' }, resource: 'memory', deny: true },
        { match: { path: '/d' }, scopes: ['mcp:tools'] },
        { match: { path: '/e' }, resource: 'memory', scopes: [] },
      ],
    };
    const text = (await configProblems({ ...files(policy), WARDEN_JWT_ISSUERS: ISSUERS })).join('\n');
    expect(text).toMatch(/rules\[0\]\.resource: resource "nope" is not defined in resources/);
    expect(text).toMatch(/rules\[1\]\.resource: a public or deny rule reads no token/);
    expect(text).toMatch(/rules\[2\]\.resource: a public or deny rule reads no token/);
    expect(text).toMatch(/rules\[3\]\.scopes: scopes apply to tokens issued for a resource/);
    expect(text).toMatch(/rules\[4\]\.scopes: /);
  });

  it('requires every authorization server to be a configured issuer, named exactly', async () => {
    const policy = {
      ...good,
      resources: [{ ...memory, authorizationServers: [IDP, `${IDP}/`, 'https://other.example.com'] }],
    };
    const text = (await configProblems({ ...files(policy), WARDEN_JWT_ISSUERS: ISSUERS })).join('\n');
    expect(text).toMatch(
      /policy\.yaml \(WARDEN_POLICY\): resources\[0\]\.authorizationServers\[1\]: https:\/\/idp\.example\.com\/realms\/acme\/ is not the issuer of any WARDEN_JWT_ISSUERS entry \(trusted: https:\/\/idp\.example\.com\/realms\/acme\)/,
    );
    expect(text).toMatch(/resources\[0\]\.authorizationServers\[2\]: https:\/\/other\.example\.com is not/);
    expect(text).not.toMatch(/authorizationServers\[0\]/);
    const none = (await configProblems(files(good))).join('\n');
    expect(none).toMatch(/resources\[0\]\.authorizationServers\[0\]: .*WARDEN_JWT_ISSUERS is not set/);
  });

  it('`warden check` lists the resources and what rules bind to them', async () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
    const r = await promisify(execFile)(process.execPath, [cli, 'check'], {
      env: { PATH: process.env.PATH, ...files(good), WARDEN_JWT_ISSUERS: ISSUERS },
    });
    expect(r.stdout).toContain(
      '  [0] mcp.example.com/mcp/** → require any [mcp:use] resource memory scopes mcp:tools\n',
    );
    expect(r.stdout).toContain(
      `resources (1):\n  memory https://mcp.example.com/mcp (Acme memory) authorization servers ${IDP} scopes mcp:tools mcp:read metadata https://mcp.example.com/.well-known/oauth-protected-resource/mcp\n`,
    );
  });

  it('`warden check` names the field and exits 2', async () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
    const policy = { ...good, resources: [{ ...memory, authorizationServers: ['https://unknown.example'] }] };
    const r = await promisify(execFile)(process.execPath, [cli, 'check'], {
      env: { PATH: process.env.PATH, ...files(policy), WARDEN_JWT_ISSUERS: ISSUERS },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/resources\[0\]\.authorizationServers\[0\]: https:\/\/unknown\.example is not/);
  });
});

describe('resourceKey', () => {
  it('compares scheme and host without case, and without a trailing slash or default port', () => {
    expect(resourceKey('HTTPS://MCP.Example.com:443/mcp/')).toBe('https://mcp.example.com/mcp');
    expect(resourceKey('https://mcp.example.com/')).toBe('https://mcp.example.com');
    expect(resourceKey('https://mcp.example.com')).toBe('https://mcp.example.com');
    expect(resourceKey('http://127.0.0.1:8080/MCP')).toBe('http://127.0.0.1:8080/MCP');
    expect(resourceKey('api://default')).toBe('api://default');
    expect(resourceKey('account')).toBe('account');
  });
});
