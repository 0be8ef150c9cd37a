// The lint's cover checks found through the rule index report exactly what comparing every pair would.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { policySchema, type PolicyFile } from '../../src/config/policy-schema.js';
import { hostCovers, lintPolicy, pathCovers } from '../../src/policy/lint.js';
import { normalizeHost, pathPatternSegments } from '../../src/policy/matchers.js';

/** Every pair compared, as lint did before the index: the reference. */
function pairwise(policy: PolicyFile): string[] {
  const shape = policy.rules.map((r) => ({
    host: r.match.host === undefined ? null : normalizeHost(r.match.host),
    methods: r.match.methods ?? null,
    path: pathPatternSegments(r.match.path),
    isPublic: r.public === true,
    observe: r.shadow === true,
  }));
  const covers = (a: (typeof shape)[number], b: (typeof shape)[number]) =>
    hostCovers(a.host, b.host) &&
    (a.methods === null || (b.methods !== null && b.methods.every((m) => a.methods?.includes(m)))) &&
    pathCovers(a.path, b.path);
  const out: string[] = [];
  shape.forEach((b, j) => {
    const i = shape.findIndex((a, k) => k < j && !a.observe && covers(a, b));
    if (i !== -1) out.push(`shadowed rules[${j}] by ${i}`);
  });
  shape.forEach((a, i) => {
    if (!a.isPublic || a.observe) return;
    shape.forEach((b, j) => {
      if (j > i && !b.isPublic && covers(a, b)) out.push(`public_overlap rules[${i}] over ${j}`);
    });
  });
  return out;
}

function fromLint(policy: PolicyFile): string[] {
  return lintPolicy(policy)
    .filter((w) => w.code === 'shadowed' || w.code === 'public_overlap')
    .map((w) => {
      const other = /rules\[(\d+)\]/.exec(w.message)?.[1];
      return w.code === 'shadowed'
        ? `shadowed ${w.path} by ${other}`
        : `public_overlap ${w.path} over ${other}`;
    });
}

describe('lint through the rule index', () => {
  it('finds the same shadowed rules and public overlaps as comparing every pair', () => {
    const segment = fc.constantFrom('api', 'v1', 'x', '*', '**');
    const rule = fc.record({
      path: fc.array(segment, { maxLength: 4 }).map((s) => '/' + s.join('/')),
      host: fc.constantFrom(undefined, 'a.example.com', 'b.example.com', '*.example.com', '*.a.example.com'),
      methods: fc.option(fc.subarray(['GET', 'POST'], { minLength: 1 }), { nil: undefined }),
      kind: fc.constantFrom('public', 'deny', 'require', 'authenticated', 'shadow'),
    });
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 14 }), (rules) => {
        const policy = policySchema.parse({
          roles: { r: ['p'] },
          rules: rules.map((r) => ({
            match: {
              path: r.path,
              ...(r.host !== undefined ? { host: r.host } : {}),
              ...(r.methods !== undefined ? { methods: r.methods } : {}),
            },
            ...(r.kind === 'public' ? { public: true } : {}),
            ...(r.kind === 'deny' ? { deny: true } : {}),
            ...(r.kind === 'require' ? { require: ['p'] } : {}),
            ...(r.kind === 'shadow' ? { deny: true, shadow: true } : {}),
          })),
        });
        expect(fromLint(policy).sort()).toEqual(pairwise(policy).sort());
      }),
      { numRuns: 1500 },
    );
  });
});
