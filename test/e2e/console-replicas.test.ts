// Two warden replicas sharing one real redis-server, driven in Chromium: sign in on A, see both replicas'
// decisions on A's overview and in its audit search, revoke a key and ban an IP by clicking on A, and
// watch B refuse them within a second (and let them through again once lifted); axe-core on every page.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { consolePolicy, KEYS, startConsole, through, type ConsoleSetup } from '../console/helpers.js';
import { ifStarted } from '../helpers/hooks.js';
import { REDIS_CLI, REDIS_SERVER, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { verifyAnswer, verifyStatus } from '../helpers/replicas.js';
import type { LogLine } from '../helpers/warden.js';
import { CHROMIUM_BIN, launch } from './harness/browser.js';
import {
  axeFindings,
  LAPTOP,
  screenshot,
  signInAs,
  watchPage,
  type PageWatch,
} from './harness/console-page.js';
import { describeNeeding } from './harness/process.js';

/** The console's policy, with alerts a team would set (so the alerts page has something to list). */
const policy = {
  ...consolePolicy(),
  alerts: [
    { name: 'auth-failures', on: 'auth_failures', by: 'ip', threshold: 5, window: '10m' },
    { name: 'denied-identity', on: 'denials', by: 'identity', threshold: 50, window: '5m' },
  ],
};
/** The admin's identity as the audit records it: the dev user's subject. */
const ADMIN = 'admin';
/** The address banned by clicking, and another that must stay untouched. */
const BANNED_IP = '198.51.100.23';
const BYSTANDER_IP = '198.51.100.24';
/** A client trying stolen keys: fires the auth-failures alert. */
const STUFFER_IP = '192.0.2.66';

const missing = [
  CHROMIUM_BIN ? null : 'chromium',
  REDIS_SERVER !== null && REDIS_CLI !== null ? null : 'redis-server',
].filter((x) => x !== null);

/** Decisions a replica took so far (its own audit lines). */
const decisions = (lines: LogLine[]) => lines.filter((l) => l.event === 'decision');

/**
 * Realistic traffic through a replica: a developer's API calls, a viewer refused, an anonymous client,
 * health checks. `ip` varies per replica so the overview ranks several addresses.
 */
async function traffic(s: ConsoleSetup, ip: string): Promise<void> {
  const as = (path: string, key?: string, from = ip) =>
    through(s, path, { 'x-forwarded-for': from, ...(key ? { 'x-api-key': key } : {}) });
  for (const path of ['/api/orders', '/api/orders/1042', '/api/invoices?page=2', '/api/customers/77'])
    expect((await as(path, KEYS.dev.key)).status).toBe(200);
  expect((await as('/api/admin/export', KEYS.watcher.key)).status).toBe(403);
  expect((await as('/api/reports/q3')).status).toBe(401);
  expect((await as('/health')).status).toBe(200);
}

describeNeeding(
  'console across two replicas sharing Redis, in a browser (e2e)',
  missing.length === 0
    ? null
    : `${missing.join(' and ')} not installed: the two-replica console browser test cannot run (apt-get install ${missing.join(' ')})`,
  () => {
    let redis: RedisServer;
    let a: ConsoleSetup;
    let b: ConsoleSetup;
    let browser: Browser;
    let ctx: BrowserContext;
    let page: Page;
    let seen: PageWatch;

    beforeAll(async () => {
      redis = await startRedis();
      const env = (id: string) => ({
        REDIS_URL: redis.url,
        WARDEN_AUDIT_SINKS: 'stdout,file,redis',
        WARDEN_REPLICA_ID: id,
      });
      a = await startConsole({ policy, env: env('replica-a') });
      b = await startConsole({ policy, env: env('replica-b') });
      browser = await launch();
      ctx = await browser.newContext({ viewport: LAPTOP });
      page = await ctx.newPage();
      seen = watchPage(page, a.url);
    });
    afterAll(async () => {
      await ifStarted(ctx)?.close();
      await ifStarted(browser)?.close();
      await ifStarted(a)?.close();
      await ifStarted(b)?.close();
      await ifStarted(redis)?.stop();
    });

    /** The Refused column of the row matching `row` on a page of A, reloaded until each replica's counts arrive. */
    async function refusedOn(path: string, row: RegExp, want: number): Promise<void> {
      await expect
        .poll(
          async () => {
            await page.goto(`${a.url}${path}`);
            return Number(await page.getByRole('row', { name: row }).locator('td').nth(5).innerText());
          },
          { timeout: 4000, interval: 250 },
        )
        .toBe(want);
    }

    /** Open a console page of A, check it with axe-core, screenshot it (for the docs as `name`). */
    async function visit(path: string | null, name: string): Promise<void> {
      if (path !== null) await page.goto(`${a.url}${path}`);
      expect(await axeFindings(page), `${name}: ${page.url()}`).toEqual([]);
      await screenshot(page, name, { forDocs: true });
    }

    it('signs in on A, and A’s overview draws and counts the decisions of both replicas', async () => {
      await signInAs(page, a.url, 'admin', '/console/');
      await traffic(a, '203.0.113.7');
      await traffic(b, '203.0.113.8');
      await traffic(b, '203.0.113.9');
      // Someone tries keys that are not: refused on both replicas, and the alert fires.
      for (const s of [a, b, a, b, a])
        expect(await verifyStatus(s.w, '/api/orders', 'wdn_guess_0000000000000000000000', STUFFER_IP)).toBe(
          401,
        );
      const both = decisions(a.w.audit).length + decisions(b.w.audit).length;
      expect(decisions(b.w.audit).length).toBeGreaterThan(decisions(a.w.audit).length);
      // Each replica shares its counts once a second: reload until A's page counts every decision.
      await expect
        .poll(
          async () => {
            await page.goto(`${a.url}/console/`);
            return page.locator('#chart').getAttribute('aria-label');
          },
          { timeout: 5000, interval: 250 },
        )
        .toContain(`${both} in all`);
      expect(await page.locator('.source').first().innerText()).toContain('2: replica-a, replica-b');
      const canvas = page.locator('#chart canvas').first();
      await canvas.waitFor();
      const box = (await canvas.boundingBox())!;
      expect(box.width).toBeGreaterThanOrEqual(150);
      expect(box.height).toBeGreaterThanOrEqual(60);
      // The most refused client IPs rank the client that both replicas refused.
      const ranked = page.locator('section', {
        has: page.getByRole('heading', { name: 'Most refused client IPs' }),
      });
      expect(await ranked.innerText({ timeout: 2000 })).toContain(STUFFER_IP);
      await expect.poll(() => page.locator('#live-status').innerText()).toContain('Live');
      await visit(null, 'overview');
    });

    it('A’s audit search, by its labelled fields, finds the decisions taken by A and by B', async () => {
      await page.goto(`${a.url}/console/audit`);
      await page.getByLabel('Identity').fill('dev-1');
      await page.getByLabel('Decision').selectOption('allow');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/identity=dev-1/);
      const rows = page.getByRole('region', { name: 'Audit results' }).locator('tbody tr');
      await expect.poll(() => rows.count()).toBe(12);
      const replicas = await rows.locator('td:last-child').allInnerTexts();
      expect(new Set(replicas)).toEqual(new Set(['replica-a', 'replica-b']));
      expect(replicas.filter((r) => r === 'replica-b')).toHaveLength(8);
      expect(await page.getByRole('cell', { name: '/api/orders/1042' }).count()).toBe(3);
      await visit(null, 'audit');
    });

    it('a key revoked by clicking on A is refused by B within 1 s, and let through again once unrevoked', async () => {
      expect(await verifyStatus(b.w, '/api/orders', KEYS.dev.key)).toBe(200);
      await visit('/console/keys', 'keys');
      await page.getByRole('button', { name: 'Revoke… dev-1' }).click();
      await page.getByLabel('Reason').fill('key found in a public gist');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await page.getByRole('status').filter({ hasText: 'key dev-1 revoked' }).waitFor();
      const took = await within(
        1000,
        async () => (await verifyStatus(b.w, '/api/orders', KEYS.dev.key)) === 401,
      );
      console.log(`a key revoked by clicking on A was refused by B after ${took} ms`);
      // The refusals of both replicas are counted on the revocations page.
      expect(await verifyStatus(b.w, '/api/invoices', KEYS.dev.key)).toBe(401);
      expect(await verifyStatus(a.w, '/api/invoices', KEYS.dev.key)).toBe(401);
      await refusedOn('/console/revocations', /dev-1/, 3);
      await visit(null, 'revocations');

      const row = page.getByRole('row', { name: /dev-1/ });
      await row.getByLabel('Reason').fill('false alarm: the gist held a revoked test key');
      await row.getByRole('button', { name: 'Unrevoke key dev-1' }).click();
      await page.getByRole('status').filter({ hasText: 'key dev-1 is no longer revoked' }).waitFor();
      await within(1000, async () => (await verifyStatus(b.w, '/api/orders', KEYS.dev.key)) === 200);

      expect(a.w.audit.find((l) => l.event === 'revocation_added')).toMatchObject({
        type: 'key',
        id: 'dev-1',
        by: ADMIN,
        reason: 'key found in a public gist',
      });
      expect(a.w.audit.find((l) => l.event === 'revocation_removed')).toMatchObject({
        type: 'key',
        id: 'dev-1',
        by: ADMIN,
        reason: 'false alarm: the gist held a revoked test key',
      });
    });

    it('an IP banned by clicking on A gets 429 with Retry-After from B within 1 s, and passes again once unbanned', async () => {
      expect(await verifyStatus(b.w, '/api/orders', KEYS.dev.key, BANNED_IP)).toBe(200);
      await page.goto(`${a.url}/console/bans`);
      await page.getByLabel('Kind').selectOption('ip');
      await page.getByLabel('IP, CIDR or identity').fill(BANNED_IP);
      await page.getByLabel('Duration').fill('1h');
      await page
        .getByRole('region', { name: 'Ban', exact: true })
        .getByLabel('Reason')
        .fill('credential stuffing from this host');
      await page.getByRole('button', { name: 'Ban', exact: true }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `ip ${BANNED_IP} banned until` })
        .waitFor();
      const took = await within(
        1000,
        async () => (await verifyStatus(b.w, '/api/orders', KEYS.dev.key, BANNED_IP)) === 429,
      );
      console.log(`an IP banned by clicking on A was refused by B after ${took} ms`);
      const refused = await verifyAnswer(b.w, '/api/orders', KEYS.dev.key, BANNED_IP);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3500);
      expect(await verifyStatus(b.w, '/api/orders', KEYS.dev.key, BYSTANDER_IP)).toBe(200);
      // The page counts the refusals of both replicas.
      expect(await verifyStatus(a.w, '/api/orders', KEYS.dev.key, BANNED_IP)).toBe(429);
      const banned = new RegExp(BANNED_IP.replaceAll('.', '\\.'));
      await refusedOn('/console/bans', banned, 3);
      await visit(null, 'bans');

      const row = page.getByRole('row', { name: banned });
      await row.getByLabel('Reason').fill('host cleaned and re-imaged');
      await row.getByRole('button', { name: `Unban ${BANNED_IP}` }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Ban of ip ${BANNED_IP} lifted` })
        .waitFor();
      await within(
        1000,
        async () => (await verifyStatus(b.w, '/api/orders', KEYS.dev.key, BANNED_IP)) === 200,
      );

      expect(a.w.audit.find((l) => l.event === 'ban')).toMatchObject({
        type: 'ip',
        value: BANNED_IP,
        by: ADMIN,
        reason: 'credential stuffing from this host',
      });
      expect(a.w.audit.find((l) => l.event === 'unban')).toMatchObject({
        value: BANNED_IP,
        by: ADMIN,
        reason: 'host cleaned and re-imaged',
      });
    });

    it('the alerts page lists the alert fired by failures on both replicas; nothing came from another origin', async () => {
      await page.goto(`${a.url}/console/alerts`);
      await expect.poll(() => page.getByRole('region', { name: 'Alerts' }).innerText()).toContain(STUFFER_IP);
      await visit(null, 'alerts');
      expect(seen).toEqual({ foreign: [], cspErrors: [] });
    });
  },
);
