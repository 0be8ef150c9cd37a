// The console's bans and alerts routes: the admin API's own ban and unban (its checks, its audit events), the alerts.
import type { Hono } from 'hono';
import { banAction, unbanAction, type BanActionResult } from '../http/admin-bans.js';
import type { ConsoleEnv, CsrfTokens } from './access.js';
import { AlertsPage } from './alerts-page.js';
import { BansPage } from './bans-page.js';
import type { ConsoleDeps } from './deps.js';
import { guard, guardPost, html, type Seen } from './guard.js';
import type { Notice } from './layout.js';

/** What a ban or unban came to, as the page's notice (a refusal names the field at fault). */
function banNotice<T>(r: BanActionResult<T>, ok: (v: T) => string): { notice: Notice; status: number } {
  if (r.ok) return { notice: { kind: 'ok', text: ok(r.value) }, status: 200 };
  return {
    notice: { kind: 'error', text: r.status === 400 ? `${r.field}: ${r.message}` : r.message },
    status: r.status,
  };
}

/** GET/POST /bans, POST /bans/remove: the admin API's own ban and unban (its checks, its audit events). */
export function banRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  const page = async (seen: Seen, notice: Notice | null, status = 200) =>
    html(
      <BansPage viewer={seen.viewer} csrf={seen.csrf} bans={await deps.data.bans()} notice={notice} />,
      status,
      seen.cookies,
    );
  app.get('/console/bans', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    return seen instanceof Response ? seen : page(seen, null);
  });
  app.post('/console/bans', async (c) => {
    const got = await guardPost(deps, csrf, c);
    if (got instanceof Response) return got;
    const { seen, form } = got;
    // The fields of POST /admin/bans, nothing else (it refuses unknown fields).
    const body = {
      type: form.type,
      value: form.value?.trim(),
      duration: form.duration?.trim(),
      reason: form.reason,
    };
    const r = banNotice(
      await banAction(deps.incident, body, seen.viewer.sub),
      (ban) =>
        `${ban.type} ${ban.value} banned until ${ban.expiresAt}: refused on every replica within a second.`,
    );
    return page(seen, r.notice, r.status);
  });
  app.post('/console/bans/remove', async (c) => {
    const got = await guardPost(deps, csrf, c);
    if (got instanceof Response) return got;
    const { seen, form } = got;
    const r = banNotice(
      await unbanAction(deps.incident, form.id ?? '', form.reason, seen.viewer.sub),
      (ban) =>
        `Ban of ${ban.type} ${ban.value} lifted on every replica (it refused ${ban.refused} requests).`,
    );
    return page(seen, r.notice, r.status);
  });
}

/** GET /alerts: the policy's alerts and when each last fired. */
export function alertsRoute(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  app.get('/console/alerts', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    return html(<AlertsPage viewer={seen.viewer} alerts={await deps.data.alerts()} />, 200, seen.cookies);
  });
}
