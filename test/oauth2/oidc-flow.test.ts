// The OIDC sign-in flow against a real oidc-provider, and what bad callbacks, tokens and cookies get.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { signInWithoutBrowser } from '../helpers/oidc.js';
import {
  beginSignIn,
  setCookies,
  signIn,
  startSignIn,
  USERS,
  verifyAs,
  type SignInSetup,
} from './helpers.js';
import { ifStarted } from '../helpers/hooks.js';

let setup: SignInSetup;
beforeAll(async () => {
  setup = await startSignIn();
});
afterAll(async () => {
  await ifStarted(setup)?.close();
});

describe('OIDC sign-in', () => {
  it('signs a person in, sends them back to rd, and /verify sees the session with roles from IdP groups', async () => {
    const { res, cookie } = await signIn(setup, USERS.alice, 'https://app.example.com/nodes/n1?tab=2');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://app.example.com/nodes/n1?tab=2');
    expect(cookie).not.toBeNull();
    const raw = String(res.headers['set-cookie']);
    expect(raw).toMatch(/warden=[^;]+; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax/);
    const v = await verifyAs(setup, { cookie: cookie! });
    expect(v.status).toBe(200);
    expect(v.headers).toMatchObject({
      'x-user-id': 'alice',
      'x-user-roles': 'developer',
      'x-user-name': 'Alice Example',
      'x-user-email': 'alice@example.com',
      'x-auth-method': 'session',
    });
    const forbidden = await verifyAs(setup, { cookie: cookie! }, '/admin/users');
    expect(forbidden.status).toBe(403);
    const info = await send(`${setup.publicUrl}/oauth2/userinfo`, { headers: { cookie: cookie! } });
    expect(JSON.parse(info.body)).toMatchObject({
      sub: 'alice',
      roles: ['developer'],
      method: 'session',
      provider: 'example',
    });
    expect(
      setup.w.audit.some((l) => l.event === 'sign_in' && l.sub === 'alice' && l.provider === 'example'),
    ).toBe(true);
  });

  it('with one provider and no dev users, /oauth2/login goes straight to it; /oauth2/config says what exists', async () => {
    const login = await send(
      `${setup.publicUrl}/oauth2/login?rd=${encodeURIComponent('https://app.example.com/x')}`,
    );
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe(
      `${setup.publicUrl}/oauth2/start?provider=example&rd=${encodeURIComponent('https://app.example.com/x')}`,
    );
    const config = await send(`${setup.publicUrl}/oauth2/config`);
    expect(JSON.parse(config.body)).toEqual({
      loginUrl: `${setup.publicUrl}/oauth2/login`,
      logoutUrl: `${setup.publicUrl}/oauth2/logout`,
      userinfoUrl: `${setup.publicUrl}/oauth2/userinfo`,
      providers: [
        { id: 'example', name: 'Example IdP', startUrl: `${setup.publicUrl}/oauth2/start?provider=example` },
      ],
      devUsers: false,
    });
    expect((await send(`${setup.publicUrl}/oauth2/start?provider=nope`)).status).toBe(400);
    // A browser without a session is sent to the sign-in page with the page it asked for.
    const v = await verifyAs(setup, { accept: 'text/html' }, '/nodes/n1?a=b');
    expect(v.status).toBe(302);
    expect(v.headers.location).toBe(
      `${setup.publicUrl}/oauth2/login?rd=${encodeURIComponent('https://app.example.com/nodes/n1?a=b')}`,
    );
  });

  it('gives a new session id at every sign-in', async () => {
    const a = await signIn(setup, USERS.bob);
    const b = await signIn(setup, USERS.bob);
    expect(a.cookie).not.toBe(b.cookie);
    expect((await verifyAs(setup, { cookie: a.cookie! })).status).toBe(200);
    expect((await verifyAs(setup, { cookie: b.cookie! })).status).toBe(200);
  });

  it('sends the flow through PKCE S256 with state and nonce, and keeps them in a sealed flow cookie only', async () => {
    const { authorizationUrl, flowCookie } = await beginSignIn(setup);
    const u = new URL(authorizationUrl);
    expect(u.searchParams.get('code_challenge_method')).toBe('S256');
    expect(u.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(u.searchParams.get('state')).toBeTruthy();
    expect(u.searchParams.get('nonce')).toBeTruthy();
    expect(u.searchParams.get('redirect_uri')).toBe(`${setup.publicUrl}/oauth2/callback`);
    // The flow cookie is a JWE: neither the state nor the rd is readable in it.
    const value = flowCookie.split('=')[1]!;
    expect(value.split('.')).toHaveLength(5);
    expect(flowCookie).not.toContain(u.searchParams.get('state')!);
  });

  it('answers a missing, wrong or reused state with a 400 page and no session', async () => {
    const missing = await send(`${setup.publicUrl}/oauth2/callback?code=abc`);
    expect(missing.status).toBe(400);
    expect(missing.headers['content-type']).toContain('text/html');
    expect(missing.body).toContain('Start signing in again');

    const { authorizationUrl, flowCookie } = await beginSignIn(setup);
    const callbackUrl = await signInWithoutBrowser(
      authorizationUrl,
      `${setup.publicUrl}/oauth2/callback`,
      USERS.alice,
    );
    const wrong = new URL(callbackUrl);
    wrong.searchParams.set('state', 'not-the-state');
    const bad = await send(wrong.toString(), { headers: { cookie: flowCookie } });
    expect(bad.status).toBe(400);
    expect(setCookies(bad).has('warden')).toBe(false);
    // Without its flow cookie (another browser): refused.
    const foreign = await send(callbackUrl);
    expect(foreign.status).toBe(400);

    const first = await send(callbackUrl, { headers: { cookie: flowCookie } });
    expect(first.status).toBe(302);
    expect(setCookies(first).has('warden')).toBe(true);
    // The same callback again, flow cookie and all: no second session.
    const replay = await send(callbackUrl, { headers: { cookie: flowCookie } });
    expect(replay.status).toBe(400);
    expect(setCookies(replay).has('warden')).toBe(false);
    expect(replay.body).toContain('already used');
    expect(setup.w.audit.filter((l) => l.event === 'sign_in_failed').map((l) => l.cause)).toEqual(
      expect.arrayContaining(['missing_state', 'bad_state', 'state_reused']),
    );
  });

  it("shows the IdP's refusal (error=access_denied) as a 403 page that says what to do", async () => {
    const { authorizationUrl, flowCookie } = await beginSignIn(setup);
    const state = new URL(authorizationUrl).searchParams.get('state')!;
    const res = await send(
      `${setup.publicUrl}/oauth2/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(setup.idp.issuer)}`,
      { headers: { cookie: flowCookie } },
    );
    expect(res.status).toBe(403);
    expect(res.body).toContain('did not sign you in (access_denied)');
    expect(res.body).toContain('contact your administrator');
    expect(setCookies(res).has('warden')).toBe(false);
    expect(setup.w.audit.at(-1)).toMatchObject({
      event: 'sign_in_failed',
      cause: 'provider_refused',
      error: 'access_denied',
    });
  });

  it('refuses a callback whose iss is not the provider (RFC 9207 mix-up defence)', async () => {
    const { authorizationUrl, flowCookie } = await beginSignIn(setup);
    const callbackUrl = new URL(
      await signInWithoutBrowser(authorizationUrl, `${setup.publicUrl}/oauth2/callback`, USERS.alice),
    );
    expect(callbackUrl.searchParams.get('iss')).toBe(setup.idp.issuer);
    callbackUrl.searchParams.set('iss', 'https://other-idp.example.com');
    const res = await send(callbackUrl.toString(), { headers: { cookie: flowCookie } });
    expect(res.status).toBe(400);
    expect(setCookies(res).has('warden')).toBe(false);
    expect(setup.w.audit.at(-1)).toMatchObject({ event: 'sign_in_failed', cause: 'bad_id_token' });
  });

  for (const [what, tamper] of [
    ['wrong aud', { aud: 'someone-else' }],
    ['wrong iss', { iss: 'https://evil.example.com' }],
    ['wrong nonce', { nonce: 'replayed-nonce' }],
    ['expired', { expiredBy: 600 }],
  ] as const) {
    it(`refuses an ID token with ${what}: no session, audited`, async () => {
      setup.idp.tamperIdTokens(tamper);
      try {
        const { res, cookie } = await signIn(setup, USERS.alice);
        expect(res.status).toBe(400);
        expect(cookie).toBeNull();
        expect(res.body).toContain('could not be verified');
        expect(setup.w.audit.at(-1)).toMatchObject({
          event: 'sign_in_failed',
          cause: 'bad_id_token',
          provider: 'example',
        });
      } finally {
        setup.idp.tamperIdTokens(null);
      }
    });
  }

  it('never writes a cookie, code, state or token into a log line', async () => {
    const { cookie, callbackUrl } = await signIn(setup, USERS.alice);
    const u = new URL(callbackUrl);
    const lines = [...setup.w.audit, ...setup.w.ops].map((l) => JSON.stringify(l)).join('\n');
    expect(lines).not.toContain(cookie!.split('=')[1]!.slice(0, 40));
    expect(lines).not.toContain(u.searchParams.get('code')!);
    expect(lines).not.toContain(u.searchParams.get('state')!);
  });
});
