// tokenGrant(): what a verified token was issued for, and resourceAudiences(): resources by authorization server.
import { describe, expect, it } from 'vitest';
import { resourceAudiences, tokenGrant } from '../../src/auth/token-grant.js';

const API = 'https://api.example.com';
const MEMORY = 'https://mcp.example.com/mcp';
const resources = new Set([MEMORY]);

describe('tokenGrant', () => {
  it("accepts the issuer's audience (exactly) or a resource of the issuer (without case or trailing slash)", () => {
    expect(tokenGrant({ aud: API }, API, undefined)).toMatchObject({ issuerAudience: true });
    expect(tokenGrant({ aud: [API, 'x'] }, ['y', API], resources)).toMatchObject({ issuerAudience: true });
    expect(tokenGrant({ aud: 'https://API.example.com' }, API, undefined)).toBeNull();
    const bound = tokenGrant({ aud: 'HTTPS://mcp.EXAMPLE.com/mcp/' }, API, resources);
    expect(bound).toMatchObject({ issuerAudience: false });
    expect([...bound!.audience]).toEqual([MEMORY]);
    expect(tokenGrant({ aud: 'https://mcp.example.com/MCP' }, API, resources)).toBeNull();
    expect(tokenGrant({ aud: MEMORY }, API, undefined)).toBeNull();
  });

  it('refuses an aud that is not a string or a list of strings', () => {
    for (const aud of [undefined, 1, null, {}, [MEMORY, 1], [[MEMORY]]])
      expect(tokenGrant({ aud }, API, resources), JSON.stringify(aud)).toBeNull();
  });

  it('reads scopes from scope (space-delimited) and scp (a list or a string); other types add none', () => {
    const scopes = (claims: Record<string, unknown>) => [
      ...tokenGrant({ aud: API, ...claims }, API, undefined)!.scopes,
    ];
    expect(scopes({ scope: 'a b  c' })).toEqual(['a', 'b', 'c']);
    expect(scopes({ scp: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(scopes({ scp: 'a b' })).toEqual(['a', 'b']);
    expect(scopes({ scope: 'a', scp: ['b', 'a'] })).toEqual(['a', 'b']);
    expect(scopes({ scope: 5, scp: { a: 1 } })).toEqual([]);
    expect(scopes({ scp: ['a', 3, null] })).toEqual(['a']);
    expect(scopes({})).toEqual([]);
  });
});

describe('resourceAudiences', () => {
  it('lists each issuer with the resources it is an authorization server of', () => {
    const index = resourceAudiences([
      { key: MEMORY, authorizationServers: new Set(['a', 'b']) },
      { key: 'https://notes.example.com', authorizationServers: new Set(['a']) },
    ]);
    expect([...index.get('a')!]).toEqual([MEMORY, 'https://notes.example.com']);
    expect([...index.get('b')!]).toEqual([MEMORY]);
    expect(index.get('c')).toBeUndefined();
  });
});
