// The /console routes: pages, assets, exports, the live feed and the actions (through the admin API's own code).
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { CursorError, SearchUnavailableError } from '../audit/search.js';
import type { AuditView } from '../audit/view.js';
import { exportDownload } from '../http/admin-audit.js';
import { banAction, unbanAction, type AdminBansDeps, type BanActionResult } from '../http/admin-bans.js';
import {
  admit,
  consoleCookie,
  consoleSetCookie,
  CsrfTokens,
  type AccessDeps,
  type Caller,
  type ConsoleEnv,
} from './access.js';
import { CONSOLE_CSS, CONSOLE_JS, uplotFiles } from './assets.js';
import { formParams, readAuditForm } from './audit-form.js';
import type { ConsoleData } from './data.js';
import { LIVE_RATE, type DecisionFeed, type LiveDecision } from './decisions.js';
import type { Notice, Viewer } from './layout.js';
import {
  AlertsPage,
  AuditPage,
  BansPage,
  ConfirmRevokePage,
  KeysPage,
  MessagePage,
  OverviewPage,
  RevocationsPage,
} from './pages.js';

/** What the console is built from. */
export interface ConsoleDeps extends AccessDeps {
  data: ConsoleData;
  feed: DecisionFeed;
  /** The audit search and overview (the export streams through the audit search's exporter). */
  auditView: AuditView;
  /** What the admin API's bans and alerts routes are built on: the console's ban and unban call the same functions. */
  incident: AdminBansDeps;
  /** The /admin app (routes without the prefix), called in-process with the caller's request. */
  admin: (req: Request, env: unknown) => Response | Promise<Response>;
}

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

type C = Context<ConsoleEnv>;

/** An HTML page. */
function html(node: JSX.Element, status = 200, cookies: string[] = []): Response {
  const headers = new Headers({ 'content-type': 'text/html; charset=utf-8' });
  for (const c of cookies) headers.append('set-cookie', c);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a hono/jsx node renders its HTML in toString()
  return new Response(`<!doctype html>${node.toString()}`, { status, headers });
}

/** A request that wants JSON back rather than a page (an API client, the live feed, a form POST). */
function wantsPage(c: C): boolean {
  const accept = c.req.header('accept') ?? '';
  return (
    c.req.method === 'GET' && !accept.includes('application/json') && !accept.includes('text/event-stream')
  );
}

/**
 * warden's admin API, called in-process with the caller's own credentials (revoke and unrevoke go
 * through exactly the admin API's code: its checks, its audit events with the acting identity).
 */
type AdminCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

/** The admin API, called with this request's credentials and connection. */
function adminCaller(deps: ConsoleDeps, c: C): AdminCall {
  return async (method, path, body) => {
    const headers = new Headers(c.req.raw.headers);
    headers.delete('content-length');
    headers.set('content-type', 'application/json');
    headers.set('accept', 'application/json');
    const req = new Request(new URL(path, 'http://warden.internal'), {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const res = await deps.admin(req, c.env);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed };
  };
}

/** What a caller let in sees: their identity, whether they act, their CSRF token (and the cookie to set). */
interface Seen {
  caller: Caller;
  viewer: Viewer;
  csrf: string;
  cookies: string[];
}

/** Let the caller in, or the refusal: a browser without credentials goes to sign in and comes back. */
async function guard(
  deps: ConsoleDeps,
  csrf: CsrfTokens,
  c: C,
  need: 'read' | 'act',
): Promise<Seen | Response> {
  const r = await admit(deps, c, need);
  if ('kind' in r) {
    if (r.kind === 'unauthenticated') {
      if (wantsPage(c) && deps.loginUrl !== undefined)
        return new Response(null, {
          status: 302,
          headers: { location: `${deps.loginUrl}?rd=${encodeURIComponent(r.rd)}` },
        });
      return wantsPage(c)
        ? html(
            <MessagePage
              title="Sign-in needed"
              text="The console needs an API key (X-API-Key) granting warden:console; browser sign-in is not configured on this warden."
            />,
            401,
          )
        : c.json(
            { error: 'unauthorized', message: 'sign in, or send an API key granting warden:console' },
            401,
          );
    }
    const text =
      r.kind === 'forbidden'
        ? need === 'act'
          ? 'Acting needs the warden:admin permission; you can read the console (warden:console).'
          : 'The console needs the warden:console (read) or warden:admin permission.'
        : 'This request could not be read.';
    return wantsPage(c) || c.req.method === 'POST'
      ? html(
          <MessagePage
            title="Not permitted"
            text={text}
            link={{ href: '/console/', label: 'Back to the console' }}
          />,
          r.kind === 'forbidden' ? 403 : 400,
        )
      : c.json({ error: r.kind, message: text }, r.kind === 'forbidden' ? 403 : 400);
  }
  const have = consoleCookie(c.req.header('cookie'));
  const cookie = have ?? CsrfTokens.newCookie();
  const id = r.identity;
  return {
    caller: r,
    viewer: { sub: id.sub, name: id.name, canAct: r.canAct, session: r.session !== null },
    csrf: await csrf.token(r, cookie),
    cookies: have === undefined ? [consoleSetCookie(cookie, deps.secure)] : [],
  };
}

/** A POST let in only with this caller's CSRF token for the cookie it carries; else the 403 page (nothing done). */
async function guardPost(
  deps: ConsoleDeps,
  csrf: CsrfTokens,
  c: C,
): Promise<{ seen: Seen; form: Record<string, string> } | Response> {
  const seen = await guard(deps, csrf, c, 'act');
  if (seen instanceof Response) return seen;
  const body = await c.req.parseBody().catch(() => ({}));
  const form = Object.fromEntries(
    Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  const cookie = consoleCookie(c.req.header('cookie'));
  if (
    c.req.header('sec-fetch-site') === 'cross-site' ||
    !(await csrf.valid(seen.caller, cookie, form.csrf))
  ) {
    deps.audit.admin({
      event: 'cross_site_refused',
      endpoint: 'console',
      path: c.req.path,
      sub: seen.viewer.sub,
    });
    return html(
      <MessagePage
        title="Request refused"
        text="This form has expired or was sent from another page. Nothing was changed: reload the page and try again."
        link={{ href: c.req.path.replace(/\/remove$/, ''), label: 'Reload the page' }}
      />,
      403,
    );
  }
  return { seen, form };
}

/** The message of an admin API refusal (`field: message`). */
function adminMessage(body: unknown, status: number): string {
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const field = typeof o.field === 'string' ? `${o.field}: ` : '';
  const msg =
    typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : `status ${status}`;
  return `${field}${msg}`;
}

/** Register the asset routes (public: nothing secret in them, and the sign-in redirect page needs none). */
function assetRoutes(app: Hono<ConsoleEnv>): void {
  let uplot: { js: string; css: string } | null = null;
  const files = () => (uplot ??= uplotFiles());
  const asset = (body: () => string, type: string) => (c: C) => c.body(body(), 200, { 'content-type': type });
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

/** GET /audit and GET /audit/export: the audit search of this process (the same as GET /admin/audit). */
function auditRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  app.get('/console/audit', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const form = readAuditForm((k) => c.req.query(k));
    const base = {
      viewer: seen.viewer,
      source: deps.data.auditSource(),
      sourceOf: (kind: 'redis' | 'file') => deps.data.auditSource(kind),
      values: form.values,
    };
    const refused = (error: { field: string; message: string }) =>
      html(<AuditPage {...base} query={{}} params="" result={null} error={error} />, 400, seen.cookies);
    if ('problem' in form) return refused(form.problem);
    let result;
    try {
      result = await deps.data.searchAudit(form.query, c.req.query('cursor') || null);
    } catch (e) {
      if (!(e instanceof CursorError)) throw e;
      return refused({ field: 'cursor', message: 'not a page of these results; search again' });
    }
    return html(
      <AuditPage {...base} query={form.query} params={formParams(form.values)} result={result} />,
      200,
      seen.cookies,
    );
  });
  app.get('/console/audit/export', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const format = c.req.query('format');
    if (format !== 'jsonl' && format !== 'csv')
      return c.json({ error: 'bad_request', field: 'format', message: 'jsonl or csv' }, 400);
    const form = readAuditForm((k) => c.req.query(k));
    if ('problem' in form) return c.json({ error: 'bad_request', ...form.problem }, 400);
    const search = deps.auditView.search;
    if (!search)
      return c.json(
        { error: 'unavailable', message: 'no audit sink to export: add redis or file to WARDEN_AUDIT_SINKS' },
        503,
      );
    try {
      return await exportDownload(deps, search, form.query, format, {
        by: seen.viewer.sub,
        filter: { format, ...form.values },
      });
    } catch (e) {
      if (e instanceof SearchUnavailableError)
        return c.json({ error: 'unavailable', message: e.message }, 503);
      throw e;
    }
  });
}

/** GET /events: decisions as Server-Sent Events, sampled above LIVE_RATE a second. */
function liveRoute(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  app.get('/console/events', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const res = streamSSE(c, async (stream) => {
      const queue: LiveDecision[] = [];
      let wake: (() => void) | null = null;
      const live = { open: true };
      // Read through a call: the abort callback changes it between awaits.
      const isOpen = () => live.open;
      const end = () => {
        live.open = false;
        wake?.();
      };
      const unsubscribe = deps.feed.subscribe((d) => {
        // A reader that cannot keep up loses decisions, never warden's memory.
        if (queue.length < 500) queue.push(d);
        wake?.();
      }, end);
      stream.onAbort(end);
      const keepAlive = setInterval(() => wake?.(), 15_000);
      try {
        await stream.writeSSE({ event: 'hello', data: JSON.stringify({ liveRate: LIVE_RATE }) });
        while (isOpen()) {
          const d = queue.shift();
          if (d) {
            await stream.writeSSE({ event: 'decision', data: JSON.stringify(d) });
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          if (isOpen() && queue.length === 0) await stream.write(': keep-alive\n\n');
        }
      } finally {
        clearInterval(keepAlive);
        unsubscribe();
      }
    });
    // The connection ends with the feed (shutdown): the browser reconnects, to another replica if need be.
    res.headers.set('connection', 'close');
    // Any nginx in front (a hand-written location, ingress-nginx) passes the feed on unbuffered.
    res.headers.set('x-accel-buffering', 'no');
    return res;
  });
}

/** GET/POST /revocations, the confirm step, POST /revocations/remove. */
function revocationRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  app.get('/console/revocations', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    return html(
      <RevocationsPage viewer={seen.viewer} csrf={seen.csrf} list={await deps.data.revocations()} />,
      200,
      seen.cookies,
    );
  });
  app.get('/console/revocations/confirm', async (c) => {
    const seen = await guard(deps, csrf, c, 'act');
    if (seen instanceof Response) return seen;
    const type = c.req.query('type') ?? 'key';
    const id = c.req.query('id') ?? '';
    return html(
      <ConfirmRevokePage viewer={seen.viewer} csrf={seen.csrf} type={type} id={id} />,
      200,
      seen.cookies,
    );
  });
  app.post('/console/revocations', async (c) => {
    const got = await guardPost(deps, csrf, c);
    if (got instanceof Response) return got;
    const { seen, form } = got;
    const body: Record<string, string> = {
      type: form.type ?? '',
      id: form.id ?? '',
      reason: form.reason ?? '',
    };
    if (form.expires?.trim()) body.expires = form.expires.trim();
    const notice = await revokeNotice(deps, c, body, form.reason);
    return html(
      <RevocationsPage
        viewer={seen.viewer}
        csrf={seen.csrf}
        list={await deps.data.revocations()}
        notice={notice.notice}
      />,
      notice.status,
      seen.cookies,
    );
  });
  app.post('/console/revocations/remove', async (c) => {
    const got = await guardPost(deps, csrf, c);
    if (got instanceof Response) return got;
    const { seen, form } = got;
    const { notice, status } = await unrevokeNotice(deps, c, form);
    return html(
      <RevocationsPage
        viewer={seen.viewer}
        csrf={seen.csrf}
        list={await deps.data.revocations()}
        notice={notice}
      />,
      status,
      seen.cookies,
    );
  });
}

/** Lift a revocation through the admin API; the notice saying what happened. */
async function unrevokeNotice(
  deps: ConsoleDeps,
  c: C,
  form: Record<string, string | undefined>,
): Promise<{ notice: Notice; status: number }> {
  const type = form.type ?? '';
  const id = form.id ?? '';
  const reason = form.reason?.trim() ?? '';
  if (reason === '')
    return { notice: { kind: 'error', text: 'reason: say why the revocation is lifted' }, status: 400 };
  const r = await adminCaller(deps, c)(
    'DELETE',
    `/revocations/${encodeURIComponent(type)}/${encodeURIComponent(id)}?${new URLSearchParams({ reason }).toString()}`,
  );
  if (r.status === 200)
    return {
      notice: { kind: 'ok', text: `${type} ${id} is no longer revoked, on every replica.` },
      status: 200,
    };
  const text = r.status === 404 ? `${type} ${id} was not revoked.` : adminMessage(r.body, r.status);
  return { notice: { kind: 'error', text }, status: r.status };
}

/** Revoke through the admin API; the notice saying what happened. */
async function revokeNotice(
  deps: ConsoleDeps,
  c: C,
  body: Record<string, string>,
  reason: string | undefined,
): Promise<{ notice: Notice; status: number }> {
  if (!reason?.trim())
    return { notice: { kind: 'error', text: 'reason: say why it is revoked' }, status: 400 };
  const r = await adminCaller(deps, c)('POST', '/revocations', body);
  if (r.status !== 201 && r.status !== 202)
    return { notice: { kind: 'error', text: adminMessage(r.body, r.status) }, status: r.status };
  const where =
    r.status === 201
      ? 'refused on every replica from now on'
      : 'refused on this replica now, and on the others once the store answers again';
  const known =
    (r.body as { knownId?: boolean | null } | null)?.knownId === false ? ' (no key has this id yet)' : '';
  return { notice: { kind: 'ok', text: `${body.type} ${body.id} revoked${known}: ${where}.` }, status: 200 };
}

/** What a ban or unban came to, as the page's notice (a refusal names the field at fault). */
function banNotice<T>(r: BanActionResult<T>, ok: (v: T) => string): { notice: Notice; status: number } {
  if (r.ok) return { notice: { kind: 'ok', text: ok(r.value) }, status: 200 };
  return {
    notice: { kind: 'error', text: r.status === 400 ? `${r.field}: ${r.message}` : r.message },
    status: r.status,
  };
}

/** GET/POST /bans, POST /bans/remove: the admin API's own ban and unban (its checks, its audit events). */
function banRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
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
  app.get('/console/keys', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const k = await deps.data.keys();
    return html(
      <KeysPage viewer={seen.viewer} keys={k.keys} storedUnavailable={k.storedUnavailable} />,
      200,
      seen.cookies,
    );
  });
  revocationRoutes(app, deps, csrf);
  banRoutes(app, deps, csrf);
  app.get('/console/alerts', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    return html(<AlertsPage viewer={seen.viewer} alerts={await deps.data.alerts()} />, 200, seen.cookies);
  });
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
