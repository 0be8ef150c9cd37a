// The console in Chromium (playwright-core, Debian's binary): sign in as a dev user, find things by their labels and
// roles, see the chart drawn and updated live, revoke a key by clicking; axe-core on every page at laptop and phone size.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KEYS, startConsole, through, type ConsoleSetup } from '../console/helpers.js';
import { CHROMIUM_BIN, launch } from './harness/browser.js';
import { describeNeeding } from './harness/process.js';

const ARTIFACTS = resolve('test-artifacts', 'console');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PAGES = [
  '/console/',
  '/console/audit',
  '/console/keys',
  '/console/revocations',
  '/console/bans',
  '/console/alerts',
];
const VIEWPORTS = { laptop: { width: 1366, height: 800 }, phone: { width: 390, height: 844 } } as const;

/** Serious and critical axe-core findings on the page, as `rule: target` lines. */
async function axeFindings(page: Page): Promise<string[]> {
  // page.addScriptTag would add an inline script, which the console's CSP refuses (as it should): axe
  // is evaluated through the DevTools protocol instead, which the page's CSP does not govern.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(): Promise<{
            violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[];
          }>;
        };
      }
    ).axe;
    const r = await axe.run();
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  });
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.targets.join(' ')}`);
}

/** Sign in through warden's login page, starting from a console page; lands back on it. */
async function signInAs(page: Page, s: ConsoleSetup, user: string, path: string): Promise<void> {
  await page.goto(`${s.url}${path}`);
  expect(page.url()).toContain('/oauth2/login?rd=');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`${user}-pass`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${s.url}${path}`);
}

describeNeeding(
  'console in a browser (e2e)',
  CHROMIUM_BIN
    ? null
    : 'chromium not installed: the console browser tests cannot run (apt-get install chromium)',
  () => {
    let s: ConsoleSetup;
    let browser: Browser;
    /** Requests the pages made to anywhere but warden, and console messages reporting a CSP violation. */
    let foreign: string[] = [];
    let cspErrors: string[] = [];

    beforeAll(async () => {
      s = await startConsole();
      browser = await launch();
      mkdirSync(ARTIFACTS, { recursive: true });
    });
    afterAll(async () => {
      await browser.close();
      await s.close();
    });

    const watch = (page: Page) => {
      foreign = [];
      cspErrors = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(s.url)) foreign.push(r.url());
      });
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
      });
    };

    it.each(Object.entries(VIEWPORTS))(
      'every page at %s size: no serious or critical axe finding, nothing from another origin',
      async (name, viewport) => {
        const ctx = await browser.newContext({ viewport });
        const page = await ctx.newPage();
        watch(page);
        await signInAs(page, s, 'admin', '/console/');
        for (const path of PAGES) {
          await page.goto(`${s.url}${path}`);
          expect(await axeFindings(page), `${path} at ${name}`).toEqual([]);
          const file = path.replace(/\/$/, '').split('/').pop() || 'overview';
          await page.screenshot({
            path: join(ARTIFACTS, `${file === 'console' ? 'overview' : file}-${name}.png`),
            fullPage: true,
          });
        }
        await ctx.close();
        expect(foreign).toEqual([]);
        expect(cspErrors).toEqual([]);
      },
    );

    it('the overview draws the last hour and adds live decisions; the audit search finds them by label; a key is revoked by clicking', async () => {
      const ctx = await browser.newContext({ viewport: VIEWPORTS.laptop });
      const page = await ctx.newPage();
      watch(page);
      await signInAs(page, s, 'admin', '/console/audit');
      await page.goto(`${s.url}/console/`);
      const canvas = page.locator('#chart canvas').first();
      await canvas.waitFor();
      const box = (await canvas.boundingBox())!;
      expect(box.width).toBeGreaterThanOrEqual(150);
      expect(box.height).toBeGreaterThanOrEqual(60);
      await expect.poll(() => page.locator('#live-status').innerText()).toContain('Live');
      await expect.poll(() => page.getByText('latency', { exact: false }).first().isVisible()).toBe(true);

      await through(s, '/api/browser-seen');
      await expect.poll(() => page.locator('#live-rows').innerText()).toContain('/api/browser-seen');
      // Shown in the viewer's zone, UTC on hover.
      const time = page.locator('#live-rows time').first();
      expect(await time.getAttribute('title')).toMatch(/UTC$/);

      await through(s, '/api/a', { 'x-api-key': KEYS.dev.key });
      await page.goto(`${s.url}/console/audit`);
      await page.getByLabel('Identity').fill('dev-1');
      await page.getByLabel('Decision').selectOption('allow');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/identity=dev-1/);
      await expect.poll(() => page.getByRole('cell', { name: '/api/a' }).first().isVisible()).toBe(true);
      const csv = await page.getByRole('link', { name: 'CSV' }).getAttribute('href');
      expect(csv).toContain('identity=dev-1');
      expect(csv).toContain('decision=allow');
      expect(await page.getByRole('link', { name: 'JSONL' }).getAttribute('href')).toContain(
        'identity=dev-1',
      );

      await page.goto(`${s.url}/console/keys`);
      await page.getByRole('button', { name: 'Revoke… dev-1' }).click();
      await page.getByLabel('Reason').fill('found in a public gist');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => page.getByRole('status').innerText()).toContain('key dev-1 revoked');
      expect((await through(s, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(401);
      await page.screenshot({ path: join(ARTIFACTS, 'revoked-laptop.png'), fullPage: true });
      await ctx.close();
      expect(foreign).toEqual([]);
      expect(cspErrors).toEqual([]);
    });
  },
);
