// Policy `mcp:` sub-rules: validated at load with every problem's path, and the check warning for proxies that drop bodies.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { lintPolicy, proxyWarnings } from '../../src/policy/lint.js';
import { configProblems } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

const IDP = 'https://idp.example.com/realms/acme';
const ISSUERS = JSON.stringify([{ issuer: IDP, audience: 'https://api.example.com' }]);

function files(policy: unknown): Record<string, string> {
  const dir = testDir('warden-mcp-rules-');
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  writeFileSync(join(dir, 'keys.yaml'), 'keys: []\n');
  return {
    WARDEN_POLICY: join(dir, 'policy.yaml'),
    WARDEN_API_KEYS: join(dir, 'keys.yaml'),
    WARDEN_JWT_ISSUERS: ISSUERS,
  };
}

const memory = {
  id: 'memory',
  url: 'https://mcp.example.com/mcp',
  authorizationServers: [IDP],
  scopes: ['mcp:tools'],
};
const rule = (mcp: unknown, more: Record<string, unknown> = {}) => ({
  roles: { agent: ['mcp:use'], keeper: ['memory:admin'] },
  resources: [memory],
  rules: [{ match: { path: '/mcp/**' }, resource: 'memory', require: ['mcp:use'], mcp, ...more }],
});

describe('mcp sub-rules in the policy', () => {
  it('loads the example of the contract', async () => {
    const policy = rule([
      { match: { tools: ['delete_*', 'admin_*'] }, require: ['memory:admin'] },
      { match: { methods: ['resources/read'] }, deny: true },
      { match: { methods: ['tools/call'], tools: ['write_*'] }, scopes: ['mcp:write'] },
    ]);
    const c = await loadConfig(files(policy), { fetch });
    expect(c.policy.rules[0]?.mcp).toHaveLength(3);
  });

  it('names every problem with its path', async () => {
    const policy = {
      roles: { agent: ['mcp:use'] },
      resources: [memory],
      rules: [
        {
          match: { path: '/mcp/**' },
          require: ['mcp:use'],
          mcp: [
            { match: {}, deny: true },
            { match: { tools: ['bad tool'] }, deny: true },
            { match: { methods: ['tools/cal'] }, deny: true },
            { match: { methods: ['resource/read'] }, deny: true },
            { match: { methods: ['resources/list'], tools: ['x'] }, deny: true },
            { match: { tools: ['x'] }, deny: true, require: ['memory:admin'] },
            { match: { tools: ['x'] }, scopes: ['mcp:write'] },
            { match: { tools: ['x'] }, allow: true },
          ],
          cache: { allow: '5s' },
        },
        { match: { path: '/gone/**' }, deny: true, mcp: [{ match: { tools: ['x'] }, deny: true }] },
      ],
    };
    const text = (await configProblems(files(policy))).join('\n');
    expect(text).toMatch(/rules\[0\]\.mcp\[0\]\.match: match names tools, methods or both/);
    expect(text).toMatch(/rules\[0\]\.mcp\[1\]\.match\.tools\[0\]: a tool glob is/);
    expect(text).toMatch(/rules\[0\]\.mcp\[2\]\.match\.methods\[0\]: "tools\/cal" is no MCP method/);
    expect(text).toMatch(
      /rules\[0\]\.mcp\[3\]\.match\.methods\[0\]: "resource\/read" is no MCP method \(did you mean "resources\/read"\?\)/,
    );
    expect(text).toMatch(/rules\[0\]\.mcp\[4\]\.match\.tools: tools are judged on tools\/call calls/);
    expect(text).toMatch(/rules\[0\]\.mcp\[5\]: a sub-rule is at most one of deny, require/);
    expect(text).toMatch(/rules\[0\]\.mcp\[6\]\.scopes: scopes apply to tokens issued for a resource/);
    expect(text).toMatch(/rules\[0\]\.mcp\[7\]: .*allow/);
    expect(text).toMatch(/rules\[0\]\.cache: a proxy reuses a decision without the body/);
    expect(text).toMatch(/rules\[1\]\.mcp: a deny rule lets nothing through/);
  });

  it('counts sub-rule permissions in lint: no unused role, an ungranted one named by its path', async () => {
    const c = await loadConfig(
      files(rule([{ match: { tools: ['delete_*'] }, require: { all: ['memory:admin', 'memory:purge'] } }])),
      { fetch },
    );
    const w = lintPolicy(c.policy);
    expect(w.filter((x) => x.code === 'unused_role')).toEqual([]);
    expect(w).toContainEqual({
      code: 'ungranted_permission',
      path: 'rules[0].mcp[0].require.all[1]',
      message: 'permission "memory:purge" is granted by no role',
    });
  });

  it('warns that nginx and Caddy do not forward the body the sub-rules judge', async () => {
    const c = await loadConfig(files(rule([{ match: { tools: ['delete_*'] }, require: ['memory:admin'] }])), {
      fetch,
    });
    expect(proxyWarnings(c.policy, 'traefik')).toEqual([]);
    expect(proxyWarnings(c.policy, 'envoy')).toEqual([]);
    for (const proxy of ['nginx', 'caddy']) {
      const [w] = proxyWarnings(c.policy, proxy);
      expect(w).toMatchObject({ code: 'mcp_needs_body', path: 'rules[0].mcp' });
      expect(w?.message).toMatch(new RegExp(`${proxy} does not forward .* 403 mcp_body_required`));
    }
  });
});
