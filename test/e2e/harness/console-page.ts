// The console in Chromium: sign in through warden's login page, axe-core findings, what a page loaded
// from elsewhere or the CSP refused, and screenshots (test artifacts; with WARDEN_SCREENSHOTS=docs, docs/console/ too).
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** Where every console screenshot is written (gitignored). */
export const CONSOLE_ARTIFACTS = resolve('test-artifacts', 'console');
/** Where the screenshots docs/console.md shows are written when WARDEN_SCREENSHOTS=docs (committed). */
export const CONSOLE_DOC_IMAGES = resolve('docs', 'console');
/** A laptop's viewport, the size of the screenshots in the docs. */
export const LAPTOP = { width: 1280, height: 800 } as const;

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical axe-core findings on the page, as `rule: target` lines. */
export async function axeFindings(page: Page): Promise<string[]> {
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

/**
 * Sign in as a dev user (password: its name + "-pass") through warden's login page, starting from a
 * console page at `origin`: the console sends the browser there and it lands back on the page.
 */
export async function signInAs(page: Page, origin: string, user: string, path: string): Promise<void> {
  await page.goto(`${origin}${path}`);
  expect(page.url()).toContain('/oauth2/login?rd=');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`${user}-pass`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${origin}${path}`);
}

/** What a page did that the console forbids: requests anywhere but `origin`, CSP violations reported. */
export interface PageWatch {
  foreign: string[];
  cspErrors: string[];
}

/** Record the page's requests to another origin and the CSP violations its console reports. */
export function watchPage(page: Page, origin: string): PageWatch {
  const seen: PageWatch = { foreign: [], cspErrors: [] };
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) seen.foreign.push(r.url());
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.cspErrors.push(m.text());
  });
  return seen;
}

/**
 * Screenshot the page to test-artifacts/console/<name>.png; a screenshot `forDocs`, with
 * WARDEN_SCREENSHOTS=docs, also to docs/console/<name>.png, the images docs/console.md shows.
 */
export async function screenshot(
  page: Page,
  name: string,
  opts: { forDocs?: boolean; fullPage?: boolean } = {},
): Promise<void> {
  mkdirSync(CONSOLE_ARTIFACTS, { recursive: true });
  const file = join(CONSOLE_ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? true });
  if (opts.forDocs && process.env.WARDEN_SCREENSHOTS === 'docs') {
    mkdirSync(CONSOLE_DOC_IMAGES, { recursive: true });
    copyFileSync(file, join(CONSOLE_DOC_IMAGES, `${name}.png`));
  }
}
