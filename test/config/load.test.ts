import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadConfig, loadDocuments, loadEnv } from '../../src/config/load.js';
import { configProblems, ownKeys } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

function files(policy: string, keys = 'keys: []\n') {
  const dir = testDir('warden-cfg-');
  writeFileSync(join(dir, 'policy.yaml'), policy);
  writeFileSync(join(dir, 'keys.yaml'), keys);
  return { WARDEN_POLICY: join(dir, 'policy.yaml'), WARDEN_API_KEYS: join(dir, 'keys.yaml') };
}

describe('config loading', () => {
  it('loads the example policy with the documented defaults', async () => {
    const c = await loadConfig(ownKeys({}), { fetch });
    expect(c.env).toMatchObject({
      HOST: '0.0.0.0',
      PORT: 8080,
      WARDEN_PROXY: 'traefik',
      WARDEN_TRUSTED_PROXIES: ['127.0.0.0/8', '::1'],
      LOG_LEVEL: 'info',
    });
    expect(c.policy.rules.length).toBeGreaterThan(3);
    expect(Object.isFrozen(c.policy.rules[0])).toBe(true);
  });

  it('reports every bad variable at once, each by name', () => {
    try {
      loadEnv({
        PORT: 'eighty',
        WARDEN_PROXY: 'haproxy',
        WARDEN_TRUSTED_PROXIES: '10.0.0.0/8,300.1.1.1',
        WARDEN_LOGIN_URL: '/login',
        LOG_LEVEL: 'loud',
      });
      expect.unreachable();
    } catch (e) {
      const lines = (e as ConfigError).problems.map(formatProblem).join('\n');
      for (const v of [
        'env PORT',
        'env WARDEN_PROXY',
        'env WARDEN_TRUSTED_PROXIES',
        'env WARDEN_LOGIN_URL',
        'env LOG_LEVEL',
      ])
        expect(lines).toContain(v);
      expect(lines).toContain('300.1.1.1');
    }
  });

  it('reports env, policy and keys problems together, with paths', async () => {
    const vars = files(
      `roles: { dev: ["api:*"] }
rateLimits: { api: { limit: 10, window: 60s } }
rules:
  - match: { path: /a }
  - match: { path: /b }
  - match: { path: /c }
  - match: { path: /d }
    require: "api:read"
  - match: { path: /e }
    rateLimit: nope
  - match: { path: /f, methods: [get] }
    networks: [10.0.0.0/99]
  - match: { path: "/g*" }
    public: true
    deny: true
bogus: 1
`,
      `keys:
  - id: k1
    sha256: abc
    roles: [dev, ghost]
  - id: k1
    sha256: ${'a'.repeat(64)}
    rateLimit: missing
`,
    );
    const out = await configProblems({ ...vars, WARDEN_PROXY: 'bad' });
    const text = out.join('\n');
    expect(text).toContain('env WARDEN_PROXY');
    expect(text).toMatch(/policy\.yaml \(WARDEN_POLICY\): rules\[3\]\.require: /);
    expect(text).toMatch(/rules\[4\]\.rateLimit: rate limit "nope" is not defined/);
    expect(text).toMatch(/rules\[5\]\.match\.methods\[0\]: /);
    expect(text).toMatch(/rules\[5\]\.networks\[0\]: .*10\.0\.0\.0\/99/);
    expect(text).toMatch(/rules\[6\]\.match\.path: .*whole segment/);
    expect(text).toMatch(/rules\[6\]: a rule is at most one of public, deny, require/);
    expect(text).toMatch(/bogus/);
    expect(text).toMatch(/keys\.yaml \(WARDEN_API_KEYS\): keys\[0\]\.sha256: /);
    expect(text).toMatch(/keys\[1\]\.id: duplicate id "k1"/);
  });

  it('refuses a key hash in two spellings and one certificate subject written two ways', async () => {
    const keys = `keys:\n  - { id: a, sha256: ${'b'.repeat(64)} }\n  - { id: b, sha256: ${'B'.repeat(64)} }\n  - { id: c, certSubject: "CN=x,O=Acme" }\n  - { id: d, certSubject: "O=Acme, cn=x" }\n`;
    const text = (await configProblems(files('{}\n', keys))).join('\n');
    expect(text).toMatch(/keys\[1\]\.sha256: same key hash as keys\[0\]/);
    expect(text).toMatch(/keys\[3\]\.certSubject: same certificate subject as keys\[2\]/);
  });

  it('accepts only HTTP methods that exist, naming a typo and its likely meaning', async () => {
    const policy = (methods: string[]) =>
      files(`rules:\n  - match: { path: /a, methods: [${methods.join(', ')}] }\n    public: true\n`);
    expect(await configProblems(policy(['GET', 'HEAD', 'PATCH', 'PROPFIND', 'QUERY']))).toEqual([]);
    const text = (await configProblems(policy(['GET', 'GTE', 'get', 'FROB']))).join('\n');
    expect(text).toMatch(/rules\[0\]\.match\.methods\[1\]: GTE is not an HTTP method \(did you mean GET\?\)/);
    expect(text).toMatch(
      /rules\[0\]\.match\.methods\[2\]: get is not an HTTP method \(methods are upper-case/,
    );
    expect(text).toMatch(/rules\[0\]\.match\.methods\[3\]: FROB is not an HTTP method$/m);
  });

  it('says a port is a port number, whatever was typed', async () => {
    for (const [name, value] of [
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['WARDEN_METRICS_PORT', '0'],
    ] as const) {
      const text = (await configProblems({ [name]: value })).join('\n');
      expect(text).toContain(
        `env ${name}: must be a port number (${name === 'PORT' ? 0 : 1}–65535), got "${value}"`,
      );
      expect(text).not.toContain('NaN');
    }
  });

  it('cross-checks key roles and limits against the policy', async () => {
    const vars = files(
      'roles: { dev: [] }\n',
      `keys:\n  - id: a\n    sha256: ${'b'.repeat(64)}\n    roles: [dev, ghost]\n    rateLimit: nope\n`,
    );
    const text = (await configProblems(vars)).join('\n');
    expect(text).toMatch(/keys\[0\]\.roles\[1\]: role "ghost" is not defined/);
    expect(text).toMatch(/keys\[0\]\.rateLimit: rate limit "nope" is not defined/);
  });

  it('names YAML syntax errors with line and column, and missing files', async () => {
    const vars = files('rules: [\n  - {\n');
    const text = (await configProblems({ ...vars, WARDEN_API_KEYS: '/nonexistent/keys.yaml' })).join('\n');
    expect(text).toMatch(/policy\.yaml \(WARDEN_POLICY\): line \d+, column \d+: /);
    // The position is said once, in front: not again at the end of the parser's message.
    expect(text).not.toMatch(/line \d+, column \d+: .*line \d+, column \d+/);
    expect(text).toContain('/nonexistent/keys.yaml (WARDEN_API_KEYS): file not found');
  });

  it('accepts an inline JSON policy', async () => {
    const { WARDEN_API_KEYS } = files('{}');
    const c = await loadConfig(
      { WARDEN_POLICY: '{"rules":[{"match":{"path":"/x"},"public":true}]}', WARDEN_API_KEYS },
      { fetch },
    );
    expect(c.policy.rules).toHaveLength(1);
    expect(c.policySource.kind).toBe('inline');
  });

  it('fetches a URL policy with the auth header, and re-fetches with If-None-Match', async () => {
    const seen: Record<string, string | undefined>[] = [];
    const server = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, inm: req.headers['if-none-match'] });
      if (req.headers.authorization !== 'Bearer s3cret') return void res.writeHead(401).end();
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304).end();
      res
        .writeHead(200, { etag: '"v1"', 'content-type': 'application/yaml' })
        .end('default: authenticated\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/policy.yaml`;
    const { WARDEN_API_KEYS } = files('{}');
    try {
      const env = loadEnv({
        WARDEN_POLICY: url,
        WARDEN_API_KEYS,
        WARDEN_POLICY_AUTH_HEADER: 'Authorization: Bearer s3cret',
      });
      const first = await loadDocuments(env, { fetch });
      expect(first.policy.default).toBe('authenticated');
      expect(first.policyEtag).toBe('"v1"');
      const second = await loadDocuments(env, { fetch }, first);
      expect(second.policy).toBe(first.policy);
      expect(seen).toEqual([
        { auth: 'Bearer s3cret', inm: undefined },
        { auth: 'Bearer s3cret', inm: '"v1"' },
      ]);
      const noAuth = loadEnv({ WARDEN_POLICY: url, WARDEN_API_KEYS });
      await expect(loadDocuments(noAuth, { fetch })).rejects.toThrow(/HTTP 401/);
    } finally {
      server.close();
    }
  });
});
