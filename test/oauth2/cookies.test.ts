// Session cookie names and attributes from the public URL and cookie domain.
import { describe, expect, it } from 'vitest';
import { cookiePolicy, cookieValues, setCookie } from '../../src/session/cookies.js';

describe('session cookie', () => {
  it('is __Host-warden, Secure, Path=/ and without Domain when warden has its own https host', () => {
    const p = cookiePolicy('https://auth.example.com', undefined);
    expect(p.sessionName).toBe('__Host-warden');
    expect(setCookie(p, p.sessionName, 'v', { maxAgeSec: 60, domain: true })).toBe(
      '__Host-warden=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure',
    );
  });

  it('is warden with Domain when WARDEN_COOKIE_DOMAIN shares it across subdomains', () => {
    const p = cookiePolicy('https://auth.example.com', 'example.com');
    expect(p.sessionName).toBe('warden');
    expect(setCookie(p, p.sessionName, 'v', { maxAgeSec: 60, domain: true })).toBe(
      'warden=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure; Domain=example.com',
    );
  });

  it('is not Secure over plain http (local development), and __Host- is not used there', () => {
    const p = cookiePolicy('http://localhost:8080', undefined);
    expect(p.sessionName).toBe('warden');
    expect(setCookie(p, p.sessionName, '', { maxAgeSec: 0, domain: true })).toBe(
      'warden=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
    );
  });

  it('reads every value of a name, and only that exact name', () => {
    expect(cookieValues('a=1; warden=x; xwarden=y; warden_csrf=z', 'warden')).toEqual(['x']);
    expect(cookieValues('warden=x;warden=y', 'warden')).toEqual(['x', 'y']);
    expect(cookieValues(undefined, 'warden')).toEqual([]);
  });
});
