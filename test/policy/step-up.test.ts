// Step-up rules (`authn`): validation, the judgement of sign-in facts, and the answer each kind of caller gets.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { authnFacts } from '../../src/auth/authn-facts.js';
import type { Identity } from '../../src/auth/identity.js';
import { stepUpChallenge, stepUpResponse, type StepUpAnswer } from '../../src/http/respond.js';
import { keepSignIn } from '../../src/oauth2/refresh.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { decide } from '../../src/policy/decide.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { unmetAuthn, type AuthnRequirement } from '../../src/policy/step-up.js';
import type { RequestDescription } from '../../src/request/description.js';
import { HeaderMap } from '../../src/http/header-map.js';
import { parseAddress } from '../../src/request/client-ip.js';
import { configProblems } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const NOW_SEC = NOW / 1000;

function person(claims: Record<string, unknown>, method: Identity['method'] = 'jwt'): Identity {
  const authn = authnFacts(claims);
  return { sub: 'alice', name: '', email: '', roles: ['viewer'], method, ...(authn ? { authn } : {}) };
}

const req = (acr: string[] | null, amr: string[] | null, maxAgeSec: number | null): AuthnRequirement => ({
  acr,
  amr,
  maxAgeSec,
});

describe('sign-in facts read from verified claims', () => {
  it('reads acr, Entra ID acrs, amr and auth_time; keeps malformed ones as problems, never as values', () => {
    expect(authnFacts({ sub: 'x' })).toBeUndefined();
    expect(
      authnFacts({ acr: 'gold', acrs: ['c1', 'c2'], amr: ['pwd', 'hwk'], auth_time: 1_700_000_000 }),
    ).toEqual({
      acr: ['gold', 'c1', 'c2'],
      amr: ['pwd', 'hwk'],
      authTime: 1_700_000_000,
      bad: [],
    });
    expect(authnFacts({ acr: ['gold'], amr: 'hwk', auth_time: '1700000000' })).toEqual({
      acr: null,
      amr: null,
      authTime: null,
      bad: ['bad_acr', 'bad_amr', 'bad_auth_time'],
    });
    expect(authnFacts({ amr: ['pwd', 7] })?.bad).toEqual(['bad_amr']);
    expect(authnFacts({ amr: Array.from({ length: 65 }, () => 'otp') })?.bad).toEqual(['bad_amr']);
    expect(authnFacts({ acr: 'has space' })?.bad).toEqual(['bad_acr']);
    expect(authnFacts({ auth_time: -5 })?.bad).toEqual(['bad_auth_time']);
    expect(authnFacts({ auth_time: 1.5 })?.bad).toEqual(['bad_auth_time']);
  });
});

describe('unmetAuthn', () => {
  it('acr and amr are "any of"; a missing or malformed claim never satisfies', () => {
    const r = req(['gold', 'platinum'], ['hwk', 'mfa'], null);
    expect(unmetAuthn(r, person({ acr: 'platinum', amr: ['pwd', 'mfa'] }), NOW)).toBeNull();
    expect(unmetAuthn(r, person({ acr: 'silver', amr: ['hwk'] }), NOW)).toBe('acr');
    expect(unmetAuthn(r, person({ acr: 'gold', amr: ['pwd'] }), NOW)).toBe('amr');
    expect(unmetAuthn(r, person({ amr: ['hwk'] }), NOW)).toBe('acr');
    expect(unmetAuthn(r, person({ acr: 'gold' }), NOW)).toBe('amr');
    expect(unmetAuthn(r, person({ acr: ['gold'], amr: ['hwk'] }), NOW)).toBe('bad_acr');
    expect(unmetAuthn(r, person({ acr: 'gold', amr: 'hwk' }), NOW)).toBe('bad_amr');
    expect(unmetAuthn(r, person({ acrs: ['c1', 'gold'], amr: ['hwk'] }), NOW)).toBeNull();
    expect(unmetAuthn(r, person({}), NOW)).toBe('acr');
  });

  it('maxAge: measured from auth_time, 60 s of clock skew forgiven, missing, malformed or future never fresh', () => {
    const r = req(null, null, 600);
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC - 599 }), NOW)).toBeNull();
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC - 600 }), NOW)).toBeNull();
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC - 601 }), NOW)).toBe('max_age');
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC + 30 }), NOW)).toBeNull();
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC + 3600 }), NOW)).toBe('auth_time_future');
    expect(unmetAuthn(r, person({ acr: 'gold' }), NOW)).toBe('auth_time_missing');
    expect(unmetAuthn(r, person({ auth_time: 'yesterday' }), NOW)).toBe('bad_auth_time');
    // Without a clock (NaN), freshness is never met.
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC }), Number.NaN)).toBe('max_age');
    // A malformed amr does not matter to a rule that only asks for freshness.
    expect(unmetAuthn(r, person({ auth_time: NOW_SEC, amr: 'x' }), NOW)).toBeNull();
  });

  it('API keys and client certificates never satisfy, whatever they carry', () => {
    const r = req(null, null, 600);
    const facts = { acr: 'gold', amr: ['hwk'], auth_time: NOW_SEC };
    expect(unmetAuthn(r, person(facts, 'api_key'), NOW)).toBe('not_a_user');
    expect(unmetAuthn(r, person(facts, 'mtls'), NOW)).toBe('not_a_user');
    expect(unmetAuthn(r, person(facts, 'session'), NOW)).toBeNull();
  });
});

describe('authn in the policy', () => {
  function files(rules: unknown[]): Record<string, string> {
    const dir = testDir('warden-step-up-');
    writeFileSync(join(dir, 'policy.yaml'), stringify({ roles: { admin: ['*'] }, rules }));
    return { WARDEN_POLICY: join(dir, 'policy.yaml') };
  }
  const admin = (authn: unknown, more: Record<string, unknown> = {}) => ({
    match: { path: '/admin/**' },
    require: ['admin:users'],
    authn,
    ...more,
  });

  it('accepts the contract example and compiles it', async () => {
    expect(await configProblems(files([admin({ amr: ['hwk', 'mfa'], maxAge: '10m' })]))).toEqual([]);
    const p = compilePolicy(
      policySchema.parse({ roles: {}, rules: [admin({ acr: ['gold'], maxAge: '10m' })] }),
    );
    expect(p.rules[0]?.authn).toEqual({ acr: ['gold'], amr: null, maxAgeSec: 600 });
  });

  it.each([
    [{ maxAge: 0 }, 'rules[0].authn.maxAge'],
    [{ maxAge: '-5m' }, 'rules[0].authn.maxAge'],
    [{ maxAge: '0s' }, 'rules[0].authn.maxAge'],
    [{ maxAge: '31d' }, 'at most 30d'],
    [{ maxAge: '1.5s' }, 'whole seconds'],
    [{}, 'authn names acr, amr, maxAge'],
    [{ acr: [] }, 'rules[0].authn.acr'],
    [{ acr: 'gold' }, 'rules[0].authn.acr'],
    [{ amr: ['h w k'] }, 'no spaces'],
    [{ amr: [7] }, 'rules[0].authn.amr'],
    [{ mfa: true }, 'mfa'],
  ])('refuses authn %j naming it', async (authn, needle) => {
    const problems = await configProblems(files([admin(authn)]));
    expect(problems.join('\n')).toContain(needle);
  });

  it('refuses cache on an authn rule: a proxy would reuse a decision past the sign-in’s age', async () => {
    const problems = await configProblems(files([admin({ maxAge: '10m' }, { cache: { allow: '30s' } })]));
    expect(problems.join('\n')).toContain("a rule with authn can't be cached");
  });

  it('refuses authn on a public or deny rule', async () => {
    for (const effect of [{ public: true }, { deny: true }]) {
      const problems = await configProblems(
        files([{ match: { path: '/x/**' }, authn: { maxAge: '10m' }, ...effect }]),
      );
      expect(problems.join('\n')).toContain('authn applies to rules that need a signed-in user');
    }
  });
});

describe('a session refresh', () => {
  it('keeps the acr, acrs, amr and auth_time of the sign-in, whatever the refreshed ID token says', () => {
    const signedIn = { sub: 'a', acr: 'gold', amr: ['hwk'], auth_time: 1_700_000_000, groups: ['x'] };
    expect(keepSignIn({ sub: 'a', acr: '0', auth_time: 1_800_000_000, groups: ['y'] }, signedIn)).toEqual({
      sub: 'a',
      groups: ['y'],
      acr: 'gold',
      amr: ['hwk'],
      auth_time: 1_700_000_000,
    });
    // A sign-in that had none gains none from a refresh.
    expect(keepSignIn({ sub: 'a', amr: ['hwk'], acrs: ['c1'] }, { sub: 'a' })).toEqual({ sub: 'a' });
  });
});

describe('decide() with authn', () => {
  const policy = compilePolicy(
    policySchema.parse({
      roles: { admin: ['*'], viewer: ['nodes:read'] },
      rules: [
        { match: { path: '/admin/**' }, require: ['admin:users'], authn: { amr: ['hwk'], maxAge: 600 } },
        { match: { path: '/me' }, authn: { acr: ['gold'] } },
      ],
    }),
  );
  const at = (path: string) => ({
    method: 'GET',
    host: 'app.example.com',
    matchPath: path,
    clientIp: parseAddress('203.0.113.7')!,
  });
  const as = (roles: string[], claims: Record<string, unknown>) => ({
    identity: { ...person(claims, 'session'), roles },
  });

  it('judges permissions first, then the sign-in; the refusal carries the requirement and what is missing', () => {
    const fresh = { amr: ['hwk'], auth_time: NOW_SEC - 60 };
    expect(decide(policy, at('/admin/x'), as(['viewer'], fresh), { now: NOW })).toMatchObject({
      kind: 'forbidden',
      reason: 'insufficient_permissions',
    });
    expect(decide(policy, at('/admin/x'), as(['admin'], fresh), { now: NOW }).kind).toBe('allow');
    const old = decide(policy, at('/admin/x'), as(['admin'], { amr: ['hwk'], auth_time: NOW_SEC - 601 }), {
      now: NOW,
    });
    expect(old).toMatchObject({
      kind: 'forbidden',
      reason: 'step_up_required',
      detail: 'max_age',
      stepUp: { unmet: 'max_age', authn: { acr: null, amr: ['hwk'], maxAgeSec: 600 } },
    });
    // A rule with authn but no require: any signed-in person with the acr.
    expect(decide(policy, at('/me'), as([], { acr: 'gold' }), { now: NOW }).kind).toBe('allow');
    expect(decide(policy, at('/me'), as([], { acr: 'bronze' }), { now: NOW })).toMatchObject({
      reason: 'step_up_required',
      detail: 'acr',
    });
    expect(decide(policy, at('/me'), null, { now: NOW }).kind).toBe('unauthenticated');
  });
});

describe('the step-up answer', () => {
  const request = (headers: Record<string, string>): RequestDescription => ({
    method: 'GET',
    proto: 'https',
    host: 'app.example.com',
    authority: 'app.example.com',
    path: '/admin/users',
    matchPath: '/admin/users',
    altMatchPaths: null,
    rawUri: '/admin/users?tab=2',
    clientIp: parseAddress('203.0.113.7')!,
    peer: parseAddress('127.0.0.1')!,
    headers: HeaderMap.fromRaw(Object.entries(headers).flat()),
  });
  const NAV = request({ accept: 'text/html', 'sec-fetch-mode': 'navigate' });
  const XHR = request({ accept: 'application/json', 'sec-fetch-mode': 'cors' });
  const base: StepUpAnswer = {
    authn: { acr: ['gold', 'platinum'], amr: ['hwk'], maxAgeSec: 600 },
    unmet: 'acr',
    method: 'session',
    provider: 'keycloak',
    startUrl: 'https://auth.example.com/oauth2/start',
    loginUrl: 'https://auth.example.com/oauth2/login',
    resourceMetadata: null,
  };
  const START =
    'https://auth.example.com/oauth2/start?provider=keycloak&rd=https%3A%2F%2Fapp.example.com%2Fadmin%2Fusers%3Ftab%3D2&acr_values=gold+platinum&amr=hwk&max_age=600';

  it('a page load of a session: 302 (Traefik, Caddy, Envoy) or 401 + Location (nginx) to /oauth2/start with what to ask', () => {
    for (const dialect of ['traefik', 'caddy', 'envoy'] as const) {
      const a = stepUpResponse(base, dialect, NAV);
      expect(a.status, dialect).toBe(302);
      expect(a.headers.location).toBe(START);
      expect(a.headers['cache-control']).toBe('no-store');
    }
    const n = stepUpResponse(base, 'nginx', NAV);
    expect(n.status).toBe(401);
    expect(n.headers.location).toBe(START);
    expect(JSON.parse(n.body!)).toMatchObject({ error: 'unauthorized', reason: 'step_up_required' });
  });

  it('any other session request: 401 with the challenge, no Location', () => {
    const a = stepUpResponse(base, 'traefik', XHR);
    expect(a.status).toBe(401);
    expect(a.headers.location).toBeUndefined();
    expect(a.headers['www-authenticate']).toBe(stepUpChallenge(base.authn, null));
  });

  it('a bearer token: the RFC 9470 challenge, with resource_metadata on a resource rule', () => {
    const a = stepUpResponse({ ...base, method: 'jwt', provider: undefined }, 'nginx', NAV);
    expect(a.status).toBe(401);
    expect(a.headers.location).toBeUndefined();
    expect(a.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A stronger or more recent sign-in is required", acr_values="gold platinum", max_age=600',
    );
    expect(
      stepUpChallenge(
        base.authn,
        'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
      ),
    ).toMatch(
      /, max_age=600, resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
    expect(Buffer.byteLength(a.body!)).toBeLessThanOrEqual(256);
  });

  it('an API key or client certificate: 403, saying a signed-in user is needed', () => {
    for (const method of ['api_key', 'mtls'] as const) {
      const a = stepUpResponse({ ...base, method, provider: undefined, unmet: 'not_a_user' }, 'traefik', NAV);
      expect(a.status).toBe(403);
      expect(JSON.parse(a.body!)).toMatchObject({ error: 'forbidden', reason: 'step_up_required' });
      expect(a.body).toContain('signed-in user');
    }
  });

  it('a dev user: the login page when only freshness is missing, else 403 (their acr/amr are declared, not earned)', () => {
    const dev = { ...base, provider: 'dev' };
    const fresh = stepUpResponse({ ...dev, unmet: 'max_age' }, 'caddy', NAV);
    expect(fresh.status).toBe(302);
    expect(fresh.headers.location).toBe(
      'https://auth.example.com/oauth2/login?rd=https%3A%2F%2Fapp.example.com%2Fadmin%2Fusers%3Ftab%3D2',
    );
    const amr = stepUpResponse({ ...dev, unmet: 'amr' }, 'caddy', NAV);
    expect(amr.status).toBe(403);
    expect(amr.body).toContain('dev user');
  });
});
