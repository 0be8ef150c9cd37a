// The console's keys and revocations routes: list, revoke (with its confirm step) and unrevoke through the admin API.
import type { Hono } from 'hono';
import type { ConsoleEnv, CsrfTokens } from './access.js';
import { adminCaller, adminMessage } from './admin-call.js';
import type { ConsoleDeps } from './deps.js';
import { guard, guardPost, html, type ConsoleContext } from './guard.js';
import { KeysPage } from './keys-page.js';
import type { Notice } from './layout.js';
import { ConfirmRevokePage, RevocationsPage } from './revocations-page.js';

/** GET /keys: the keys file's and the store's keys. */
export function keysRoute(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
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
}

/** GET/POST /revocations, the confirm step, POST /revocations/remove. */
export function revocationRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
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
  c: ConsoleContext,
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
  c: ConsoleContext,
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
