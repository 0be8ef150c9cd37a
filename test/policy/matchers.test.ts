import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  hostMatches,
  hostPatternKey,
  compilePathPattern,
  normalizeHost,
  splitPath,
} from '../../src/policy/matchers.js';

const m = (pattern: string, path: string) => compilePathPattern(pattern)(splitPath(path));

describe('path patterns', () => {
  it('exact matches the path and its trailing-slash form only', () => {
    expect(m('/api', '/api')).toBe(true);
    expect(m('/api', '/api/')).toBe(true);
    expect(m('/api', '/api/x')).toBe(false);
    expect(m('/api', '/apix')).toBe(false);
  });
  it('* is one segment below', () => {
    expect(m('/api/*', '/api/x')).toBe(true);
    expect(m('/api/*', '/api/x/')).toBe(true);
    expect(m('/api/*', '/api')).toBe(false);
    expect(m('/api/*', '/api/x/y')).toBe(false);
  });
  it('** is the path itself and everything below', () => {
    expect(m('/api/**', '/api')).toBe(true);
    expect(m('/api/**', '/api/')).toBe(true);
    expect(m('/api/**', '/api/a/b/c')).toBe(true);
    expect(m('/api/**', '/apix')).toBe(false);
    expect(m('/**', '/')).toBe(true);
    expect(m('/**', '/anything/at/all')).toBe(true);
  });
  it('wildcards in the middle', () => {
    expect(m('/v1/*/nodes/**', '/v1/t1/nodes')).toBe(true);
    expect(m('/v1/*/nodes/**', '/v1/t1/nodes/a')).toBe(true);
    expect(m('/v1/*/nodes/**', '/v1/nodes')).toBe(false);
    expect(m('/a/**/z', '/a/z')).toBe(true);
    expect(m('/a/**/z', '/a/b/c/z')).toBe(true);
  });
  it('is case-insensitive and canonicalises the pattern', () => {
    expect(m('/Admin/**', '/admin/x')).toBe(true);
    expect(m('/caf%C3%A9', '/caf%c3%a9')).toBe(true);
    expect(() => compilePathPattern('/a/../b')).toThrow(/segments/);
  });
  it('escapes regex characters in literals', () => {
    expect(m('/a.b', '/a.b')).toBe(true);
    expect(m('/a.b', '/axb')).toBe(false);
    expect(m('/a+(b)', '/a+(b)')).toBe(true);
  });
  it('matches in linear-ish time whatever the pattern (no regex backtracking)', () => {
    const path = '/' + 'a/b/'.repeat(2000) + 'x';
    const start = performance.now();
    expect(m('/**/a/**/b/**/c', path)).toBe(false);
    expect(m('/**/a/**/b/**/x', path)).toBe(true);
    expect(performance.now() - start).toBeLessThan(200);
  });

  it('refuses partial-segment wildcards', () => {
    expect(() => compilePathPattern('/api*')).toThrow(/whole segment/);
  });
});

describe('host patterns', () => {
  it('exact, case-insensitive, port ignored', () => {
    const h = (host: string) => hostMatches(hostPatternKey('API.example.com'), host);
    expect(h(normalizeHost('api.EXAMPLE.com:8443'))).toBe(true);
    expect(h(normalizeHost('api.example.com.'))).toBe(true);
    expect(h(normalizeHost('xapi.example.com'))).toBe(false);
  });
  it('*.example.com is any subdomain, not the apex', () => {
    const h = (host: string) => hostMatches(hostPatternKey('*.example.com'), host);
    expect(h('a.example.com')).toBe(true);
    expect(h('a.b.example.com')).toBe(true);
    expect(h('example.com')).toBe(false);
    expect(h('badexample.com')).toBe(false);
  });
  it('hostMatches compares in place exactly as equality and endsWith would', () => {
    const label = fc.stringMatching(/^[a-c.-]{0,4}$/);
    const host = fc.array(label, { maxLength: 4 }).map((l) => l.join('.'));
    fc.assert(
      fc.property(host, host, fc.boolean(), (h, base, wild) => {
        const key = wild ? `*.${base}` : base;
        const want = wild ? h.length > base.length + 1 && h.endsWith(`.${base}`) : h === key;
        expect(hostMatches(key, h)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});
