// Browser e2e: Chromium (playwright-core, Debian's binary) → real nginx / Caddy (deploy/ recipes) →
// warden with browser sign-in against a real oidc-provider → the echo app.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { CLIENT, SECRET, startSignIn, USERS, type SignInSetup } from '../../oauth2/helpers.js';
import { startCaddy } from './caddy.js';
import { startEcho, type Echo } from './echo.js';
import { freePort } from './net.js';
import { startNginx } from './nginx.js';
import { describeNeeding, findBinary } from './process.js';
import type { Proxy } from './proxy.js';
import { expectNoSecrets } from './secrets.js';

/** Debian's Chromium; never a downloaded browser. */
export const CHROMIUM_BIN = findBinary('chromium', ['/usr/bin/chromium']);
/** The app's host: the browser reaches it through the proxy under test. */
export const APP = 'app.example.com';

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_BIN!,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Plain http stays plain http (no automatic upgrade attempt to https).
      '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable',
    ],
  });
}

/** What the echo app saw, from the page body it rendered. */
export async function seenByApp(page: Page): Promise<Record<string, string>> {
  const text = await page.locator('body').innerText();
  return JSON.parse(text).headers as Record<string, string>;
}

/** Sign in at the Example IdP's own login page; `otp` goes in its One-time code field (step-up). */
export async function signInAtIdp(
  page: Page,
  user: { id: string; password: string },
  otp?: string,
): Promise<void> {
  await page.getByLabel('Username').fill(user.id);
  await page.getByLabel('Password').fill(user.password);
  if (otp !== undefined) await page.getByLabel('One-time code').fill(otp);
  await page.getByRole('button', { name: 'Sign in to Example IdP' }).click();
}

/**
 * What must never appear in a log line: passwords, client and session secrets; {@link sessionCookie}
 * adds every session cookie seen. A new list for each test file.
 */
export function browserSecrets(): string[] {
  return [
    SECRET,
    CLIENT.secret,
    ...Object.values(USERS).map((u) => u.password),
    ...['admin', 'developer', 'analyst', 'viewer'].map((u) => `${u}-demo-pass`),
  ];
}

/** The browser's session cookie as a Cookie header (HttpOnly, SameSite=Lax), its value added to `secrets`. */
export async function sessionCookie(ctx: BrowserContext, secrets: string[]): Promise<string> {
  const c = (await ctx.cookies()).find((x) => x.name === 'warden');
  if (!c) throw new Error('no session cookie in the browser');
  secrets.push(c.value);
  expect(c.httpOnly).toBe(true);
  expect(c.sameSite).toBe('Lax');
  return `warden=${c.value}`;
}

/**
 * A browser context whose requests for http://app.example.com go to the proxy under test. The
 * browser uses it as its HTTP proxy (absolute-form request lines, which nginx and Caddy route by
 * host), so the app keeps its real origin without a port: the proxies forward `$host` without
 * the port, as they would on 80/443. The IdP on 127.0.0.1 is reached directly (loopback bypass).
 */
export function context(browser: Browser, proxy: Proxy): Promise<BrowserContext> {
  return browser.newContext({ proxy: { server: `http://127.0.0.1:${proxy.port}`, bypass: '127.0.0.1' } });
}

/** How warden and its IdP are set up for a browser suite. */
export interface StackOptions {
  devUsers?: boolean;
  policy?: Record<string, unknown>;
  /** The IdP does step-up (see startSignIn). */
  stepUp?: boolean;
}

/** What a browser suite runs against. */
export interface BrowserStack {
  echo: Echo;
  proxy: Proxy;
  setup: SignInSetup;
  /** The app's origin, which is also warden's public URL. */
  site: string;
  browser: Browser;
}

/** Start echo, a proxy and warden + IdP with warden's public URL on the proxy's site. */
async function stack(kind: 'nginx' | 'caddy', opts: StackOptions): Promise<Omit<BrowserStack, 'browser'>> {
  const echo = await startEcho();
  const wardenPort = await freePort();
  const proxy =
    kind === 'nginx'
      ? await startNginx({ wardenPort, upstreamPort: echo.port })
      : await startCaddy({ wardenPort, upstreamPort: echo.port });
  const site = `http://${APP}`;
  const setup = await startSignIn({
    port: wardenPort,
    publicUrl: site,
    devUsers: opts.devUsers,
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.stepUp ? { stepUp: true } : {}),
    env: { WARDEN_PROXY: kind, WARDEN_REDIRECT_DOMAINS: APP },
  });
  return { echo, proxy, setup, site };
}

/**
 * Start the stack and a browser before a suite and stop them after it, checking that no log line
 * held one of `secrets` (read at the end, so cookies added meanwhile count); `use` receives what
 * was started.
 */
export function stackHooks(
  kind: 'nginx' | 'caddy',
  opts: StackOptions & { secrets: string[] },
  use: (started: BrowserStack) => void,
): void {
  let running: Omit<BrowserStack, 'browser'> | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    running = await stack(kind, opts);
    browser = await launch();
    use({ ...running, browser });
  });
  afterAll(async () => {
    await browser?.close();
    await running?.proxy.stop();
    await running?.echo.close();
    if (running) expectNoSecrets(running.setup.w, opts.secrets, 5);
    await running?.setup.close();
  });
}

/**
 * A suite that needs the proxy and Chromium: skipped with a message without them, failing when
 * CI=true. `what` names the tests in that message ("browser sign-in").
 */
export function browserSuite(
  what: string,
  kind: 'nginx' | 'caddy',
  bin: string | null,
  body: () => void,
): void {
  const missing = [bin ? null : kind, CHROMIUM_BIN ? null : 'chromium'].filter((x) => x !== null);
  describeNeeding(
    `${what} through ${kind} (e2e)`,
    missing.length === 0
      ? null
      : `${missing.join(' and ')} not installed: the ${what} tests cannot run (apt-get install ${missing.join(' ')})`,
    body,
  );
}
