// The console in Chromium (playwright-core, Debian's binary): sign in as a dev user, find things by their labels and
// roles, see the chart drawn and updated live, revoke a key by clicking; axe-core on every page at laptop and phone size.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KEYS, startConsole, through, type ConsoleSetup } from '../console/helpers.js';
import { CHROMIUM_BIN, launch } from './harness/browser.js';
import { axeFindings, LAPTOP, screenshot, signInAs, watchPage } from './harness/console-page.js';
import { describeNeeding } from './harness/process.js';

const PAGES = [
  '/console/',
  '/console/audit',
  '/console/keys',
  '/console/revocations',
  '/console/bans',
  '/console/alerts',
];
const VIEWPORTS = { laptop: LAPTOP, phone: { width: 390, height: 844 } } as const;

describeNeeding(
  'console in a browser (e2e)',
  CHROMIUM_BIN
    ? null
    : 'chromium not installed: the console browser tests cannot run (apt-get install chromium)',
  () => {
    let s: ConsoleSetup;
    let browser: Browser;

    beforeAll(async () => {
      s = await startConsole();
      browser = await launch();
    });
    afterAll(async () => {
      await browser.close();
      await s.close();
    });

    it.each(Object.entries(VIEWPORTS))(
      'every page at %s size: no serious or critical axe finding, nothing from another origin',
      async (name, viewport) => {
        const ctx = await browser.newContext({ viewport });
        const page = await ctx.newPage();
        const seen = watchPage(page, s.url);
        await signInAs(page, s.url, 'admin', '/console/');
        for (const path of PAGES) {
          await page.goto(`${s.url}${path}`);
          expect(await axeFindings(page), `${path} at ${name}`).toEqual([]);
          const file = path.replace(/\/$/, '').split('/').pop() || 'overview';
          await screenshot(page, `${file === 'console' ? 'overview' : file}-${name}`);
        }
        await ctx.close();
        expect(seen).toEqual({ foreign: [], cspErrors: [] });
      },
    );

    it('the overview draws the last hour and adds live decisions; the audit search finds them by label; a key is revoked by clicking', async () => {
      const ctx = await browser.newContext({ viewport: VIEWPORTS.laptop });
      const page = await ctx.newPage();
      const seen = watchPage(page, s.url);
      await signInAs(page, s.url, 'admin', '/console/audit');
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
      await screenshot(page, 'revoked-laptop');
      await ctx.close();
      expect(seen).toEqual({ foreign: [], cspErrors: [] });
    });
  },
);
