// The /console application: its security headers, the body limit of forms, each page's routes, not found and errors.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { CsrfTokens, type ConsoleEnv } from './access.js';
import { assetRoutes } from './asset-routes.js';
import { auditRoutes } from './audit-routes.js';
import { alertsRoute, banRoutes } from './ban-routes.js';
import type { ConsoleDeps } from './deps.js';
import { guard, html } from './guard.js';
import { liveRoute } from './live-route.js';
import { MessagePage } from './message-page.js';
import { OverviewPage } from './overview-page.js';
import { keysRoute, revocationRoutes } from './revocation-routes.js';

/** No other origin, no inline script, no framing; images may be data: URLs (uPlot draws on canvas). */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The headers of every console response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The /console application. */
export function consoleRoutes(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  const csrf = new CsrfTokens(deps.csrfKey);
  app.use('/console/*', async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });
  app.get('/console', (c) => c.redirect('/console/', 301));
  app.post(
    '/console/*',
    bodyLimit({
      maxSize: 16 * 1024,
      onError: () => html(<MessagePage title="Request too large" text="The form sent was too large." />, 413),
    }),
  );
  assetRoutes(app);
  app.get('/console/', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const data = await deps.data.overview();
    return html(<OverviewPage viewer={seen.viewer} data={data} />, 200, seen.cookies);
  });
  auditRoutes(app, deps, csrf);
  keysRoute(app, deps, csrf);
  revocationRoutes(app, deps, csrf);
  banRoutes(app, deps, csrf);
  alertsRoute(app, deps, csrf);
  liveRoute(app, deps, csrf);
  app.all('/console/*', () =>
    html(
      <MessagePage
        title="Page not found"
        text="There is no console page at this address."
        link={{ href: '/console/', label: 'Go to the overview' }}
      />,
      404,
    ),
  );
  app.onError(() =>
    html(
      <MessagePage
        title="Something went wrong"
        text="The console could not show this page. Try again in a moment."
      />,
      500,
    ),
  );
  return app;
}
