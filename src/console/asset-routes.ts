// The console's asset routes: its stylesheet and script, and uPlot's (public: nothing secret in them).
import type { Hono } from 'hono';
import type { ConsoleEnv } from './access.js';
import { CONSOLE_CSS, CONSOLE_JS, uplotFiles } from './assets.js';
import type { ConsoleContext } from './guard.js';

/** Register the asset routes (public: nothing secret in them, and the sign-in redirect page needs none). */
export function assetRoutes(app: Hono<ConsoleEnv>): void {
  let uplot: { js: string; css: string } | null = null;
  const files = () => (uplot ??= uplotFiles());
  const asset = (body: () => string, type: string) => (c: ConsoleContext) =>
    c.body(body(), 200, { 'content-type': type });
  app.get(
    '/console/assets/console.css',
    asset(() => CONSOLE_CSS, 'text/css; charset=utf-8'),
  );
  app.get(
    '/console/assets/console.js',
    asset(() => CONSOLE_JS, 'text/javascript; charset=utf-8'),
  );
  app.get(
    '/console/assets/uPlot.iife.min.js',
    asset(() => files().js, 'text/javascript; charset=utf-8'),
  );
  app.get(
    '/console/assets/uPlot.min.css',
    asset(() => files().css, 'text/css; charset=utf-8'),
  );
}
