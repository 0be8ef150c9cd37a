// Admin API: revocations and stored keys, for callers whose API key grants `warden:admin`. Called directly, not via a proxy.
import type { IncomingMessage } from 'node:http';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import { authenticate } from '../auth/chain.js';
import type { Identity } from '../auth/identity.js';
import { REVOCATION_TYPES, type Revocations, type RevocationType } from '../auth/revocations.js';
import type { StoredKeys } from '../auth/stored-keys.js';
import type { Metrics } from '../metrics.js';
import { duration } from '../util/duration.js';
import { tokenAccepted, WRONG_AUDIENCE } from '../policy/decide.js';
import { rolesGrant } from '../policy/permissions.js';
import { canonicalizePath, matchKey } from '../request/canonical-path.js';
import { parseAddress } from '../request/client-ip.js';
import type { RequestDescription } from '../request/description.js';
import type { RuntimeState } from '../runtime.js';
import type { AuditView } from '../audit/view.js';
import { addAuditRoutes } from './admin-audit.js';
import { actionReason, addBanRoutes, deleteReasonOf, type AdminBansDeps } from './admin-bans.js';
import { addKeyRoutes } from './admin-keys.js';
import { HeaderMap } from './header-map.js';
import { forbiddenResponse, limitedResponse, toResponse, unauthenticatedResponse } from './respond.js';

/** The permission the admin API requires. */
export const ADMIN_PERMISSION = 'warden:admin';

/** The permission that reads (the audit search, its export, the overview, bans, alerts) without acting. */
export const CONSOLE_PERMISSION = 'warden:console';

/** The admin reads `warden:console` is enough for; everything else needs `warden:admin`. */
const CONSOLE_READS = /^\/admin\/(?:audit|audit\/export|overview|bans|alerts)$/;

/** The permissions that let this request through: any one of them. */
function permissionsFor(c: Context<Env>): string[] {
  return (c.req.method === 'GET' || c.req.method === 'HEAD') && CONSOLE_READS.test(c.req.path)
    ? [CONSOLE_PERMISSION, ADMIN_PERMISSION]
    : [ADMIN_PERMISSION];
}

const revocationBody = z.strictObject({
  type: z.enum(REVOCATION_TYPES),
  id: z
    .string()
    .min(1)
    .max(256)
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    .regex(/^[^\x00-\x1f\x7f]+$/, 'no control characters'),
  reason: z
    .string()
    .max(256)
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    .regex(/^[^\x00-\x1f\x7f]*$/, 'no control characters')
    .optional(),
  /** An ISO date-time, or a duration from now (`24h`). */
  expires: z.union([z.iso.datetime({ offset: true }), duration]).optional(),
});

type Env = { Bindings: { incoming?: IncomingMessage } };

/** What the admin API uses of the app's dependencies. */
export interface AdminDeps extends AdminBansDeps {
  state: RuntimeState;
  now: () => number;
  audit: AuditLog;
  metrics: Pick<Metrics, 'revocations'>;
  services: AdminBansDeps['services'] & { revocations: Revocations; storedKeys?: StoredKeys | null };
  /** The audit search and overview; absent in apps built without them (tests of other routes). */
  auditView?: AuditView | null;
}

function bad(c: Context, field: string, message: string) {
  return c.json({ error: 'bad_request', field, message }, 400, { 'cache-control': 'no-store' });
}

/** The node:http request; absent when the app is driven without the node-server adapter (`app.request`). */
function incomingOf(c: Context<Env>): IncomingMessage | undefined {
  return (c.env as Env['Bindings'] | undefined)?.incoming;
}

/** The admin request as /verify would describe it, the direct peer as the client; null when unusable. */
export function describeAdminRequest(c: Context<Env>): RequestDescription | null {
  const incoming = incomingOf(c);
  const peer = parseAddress(incoming?.socket.remoteAddress ?? '');
  const canon = canonicalizePath(incoming?.url ?? c.req.path);
  if (!peer || !canon.ok) return null;
  const headers = incoming?.rawHeaders
    ? HeaderMap.fromRaw(incoming.rawHeaders)
    : HeaderMap.fromHeaders(c.req.raw.headers);
  const host = headers.get('host') ?? '';
  return {
    method: c.req.method,
    proto: 'http',
    host,
    authority: host,
    path: canon.path,
    matchPath: matchKey(canon.path),
    altMatchPaths: null,
    rawUri: c.req.path,
    clientIp: peer,
    peer,
    headers,
  };
}

/** Authenticate with the current policy's keys; require warden:admin (warden:console for reads). Bans apply here too. */
function requireAdmin(deps: AdminDeps): MiddlewareHandler<Env> {
  return async (c, next) => {
    const runtime = deps.state.current;
    const now = deps.now();
    const desc = describeAdminRequest(c);
    if (!desc) return toResponse(forbiddenResponse('bad_forwarded_context'));
    const { peer, path } = desc;
    const bans = runtime.bans;
    const banned = bans?.refusal(peer, now);
    if (banned) return toResponse(limitedResponse(banned, 'banned'));
    const authenticated = await authenticate(runtime.chain, desc, now);
    // A token issued only for an MCP server is no credential here either (confused deputy).
    const auth =
      authenticated && 'identity' in authenticated && !tokenAccepted(null, authenticated.identity)
        ? { error: WRONG_AUDIENCE }
        : authenticated;
    if (!auth || 'error' in auth) {
      if (auth && bans) await bans.recordFailure(peer, auth.error.failure, now);
      deps.audit.admin({
        event: 'admin_denied',
        path,
        method: c.req.method,
        peer: peer.ip,
        reason: auth ? 'invalid_credentials' : 'missing_credentials',
        cause: auth?.error.failure,
      });
      return toResponse(
        unauthenticatedResponse(
          auth ? 'invalid_credentials' : 'missing_credentials',
          'traefik',
          null,
          undefined,
          { description: auth?.error.description },
        ),
      );
    }
    const permissions = permissionsFor(c);
    if (!permissions.some((p) => rolesGrant(auth.identity.roles, runtime.policy.roles, p))) {
      deps.audit.admin({
        event: 'admin_denied',
        path,
        method: c.req.method,
        peer: peer.ip,
        sub: auth.identity.sub,
        reason: 'insufficient_permissions',
      });
      return toResponse(forbiddenResponse('insufficient_permissions', permissions));
    }
    c.set('identity' as never, auth.identity as never);
    await next();
  };
}

/** The caller `requireAdmin` let through. */
function adminSub(c: Context<Env>): string {
  return (c.get('identity' as never) as Identity).sub;
}

/** GET /revocations: every live revocation, with the requests it has refused since it was made (`refused`). */
async function listRevocations(deps: AdminDeps, c: Context<Env>): Promise<Response> {
  return c.json({ revocations: await deps.services.revocations.listWithEffects(deps.now()) }, 200, {
    'cache-control': 'no-store',
  });
}

/** Whether a key id is in the keys file or stored in Redis (a Redis that does not answer: not known). */
async function keyIdKnown(deps: AdminDeps, id: string): Promise<boolean> {
  if (deps.state.current.keys.entries.some((k) => k.id === id)) return true;
  const stored = deps.services.storedKeys;
  return stored ? (await stored.storedIds([id]).catch(() => [])).length > 0 : false;
}

/** POST /revocations: revoke a key, token or subject, optionally until a time. */
async function addRevocation(deps: AdminDeps, c: Context<Env>): Promise<Response> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    return bad(c, 'body', 'must be a JSON object');
  }
  const parsed = revocationBody.safeParse(raw);
  if (!parsed.success) {
    // A failed parse names at least one issue.
    const issue = parsed.error.issues[0];
    return issue ? bad(c, issue.path.join('.') || 'body', issue.message) : bad(c, 'body', 'invalid');
  }
  const { type, id, reason, expires } = parsed.data;
  const now = deps.now();
  const expiresAt =
    expires === undefined
      ? undefined
      : typeof expires === 'number'
        ? now + expires * 1000
        : Date.parse(expires);
  if (expiresAt !== undefined && expiresAt <= now) return bad(c, 'expires', 'must be in the future');
  const by = adminSub(c);
  const stored = await deps.services.revocations.revoke(type, id, {
    now,
    ...(reason ? { reason } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  });
  // An id no key carries is still recorded: a key may be added later, or was already removed.
  const known = type === 'key' ? await keyIdKnown(deps, id) : null;
  deps.metrics.revocations.inc({ op: 'add' });
  deps.audit.admin({
    event: 'revocation_added',
    type,
    id,
    reason,
    expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
    by,
    knownId: known,
    stored,
  });
  const revoked = {
    type,
    id,
    reason: reason ?? null,
    expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
  };
  // 202 when the store is unavailable: enforced on this replica now, on the others once it returns.
  return c.json({ revoked, knownId: known, stored }, stored === 'stored' ? 201 : 202, {
    'cache-control': 'no-store',
  });
}

/** DELETE /revocations/:type/:id: lift a revocation (404 when there was none). */
async function removeRevocation(
  deps: AdminDeps,
  c: Context<Env, '/revocations/:type/:id'>,
): Promise<Response> {
  const type = c.req.param('type') as RevocationType;
  if (!REVOCATION_TYPES.includes(type))
    return bad(c, 'type', `must be one of ${REVOCATION_TYPES.join(', ')}`);
  const id = c.req.param('id');
  // A reason is optional here (callers before it existed send none); given, it must be usable text.
  const given = await deleteReasonOf(c);
  const reason = given === undefined ? undefined : actionReason.safeParse(given);
  if (reason && !reason.success) return bad(c, 'reason', reason.error.issues[0]?.message ?? 'invalid');
  const refused = (await deps.services.revocations.listWithEffects(deps.now())).find(
    (r) => r.type === type && r.id === id,
  )?.refused;
  const removed = await deps.services.revocations.unrevoke(type, id);
  const by = adminSub(c);
  deps.metrics.revocations.inc({ op: 'remove' });
  deps.audit.admin({
    event: 'revocation_removed',
    type,
    id,
    by,
    existed: removed,
    ...(reason ? { reason: reason.data } : {}),
    ...(refused !== undefined ? { refused } : {}),
  });
  return c.json({ removed }, removed ? 200 : 404, { 'cache-control': 'no-store' });
}

/** Routes under /admin. */
export function adminRoutes(deps: AdminDeps): Hono<Env> {
  const admin = new Hono<Env>();
  admin.use('*', requireAdmin(deps));
  admin.get('/revocations', (c) => listRevocations(deps, c));
  admin.post(
    '/revocations',
    bodyLimit({ maxSize: 4096, onError: (c) => bad(c, 'body', 'larger than 4096 bytes') }),
    (c) => addRevocation(deps, c),
  );
  admin.delete('/revocations/:type/:id', (c) => removeRevocation(deps, c));
  addKeyRoutes(admin, deps, { bad, adminSub });
  addAuditRoutes(admin, deps, { bad, adminSub });
  addBanRoutes(admin, deps, { bad, adminSub });
  return admin;
}
