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

  // Issue 22 item 7: segments other servers read as `.`, `..` or a slash are refused, not judged.
  it.each([
    ['/public/..%20/admin/x', 'ambiguous dot segment'],
    ['/public/%20../admin/x', 'ambiguous dot segment'],
    ['/public/..%3B/admin/x', 'ambiguous dot segment'],
    ['/public/..%3Bx=1/admin/x', 'ambiguous dot segment'],
    ['/public/.%3B/admin/x', 'ambiguous dot segment'],
    ['/public/...', 'ambiguous dot segment'],
    ['/public/.../admin', 'ambiguous dot segment'],
    ['/public/..%C2%A0/admin/x', 'ambiguous dot segment'],
    ['/public/..%EF%BC%8Fadmin/x', 'segment with a slash after NFKC'],
    ['/public/%EF%BC%BCadmin', 'segment with a slash after NFKC'],
    ['/public/%EF%BC%8E%EF%BC%8E/admin/x', 'ambiguous dot segment'],
    ['/public/%E2%80%A5/admin/x', 'ambiguous dot segment'],
    ['/public/%E2%80%A4/admin/x', 'ambiguous dot segment'],
    ['/public/%E2%80%A6/admin/x', 'ambiguous dot segment'],
    ['/public/%EF%BC%8E%EF%BC%9B/admin/x', 'ambiguous dot segment'],
  ])('refuses the ambiguous segment in %j (%s)', (raw, detail) => {
    expect(canonicalizePath(raw)).toEqual({ ok: false, detail });
  });

  it.each([
    ['/a./b', '/a./b'],
    ['/.well-known/x', '/.well-known/x'],
    ['/a..b/c', '/a..b/c'],
    ['/v1.2/%3Bx', '/v1.2/%3Bx'],
    ['/caf%C3%A9./x', '/caf%C3%A9./x'],
    ['/%EF%BC%A1', '/%EF%BC%A1'],
    ['/a%20./b', '/a%20./b'],
  ])('keeps the plain segments of %j', (raw, expected) => {
    expect(canon(raw)).toBe(expected);
  });

  // The readings an upstream may take of one decoded segment, each transformation on or off.
  const readings = (seg: string): string[] => {
    const steps: ((s: string) => string)[] = [
      (s) => s.normalize('NFKC'),
      (s) => s.split(';')[0] ?? '',
      (s) => s.trim(),
      (s) => s.replace(/[. ]+$/, (t) => (t === s ? t : '')),
    ];
    const out: string[] = [];
    for (let mask = 0; mask < 1 << steps.length; mask++) {
      out.push(steps.reduce((s, step, i) => (mask & (1 << i) ? step(s) : s), seg));
    }
    return out;
  };
  const dangerous = (r: string) => r === '.' || r === '..' || r.includes('/') || r.includes('\\');
  const piece = fc.constantFrom(
    ...['.', '.', 'a', 'Z', '0', '-', '~', ' ', ';', 'é', '日'],
    ...['\uFF0E', '\u2024', '\u2025', '\u2026', '\u00A0', '\u3000', '\u2002', '\uFF1B', '\uFF0F', '\uFF3C'],
    ...['\uFE52', '\u0308', 'e\u0301', '\uFF41'],
  );
  const segment = fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join(''));

  it('refuses every segment that some reading turns into a dot segment or a slash', () => {
    fc.assert(
      fc.property(segment, fc.boolean(), (seg, last) => {
        const raw = '/public/' + encodeURIComponent(seg) + (last ? '' : '/admin/x');
        const r = canonicalizePath(raw);
        const risky = seg !== '.' && seg !== '..' && readings(seg).some(dangerous);
        if (risky) expect(r).toMatchObject({ ok: false });
        // A segment that every reading leaves as it is never refused, but for one of dots and
        // spaces only (`...`, `. .`), which servers trim to `..`, `.` or nothing: refused on purpose.
        const dotsAndSpaces = /^[\s.]*\.[\s.]*$/.test(seg.normalize('NFKC').split(';')[0] ?? '');
        const plain = readings(seg).every((x) => x === seg) && !dangerous(seg) && !dotsAndSpaces;
        if (plain) expect(r.ok).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});
