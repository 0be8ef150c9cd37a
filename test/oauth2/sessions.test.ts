// Session cookies at /verify: tampered, truncated, duplicated, foreign, signed out, back-channel, idle; CSRF; dev users.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sealer } from '../../src/session/seal.js';
import { FakeClock } from '../helpers/clock.js';
import { send } from '../helpers/http.js';
import {
  CLIENT,
  devSignIn,
  logout,
  setCookies,
  signIn,
  startSignIn,
  USERS,
  verifyAs,
  type SignInSetup,
} from './helpers.js';
import { ifStarted } from '../helpers/hooks.js';

const BROWSER = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };

let setup: SignInSetup;
beforeAll(async () => {
  setup = await startSignIn({ devUsers: true });
});
afterAll(async () => {
  await ifStarted(setup)?.close();
});

describe('session cookies at /verify', () => {
  it('the login page falls back to the default for a hostile rd, and audits it', async () => {
    for (const rd of [
      '//evil.com',
      'https://app.example.com@evil.com',
      'https:evil.com',
      'javascript:alert(1)',
      'https://evilexample.com',
      '/\\evil.com',
      'https://app.example.com\t.evil.com',
    ]) {
      const page = await send(`${setup.publicUrl}/oauth2/login?rd=${encodeURIComponent(rd)}`);
      expect(page.status).toBe(200);
      expect(/name="rd" value="([^"]*)"/.exec(page.body)![1], rd).toBe(`${setup.publicUrl}/`);
      expect(setup.w.audit.at(-1), rd).toMatchObject({ event: 'redirect_refused' });
    }
    const ok = await send(
      `${setup.publicUrl}/oauth2/login?rd=${encodeURIComponent('https://x.apps.example.com/a?b=1')}`,
    );
    expect(/name="rd" value="([^"]*)"/.exec(ok.body)![1]).toBe('https://x.apps.example.com/a?b=1');
  });

  it('a dev user signs in with the form and is a session identity with their roles', async () => {
    const { res, cookie } = await devSignIn(setup, 'analyst', 'analyst-demo-pass');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`${setup.publicUrl}/nodes/n1`);
    const v = await verifyAs(setup, { cookie: cookie! }, '/reports/q1');
    expect(v.status).toBe(200);
    expect(v.headers).toMatchObject({
      'x-user-id': 'analyst',
      'x-user-roles': 'analyst',
      'x-auth-method': 'session',
    });
    expect((await verifyAs(setup, { cookie: cookie! }, '/deploy/x')).status).toBe(403);
  });

  it('treats a tampered, truncated, duplicated or foreign cookie as no session (login redirect for a browser)', async () => {
    const { cookie } = await devSignIn(setup, 'viewer', 'viewer-demo-pass');
    const value = cookie!.slice('warden='.length);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const foreign = await new Sealer(['another-secret-that-is-long-enough-0123456789'], 'session').seal(
      { sid: 'x' },
      Date.now() + 60_000,
    );
    const cases: [string, string][] = [
      ['tampered', `warden=${flip(value, Math.floor(value.length / 2))}`],
      ['truncated', `warden=${value.slice(0, -6)}`],
      ['duplicated', `warden=${value}; warden=${value}`],
      ['foreign', `warden=${foreign}`],
      ['garbage', 'warden=not-a-cookie'],
    ];
    for (const [what, header] of cases) {
      const r = await verifyAs(setup, { cookie: header, ...BROWSER });
      expect(r.status, what).toBe(302);
      expect(String(r.headers.location), what).toMatch(new RegExp(`^${setup.publicUrl}/oauth2/login\\?rd=`));
      expect(r.headers['x-user-id'], what).toBeUndefined();
      expect(String(r.headers['set-cookie']), what).toMatch(
        /^warden=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax/,
      );
      expect(setup.w.audit.at(-1), what).toMatchObject({ decision: 'unauthenticated', cause: 'bad_session' });
      const api = await verifyAs(setup, { cookie: header, accept: 'application/json' });
      expect(api.status, what).toBe(401);
    }
    // Other cookies, and warden's own CSRF cookie, are not a session: missing credentials, not a refused one.
    const other = await verifyAs(setup, {
      cookie: 'xwarden=1; warden_csrf=abc; wardenx=2',
      accept: 'application/json',
    });
    expect(other.status).toBe(401);
    expect(setup.w.audit.at(-1)).toMatchObject({ reason: 'missing_credentials' });
    // The genuine cookie still works; none of that counted toward a ban.
    expect((await verifyAs(setup, { cookie: cookie! })).status).toBe(200);
  });

  it('refuses an oversized form before reading it whole', async () => {
    const res = await send(`${setup.publicUrl}/oauth2/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: setup.publicUrl,
        'transfer-encoding': 'chunked',
      },
      body: 'username=' + 'a'.repeat(100_000),
    });
    expect(res.status).toBe(413);
  });

  it('refuses the cookie after sign-out, on the old cookie replayed', async () => {
    const { cookie } = await devSignIn(setup, 'developer', 'developer-demo-pass');
    expect((await verifyAs(setup, { cookie: cookie! })).status).toBe(200);
    const out = await logout(setup, cookie!);
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe(`${setup.publicUrl}/oauth2/login?signed_out=1`);
    expect(String(out.headers['set-cookie'])).toMatch(/warden=; Path=\/; Max-Age=0/);
    const replay = await verifyAs(setup, { cookie: cookie!, ...BROWSER });
    expect(replay.status).toBe(302);
    expect(setup.w.audit.at(-1)).toMatchObject({ decision: 'unauthenticated', cause: 'session_ended' });
    expect((await send(`${setup.publicUrl}/oauth2/userinfo`, { headers: { cookie: cookie! } })).status).toBe(
      401,
    );
  });

  it('refuses a cross-site POST to logout or to the dev login form with 403', async () => {
    const { cookie } = await devSignIn(setup, 'viewer', 'viewer-demo-pass');
    const evil = await logout(setup, cookie!, 'https://evil.example.net');
    expect(evil.status).toBe(403);
    expect(evil.body).toContain('another site');
    expect((await verifyAs(setup, { cookie: cookie! })).status).toBe(200);
    // A form posted from another site, with a victim's own CSRF cookie but without a token from warden's page.
    const page = await send(`${setup.publicUrl}/oauth2/login`);
    const csrfCookie = `warden_csrf=${setCookies(page).get('warden_csrf')}`;
    const forged = await send(`${setup.publicUrl}/oauth2/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example.net',
        cookie: csrfCookie,
      },
      body: 'username=admin&password=admin-demo-pass&csrf=x',
    });
    expect(forged.status).toBe(403);
    expect(setCookies(forged).has('warden')).toBe(false);
    const noToken = await send(`${setup.publicUrl}/oauth2/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'cross-site',
        cookie: csrfCookie,
      },
      body: 'username=admin&password=admin-demo-pass',
    });
    expect(noToken.status).toBe(403);
    expect(setup.w.audit.filter((l) => l.event === 'cross_site_refused').length).toBeGreaterThanOrEqual(3);
  });

  it('a wrong password shows the form again with a message; repeated failures ban the client IP', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.77' };
    const bad = await devSignIn(setup, 'admin', 'wrong', ip);
    expect(bad.res.status).toBe(401);
    expect(bad.res.body).toContain('Wrong username or password');
    expect(bad.cookie).toBeNull();
    let last = bad.res;
    for (let i = 0; i < 12 && last.status !== 429; i++)
      last = (await devSignIn(setup, 'admin', 'wrong', ip)).res;
    expect(last.status).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    // Banned: even the right password is refused from that IP.
    expect((await devSignIn(setup, 'admin', 'admin-demo-pass', ip)).res.status).toBe(429);
    expect(
      setup.w.audit.some(
        (l) => l.event === 'sign_in_failed' && l.cause === 'bad_password' && l.user === 'admin',
      ),
    ).toBe(true);
    // The account itself is banned too: from another address, even the right password gets a 429.
    const elsewhere = await devSignIn(setup, 'admin', 'admin-demo-pass', {
      'x-forwarded-for': '192.0.2.200',
    });
    expect(elsewhere.res.status).toBe(429);
    expect(elsewhere.cookie).toBeNull();
    expect(setup.w.audit.at(-1)).toMatchObject({ event: 'sign_in_failed', cause: 'user_banned' });
    // Other accounts are not affected.
    expect(
      (await devSignIn(setup, 'viewer', 'viewer-demo-pass', { 'x-forwarded-for': '192.0.2.200' })).res.status,
    ).toBe(303);
    const lines = setup.w.audit.map((l) => JSON.stringify(l)).join('\n');
    expect(lines).not.toContain('admin-demo-pass');
    expect(lines).not.toContain('"wrong"');
  });

  it('back-channel logout by sub ends every session of that person; a bad or replayed logout token is refused', async () => {
    const a = await signIn(setup, USERS.bob);
    const b = await signIn(setup, USERS.bob);
    expect((await verifyAs(setup, { cookie: a.cookie! })).status).toBe(200);
    const post = (token: string) =>
      send(`${setup.publicUrl}/oauth2/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `logout_token=${token}`,
      });
    expect((await post(await setup.idp.logoutToken('someone-else', { sub: 'bob' }))).status).toBe(400);
    expect((await post(await setup.idp.logoutToken(CLIENT.id, { sub: 'bob' }, { events: {} }))).status).toBe(
      400,
    );
    expect((await post(await setup.idp.logoutToken(CLIENT.id, { sub: 'bob' }, { nonce: 'n' }))).status).toBe(
      400,
    );
    expect((await verifyAs(setup, { cookie: a.cookie! })).status).toBe(200);
    const token = await setup.idp.logoutToken(CLIENT.id, { sub: 'bob' });
    expect((await post(token)).status).toBe(200);
    expect((await post(token)).status).toBe(400);
    expect((await verifyAs(setup, { cookie: a.cookie!, ...BROWSER })).status).toBe(302);
    expect((await verifyAs(setup, { cookie: b.cookie! })).status).toBe(401);
    // Signing in again afterwards works.
    const c = await signIn(setup, USERS.bob);
    expect((await verifyAs(setup, { cookie: c.cookie! })).status).toBe(200);
    expect(
      setup.w.audit.some((l) => l.event === 'backchannel_logout' && l.outcome === 'ended' && l.sub === 'bob'),
    ).toBe(true);
  });

  it('back-channel logout by sid ends that IdP session only', async () => {
    const a = await signIn(setup, USERS.alice);
    const sidA = setup.idp.lastIdTokenClaims()?.sid;
    const b = await signIn(setup, USERS.alice);
    const sidB = setup.idp.lastIdTokenClaims()?.sid;
    expect(typeof sidA).toBe('string');
    expect(sidB).not.toBe(sidA);
    const res = await send(`${setup.publicUrl}/oauth2/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${await setup.idp.logoutToken(CLIENT.id, { sid: String(sidA) })}`,
    });
    expect(res.status).toBe(200);
    expect((await verifyAs(setup, { cookie: a.cookie! })).status).toBe(401);
    expect((await verifyAs(setup, { cookie: b.cookie! })).status).toBe(200);
  });
});

describe('idle timeout', () => {
  let idle: SignInSetup;
  // warden's clock; the store's record lifetimes (the last-use record's 1 s) run on the real one.
  const clock = new FakeClock();
  beforeAll(async () => {
    idle = await startSignIn({
      devUsers: true,
      env: { WARDEN_SESSION_IDLE: '1s', WARDEN_SESSION_LIFETIME: '1h' },
      clock,
    });
  });
  afterAll(async () => {
    await ifStarted(idle)?.close();
  });

  it('keeps a session in use alive past the idle timeout', async () => {
    const { cookie } = await devSignIn(idle, 'viewer', 'viewer-demo-pass');
    for (let i = 0; i < 8; i++) {
      expect((await verifyAs(idle, { cookie: cookie! })).status, `request ${i}`).toBe(200);
      // 300 ms pass for warden and for the store alike.
      await new Promise((r) => setTimeout(r, 300));
      clock.advance(300);
    }
  });

  it('refuses a session idle for longer than WARDEN_SESSION_IDLE', async () => {
    const { cookie } = await devSignIn(idle, 'viewer', 'viewer-demo-pass');
    expect((await verifyAs(idle, { cookie: cookie! })).status).toBe(200);
    clock.advance(1300);
    expect((await verifyAs(idle, { cookie: cookie!, ...BROWSER })).status).toBe(302);
    expect(idle.w.audit.at(-1)).toMatchObject({ cause: 'session_ended' });
  });
});
