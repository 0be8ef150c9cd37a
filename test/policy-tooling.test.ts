// `warden explain` and `warden test`, run as users run them: the built CLI in dist/.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { send } from './helpers/http.js';
import { ifStarted } from './helpers/hooks.js';
import { makeKey, startIssuer } from './helpers/issuer.js';
import { makeDir, removeDir, testDir } from './helpers/tmp.js';
import { startWarden, testKey } from './helpers/warden.js';
import { ROOT, runCli } from './helpers/cli.js';

const warden = runCli;

const dev = testKey('agent-1', ['developer']);
let keysDir: string;
let keysEnv: Record<string, string>;

beforeAll(() => {
  keysDir = makeDir('warden-tooling-');
  writeFileSync(join(keysDir, 'keys.yaml'), stringify({ keys: [dev.entry] }));
  keysEnv = { WARDEN_API_KEYS: join(keysDir, 'keys.yaml') };
}, 120_000);
afterAll(() => {
  if (ifStarted(keysDir)) removeDir(keysDir);
});

describe('warden explain', () => {
  it('prints the decision, canonical path, identity, every rule tried, the permission check and the limit', async () => {
    const r = await warden([
      'explain',
      '--method',
      'POST',
      '--url',
      'https://api.example.com/api/nodes',
      '--ip',
      '10.1.2.3',
      '--roles',
      'analyst,viewer',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^decision: 403 forbidden \(insufficient_permissions\), rule \[2\], required \[api:write\]\n/,
    );
    expect(r.stdout).toContain('path:     /api/nodes (canonical)');
    expect(r.stdout).toContain('client:   10.1.2.3');
    expect(r.stdout).toContain('identity: synthetic, roles [analyst, viewer]');
    expect(r.stdout).toMatch(/\[0\] \/health → public: ✗ path does not match/);
    expect(r.stdout).toMatch(
      /\[1\] GET,HEAD \/api\/\*\* → require any \[api:read\]: ✗ method not in the rule's methods/,
    );
    expect(r.stdout).toMatch(/\[2\] \/api\/\*\* → require any \[api:write\]: ✓ matches/);
    expect(r.stdout).toContain('api:write: granted by none of the roles');
  });

  it('verifies a --jwt against the configured issuer, with roles from its claims, and names a refusal', async () => {
    const key = await makeKey('ES256');
    const iss = await startIssuer([key]);
    try {
      const env = { WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: iss.issuer, audience: 'api' }]) };
      const token = await iss.mint({ aud: 'api', sub: 'svc-7', groups: ['developer', 'unknown-group'] });
      const ok = await warden(['explain', '--url', 'https://api.example.com/api/nodes', '--jwt', token], env);
      expect(ok.stdout).toMatch(/^decision: 200 allow \(permitted\)/);
      expect(ok.stdout).toContain(`identity: jwt svc-7 from ${iss.issuer}, roles [developer]`);
      expect(ok.stdout).not.toContain(token.split('.')[2]);
      const expired = await iss.mint({ aud: 'api', sub: 'svc-7', exp: Math.floor(Date.now() / 1000) - 120 });
      const bad = await warden(
        ['explain', '--url', 'https://api.example.com/api/nodes', '--jwt', expired],
        env,
      );
      expect(bad.stdout).toMatch(/^decision: 401 unauthenticated \(invalid_credentials\)/);
      expect(bad.stdout).toContain(
        `credential refused: invalid_credentials (cause: expired, kid ${key.kid}, ERR_JWT_EXPIRED)`,
      );
      const none = await warden(['explain', '--url', 'https://api.example.com/api/nodes', '--jwt', token]);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('--jwt needs WARDEN_JWT_ISSUERS');
    } finally {
      await iss.close();
    }
  });

  it('looks a --key up in the keys file like /verify, and names the limit that applies', async () => {
    const ok = await warden(
      ['explain', '--url', 'https://api.example.com/api/nodes', '--key', dev.key],
      keysEnv,
    );
    expect(ok.stdout).toMatch(/^decision: 200 allow \(permitted\), rule \[1\]/);
    expect(ok.stdout).toContain('identity: api key agent-1, roles [developer]');
    expect(ok.stdout).toContain('api:read: granted by developer');
    expect(ok.stdout).toContain('limit:    api 100/60s by identity');
    expect(ok.stdout).not.toContain(dev.key);
    const bad = await warden(
      ['explain', '--url', 'https://api.example.com/api/nodes', '--key', 'wdn_wrong'],
      keysEnv,
    );
    expect(bad.stdout).toMatch(/^decision: 401 unauthenticated \(invalid_credentials\), rule \[1\]/);
    expect(bad.stdout).toContain('credential refused: invalid_credentials (cause: unknown)');
    const anon = await warden(['explain', '--url', 'https://api.example.com/nowhere']);
    expect(anon.stdout).toMatch(/^decision: 403 forbidden \(default_deny\), policy default/);
    expect(anon.stdout).toContain('no rule matches: default deny');
  });

  it('shows the other readings of a path with dot segments, and a rejected path as the decision', async () => {
    const dots = await warden([
      'explain',
      '--url',
      'https://api.example.com/api/%2e%2e/internal/x',
      '--roles',
      'admin',
    ]);
    expect(dots.stdout).toMatch(/^decision: 403 forbidden \(rule_deny\), rule \[7\]/);
    expect(dots.stdout).toContain('path:     /internal/x (canonical)');
    expect(dots.stdout).toContain('/api/../internal/x (another reading');
    const bad = await warden(['explain', '--url', 'https://api.example.com/api%2fnodes', '--roles', 'admin']);
    expect(bad.code).toBe(0);
    expect(bad.stdout).toMatch(/^decision: 403 malformed \(bad_path: encoded slash or backslash\)/);
  });

  it('--json gives the outcome and the trace as data', async () => {
    const r = await warden([
      'explain',
      '--json',
      '--url',
      'https://admin.example.com/users',
      '--ip',
      '203.0.113.9',
      '--roles',
      'admin',
    ]);
    const e = JSON.parse(r.stdout);
    expect(e.outcome).toEqual({
      decision: 'forbidden',
      status: 403,
      reason: 'network_not_allowed',
      rule: 6,
      required: [],
    });
    expect(e.trace[0].networks).toEqual([{ scope: 6, allowed: false }]);
    expect(e.trace[0].rules.at(-1)).toEqual({ index: 6, verdict: 'match' });
  });

  it('answers as /verify does in shadow mode: shadow rules only noted, WARDEN_MODE=shadow noted', async () => {
    const dir = testDir('warden-tooling-');
    writeFileSync(
      join(dir, 'policy.yaml'),
      stringify({
        roles: { viewer: ['nodes:read'] },
        rules: [
          { match: { path: '/nodes/new/**' }, require: ['nodes:admin'], shadow: true },
          { match: { path: '/nodes/**' }, require: ['nodes:read'] },
        ],
      }),
    );
    const env = { WARDEN_POLICY: join(dir, 'policy.yaml') };
    const r = await warden(['explain', '--url', 'https://a.example/nodes/new/x', '--roles', 'viewer'], env);
    expect(r.stdout).toMatch(/^decision: 200 allow \(permitted\), rule \[1\]/);
    expect(r.stdout).toContain(
      'note:     shadow rule [0] would deny (insufficient_permissions); /verify allows and audits decision "would-deny"',
    );
    const m = await warden(['explain', '--url', 'https://a.example/elsewhere', '--roles', 'viewer'], {
      ...env,
      WARDEN_MODE: 'shadow',
    });
    expect(m.stdout).toMatch(/^decision: 403 forbidden \(default_deny\)/);
    expect(m.stdout).toContain('WARDEN_MODE=shadow: /verify allows this request');
  });

  it('warns about --roles the policy does not define', async () => {
    const r = await warden(['explain', '--url', 'https://api.example.com/api/nodes', '--roles', 'develper']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'warden explain: warning: role "develper" is not in the policy, it grants nothing (did you mean developer?); roles: admin, developer, analyst, viewer\n',
    );
    expect(r.stdout).toMatch(/^decision: 403 forbidden/);
  });

  it('refuses input that is not a request with exit 2', async () => {
    expect((await warden(['explain'])).code).toBe(2);
    const bare = await warden(['explain', '--url', 'api.example.com/api/nodes']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--url must be an absolute http(s) URL');
    const ip = await warden(['explain', '--url', 'https://a.example/x', '--ip', 'nope']);
    expect(ip.code).toBe(2);
    expect(ip.stderr).toContain('not an IP address');
    expect(
      (await warden(['explain', '--url', 'https://a.example/x', '--key', 'k', '--roles', 'r'])).code,
    ).toBe(2);
  });
});

describe('warden test', () => {
  it("passes the example policy's own test file (rbac/policy.test.yaml)", async () => {
    const r = await warden(['test']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rbac\/policy\.test\.yaml\n {2}✓ /);
    expect(r.stdout).not.toContain('✗');
    expect(r.stdout).toMatch(/\n\d+ passed \(1 file\)\n$/);
  });

  it('fails a deliberately broken copy of the policy with readable output and exit 1', async () => {
    const dir = testDir('warden-tooling-');
    // The broken copy: the /internal/** deny rule dropped, and analysts no longer read the API.
    const policy = readFileSync(join(ROOT, 'rbac', 'policy.yaml'), 'utf8')
      .replace('  - match: { path: /internal/** }\n    deny: true\n', '')
      .replace('analyst:   ["nodes:read", "api:read", "mcp:use"]', 'analyst:   ["nodes:read", "mcp:use"]');
    writeFileSync(join(dir, 'policy.yaml'), policy);
    const r = await warden(['test'], { WARDEN_POLICY: join(dir, 'policy.yaml') });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  ✓ the health check is public, limited per IP\n');
    expect(r.stdout).toContain(
      '  ✗ an analyst reads the API under the api limit\n' +
        '      expected allow, got deny-403; expected reason permitted, got insufficient_permissions\n' +
        '      decision: 403 forbidden (insufficient_permissions), rule [1], required [api:read]\n' +
        '      rule [1]: GET,HEAD /api/** → require any [api:read]\n' +
        '      warden explain --method GET --url https://api.example.com/api/nodes --ip 203.0.113.7 --roles analyst\n',
    );
    expect(r.stdout).toContain(
      '  ✗ internal paths are denied even to an admin\n      expected reason rule_deny, got default_deny; expected rule [7], got the policy default\n',
    );
    expect(r.stdout).toMatch(/\n5 failed, 19 passed \(1 file\)\n$/);
  });

  it('refuses a malformed test file with exit 2, naming the file, the case and the field', async () => {
    const dir = testDir('warden-tooling-');
    const file = join(dir, 'bad.test.yaml');
    writeFileSync(
      file,
      stringify([
        { name: 'ok', request: { method: 'GET', url: 'https://a.example/x' }, expect: 'allow' },
        {
          name: 'typo',
          request: { method: 'GET', url: 'https://a.example/x', ipp: '1.2.3.4' },
          expect: 'allow',
        },
        { name: 'relative', request: { method: 'get', url: '/x' }, expect: 'deny-403', extra: 1 },
        { name: 'limited', request: { method: 'GET', url: 'https://a.example/x' }, expect: 'deny-429' },
        {
          name: 'both',
          request: { method: 'GET', url: 'https://a.example/x' },
          identity: { key: 'k', roles: ['r'] },
          expect: 'deny-401',
        },
      ]),
    );
    const r = await warden(['test', file, join(dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('warden test: invalid test file (7 problems):');
    expect(r.stderr).toContain(`${file}: case [1] "typo": request: Unrecognized key: "ipp"`);
    expect(r.stderr).toContain(
      `${file}: case [2] "relative": request.method: an upper-case HTTP method such as GET`,
    );
    expect(r.stderr).toContain(
      `${file}: case [2] "relative": request.url: an absolute http(s) URL with a path`,
    );
    expect(r.stderr).toContain(`${file}: case [2] "relative": Unrecognized key: "extra"`);
    expect(r.stderr).toContain(`${file}: case [3] "limited": expect: deny-429 is not supported`);
    expect(r.stderr).toContain(`${file}: case [4] "both": identity: give key or roles, not both`);
    expect(r.stderr).toContain(`${join(dir, 'missing.yaml')}: file not found`);
  });
});

describe('explain agrees with /verify on the README walkthrough', () => {
  // "Five minutes with warden": Traefik's headers for api.example.com, client 203.0.113.7.
  const walkthrough: { uri: string; key?: string; method?: string }[] = [
    { uri: '/api/nodes' },
    { uri: '/api/nodes', key: dev.key },
    { uri: '/internal/secrets', key: dev.key },
    { uri: '/api/nodes', key: 'wdn_wrong' },
    { uri: '/api/%2e%2e/internal/x', key: dev.key },
    { uri: '/api%2fnodes', key: dev.key },
    { uri: '/health' },
    { uri: '/api/nodes', key: dev.key, method: 'POST' },
    { uri: '/nodes/n1', key: dev.key, method: 'DELETE' },
    { uri: '/elsewhere', key: dev.key },
  ];

  it('gives the same status, reason and rule for each request', async () => {
    const policy = parse(readFileSync(join(ROOT, 'rbac', 'policy.yaml'), 'utf8'));
    const w = await startWarden({ policy, keys: [dev.entry] });
    try {
      for (const [i, q] of walkthrough.entries()) {
        const method = q.method ?? 'GET';
        const headers: Record<string, string> = {
          'X-Forwarded-Method': method,
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'api.example.com',
          'X-Forwarded-Uri': q.uri,
          'X-Forwarded-For': '203.0.113.7',
          'X-Request-ID': `walk-${i}`,
        };
        if (q.key) headers['X-API-Key'] = q.key;
        const res = await send(`${w.url}/verify/traefik`, { headers });
        const line = w.audit.find((a) => a.reqId === `walk-${i}`)!;
        const verify = {
          status: res.status,
          reason: res.status === 200 ? line.reason : JSON.parse(res.body).reason,
          rule: line.rule,
        };
        expect(line.reason).toBe(verify.reason);
        const args = [
          'explain',
          '--json',
          '--method',
          method,
          '--url',
          `https://api.example.com${q.uri}`,
          '--ip',
          '203.0.113.7',
          ...(q.key ? ['--key', q.key] : []),
        ];
        const r = await warden(args, { WARDEN_POLICY: w.policyPath, WARDEN_API_KEYS: w.keysPath });
        const o = JSON.parse(r.stdout).outcome;
        expect({ uri: q.uri, status: o.status, reason: o.reason, rule: o.rule }).toEqual({
          uri: q.uri,
          ...verify,
        });
      }
    } finally {
      await w.close();
    }
  }, 60_000);
});

describe('README', () => {
  it('shows the real explain output for the walkthrough requests it lists', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```sh\nnpx warden explain (.+)\n```\n\n```\n([\s\S]*?)```\n/g)];
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const [, argText, shown] of blocks) {
      const args = [...argText!.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) =>
        (m[1] ?? m[2] ?? m[3])!.replace('$KEY', dev.key),
      );
      const r = await warden(['explain', ...args], keysEnv);
      expect(r.stdout).toBe(shown);
    }
  });
});
