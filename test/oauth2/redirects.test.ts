// `rd` after sign-in: only allowlisted hosts or a same-site path; every hostile form falls back.
import { describe, expect, it } from 'vitest';
import { redirectAllowlist, safeRedirect } from '../../src/oauth2/redirects.js';

const PUBLIC = 'https://auth.example.com';
const list = redirectAllowlist(['app.example.com', '.example.com'], PUBLIC);
const narrow = redirectAllowlist(['app.example.com'], PUBLIC);

describe('safeRedirect', () => {
  it('accepts allowlisted hosts, subdomains at a dot boundary, and same-site paths', () => {
    expect(safeRedirect('https://app.example.com/x?y=1', narrow, PUBLIC)).toBe(
      'https://app.example.com/x?y=1',
    );
    expect(safeRedirect('https://deep.sub.example.com/', list, PUBLIC)).toBe('https://deep.sub.example.com/');
    expect(safeRedirect('http://APP.example.com:8443/a', narrow, PUBLIC)).toBe(
      'http://app.example.com:8443/a',
    );
    expect(safeRedirect('/nodes/n1?tab=2', narrow, PUBLIC)).toBe('https://auth.example.com/nodes/n1?tab=2');
    expect(safeRedirect('https://auth.example.com/oauth2/userinfo', narrow, PUBLIC)).toBe(
      'https://auth.example.com/oauth2/userinfo',
    );
  });

  const hostile = [
    '//evil.com',
    '//evil.com/path',
    '/\\evil.com',
    '\\\\evil.com',
    '/\\/evil.com',
    'https:evil.com',
    'https:/evil.com',
    'http:\\\\evil.com',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'https://app.example.com@evil.com',
    'https://app.example.com:pw@evil.com/',
    'https://evilexample.com',
    'https://example.com.evil.com',
    'https://app.example.com.evil.com/',
    'ftp://app.example.com/',
    '/\t/evil.com',
    '/\n/evil.com',
    'https://evil.com\t.example.com',
    'https://app.example.com\n@evil.com',
    'https://\tevil.com',
    '  //evil.com',
    '%2F%2Fevil.com',
    'evil.com',
    '',
  ];
  for (const rd of hostile) {
    it(`refuses ${JSON.stringify(rd)}`, () => {
      const got = safeRedirect(rd, list, PUBLIC);
      // Either refused, or (percent-encoded text) a harmless path on warden's own origin.
      if (got !== null) expect(new URL(got).origin).toBe(PUBLIC);
      expect(
        safeRedirect(rd, narrow, PUBLIC) === null ||
          new URL(safeRedirect(rd, narrow, PUBLIC)!).origin === PUBLIC,
      ).toBe(true);
    });
  }

  it('refuses .example.com matching evilexample.com or example.com itself via the suffix', () => {
    const dot = redirectAllowlist(['.example.com'], 'https://warden.internal');
    expect(safeRedirect('https://evilexample.com/', dot, 'https://warden.internal')).toBeNull();
    expect(safeRedirect('https://example.com/', dot, 'https://warden.internal')).toBeNull();
    expect(safeRedirect('https://a.example.com/', dot, 'https://warden.internal')).toBe(
      'https://a.example.com/',
    );
  });
});
