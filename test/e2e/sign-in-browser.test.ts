// Browser sign-in end to end: Chromium (playwright-core) → real nginx / Caddy (deploy/ recipes) → warden → echo app,
// with a real oidc-provider as the company IdP, and the four dev users.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { USERS, type SignInSetup } from '../oauth2/helpers.js';
import {
  APP,
  browserSecrets,
  browserSuite,
  CHROMIUM_BIN,
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

const ARTIFACTS = resolve('test-artifacts');
/** Checked against every log line after each suite; session cookies are added as they are seen. */
const secrets = browserSecrets();

browserSuite('browser sign-in', 'nginx', NGINX_BIN, () => {
  let echo: Echo;
  let proxy: Proxy;
  let setup: SignInSetup;
  let site: string;
  let browser: Browser;

  stackHooks(
    'nginx',
    { devUsers: true, secrets },
    (started) => ({ echo, proxy, setup, site, browser } = started),
  );

  it('anonymous visit → sign-in page → IdP → back to the original URL; the app sees the identity and roles from IdP groups; sign-out makes the cookie useless', async () => {
    const ctx = await context(browser, proxy);
    const page = await ctx.newPage();
    await page.goto(`${site}/nodes/n1?tab=2`);
    expect(page.url()).toMatch(new RegExp(`^${site}/oauth2/login\\?rd=`));
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByLabel('Username').isVisible()).toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'login-page.png'), fullPage: true });

    await page.getByRole('link', { name: 'Continue with Example IdP' }).click();
    await page.waitForURL((u) => u.toString().startsWith(setup.idp.issuer));
    await signInAtIdp(page, USERS.alice);
    await page.waitForURL(`${site}/nodes/n1?tab=2`);
    const headers = await seenByApp(page);
    expect(headers).toMatchObject({
      'x-user-id': 'alice',
      'x-user-roles': 'developer',
      'x-user-email': 'alice@example.com',
      'x-auth-method': 'session',
    });
    expect(echo.seen.at(-1)!.url).toBe('/nodes/n1?tab=2');

    const admin = await page.goto(`${site}/admin/users`);
    expect(admin!.status()).toBe(403);
    const cookie = await sessionCookie(ctx, secrets);

    // Sign out through the confirm page.
    await page.goto(`${site}/oauth2/logout`);
    expect(await page.getByText('You are signed in as Alice Example').isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'logout-page.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${site}/oauth2/login?signed_out=1`);
    expect(await page.getByText('You have been signed out.').isVisible()).toBe(true);

    // A stale or forged sign-in response gets a page that says what to do, in the same look.
    const stale = await page.goto(`${site}/oauth2/callback?code=x&state=forged`);
    expect(stale!.status()).toBe(400);
    expect(await page.getByRole('alert').innerText()).toContain('Start signing in again');
    await page.screenshot({ path: join(ARTIFACTS, 'error-page.png'), fullPage: true });
    expect((await ctx.cookies()).some((c) => c.name === 'warden')).toBe(false);

    // The old cookie, replayed with a raw HTTP client, is useless: a browser is sent to sign in, an API client gets 401.
    const seen = echo.seen.length;
    const replay = await send(proxy.port, '/nodes/n1', {
      headers: { host: APP, cookie, accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });
    expect(replay.status).toBe(302);
    expect(String(replay.headers.location)).toMatch(new RegExp(`^${site}/oauth2/login\\?rd=`));
    // …and told to drop the dead cookie.
    expect(String(replay.headers['set-cookie'])).toMatch(/^warden=; Path=\/; Max-Age=0/);
    const api = await send(proxy.port, '/nodes/n1', {
      headers: { host: APP, cookie, accept: 'application/json' },
    });
    expect(api.status).toBe(401);
    expect(echo.seen.length).toBe(seen);
    await ctx.close();
  });

  const DEV: Record<string, { password: string; allowed: string[]; forbidden: string[] }> = {
    admin: {
      password: 'admin-demo-pass',
      allowed: ['/nodes/n1', '/reports/q1', '/deploy/web', '/admin/users'],
      forbidden: [],
    },
    developer: {
      password: 'developer-demo-pass',
      allowed: ['/nodes/n1', '/reports/q1', '/deploy/web'],
      forbidden: ['/admin/users'],
    },
    analyst: {
      password: 'analyst-demo-pass',
      allowed: ['/nodes/n1', '/reports/q1'],
      forbidden: ['/deploy/web', '/admin/users'],
    },
    viewer: {
      password: 'viewer-demo-pass',
      allowed: ['/nodes/n1'],
      forbidden: ['/reports/q1', '/deploy/web', '/admin/users'],
    },
  };
  for (const [username, user] of Object.entries(DEV)) {
    it(`dev user ${username} signs in with the form and sees exactly their pages`, async () => {
      const ctx = await context(browser, proxy);
      const page = await ctx.newPage();
      await page.goto(`${site}/nodes/n1`);
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${site}/nodes/n1`);
      await sessionCookie(ctx, secrets);
      expect(await seenByApp(page)).toMatchObject({
        'x-user-id': username,
        'x-user-roles': username,
        'x-auth-method': 'session',
      });
      for (const path of user.allowed)
        expect((await page.goto(`${site}${path}`))!.status(), `${username} ${path}`).toBe(200);
      for (const path of user.forbidden)
        expect((await page.goto(`${site}${path}`))!.status(), `${username} ${path}`).toBe(403);
      await ctx.close();
    });
  }

  it('a wrong dev password shows the form again with a message a person understands', async () => {
    const ctx = await context(browser, proxy);
    const page = await ctx.newPage();
    await page.goto(`${site}/oauth2/login`);
    await page.getByLabel('Username').fill('viewer');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Wrong username or password');
    expect(await page.getByLabel('Username').inputValue()).toBe('viewer');
    await ctx.close();
  });
});

browserSuite('browser sign-in', 'caddy', CADDY_BIN, () => {
  let echo: Echo;
  let proxy: Proxy;
  let setup: SignInSetup;
  let site: string;
  let browser: Browser;

  stackHooks(
    'caddy',
    { devUsers: false, secrets },
    (started) => ({ echo, proxy, setup, site, browser } = started),
  );

  it('warden answers a browser with a 302 itself; with one provider the login goes straight to the IdP and back', async () => {
    const first = await send(proxy.port, '/nodes/n1', {
      headers: { host: APP, accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });
    expect(first.status).toBe(302);
    expect(String(first.headers.location)).toBe(
      `${site}/oauth2/login?rd=${encodeURIComponent(`${site}/nodes/n1`)}`,
    );

    const ctx = await context(browser, proxy);
    const page = await ctx.newPage();
    await page.goto(`${site}/nodes/n1`);
    await page.waitForURL((u) => u.toString().startsWith(setup.idp.issuer));
    await signInAtIdp(page, USERS.bob);
    await page.waitForURL(`${site}/nodes/n1`);
    expect(await seenByApp(page)).toMatchObject({
      'x-user-id': 'bob',
      'x-user-roles': 'viewer',
      'x-auth-method': 'session',
    });
    expect((await page.goto(`${site}/reports/q1`))!.status()).toBe(403);
    const cookie = await sessionCookie(ctx, secrets);

    await page.goto(`${site}/oauth2/logout`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${site}/oauth2/login?signed_out=1`);
    const replay = await send(proxy.port, '/nodes/n1', {
      headers: { host: APP, cookie, accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });
    expect(replay.status).toBe(302);
    // Caddy relays warden's answer whole, Set-Cookie that clears the dead cookie included.
    expect(String(replay.headers['set-cookie'])).toMatch(/^warden=; Path=\/; Max-Age=0/);
    expect(echo.seen.some((r) => r.headers['x-user-id'] === 'bob' && r.url === '/nodes/n1')).toBe(true);
    await ctx.close();
  });
});

describe('browser suite prerequisites', () => {
  it('uses the system Chromium, never a downloaded one', () => {
    if (CHROMIUM_BIN) expect(CHROMIUM_BIN).toMatch(/chromium$/);
  });
});
