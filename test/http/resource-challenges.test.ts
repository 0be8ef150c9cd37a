// The answer stage's resource rows: challenges compiled per rule, and the 401 and 403 builders that carry them.
import { describe, expect, it } from 'vitest';
import { policySchema } from '../../src/config/policy-schema.js';
import { HeaderMap } from '../../src/http/header-map.js';
import { compileChallenges } from '../../src/http/resource-challenges.js';
import { metadataUrl } from '../../src/http/resource-metadata.js';
import { forbiddenResponse, unauthenticatedResponse } from '../../src/http/respond.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { parseAddress } from '../../src/request/client-ip.js';
import type { RequestDescription } from '../../src/request/description.js';

const policy = compilePolicy(
  policySchema.parse({
    resources: [
      { id: 'memory', url: 'https://mcp.example.com/mcp', authorizationServers: ['i'], scopes: ['a', 'b'] },
      { id: 'root', url: 'http://127.0.0.1:8931', authorizationServers: ['i'] },
    ],
    rules: [
      { match: { path: '/api/**' } },
      { match: { path: '/mcp/**' }, resource: 'memory', scopes: ['a', 'c:d'] },
      { match: { path: '/root/**' }, resource: 'root' },
    ],
  }),
);
const challenges = compileChallenges(policy.rules);
const META = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

describe('metadataUrl', () => {
  it("is the url's origin, the well-known path, then the url's path", () => {
    expect(metadataUrl('https://MCP.example.com:443/mcp/')).toBe(META);
    expect(metadataUrl('http://127.0.0.1:8931')).toBe(
      'http://127.0.0.1:8931/.well-known/oauth-protected-resource',
    );
    expect(metadataUrl('https://a.example.com/x/y')).toBe(
      'https://a.example.com/.well-known/oauth-protected-resource/x/y',
    );
  });
});

describe('compileChallenges', () => {
  it('writes the challenges of each rule with a resource, by rule index', () => {
    expect(challenges[0]).toBeNull();
    expect(challenges[1]).toEqual({
      missing: `Bearer resource_metadata="${META}", scope="a b"`,
      invalid: `Bearer resource_metadata="${META}", scope="a b", error="invalid_token"`,
      insufficientScope: `Bearer error="insufficient_scope", scope="a c:d", resource_metadata="${META}"`,
    });
    expect(challenges[2]).toEqual({
      missing: 'Bearer resource_metadata="http://127.0.0.1:8931/.well-known/oauth-protected-resource"',
      invalid:
        'Bearer resource_metadata="http://127.0.0.1:8931/.well-known/oauth-protected-resource", error="invalid_token"',
      insufficientScope: null,
    });
  });
});

const navigation: RequestDescription = {
  method: 'GET',
  proto: 'https',
  host: 'mcp.example.com',
  authority: 'mcp.example.com',
  path: '/mcp',
  matchPath: '/mcp',
  altMatchPaths: null,
  rawUri: '/mcp',
  clientIp: parseAddress('203.0.113.9')!,
  peer: parseAddress('127.0.0.1')!,
  headers: HeaderMap.fromRaw(['accept', 'text/html', 'sec-fetch-mode', 'navigate']),
};

describe('the 401 and 403 builders', () => {
  const resource = challenges[1]!;
  it('challenge with the resource on a resource rule, the description last', () => {
    const missing = unauthenticatedResponse('missing_credentials', 'traefik', null, undefined, { resource });
    expect(missing.headers['www-authenticate']).toBe(resource.missing);
    const invalid = unauthenticatedResponse('invalid_credentials', 'traefik', null, undefined, {
      resource,
      description: 'the token has expired',
    });
    expect(invalid.status).toBe(401);
    expect(invalid.headers['www-authenticate']).toBe(
      `${resource.invalid}, error_description="the token has expired"`,
    );
    // Without a resource, as before.
    expect(
      unauthenticatedResponse('missing_credentials', 'traefik', null, undefined).headers['www-authenticate'],
    ).toBe('Bearer realm="warden"');
  });

  it("keep each dialect's sign-in for a browser navigation", () => {
    const login = 'https://login.example.com/';
    const traefik = unauthenticatedResponse('missing_credentials', 'traefik', navigation, login, {
      resource,
    });
    expect(traefik.status).toBe(302);
    expect(traefik.headers['www-authenticate']).toBeUndefined();
    const nginx = unauthenticatedResponse('missing_credentials', 'nginx', navigation, login, { resource });
    expect(nginx.status).toBe(401);
    expect(nginx.headers.location).toMatch(/^https:\/\/login\.example\.com\/\?rd=/);
    expect(nginx.headers['www-authenticate']).toBe(resource.missing);
  });

  it('403 carries a challenge only when given one', () => {
    const scoped = forbiddenResponse('insufficient_scope', ['a', 'c:d'], resource.insufficientScope);
    expect(scoped.status).toBe(403);
    expect(scoped.headers).toMatchObject({
      'www-authenticate': resource.insufficientScope,
      'x-warden-required': '["a","c:d"]',
      'x-warden-reason': 'insufficient_scope',
      'cache-control': 'no-store',
    });
    expect(JSON.parse(scoped.body!)).toEqual({
      error: 'forbidden',
      reason: 'insufficient_scope',
      required: ['a', 'c:d'],
    });
    expect(forbiddenResponse('insufficient_permissions', ['x']).headers['www-authenticate']).toBeUndefined();
  });
});
