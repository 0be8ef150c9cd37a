// Who gets a console page: access checked (sign-in, permission), the CSRF token of the forms and of every POST.
import type { Context } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import {
  admit,
  consoleCookie,
  consoleSetCookie,
  CsrfTokens,
  type Caller,
  type ConsoleEnv,
} from './access.js';
import type { ConsoleDeps } from './deps.js';
import type { Viewer } from './layout.js';
import { MessagePage } from './message-page.js';

/** A console request (its context). */
export type ConsoleContext = Context<ConsoleEnv>;

/** An HTML page. */
export function html(node: JSX.Element, status = 200, cookies: string[] = []): Response {
  const headers = new Headers({ 'content-type': 'text/html; charset=utf-8' });
  for (const c of cookies) headers.append('set-cookie', c);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a hono/jsx node renders its HTML in toString()
  return new Response(`<!doctype html>${node.toString()}`, { status, headers });
}

/** A request that wants JSON back rather than a page (an API client, the live feed, a form POST). */
function wantsPage(c: ConsoleContext): boolean {
  const accept = c.req.header('accept') ?? '';
  return (
    c.req.method === 'GET' && !accept.includes('application/json') && !accept.includes('text/event-stream')
  );
}

/** What a caller let in sees: their identity, whether they act, their CSRF token (and the cookie to set). */
export interface Seen {
  caller: Caller;
  viewer: Viewer;
  csrf: string;
  cookies: string[];
}

/** Let the caller in, or the refusal: a browser without credentials goes to sign in and comes back. */
export async function guard(
  deps: ConsoleDeps,
  csrf: CsrfTokens,
  c: ConsoleContext,
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
export async function guardPost(
  deps: ConsoleDeps,
  csrf: CsrfTokens,
  c: ConsoleContext,
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
