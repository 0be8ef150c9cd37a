// The credential reader: what each header spelling is read as, ambiguity, the session cookie, the client certificate.
import { describe, expect, it } from 'vitest';
import { readCredentials, type CredentialSources } from '../../src/auth/credentials.js';
import { HeaderMap } from '../../src/http/header-map.js';
import { parseAddress } from '../../src/request/client-ip.js';
import type { RequestDescription } from '../../src/request/description.js';

const addr = parseAddress('203.0.113.9')!;

function request(headers: [string, string][], dialect?: RequestDescription['dialect']): RequestDescription {
  return {
    method: 'GET',
    proto: 'https',
    host: 'app.example.com',
    authority: 'app.example.com',
    path: '/',
    matchPath: '/',
    altMatchPaths: null,
    rawUri: '/',
    clientIp: addr,
    peer: addr,
    headers: HeaderMap.fromRaw(headers.flat()),
    ...(dialect ? { dialect } : {}),
  };
}

const read = (headers: [string, string][], sources?: CredentialSources, dialect?: 'nginx' | 'traefik') =>
  readCredentials(request(headers, dialect), sources);

describe('API key and bearer token', () => {
  it.each([
    ['X-API-Key', '  wdn_k  ', { apiKey: 'wdn_k', jwt: null }],
    ['X-API-Key', '', { apiKey: '', jwt: null }],
    ['Authorization', 'Bearer wdn_k', { apiKey: 'wdn_k', jwt: null }],
    ['Authorization', 'bEaReR   wdn_k ', { apiKey: 'wdn_k', jwt: null }],
    ['Authorization', 'Bearer ', { apiKey: '', jwt: null }],
    ['Authorization', 'Bearer a.b.c', { apiKey: null, jwt: 'a.b.c' }],
    ['Authorization', 'Bearer a.b.c.d.e', { apiKey: null, jwt: 'a.b.c.d.e' }],
    ['Authorization', 'Bearer a.b', { apiKey: 'a.b', jwt: null }],
    ['Authorization', 'Bearer ..', { apiKey: '..', jwt: null }],
    ['Authorization', 'Bearer a..', { apiKey: null, jwt: 'a..' }],
    ['Authorization', 'Bearer\twdn_k', { apiKey: null, jwt: null }],
    ['Authorization', 'Bearer', { apiKey: null, jwt: null }],
    ['Authorization', 'Basic dXNlcjpwYXNz', { apiKey: null, jwt: null }],
  ])('%s: %j', (name, value, expected) => {
    const c = read([[name, value]]);
    expect(c).toMatchObject({ ...expected, header: true, ambiguous: null });
  });

  it('reads nothing, and no credential header, from a request without one', () => {
    expect(read([['Accept', 'text/html']])).toEqual({
      ambiguous: null,
      header: false,
      apiKey: null,
      jwt: null,
      session: [],
      certSubject: null,
    });
  });

  it('takes X-API-Key beside another Authorization scheme', () => {
    expect(
      read([
        ['X-API-Key', 'wdn_k'],
        ['Authorization', 'Basic eA=='],
      ]),
    ).toMatchObject({
      ambiguous: null,
      apiKey: 'wdn_k',
    });
  });

  it('calls X-API-Key beside any Bearer token, or a credential header sent twice, ambiguous', () => {
    for (const authz of ['Bearer wdn_k', 'bearer a.b.c', 'BEARER\tx'])
      expect(
        read([
          ['X-API-Key', 'wdn_k'],
          ['Authorization', authz],
        ]).ambiguous,
        authz,
      ).toBe('key_and_bearer');
    expect(
      read([
        ['X-API-Key', 'a'],
        ['x-api-key', 'a'],
      ]).ambiguous,
    ).toBe('duplicated');
    expect(
      read([
        ['Authorization', 'Bearer a'],
        ['Authorization', 'Bearer b'],
      ]).ambiguous,
    ).toBe('duplicated');
    expect(
      read([
        ['Cookie', 'a=1'],
        ['Cookie', 'b=2'],
      ]).ambiguous,
    ).toBe(null);
  });
});

describe('session cookie', () => {
  const sources: CredentialSources = { sessionCookie: '__Host-warden', clientCert: 'off' };

  it('reads every value of the configured cookie, and nothing without sign-in', () => {
    const cookie: [string, string] = ['Cookie', 'a=1; __Host-warden=s1; warden_csrf=x; __Host-warden = s2'];
    expect(read([cookie], sources).session).toEqual(['s1', 's2']);
    expect(read([cookie]).session).toEqual([]);
    expect(read([['Cookie', 'warden=s1']], sources).session).toEqual([]);
  });
});

describe('client certificate', () => {
  const nginx: CredentialSources = { sessionCookie: null, clientCert: 'nginx' };
  const verified: [string, string][] = [
    ['X-SSL-Client-Verify', 'SUCCESS'],
    ['X-SSL-Client-S-DN', 'CN=agent-1,O=Example'],
  ];

  it("reads the configured proxy's verified subject, only on that proxy's dialect", () => {
    expect(read(verified, nginx, 'nginx').certSubject).toBe('CN=agent-1,O=Example');
    expect(read(verified, nginx, 'traefik').certSubject).toBe(null);
    expect(read(verified, undefined, 'nginx').certSubject).toBe(null);
    expect(read([['X-SSL-Client-Verify', 'FAILED:x'], verified[1]!], nginx, 'nginx').certSubject).toBe(null);
  });
});
