// Step-up end to end (RFC 9470): a real oidc-provider that knows two acr values and asks for a one-time
// code when the mfa one is requested; sessions sent back to it and upgraded, bearer tokens challenged,
// API keys refused, an IdP that ignores acr_values answered with a page instead of a loop.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/oauth2/dev-users.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { FakeClock } from '../helpers/clock.js';
import { send } from '../helpers/http.js';
import { signInWithoutBrowser } from '../helpers/oidc.js';
import { testKey } from '../helpers/warden.js';
import {
  devSignIn,
  setCookies,
  signIn,
  startSignIn,
  STEP_UP,
  stepUpPolicy,
  USERS,
  verifyAs,
  type SignInSetup,
} from './helpers.js';

const NAVIGATE = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json' };
const APP = 'https://app.example.com';

const policy = () =>
  stepUpPolicy([
    { match: { path: '/fresh/**' }, require: ['nodes:read'], authn: { maxAge: '10m' } },
    { match: { path: '/hwk/**' }, require: ['nodes:read'], authn: { amr: ['hwk', 'otp'] } },
    { match: { path: '/admin/**' }, require: ['admin:users'], authn: { acr: [STEP_UP.mfa] } },
  ]);

/** Follow warden's step-up answer: /oauth2/start (with the session cookie), the IdP, then the callback. */
async function stepUp(setup: SignInSetup, location: string, cookie: string, jar?: Map<string, string>) {
  const start = await send(location, { headers: { cookie } });
  expect(start.status).toBe(302);
  const idpUrl = new URL(String(start.headers.location));
  const flow = [...setCookies(start)].find(([n]) => n.startsWith('warden_flow_'))!;
  const callbackUrl = await signInWithoutBrowser(
    idpUrl.toString(),
    `${setup.publicUrl}/oauth2/callback`,
    USERS.alice,
    jar,
  );
  const res = await send(callbackUrl, { headers: { cookie: `${cookie}; ${flow[0]}=${flow[1]}` } });
  const session = setCookies(res).get('warden');
  return { idpUrl, res, cookie: session ? `warden=${session}` : null };
}

describe('step-up with a real IdP (sessions)', () => {
  let setup: SignInSetup;
  const clock = new FakeClock();
  const key = testKey('ci-bot', ['admin']);

  beforeAll(async () => {
    setup = await startSignIn({ policy: policy(), clock, stepUp: true, keys: [key.entry] });
  });
  afterAll(() => setup.close());

  it('a basic session is sent to the IdP with acr_values, comes back upgraded with a new cookie, and passes', async () => {
    const jar = new Map<string, string>();
    const first = await signIn(setup, USERS.alice);
    const basic = first.cookie!;
    expect((await verifyAs(setup, { cookie: basic }, '/nodes/n1')).status).toBe(200);

    const refused = await verifyAs(setup, { cookie: basic, ...NAVIGATE }, '/secure/vault?x=1');
    expect(refused.status).toBe(302);
    const location = new URL(String(refused.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(`${setup.publicUrl}/oauth2/start`);
    expect(location.searchParams.get('provider')).toBe('example');
    expect(location.searchParams.get('rd')).toBe(`${APP}/secure/vault?x=1`);
    expect(location.searchParams.get('acr_values')).toBe(STEP_UP.mfa);
    expect(refused.headers['x-warden-reason']).toBe('step_up_required');
    const audited = setup.w.audit.findLast((l) => l.path === '/secure/vault');
    expect(audited).toMatchObject({
      decision: 'forbidden',
      reason: 'step_up_required',
      cause: 'acr',
      authn: { acr: [STEP_UP.mfa] },
      sub: 'alice',
    });

    const up = await stepUp(setup, location.toString(), basic, jar);
    expect(up.idpUrl.searchParams.get('acr_values')).toBe(STEP_UP.mfa);
    expect(up.idpUrl.searchParams.get('prompt')).toBeNull();
    expect(up.res.status).toBe(302);
    expect(up.res.headers.location).toBe(`${APP}/secure/vault?x=1`);
    expect(up.cookie).not.toBeNull();
    expect(up.cookie).not.toBe(basic);
    expect(setup.idp.lastIdTokenClaims()).toMatchObject({ acr: STEP_UP.mfa, amr: ['pwd', 'otp'] });

    const passed = await verifyAs(setup, { cookie: up.cookie!, ...NAVIGATE }, '/secure/vault?x=1');
    expect(passed.status).toBe(200);
    expect(passed.headers['x-user-id']).toBe('alice');
    // The same amr rule passes on the otp of the upgraded sign-in.
    expect((await verifyAs(setup, { cookie: up.cookie! }, '/hwk/x')).status).toBe(200);
    // The old cookie is dead: no session fixation across the upgrade.
    expect((await verifyAs(setup, { cookie: basic }, '/nodes/n1')).status).toBe(401);
    expect(setup.w.audit.find((l) => l.event === 'session_upgraded')).toMatchObject({
      provider: 'example',
      sub: 'alice',
      acr: [STEP_UP.mfa],
      amr: ['pwd', 'otp'],
    });
  });

  it('a request that is no page load gets 401 step_up_required, never a redirect', async () => {
    const { cookie } = await signIn(setup, USERS.alice);
    const res = await verifyAs(setup, { cookie: cookie!, ...API }, '/secure/vault');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized', reason: 'step_up_required' });
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['www-authenticate']).toContain('error="insufficient_user_authentication"');
  });

  it('permissions come first: a step-up cannot give a role, so it is a plain 403', async () => {
    const { cookie } = await signIn(setup, USERS.alice);
    const res = await verifyAs(setup, { cookie: cookie!, ...NAVIGATE }, '/admin/users');
    expect(res.status).toBe(403);
    expect(res.headers['x-warden-reason']).toBe('insufficient_permissions');
  });

  it('maxAge: a sign-in without auth_time, then one older than 10 minutes, is sent to sign in again with max_age and prompt=login', async () => {
    const { cookie } = await signIn(setup, USERS.alice);
    const first = await verifyAs(setup, { cookie: cookie!, ...NAVIGATE }, '/fresh/report');
    expect(first.status).toBe(302);
    const location = new URL(String(first.headers.location));
    expect(location.searchParams.get('max_age')).toBe('600');
    expect(location.searchParams.get('acr_values')).toBeNull();
    expect(setup.w.audit.findLast((l) => l.path === '/fresh/report')).toMatchObject({
      cause: 'auth_time_missing',
      authn: { maxAge: 600 },
    });

    const fresh = await stepUp(setup, location.toString(), cookie!);
    expect(fresh.idpUrl.searchParams.get('max_age')).toBe('600');
    expect(fresh.idpUrl.searchParams.get('prompt')).toBe('login');
    expect(fresh.res.status).toBe(302);
    expect(typeof setup.idp.lastIdTokenClaims()?.auth_time).toBe('number');
    expect((await verifyAs(setup, { cookie: fresh.cookie! }, '/fresh/report')).status).toBe(200);

    // Eleven minutes later the same session falls short again, on freshness alone.
    clock.advance(11 * 60_000);
    const stale = await verifyAs(setup, { cookie: fresh.cookie!, ...NAVIGATE }, '/fresh/report');
    expect(stale.status).toBe(302);
    expect(new URL(String(stale.headers.location)).searchParams.get('max_age')).toBe('600');
    expect(setup.w.audit.findLast((l) => l.path === '/fresh/report')).toMatchObject({ cause: 'max_age' });
    // Pages without authn are not bothered.
    expect((await verifyAs(setup, { cookie: fresh.cookie! }, '/nodes/n1')).status).toBe(200);
  });

  it('an API key never satisfies authn: 403 step_up_required saying a signed-in user is needed', async () => {
    const res = await verifyAs(setup, { 'x-api-key': key.key, ...NAVIGATE }, '/secure/vault');
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body) as { reason: string; message: string };
    expect(body.reason).toBe('step_up_required');
    expect(body.message).toContain('signed-in user');
    expect(setup.w.audit.findLast((l) => l.path === '/secure/vault')).toMatchObject({
      cause: 'not_a_user',
      authMethod: 'api_key',
    });
  });

  it('an IdP that ignores acr_values gets an explanation page, no loop, and the old session stays as it was', async () => {
    const { cookie } = await signIn(setup, USERS.alice);
    setup.idp.ignoreAcrValues(true);
    try {
      const refused = await verifyAs(setup, { cookie: cookie!, ...NAVIGATE }, '/secure/vault');
      const up = await stepUp(setup, String(refused.headers.location), cookie!);
      expect(up.res.status).toBe(403);
      expect(up.res.headers.location).toBeUndefined();
      expect(up.res.body).toContain('Stronger sign-in needed');
      expect(up.res.body).toContain(STEP_UP.mfa);
      expect(up.cookie).toBeNull();
      expect(setup.w.audit.findLast((l) => l.event === 'sign_in_failed')).toMatchObject({
        cause: 'step_up_not_met',
        unmet: 'acr',
        provider: 'example',
      });
      expect((await verifyAs(setup, { cookie: cookie! }, '/nodes/n1')).status).toBe(200);
    } finally {
      setup.idp.ignoreAcrValues(false);
    }
  });

  it('a /start link with values warden would not write is refused', async () => {
    for (const q of ['acr_values=%0A', 'max_age=-1', 'max_age=0', `amr=${'a '.repeat(100)}`]) {
      const res = await send(`${setup.publicUrl}/oauth2/start?provider=example&rd=/nodes/n1&${q}`);
      expect(res.status, q).toBe(400);
    }
  });
});

describe('step-up with bearer tokens (RFC 9470)', () => {
  let setup: SignInSetup;
  let iss: TestIssuer;

  beforeAll(async () => {
    iss = await startIssuer([await makeKey('ES256')]);
    setup = await startSignIn({
      policy: policy(),
      env: { WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: iss.issuer, audience: 'api' }]) },
    });
  });
  afterAll(async () => {
    await setup.close();
    await iss.close();
  });

  const bearer = async (claims: Record<string, unknown>, path: string) =>
    verifyAs(
      setup,
      {
        authorization: `Bearer ${await iss.mint({ sub: 'agent-7', aud: 'api', groups: ['viewer'], ...claims })}`,
      },
      path,
    );

  it('a token without the acr gets the challenge naming the acr values to ask for; one with it passes', async () => {
    const weak = await bearer({ acr: STEP_UP.basic }, '/secure/vault');
    expect(weak.status).toBe(401);
    expect(weak.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent sign-in is required", acr_values="${STEP_UP.mfa}"`,
    );
    expect(JSON.parse(weak.body)).toMatchObject({ reason: 'step_up_required' });
    expect(weak.headers.location).toBeUndefined();
    expect((await bearer({ acr: STEP_UP.mfa }, '/secure/vault')).status).toBe(200);
  });

  it('an old auth_time gets max_age in the challenge; a recent one passes', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await bearer({ auth_time: now - 3600 }, '/fresh/x');
    expect(old.status).toBe(401);
    expect(old.headers['www-authenticate']).toMatch(
      /error="insufficient_user_authentication".*, max_age=600$/,
    );
    expect(setup.w.audit.findLast((l) => l.path === '/fresh/x')).toMatchObject({ cause: 'max_age' });
    expect((await bearer({ auth_time: now - 60 }, '/fresh/x')).status).toBe(200);
  });

  it('malformed sign-in claims never satisfy, and the audit names why', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ amr: 'otp' }, '/hwk/a', 'bad_amr'],
      [{ acr: [STEP_UP.mfa] }, '/secure/b', 'bad_acr'],
      [{ auth_time: now + 3600 }, '/fresh/c', 'auth_time_future'],
      [{ auth_time: '1700000000' }, '/fresh/d', 'bad_auth_time'],
      [{}, '/fresh/e', 'auth_time_missing'],
    ];
    for (const [claims, path, cause] of cases) {
      expect((await bearer(claims, path)).status, cause).toBe(401);
      expect(
        setup.w.audit.findLast((l) => l.path === path),
        cause,
      ).toMatchObject({
        reason: 'step_up_required',
        cause,
      });
    }
  });
});

describe('step-up with dev users', () => {
  let setup: SignInSetup;
  let dir: string;
  const clock = new FakeClock();

  beforeAll(async () => {
    dir = makeDir('warden-dev-users-');
    const scrypt = await hashPassword('pass-of-both', 1024);
    const file = join(dir, 'dev-users.yaml');
    writeFileSync(
      file,
      stringify({
        users: [
          { username: 'keyholder', roles: ['viewer'], acr: STEP_UP.mfa, amr: ['hwk'], scrypt },
          { username: 'plain', roles: ['viewer'], scrypt },
        ],
      }),
    );
    setup = await startSignIn({ policy: policy(), clock, env: { WARDEN_DEV_USERS: file } });
  });
  afterAll(async () => {
    await setup.close();
    removeDir(dir);
  });

  it('a dev user declaring amr and acr passes; one without is refused like anyone else (403: no sign-in mends it)', async () => {
    const holder = (await devSignIn(setup, 'keyholder', 'pass-of-both')).cookie!;
    const plain = (await devSignIn(setup, 'plain', 'pass-of-both')).cookie!;
    expect((await verifyAs(setup, { cookie: holder, ...NAVIGATE }, '/hwk/x')).status).toBe(200);
    expect((await verifyAs(setup, { cookie: holder, ...NAVIGATE }, '/secure/x')).status).toBe(200);
    const res = await verifyAs(setup, { cookie: plain, ...NAVIGATE }, '/hwk/x');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'step_up_required' });
    expect(setup.w.audit.findLast((l) => l.path === '/hwk/x')).toMatchObject({ sub: 'plain', cause: 'amr' });
    expect((await verifyAs(setup, { cookie: plain }, '/nodes/n1')).status).toBe(200);
  });

  it('a dev sign-in older than maxAge is sent back to the login page to sign in again', async () => {
    const holder = (await devSignIn(setup, 'keyholder', 'pass-of-both')).cookie!;
    expect((await verifyAs(setup, { cookie: holder }, '/fresh/x')).status).toBe(200);
    clock.advance(11 * 60_000);
    const res = await verifyAs(setup, { cookie: holder, ...NAVIGATE }, '/fresh/x');
    expect(res.status).toBe(302);
    expect(String(res.headers.location)).toBe(
      `${setup.publicUrl}/oauth2/login?rd=${encodeURIComponent(`${APP}/fresh/x`)}`,
    );
  });
});
