import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../src/auth/errors.js';
import type { Identity } from '../../src/auth/identity.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { decide, matchRule, type AuthOutcome } from '../../src/policy/decide.js';
import type { DecisionTracer } from '../../src/policy/trace.js';
import { normalizeHost } from '../../src/policy/matchers.js';
import { canonicalizePath, matchKey } from '../../src/request/canonical-path.js';
import { parseAddress } from '../../src/request/client-ip.js';

const policy = compilePolicy(
  policySchema.parse({
    roles: {
      admin: ['*'],
      developer: ['nodes:*', 'api:*', 'mcp:use'],
      analyst: ['nodes:read', 'api:read'],
      viewer: ['nodes:read'],
      auditor: ['admin:audit'],
    },
    rateLimits: {
      api: { limit: 100, window: '60s', by: 'identity' },
      health: { limit: 10, window: '1s', by: 'ip' },
    },
    rules: [
      { match: { path: '/health' }, public: true, rateLimit: 'health' },
      { match: { path: '/api/**', methods: ['GET', 'HEAD'] }, require: ['api:read'], rateLimit: 'api' },
      { match: { path: '/api/**' }, require: ['api:write'], rateLimit: 'api' },
      {
        match: { host: 'admin.example.com', path: '/**' },
        require: { all: ['admin:users', 'admin:audit'] },
        networks: ['10.0.0.0/8'],
      },
      { match: { path: '/internal/**' }, deny: true },
      { match: { path: '/me' } },
      { match: { host: '*.tenant.example.com', path: '/t/*' }, require: { any: ['nodes:read', 'api:read'] } },
      { match: { path: '/admin/**' }, require: ['admin:users'] },
    ],
    default: 'deny',
  }),
);

const who = (roles: string[], extra: Partial<Identity> = {}): AuthOutcome => ({
  identity: { sub: 'u', name: '', email: '', roles, method: 'api_key', keyId: 'u', ...extra },
});
const req = (path: string, o: { method?: string; host?: string; ip?: string } = {}) => {
  const c = canonicalizePath(path);
  if (!c.ok) throw new Error(c.detail);
  return {
    method: o.method ?? 'GET',
    host: normalizeHost(o.host ?? 'api.example.com'),
    matchPath: matchKey(c.path),
    clientIp: parseAddress(o.ip ?? '203.0.113.9')!,
  };
};
const brief = (d: ReturnType<typeof decide>) => `${d.kind}:${d.reason}:${d.rule}`;

describe('decide()', () => {
  it('allows public rules without credentials, with their rate limit', () => {
    const d = decide(policy, req('/health'), null);
    expect(d).toMatchObject({
      kind: 'allow',
      reason: 'public',
      rule: 0,
      rateLimit: 'health',
      identity: null,
    });
  });

  it('lets a public rule pass even when a presented credential is bad', () => {
    expect(
      brief(decide(policy, req('/health'), { error: new AuthError('invalid_credentials', 'unknown') })),
    ).toBe('allow:public:0');
  });

  it('first match wins, by method', () => {
    expect(brief(decide(policy, req('/api/x'), who(['analyst'])))).toBe('allow:permitted:1');
    expect(brief(decide(policy, req('/api/x', { method: 'POST' }), who(['analyst'])))).toBe(
      'forbidden:insufficient_permissions:2',
    );
    expect(brief(decide(policy, req('/api/x', { method: 'POST' }), who(['developer'])))).toBe(
      'allow:permitted:2',
    );
  });

  it('names the required permissions on 403', () => {
    const d = decide(policy, req('/api/x', { method: 'DELETE' }), who(['viewer']));
    expect(d).toMatchObject({
      kind: 'forbidden',
      reason: 'insufficient_permissions',
      required: ['api:write'],
    });
  });

  it('distinguishes missing and invalid credentials', () => {
    expect(brief(decide(policy, req('/api/x'), null))).toBe('unauthenticated:missing_credentials:1');
    expect(
      brief(decide(policy, req('/api/x'), { error: new AuthError('invalid_credentials', 'expired') })),
    ).toBe('unauthenticated:invalid_credentials:1');
  });

  it('require all needs every permission; networks are checked', () => {
    const admin = { host: 'admin.example.com', ip: '10.1.2.3' };
    expect(brief(decide(policy, req('/x', admin), who(['auditor'])))).toBe(
      'forbidden:insufficient_permissions:3',
    );
    expect(brief(decide(policy, req('/x', admin), who(['admin'])))).toBe('allow:permitted:3');
    expect(
      brief(decide(policy, req('/x', { host: 'admin.example.com', ip: '203.0.113.9' }), who(['admin']))),
    ).toBe('forbidden:network_not_allowed:3');
    expect(
      brief(decide(policy, req('/x', { host: 'ADMIN.example.com:8443', ip: '10.0.0.1' }), who(['auditor']))),
    ).toBe('forbidden:insufficient_permissions:3');
  });

  it('deny rules deny even admins, before asking for credentials', () => {
    expect(brief(decide(policy, req('/internal/a'), who(['admin'])))).toBe('forbidden:rule_deny:4');
    expect(brief(decide(policy, req('/internal/a'), null))).toBe('forbidden:rule_deny:4');
  });

  it('a rule without require means any valid identity', () => {
    expect(brief(decide(policy, req('/me'), who([])))).toBe('allow:authenticated:5');
    expect(brief(decide(policy, req('/me'), null))).toBe('unauthenticated:missing_credentials:5');
  });

  it('host wildcards match any subdomain depth but not the apex', () => {
    expect(brief(decide(policy, req('/t/1', { host: 'a.tenant.example.com' }), who(['viewer'])))).toBe(
      'allow:permitted:6',
    );
    expect(brief(decide(policy, req('/t/1', { host: 'a.b.tenant.example.com' }), who(['viewer'])))).toBe(
      'allow:permitted:6',
    );
    expect(brief(decide(policy, req('/t/1', { host: 'tenant.example.com' }), who(['viewer'])))).toBe(
      'forbidden:default_deny:null',
    );
    expect(brief(decide(policy, req('/t/1/2', { host: 'a.tenant.example.com' }), who(['viewer'])))).toBe(
      'forbidden:default_deny:null',
    );
  });

  it('unknown roles grant nothing', () => {
    expect(brief(decide(policy, req('/api/x'), who(['ghost'])))).toBe('forbidden:insufficient_permissions:1');
  });

  it('default deny is 403 for everyone; default authenticated needs an identity', () => {
    expect(brief(decide(policy, req('/elsewhere'), who(['admin'])))).toBe('forbidden:default_deny:null');
    const open = compilePolicy(policySchema.parse({ default: 'authenticated' }));
    expect(brief(decide(open, req('/x'), null))).toBe('unauthenticated:missing_credentials:null');
    expect(brief(decide(open, req('/x'), who([])))).toBe('allow:authenticated:null');
  });

  it('a global network allowlist applies before every rule', () => {
    const p = compilePolicy(
      policySchema.parse({ networks: ['10.0.0.0/8'], rules: [{ match: { path: '/**' }, public: true }] }),
    );
    expect(brief(decide(p, req('/x', { ip: '10.9.9.9' }), null))).toBe('allow:public:0');
    expect(brief(decide(p, req('/x', { ip: '192.0.2.1' }), null))).toBe('forbidden:network_not_allowed:null');
  });

  it('a key limit overrides the rule limit', () => {
    expect(decide(policy, req('/api/x'), who(['analyst'], { rateLimit: 'health' }))).toMatchObject({
      rateLimit: 'health',
    });
  });

  it('judges /public/../admin, //admin, /%61dmin and /ADMIN as /admin', () => {
    const expected = brief(decide(policy, req('/admin'), who(['viewer'])));
    expect(expected).toBe('forbidden:insufficient_permissions:7');
    for (const p of ['/public/../admin', '//admin', '/%61dmin', '/ADMIN', '/Admin/', '/./admin']) {
      expect(brief(decide(policy, req(p), who(['viewer']))), p).toBe(expected);
    }
  });

  it('allows a path with dot segments only if every reading of it is allowed', () => {
    // An upstream may resolve `/admin//../health` in RFC order (/admin/health) or route on the
    // raw path (/admin/..): either way the admin rule, not the public one, must decide.
    const at = (p: string) => {
      const c = canonicalizePath(p);
      if (!c.ok) throw new Error(c.detail);
      return {
        method: 'GET',
        host: 'api.example.com',
        matchPath: matchKey(c.path),
        altMatchPaths: c.alternates?.map(matchKey) ?? null,
        clientIp: parseAddress('203.0.113.9')!,
      };
    };
    for (const p of [
      '/admin//../health',
      '/admin/../health',
      '/admin/.//../health',
      '/admin/x//../../health',
    ]) {
      expect(brief(decide(policy, at(p), null)), p).toBe('unauthenticated:missing_credentials:7');
      expect(brief(decide(policy, at(p), who(['viewer']))), p).toBe('forbidden:insufficient_permissions:7');
    }
    expect(brief(decide(policy, at('/health/../api/x'), null))).toBe('unauthenticated:missing_credentials:1');
    // Read literally, `/health/.` is no rule's path: fail closed.
    expect(brief(decide(policy, at('/health/./'), null))).toBe('forbidden:default_deny:null');
    expect(brief(decide(policy, at('/api/./x'), who(['analyst'])))).toBe('allow:permitted:1');
  });

  it('gives every spelling and case of a path the same decision (property)', () => {
    const seg = fc.constantFrom('api', 'admin', 'internal', 'health', 'me', 't', 'x', 'nodes', '..', '.', '');
    fc.assert(
      fc.property(
        fc.array(seg, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 40, maxLength: 40 }),
        fc.constantFrom('GET', 'POST'),
        (segs, mode, method) => {
          const path = '/' + segs.join('/');
          const base = decide(policy, req(path, { method }), who(['analyst']));
          let i = 0;
          // eslint-disable-next-line @typescript-eslint/no-misused-spread -- ASCII only: segments come from the list above
          const variant = [...path]
            .map((ch) => {
              const m = mode[i++ % mode.length];
              if (ch === '/') return m === 3 ? '//' : '/';
              if (m === 1) return '%' + ch.charCodeAt(0).toString(16);
              if (m === 2) return ch.toUpperCase();
              return ch;
            })
            .join('');
          expect(brief(decide(policy, req(variant, { method }), who(['analyst']))), variant).toBe(
            brief(base),
          );
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('rule index', () => {
  const silent: DecisionTracer = {
    reading() {},
    network() {},
    rule() {},
    permissions() {},
    authn() {},
    decided() {},
  };
  const seg = fc.constantFrom('api', 'API', 'nodes', 'x', '*', '**');
  const pattern = fc.array(seg, { maxLength: 4 }).map((s) => '/' + s.join('/'));
  const path = fc
    .array(fc.constantFrom('api', 'nodes', 'x', 'y'), { maxLength: 5 })
    .map((s) => '/' + s.join('/'));

  it('finds the same first matching rule as walking every rule', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: pattern, shadow: fc.boolean() }), { maxLength: 12 }),
        path,
        fc.boolean(),
        (rules, p, trailing) => {
          const policy = compilePolicy(
            policySchema.parse({
              rules: rules.map((r) => ({
                match: { path: r.p },
                public: true,
                ...(r.shadow ? { shadow: true } : {}),
              })),
            }),
          );
          const mp = matchKey(p + (trailing && p !== '/' ? '/' : ''));
          for (const pol of [policy, policy.enforced ?? policy]) {
            expect(matchRule(pol, 'GET', 'h', mp)?.index ?? null).toBe(
              matchRule(pol, 'GET', 'h', mp, silent)?.index ?? null,
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds the same first matching rule as the walk, with exact and wildcard hosts, methods and ** patterns', () => {
    const hostPattern = fc.constantFrom(
      undefined,
      'a.example.com',
      'A.Example.com:8443',
      'b.example.com',
      '*.example.com',
      '*.a.example.com',
      '*.com',
      'example.com',
    );
    const requestHost = fc.constantFrom(
      'a.example.com',
      'b.example.com',
      'x.a.example.com',
      'example.com',
      'other.org',
      'a.example.com.evil.org',
    );
    const method = fc.constantFrom('GET', 'POST', 'DELETE');
    const methods = fc.option(fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }), { nil: undefined });
    const longPattern = fc
      .array(fc.constantFrom('api', 'nodes', 'x', 'y', '*', '**'), { maxLength: 6 })
      .map((s) => '/' + s.join('/'));
    const longPath = fc
      .array(fc.constantFrom('api', 'nodes', 'x', 'y', 'z'), { maxLength: 7 })
      .map((s) => '/' + s.join('/'));
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: longPattern, host: hostPattern, methods, shadow: fc.boolean() }), {
          maxLength: 16,
        }),
        longPath,
        requestHost,
        method,
        (rules, p, host, m) => {
          const policy = compilePolicy(
            policySchema.parse({
              rules: rules.map((r) => ({
                match: {
                  path: r.p,
                  ...(r.host !== undefined ? { host: r.host } : {}),
                  ...(r.methods !== undefined ? { methods: r.methods } : {}),
                },
                public: true,
                ...(r.shadow ? { shadow: true } : {}),
              })),
            }),
          );
          const mp = matchKey(p);
          for (const pol of [policy, policy.enforced ?? policy])
            expect(matchRule(pol, m, host, mp)?.index ?? null).toBe(
              matchRule(pol, m, host, mp, silent)?.index ?? null,
            );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('finds a tenant among 10 000 host rules without walking them', () => {
    const policy = compilePolicy(
      policySchema.parse({
        rules: [
          ...Array.from({ length: 10_000 }, (_, i) => ({
            match: { host: `tenant${i}.example.com`, path: '/**' },
            public: true,
          })),
          { match: { path: '/**/health' }, public: true },
        ],
      }),
    );
    let tried = 0;
    const counting: DecisionTracer = {
      ...silent,
      rule: () => {
        tried++;
      },
    };
    expect(matchRule(policy, 'GET', 'tenant9876.example.com', '/a/b')?.index).toBe(9876);
    expect(matchRule(policy, 'GET', 'nobody.example.com', '/a/health')?.index).toBe(10_000);
    expect(matchRule(policy, 'GET', 'nobody.example.com', '/a/b')).toBeNull();
    // The walk (a tracer's) tries every rule before the match; the index looks up one list.
    matchRule(policy, 'GET', 'tenant9876.example.com', '/a/b', counting);
    expect(tried).toBe(9877);
  });
});
