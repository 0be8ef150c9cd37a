// decide() on rules with a `resource` (audience binding) and `scopes`, and what `warden explain` says of them.
import { describe, expect, it } from 'vitest';
import { compileKeys } from '../../src/auth/apikey.js';
import type { Identity, TokenGrant } from '../../src/auth/identity.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { decide, type AuthOutcome } from '../../src/policy/decide.js';
import { parseAddress } from '../../src/request/client-ip.js';
import { evaluate } from '../../src/tooling/evaluate.js';
import { resourceKey } from '../../src/util/resource-url.js';

const IDP = 'https://idp.example.com';
const OTHER = 'https://other-idp.example.com';
const MEMORY = 'https://mcp.example.com/mcp';
const API_AUD = 'https://api.example.com';

const policy = compilePolicy(
  policySchema.parse({
    roles: { agent: ['mcp:use', 'api:read'] },
    resources: [
      { id: 'memory', url: MEMORY, authorizationServers: [IDP], scopes: ['mcp:tools', 'mcp:read'] },
      { id: 'notes', url: 'https://notes.example.com/mcp', authorizationServers: [IDP, OTHER] },
    ],
    rules: [
      {
        match: { host: 'mcp.example.com', path: '/mcp/**' },
        resource: 'memory',
        require: ['mcp:use'],
        scopes: ['mcp:tools', 'mcp:write'],
      },
      { match: { host: 'notes.example.com', path: '/mcp/**' }, resource: 'notes' },
      { match: { path: '/api/**' }, require: ['api:read'] },
      { match: { path: '/pub/**' }, public: true },
    ],
    default: 'authenticated',
  }),
);

function grant(aud: string[], scopes: string[] = [], issuerAudience = false): TokenGrant {
  return { audience: new Set(aud.map(resourceKey)), issuerAudience, scopes: new Set(scopes) };
}
const jwt = (token: TokenGrant | undefined, extra: Partial<Identity> = {}): AuthOutcome => ({
  identity: {
    sub: 'u',
    name: '',
    email: '',
    roles: ['agent'],
    method: 'jwt',
    issuer: IDP,
    ...(token ? { token } : {}),
    ...extra,
  },
});
const key = (roles: string[] = ['agent']): AuthOutcome => ({
  identity: { sub: 'k', name: '', email: '', roles, method: 'api_key', keyId: 'k' },
});
const req = (host: string, path: string) => ({
  method: 'POST',
  host,
  matchPath: path,
  clientIp: parseAddress('203.0.113.9')!,
});
const brief = (d: ReturnType<typeof decide>) =>
  `${d.kind}:${d.reason}:${d.rule}${d.kind === 'unauthenticated' && d.error ? `:${d.error.failure}` : ''}`;
const mcp = req('mcp.example.com', '/mcp');
const api = req('app.example.com', '/api/x');
const full = ['mcp:tools', 'mcp:write'];

describe('decide() on a rule with a resource (audience binding)', () => {
  it('allows a token bound to the resource by one of its authorization servers', () => {
    expect(brief(decide(policy, mcp, jwt(grant([MEMORY], full))))).toBe('allow:permitted:0');
    expect(brief(decide(policy, mcp, jwt(grant(['https://MCP.example.com/mcp/'], full))))).toBe(
      'allow:permitted:0',
    );
    const notes = req('notes.example.com', '/mcp');
    const forNotes = grant(['https://notes.example.com/mcp']);
    expect(brief(decide(policy, notes, jwt(forNotes, { issuer: OTHER })))).toBe('allow:authenticated:1');
  });

  it('refuses any other token as wrong_audience, before permissions and scopes', () => {
    for (const [label, outcome] of [
      ['issuer audience only', jwt(grant([], full, true))],
      ['another resource', jwt(grant(['https://notes.example.com/mcp'], full))],
      ['an issuer that is no authorization server', jwt(grant([MEMORY], full), { issuer: OTHER })],
      ['no grant at all', jwt(undefined)],
      ['no roles either', jwt(grant([], [], true), { roles: [] })],
    ] as const)
      expect(brief(decide(policy, mcp, outcome)), label).toBe(
        'unauthenticated:invalid_credentials:0:wrong_audience',
      );
  });

  it('judges API keys and sessions by their roles only', () => {
    expect(brief(decide(policy, mcp, key()))).toBe('allow:permitted:0');
    expect(brief(decide(policy, mcp, key([])))).toBe('forbidden:insufficient_permissions:0');
    const session: AuthOutcome = {
      identity: { sub: 's', name: '', email: '', roles: ['agent'], method: 'session', issuer: IDP },
    };
    expect(brief(decide(policy, mcp, session))).toBe('allow:permitted:0');
  });
});

describe('decide() on a rule with scopes', () => {
  it('needs every scope of the rule in the token, else 403 insufficient_scope naming them', () => {
    expect(brief(decide(policy, mcp, jwt(grant([MEMORY], ['mcp:write', 'mcp:tools', 'x']))))).toBe(
      'allow:permitted:0',
    );
    for (const held of [[], ['mcp:tools'], ['mcp:tools mcp:write'], ['MCP:TOOLS', 'mcp:write']]) {
      const d = decide(policy, mcp, jwt(grant([MEMORY], held)));
      expect(d, JSON.stringify(held)).toMatchObject({
        kind: 'forbidden',
        reason: 'insufficient_scope',
        rule: 0,
        required: ['mcp:tools', 'mcp:write'],
        identity: { sub: 'u' },
      });
    }
  });

  it('checks scopes after the audience and before the permissions', () => {
    expect(brief(decide(policy, mcp, jwt(grant([API_AUD], [], true))))).toBe(
      'unauthenticated:invalid_credentials:0:wrong_audience',
    );
    expect(brief(decide(policy, mcp, jwt(grant([MEMORY], []), { roles: [] })))).toBe(
      'forbidden:insufficient_scope:0',
    );
    expect(brief(decide(policy, mcp, jwt(grant([MEMORY], full), { roles: [] })))).toBe(
      'forbidden:insufficient_permissions:0',
    );
  });

  it('does not apply scopes to API keys and sessions', () => {
    expect(brief(decide(policy, mcp, key()))).toBe('allow:permitted:0');
  });
});

describe('decide() on rules without a resource', () => {
  it("refuses a token that does not carry its issuer's audience (a token for an MCP server)", () => {
    expect(brief(decide(policy, api, jwt(grant([MEMORY], full))))).toBe(
      'unauthenticated:invalid_credentials:2:wrong_audience',
    );
    expect(brief(decide(policy, api, jwt(grant([MEMORY], full, true))))).toBe('allow:permitted:2');
    expect(brief(decide(policy, api, jwt(undefined)))).toBe(
      'unauthenticated:invalid_credentials:2:wrong_audience',
    );
    // The default (authenticated) too.
    const other = req('app.example.com', '/other');
    expect(brief(decide(policy, other, jwt(grant([MEMORY]))))).toBe(
      'unauthenticated:invalid_credentials:null:wrong_audience',
    );
    expect(brief(decide(policy, other, jwt(grant([], [], true))))).toBe('allow:authenticated:null');
  });

  it('lets a public rule pass such a token as no credential', () => {
    const d = decide(policy, req('app.example.com', '/pub/x'), jwt(grant([MEMORY])));
    expect(d).toMatchObject({ kind: 'allow', reason: 'public', identity: null });
    const own = decide(policy, req('app.example.com', '/pub/x'), jwt(grant([], [], true)));
    expect(own).toMatchObject({ kind: 'allow', reason: 'public', identity: { sub: 'u' } });
  });
});

describe('warden explain', () => {
  it('names the cause when a verified token is refused for its audience', () => {
    const token = jwt(grant([MEMORY], full));
    if (!token || !('identity' in token)) throw new Error('unreachable');
    const e = evaluate(
      policy,
      compileKeys({ keys: [] }),
      { method: 'GET', url: 'https://app.example.com/api/x', verified: token.identity },
      0,
    );
    expect(e.outcome).toMatchObject({
      decision: 'unauthenticated',
      reason: 'invalid_credentials',
      detail: 'wrong_audience',
    });
    expect(e.notes.join('\n')).toContain("not for its issuer's audience");
    const onMcp = evaluate(
      policy,
      compileKeys({ keys: [] }),
      {
        method: 'GET',
        url: 'https://mcp.example.com/mcp',
        verified: { ...token.identity, token: grant([], full, true) },
      },
      0,
    );
    expect(onMcp.notes.join('\n')).toContain(`not issued for resource "memory" (${MEMORY})`);
  });
});
