import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { keysSchema } from '../../src/config/keys-schema.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { compilePathPattern, pathPatternSegments, splitPath } from '../../src/policy/matchers.js';
import { hostCovers, lintPolicy, pathCovers } from '../../src/policy/lint.js';

const seg = pathPatternSegments;
const policy = (doc: unknown) => policySchema.parse(doc);

describe('path pattern superset', () => {
  it('knows the common cases', () => {
    expect(pathCovers(seg('/api/**'), seg('/api'))).toBe(true);
    expect(pathCovers(seg('/api/**'), seg('/api/*'))).toBe(true);
    expect(pathCovers(seg('/api/**'), seg('/api/x/**'))).toBe(true);
    expect(pathCovers(seg('/**'), seg('/anything/*/x'))).toBe(true);
    expect(pathCovers(seg('/api/*'), seg('/api/x'))).toBe(true);
    expect(pathCovers(seg('/API/x'), seg('/api/x/'))).toBe(true);
    expect(pathCovers(seg('/v1/*/nodes/**'), seg('/v1/t1/nodes/a/*'))).toBe(true);
    expect(pathCovers(seg('/**/x'), seg('/a/**/x'))).toBe(true);
  });
  it('says no when some path escapes', () => {
    expect(pathCovers(seg('/api'), seg('/api/**'))).toBe(false);
    expect(pathCovers(seg('/api/*'), seg('/api/**'))).toBe(false);
    expect(pathCovers(seg('/api/*'), seg('/api'))).toBe(false);
    expect(pathCovers(seg('/api/x'), seg('/api/*'))).toBe(false);
    expect(pathCovers(seg('/v1/*/nodes'), seg('/v1/**/nodes'))).toBe(false);
    expect(pathCovers(seg('/api/**'), seg('/apix'))).toBe(false);
  });
  it('never claims cover when a sampled path is matched by b and not a (exhaustive over small patterns)', () => {
    const pats = [
      '/',
      '/a',
      '/b',
      '/*',
      '/**',
      '/a/*',
      '/a/**',
      '/*/a',
      '/**/a',
      '/a/*/b',
      '/a/**/b',
      '/*/*',
      '/**/*',
      '/*/**',
      '/a/b',
    ];
    const paths = [
      '/',
      '/a',
      '/b',
      '/c',
      '/a/a',
      '/a/b',
      '/b/a',
      '/a/c/b',
      '/a/b/b',
      '/c/c/a',
      '/a/x/y/b',
      '/x/y/z/a',
    ];
    for (const p of pats)
      for (const q of pats) {
        const pm = compilePathPattern(p);
        const qm = compilePathPattern(q);
        const witnesses = paths.filter((x) => qm(splitPath(x)));
        if (pathCovers(seg(p), seg(q)))
          for (const x of witnesses) expect(pm(splitPath(x)), `${p} ⊇ ${q} at ${x}`).toBe(true);
      }
  });
});

describe('host superset', () => {
  it('any host covers all; wildcards cover names strictly below', () => {
    expect(hostCovers(null, 'a.example.com')).toBe(true);
    expect(hostCovers('a.example.com', null)).toBe(false);
    expect(hostCovers('*.example.com', 'a.example.com')).toBe(true);
    expect(hostCovers('*.example.com', '*.a.example.com')).toBe(true);
    expect(hostCovers('*.example.com', 'example.com')).toBe(false);
    expect(hostCovers('a.example.com', '*.example.com')).toBe(false);
  });
});

describe('lintPolicy', () => {
  it('warns about a rule shadowed by an earlier, wider one', () => {
    const w = lintPolicy(
      policy({
        roles: { dev: ['api:*'] },
        rules: [
          { match: { path: '/api/**' }, require: ['api:read'] },
          { match: { path: '/api/admin/*', methods: ['POST'] }, require: ['api:admin'] },
          { match: { host: 'a.example.com', path: '/api/**' }, require: ['api:read'] },
          { match: { path: '/api/**', methods: ['GET'] }, require: ['api:read'] },
        ],
      }),
    );
    expect(w.filter((x) => x.code === 'shadowed')).toEqual([
      {
        code: 'shadowed',
        path: 'rules[1]',
        message: 'never matches: shadowed by rules[0] (same or wider host, methods and path)',
      },
      {
        code: 'shadowed',
        path: 'rules[2]',
        message: 'never matches: shadowed by rules[0] (same or wider host, methods and path)',
      },
      {
        code: 'shadowed',
        path: 'rules[3]',
        message: 'never matches: shadowed by rules[0] (same or wider host, methods and path)',
      },
    ]);
  });

  it('stays silent when the earlier rule is narrower in any of host, methods or path', () => {
    const w = lintPolicy(
      policy({
        roles: { dev: ['*'] },
        rules: [
          { match: { path: '/api/**', methods: ['GET'] }, require: ['api:read'] },
          { match: { path: '/api/**' }, require: ['api:write'] },
          { match: { host: '*.example.com', path: '/x/**' }, require: ['x'] },
          { match: { path: '/x/**' }, require: ['x'] },
          { match: { path: '/y/*' }, require: ['y'] },
          { match: { path: '/y/**' }, require: ['y'] },
        ],
      }),
    );
    expect(w).toEqual([]);
  });

  it('warns about a public rule covering a later protected or deny rule, not about mere intersection', () => {
    const w = lintPolicy(
      policy({
        roles: { dev: ['*'] },
        rules: [
          { match: { path: '/docs/**' }, public: true },
          { match: { path: '/docs/private/**' }, require: ['docs:private'] },
          { match: { path: '/status/*' }, public: true },
          { match: { path: '/status/secret', methods: ['GET'] }, deny: true },
          { match: { path: '/*/secret' }, deny: true },
        ],
      }),
    );
    expect(w).toEqual([
      {
        code: 'shadowed',
        path: 'rules[1]',
        message: 'never matches: shadowed by rules[0] (public) (same or wider host, methods and path)',
      },
      {
        code: 'shadowed',
        path: 'rules[3]',
        message: 'never matches: shadowed by rules[2] (public) (same or wider host, methods and path)',
      },
      {
        code: 'public_overlap',
        path: 'rules[0]',
        message:
          'public rule covers later protected rules[1]: every request rules[1] matches is public (first match wins)',
      },
      {
        code: 'public_overlap',
        path: 'rules[2]',
        message:
          'public rule covers later deny rules[3]: every request rules[3] matches is public (first match wins)',
      },
    ]);
  });

  it('warns about roles that grant nothing any rule requires, naming keys that hold them', () => {
    const keys = keysSchema.parse({ keys: [{ id: 'bot', sha256: 'a'.repeat(64), roles: ['auditor'] }] });
    const w = lintPolicy(
      policy({
        roles: { dev: ['api:*'], auditor: ['audit:read'], nobody: [] },
        rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
      }),
      keys,
    );
    expect(w).toEqual([
      {
        code: 'unused_role',
        path: 'roles.auditor',
        message:
          'grants none of the permissions any rule requires, so holding it changes no decision; held by keys bot',
      },
      {
        code: 'unused_role',
        path: 'roles.nobody',
        message: 'grants none of the permissions any rule requires, so holding it changes no decision',
      },
    ]);
  });

  it('warns about required permissions no role grants, respecting * and prefix:* grants', () => {
    const w = lintPolicy(
      policy({
        roles: { dev: ['nodes:*'], ops: ['ops:restart'] },
        rules: [
          { match: { path: '/nodes/**' }, require: ['nodes:read', 'nodesx:read'] },
          { match: { path: '/ops/**' }, require: { all: ['ops:restart', 'ops:drain'] } },
        ],
      }),
    );
    expect(w).toEqual([
      {
        code: 'ungranted_permission',
        path: 'rules[0].require[1]',
        message: 'permission "nodesx:read" is granted by no role',
      },
      {
        code: 'ungranted_permission',
        path: 'rules[1].require.all[1]',
        message: 'permission "ops:drain" is granted by no role',
      },
    ]);
    expect(
      lintPolicy(
        policy({ roles: { admin: ['*'] }, rules: [{ match: { path: '/x' }, require: ['anything:at:all'] }] }),
      ),
    ).toEqual([]);
  });

  it('warns about default: authenticated with no rules', () => {
    expect(lintPolicy(policy({ default: 'authenticated' }))).toEqual([
      {
        code: 'authenticated_without_rules',
        path: 'default',
        message:
          'default: authenticated with no rules lets any valid identity through everywhere, with no permission checked',
      },
    ]);
    expect(lintPolicy(policy({ default: 'deny' }))).toEqual([]);
  });

  it('finds nothing in the example policy', () => {
    const root = join(import.meta.dirname, '..', '..', 'rbac');
    const p = policy(parse(readFileSync(join(root, 'policy.yaml'), 'utf8')));
    const k = keysSchema.parse(parse(readFileSync(join(root, 'keys.yaml'), 'utf8')) ?? {});
    expect(lintPolicy(p, k)).toEqual([]);
  });
});
