// Step-up in a real browser: Chromium → real nginx / Caddy (deploy/ recipes) → warden → echo app, with
// a real oidc-provider that asks for a one-time code when the mfa acr is requested. A password
// sign-in opens /nodes; /secure (authn acr mfa) sends the same browser back to the IdP with
// acr_values, and the upgraded session replaces the old one, whose cookie stops working.
import type { Browser, Request } from 'playwright-core';
import { expect, it } from 'vitest';
import { STEP_UP, USERS, stepUpPolicy, type SignInSetup } from '../oauth2/helpers.js';
import {
  APP,
  browserSecrets,
  browserSuite,
  context,
  seenByApp,
  sessionCookie,
  signInAtIdp,
  stackHooks,
} from './harness/browser.js';
import { CADDY_BIN } from './harness/caddy.js';
import type { Echo } from './harness/echo.js';
import { send } from './harness/net.js';
import { NGINX_BIN } from './harness/nginx.js';
import type { Proxy } from './harness/proxy.js';

/** Checked against every log line after each suite; session cookies are added as they are seen. */
const secrets = browserSecrets();

const NAVIGATE = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };

function stepUpSuite(kind: 'nginx' | 'caddy', bin: string | null): void {
  browserSuite('browser step-up', kind, bin, () => {
    let echo: Echo;
    let proxy: Proxy;
    let setup: SignInSetup;
    let site: string;
    let browser: Browser;

    // Dev users off: with one provider, the login page goes straight to the IdP.
    stackHooks(
      kind,
      { devUsers: false, policy: stepUpPolicy(), stepUp: true, secrets },
      (started) => ({ echo, proxy, setup, site, browser } = started),
    );

    it('a password session reaches /nodes; /secure sends the browser to the IdP for acr mfa and a one-time code, back to the page with a new cookie; the old one is dead', async () => {
      const ctx = await context(browser, proxy);
      const page = await ctx.newPage();
      // Every page load of the browser, to read the URLs of /oauth2/start and of the IdP's authorization endpoint.
      const loads: URL[] = [];
      page.on('request', (r: Request) => {
        if (r.isNavigationRequest()) loads.push(new URL(r.url()));
      });
      const authorizations = () =>
        loads.filter((u) => u.origin === setup.idp.issuer && u.searchParams.get('response_type') === 'code');
      const starts = () => loads.filter((u) => u.origin === site && u.pathname === '/oauth2/start');

      // 1. A plain sign-in: username and password, no one-time code asked.
      await page.goto(`${site}/nodes/n1`);
      await page.waitForURL((u) => u.toString().startsWith(setup.idp.issuer));
      await expect.poll(() => page.getByLabel('Password').isVisible()).toBe(true);
      expect(await page.getByLabel('One-time code').count()).toBe(0);
      expect(authorizations()).toHaveLength(1);
      expect(authorizations()[0]!.searchParams.get('acr_values')).toBeNull();
      await signInAtIdp(page, USERS.alice);
      await page.waitForURL(`${site}/nodes/n1`);
      expect(await seenByApp(page)).toMatchObject({
        'x-user-id': 'alice',
        'x-user-roles': 'developer',
        'x-auth-method': 'session',
      });
      expect(setup.idp.lastIdTokenClaims()).toMatchObject({ acr: STEP_UP.basic, amr: ['pwd'] });
      const basic = await sessionCookie(ctx, secrets);

      // Through the proxy, that session gets the sign-in answer for /secure (nginx turns warden's
      // 401 + Location into this 302, Caddy relays warden's own), and is not cleared: it is still good for /nodes.
      const refused = await send(proxy.port, '/secure/vault?x=1', {
        headers: { host: APP, cookie: basic, ...NAVIGATE },
      });
      expect(refused.status).toBe(302);
      const location = new URL(String(refused.headers.location));
      expect(`${location.origin}${location.pathname}`).toBe(`${site}/oauth2/start`);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        provider: 'example',
        rd: `${site}/secure/vault?x=1`,
        acr_values: STEP_UP.mfa,
      });
      expect(refused.headers['set-cookie']).toBeUndefined();
      expect(echo.seen.some((r) => r.url.startsWith('/secure/'))).toBe(false);

      // 2. The step-up: the browser is sent to the IdP asking for the mfa acr; the IdP asks for the code.
      await page.goto(`${site}/secure/vault?x=1`);
      await page.waitForURL((u) => u.toString().startsWith(setup.idp.issuer));
      await expect.poll(() => page.getByLabel('One-time code').isVisible()).toBe(true);
      // The first start was the plain sign-in's (from the login page); this one is warden's step-up link.
      expect(starts().map((u) => u.toString())).toEqual([
        `${site}/oauth2/start?provider=example&rd=${encodeURIComponent(`${site}/nodes/n1`)}`,
        location.toString(),
      ]);
      expect(authorizations()).toHaveLength(2);
      const asked = authorizations()[1]!;
      expect(asked.searchParams.get('acr_values')).toBe(STEP_UP.mfa);
      expect(asked.searchParams.get('prompt')).toBeNull();
      expect(asked.searchParams.get('redirect_uri')).toBe(`${site}/oauth2/callback`);
      await signInAtIdp(page, USERS.alice, USERS.alice.otp);
      await page.waitForURL(`${site}/secure/vault?x=1`);
      expect(await seenByApp(page)).toMatchObject({ 'x-user-id': 'alice', 'x-auth-method': 'session' });
      expect(echo.seen.at(-1)).toMatchObject({ url: '/secure/vault?x=1' });
      expect(echo.seen.at(-1)!.headers['x-user-id']).toBe('alice');
      expect(setup.idp.lastIdTokenClaims()).toMatchObject({ acr: STEP_UP.mfa, amr: ['pwd', 'otp'] });
      const upgraded = await sessionCookie(ctx, secrets);
      expect(upgraded).not.toBe(basic);
      expect(setup.w.audit.findLast((l) => l.event === 'session_upgraded')).toMatchObject({
        provider: 'example',
        sub: 'alice',
        acr: [STEP_UP.mfa],
        amr: ['pwd', 'otp'],
      });
      // The upgraded session still opens the pages that need no step-up.
      expect((await page.goto(`${site}/nodes/n1`))!.status()).toBe(200);

      // 3. The cookie from before the step-up, replayed with a raw HTTP client, is useless: a page
      // load is sent to sign in (and told to drop the cookie), an API request gets 401.
      const seen = echo.seen.length;
      const replay = await send(proxy.port, '/nodes/n1', {
        headers: { host: APP, cookie: basic, ...NAVIGATE },
      });
      expect(replay.status).toBe(302);
      expect(String(replay.headers.location)).toBe(
        `${site}/oauth2/login?rd=${encodeURIComponent(`${site}/nodes/n1`)}`,
      );
      expect(String(replay.headers['set-cookie'])).toMatch(/^warden=; Path=\/; Max-Age=0/);
      const api = await send(proxy.port, '/nodes/n1', {
        headers: { host: APP, cookie: basic, accept: 'application/json' },
      });
      expect(api.status).toBe(401);
      expect(echo.seen.length).toBe(seen);
      // The new one passes /secure for a raw client too.
      const passed = await send(proxy.port, '/secure/vault', {
        headers: { host: APP, cookie: upgraded, accept: 'application/json' },
      });
      expect(passed.status).toBe(200);
      expect(echo.seen.at(-1)!.headers['x-user-id']).toBe('alice');
      await ctx.close();
    });
  });
}

stepUpSuite('nginx', NGINX_BIN);
stepUpSuite('caddy', CADDY_BIN);
