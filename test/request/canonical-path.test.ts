import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalizePath, matchKey } from '../../src/request/canonical-path.js';

const canon = (p: string) => {
  const r = canonicalizePath(p);
  return r.ok ? r.path : `BAD(${r.detail})`;
};

describe('canonical path', () => {
  it.each([
    ['/', '/'],
    ['/admin', '/admin'],
    ['/public/../admin', '/admin'],
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['/%61dmin', '/admin'],
    ['/%2e%2e/admin', '/admin'],
    ['/api/./x/../y', '/api/y'],
    ['/api/x/', '/api/x/'],
    ['/api/x/.', '/api/x/'],
    ['/api/x/..', '/api/'],
    ['/..', '/'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/a?b=../../c', '/a'],
    ['/a%20b', '/a%20b'],
    ['/a b', '/a%20b'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/%7euser', '/~user'],
    ['/a%3Fb', '/a%3Fb'],
    ['/a%21', '/a!'],
    ['/100%25', '/100%25'],
  ])('%s → %s', (raw, expected) => {
    expect(canon(raw)).toBe(expected);
  });

  it.each([
    ['/a%2fb', 'encoded slash or backslash'],
    ['/a%2Fb', 'encoded slash or backslash'],
    ['/a%5cb', 'encoded slash or backslash'],
    ['/a%00', 'encoded control character'],
    ['/a%0d%0a', 'encoded control character'],
    ['/a\x01', 'control character'],
    ['/a\\b', 'backslash'],
    ['/a;jsessionid=1', 'path parameter'],
    ['/admin;/x', 'path parameter'],
    ['/a#frag', 'fragment'],
    ['/a%252e', 'double encoding'],
    ['/%252F', 'double encoding'],
    ['/%25%32%46', 'double encoding'],
    ['/a%zz', 'malformed percent-encoding'],
    ['/a%2', 'malformed percent-encoding'],
    ['/%c0%af', 'malformed UTF-8'],
    ['/%e0%80%af', 'malformed UTF-8'],
    ['/%ff', 'malformed UTF-8'],
    ['/%ed%a0%80', 'malformed UTF-8'],
    ['admin', 'path does not start with /'],
    ['', 'path does not start with /'],
  ])('%j is rejected (%s)', (raw, detail) => {
    const r = canonicalizePath(raw);
    expect(r).toEqual({ ok: false, detail });
  });

  it('rejects overlong paths', () => {
    expect(canonicalizePath('/' + 'a'.repeat(9000)).ok).toBe(false);
  });

  it('returns the other readings of a path with dot segments', () => {
    expect(canonicalizePath('/admin//../public/x')).toEqual({
      ok: true,
      path: '/public/x',
      alternates: ['/admin/public/x', '/admin/../public/x'],
    });
    expect(canonicalizePath('/public/../admin')).toEqual({
      ok: true,
      path: '/admin',
      alternates: ['/public/../admin'],
    });
    expect(canonicalizePath('/a//b/')).toEqual({ ok: true, path: '/a/b/' });
  });

  it('matches case-insensitively through matchKey', () => {
    expect(matchKey(canon('/ADMIN/X'))).toBe('/admin/x');
  });

  const segmentChar = fc.constantFrom(
    ...'abcAZ09-._~!$&\'()*+,=:@ %"<>^`{|}'.split(''),
    '..',
    '.',
    '%2e',
    '%41',
    '%25',
    '%C3%A9',
    '%c3%a9',
    'é',
    '/',
    '//',
  );
  const rawPath = fc.array(segmentChar, { maxLength: 24 }).map((parts) => '/' + parts.join(''));

  it('is idempotent', () => {
    fc.assert(
      fc.property(rawPath, (p) => {
        const once = canonicalizePath(p);
        if (!once.ok) return;
        expect(canonicalizePath(once.path)).toEqual({ ok: true, path: once.path });
      }),
      { numRuns: 2000 },
    );
  });

  // Encode any unreserved character of a canonical path in any of its spellings: the result
  // canonicalises to the same path, so no two encodings of one path can get different decisions.
  const UNRESERVED = /[A-Za-z0-9\-._~]/;
  it('gives every spelling of a path the same canonical form', () => {
    fc.assert(
      fc.property(
        rawPath,
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        fc.boolean(),
        (p, flips, upper) => {
          const base = canonicalizePath(p);
          if (!base.ok) return;
          let i = 0;
          const respelled = (base.path.match(/%[0-9A-F]{2}|[^]/g) ?? [])
            .map((ch) => {
              const flip = flips[i++ % flips.length];
              if (!flip || ch.length !== 1 || !UNRESERVED.test(ch)) return ch;
              const hex = ch.charCodeAt(0).toString(16).padStart(2, '0');
              return '%' + (upper ? hex.toUpperCase() : hex);
            })
            .join('');
          const withDots = respelled.replace(/^\//, '/x/../');
          const path = (p: string) => {
            const r = canonicalizePath(p);
            return r.ok ? r.path : r.detail;
          };
          expect(path(respelled)).toBe(base.path);
          expect(path(withDots)).toBe(base.path);
          expect(path(respelled.replace(/\//g, '//'))).toBe(base.path);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => void canonicalizePath('/' + s)),
      { numRuns: 3000 },
    );
  });
});
