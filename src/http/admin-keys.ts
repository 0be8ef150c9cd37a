// Admin API for keys stored in Redis: create, list, show with usage, delete, rotate (`warden:admin`).
import type { IncomingMessage } from 'node:http';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import type { StoredKeyEntry, StoredKeys } from '../auth/stored-keys.js';
import { cidrList } from '../config/cidr-list.js';
import { duration } from '../util/duration.js';
import type { RuntimeState } from '../runtime.js';

const ID = /^[A-Za-z0-9_.@-]{1,128}$/;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const HEADER_SAFE = /^[^\x00-\x1f\x7f]*$/;
/** The most roles one key may carry. */
export const MAX_KEY_ROLES = 64;

const expires = z.union([z.iso.datetime({ offset: true }), duration]);

const createBody = z.strictObject({
  id: z.string().regex(ID, 'an id is 1-128 characters of [A-Za-z0-9_.@-]'),
  roles: z
    .array(z.string().max(64))
    .min(1, 'give at least one role')
    .max(MAX_KEY_ROLES, `at most ${MAX_KEY_ROLES} roles`),
  name: z.string().max(256).regex(HEADER_SAFE, 'a name has no control characters').optional(),
  email: z.email().max(256).optional(),
  expires: expires.optional(),
  networks: cidrList.max(64, 'at most 64 networks').optional(),
  rateLimit: z.string().max(128).optional(),
});

const rotateBody = z.strictObject({ grace: duration.optional() });

/** What the key routes use of the admin API's dependencies. */
export interface AdminKeysDeps {
  state: RuntimeState;
  now: () => number;
  audit: AuditLog;
  services: { storedKeys?: StoredKeys | null };
}

/** The admin API's shared helpers: the 400 answer and the caller's identity. */
export interface AdminHelpers {
  bad(c: Context, field: string, message: string): Response;
  adminSub(c: Context): string;
}

const NO_STORE = { 'cache-control': 'no-store' };
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** An entry as the API shows it: never the key, never its hash. */
export function publicEntry(e: StoredKeyEntry) {
  return {
    id: e.id,
    name: e.name ?? null,
    email: e.email ?? null,
    roles: e.roles,
    expires: iso(e.expiresAt),
    networks: e.networks ?? null,
    rateLimit: e.rateLimit ?? null,
    createdAt: iso(e.createdAt),
  };
}

/** A JSON body parsed by `schema`: its data, or the 400 naming the first bad field. */
async function readBody<T extends z.ZodType>(
  c: Context,
  schema: T,
  h: AdminHelpers,
  emptyOk = false,
): Promise<z.output<T> | Response> {
  let raw: unknown;
  try {
    const text = await c.req.text();
    raw = text.trim() === '' && emptyOk ? {} : JSON.parse(text);
  } catch {
    return h.bad(c, 'body', 'must be a JSON object');
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return issue ? h.bad(c, issue.path.join('.') || 'body', issue.message) : h.bad(c, 'body', 'invalid');
}

/** A duration in seconds or an ISO time → epoch ms. */
const untilOf = (v: string | number, now: number) => (typeof v === 'number' ? now + v * 1000 : Date.parse(v));

/** The keys service, or the 404 saying keys are not stored. */
function storedOr404(deps: AdminKeysDeps, c: Context): StoredKeys | Response {
  return (
    deps.services.storedKeys ??
    c.json(
      { error: 'not_found', message: 'keys are not stored in Redis (WARDEN_KEYS_STORE=file)' },
      404,
      NO_STORE,
    )
  );
}

/** Run a store operation: its answer, or 503 when Redis does not answer. */
async function orUnavailable(c: Context, op: () => Promise<Response>): Promise<Response> {
  try {
    return await op();
  } catch {
    return c.json({ error: 'store_unavailable', message: 'Redis did not answer; try again' }, 503, NO_STORE);
  }
}

/** POST /keys: checked against the policy and the keys file, stored, returned with its key once. */
async function createKey(deps: AdminKeysDeps, c: Context, h: AdminHelpers): Promise<Response> {
  const stored = storedOr404(deps, c);
  if (stored instanceof Response) return stored;
  const body = await readBody(c, createBody, h);
  if (body instanceof Response) return body;
  const runtime = deps.state.current;
  const now = deps.now();
  const policy = runtime.docs.policy;
  const unknownRole = body.roles.findIndex((r) => !Object.hasOwn(policy.roles, r));
  if (unknownRole !== -1)
    return h.bad(c, `roles.${unknownRole}`, `role "${body.roles[unknownRole]}" is not defined in the policy`);
  if (body.rateLimit !== undefined && !Object.hasOwn(policy.rateLimits, body.rateLimit))
    return h.bad(c, 'rateLimit', `rate limit "${body.rateLimit}" is not defined in the policy`);
  const expiresAt = body.expires === undefined ? undefined : untilOf(body.expires, now);
  if (expiresAt !== undefined && expiresAt <= now) return h.bad(c, 'expires', 'must be in the future');
  if (runtime.keys.entries.some((k) => k.id === body.id))
    return h.bad(c, 'id', `"${body.id}" is already in the keys file`);
  return orUnavailable(c, async () => {
    const made = await stored.create(
      {
        id: body.id,
        roles: body.roles,
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.email !== undefined ? { email: body.email } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        ...(body.networks !== undefined ? { networks: body.networks } : {}),
        ...(body.rateLimit !== undefined ? { rateLimit: body.rateLimit } : {}),
      },
      now,
    );
    if (made === 'exists') return h.bad(c, 'id', `"${body.id}" is already stored`);
    const entry = publicEntry(made.entry);
    deps.audit.admin({
      event: 'key_created',
      id: body.id,
      by: h.adminSub(c),
      store: 'redis',
      roles: body.roles,
      expires: entry.expires,
    });
    return c.json({ key: made.key, entry }, 201, NO_STORE);
  });
}

/** GET /keys[?cursor=ID&limit=N]: a page of entries in id order. */
async function listKeys(deps: AdminKeysDeps, c: Context, h: AdminHelpers): Promise<Response> {
  const stored = storedOr404(deps, c);
  if (stored instanceof Response) return stored;
  const cursor = c.req.query('cursor') ?? null;
  if (cursor !== null && !ID.test(cursor))
    return h.bad(c, 'cursor', 'a cursor is the cursor of a previous page');
  const limitText = c.req.query('limit') ?? '100';
  const limit = Number(limitText);
  if (!/^\d{1,4}$/.test(limitText) || limit < 1 || limit > 1000) return h.bad(c, 'limit', 'from 1 to 1000');
  return orUnavailable(c, async () => {
    const page = await stored.list(cursor, limit);
    return c.json({ keys: page.entries.map(publicEntry), cursor: page.cursor }, 200, NO_STORE);
  });
}

/** GET /keys/:id: the entry, its latest use and its requests on each of the last 30 days. */
async function showKey(deps: AdminKeysDeps, c: Context): Promise<Response> {
  const stored = storedOr404(deps, c);
  if (stored instanceof Response) return stored;
  const id = c.req.param('id') ?? '';
  return orUnavailable(c, async () => {
    const found = await stored.describe(id, deps.now());
    if (!found) return c.json({ error: 'not_found', message: `no stored key "${id}"` }, 404, NO_STORE);
    return c.json(
      { ...publicEntry(found), lastUsed: iso(found.lastUsed ?? undefined), usage: found.usage },
      200,
      NO_STORE,
    );
  });
}

/** DELETE /keys/:id: refused on every replica within 100 ms (404 when there was none). */
async function deleteKey(deps: AdminKeysDeps, c: Context, h: AdminHelpers): Promise<Response> {
  const stored = storedOr404(deps, c);
  if (stored instanceof Response) return stored;
  const id = c.req.param('id') ?? '';
  return orUnavailable(c, async () => {
    const removed = await stored.remove(id, deps.now());
    if (removed) deps.audit.admin({ event: 'key_removed', id, by: h.adminSub(c), store: 'redis' });
    return c.json({ removed }, removed ? 200 : 404, NO_STORE);
  });
}

/** POST /keys/:id/rotate {grace?}: a new key; the old one is accepted until the grace ends (default 24h). */
async function rotateKey(deps: AdminKeysDeps, c: Context, h: AdminHelpers): Promise<Response> {
  const stored = storedOr404(deps, c);
  if (stored instanceof Response) return stored;
  const id = c.req.param('id') ?? '';
  const body = await readBody(c, rotateBody, h, true);
  if (body instanceof Response) return body;
  const now = deps.now();
  const graceEnd = now + (body.grace ?? 86_400) * 1000;
  return orUnavailable(c, async () => {
    const rotated = await stored.rotate(id, graceEnd, now);
    if (!rotated) return c.json({ error: 'not_found', message: `no stored key "${id}"` }, 404, NO_STORE);
    const previousUntil = iso(Math.min(graceEnd, rotated.entry.expiresAt ?? Infinity));
    deps.audit.admin({ event: 'key_rotated', id, by: h.adminSub(c), store: 'redis', previousUntil });
    return c.json({ key: rotated.key, entry: publicEntry(rotated.entry), previousUntil }, 200, NO_STORE);
  });
}

/** Add the key routes to the (already guarded) admin app. */
export function addKeyRoutes(
  admin: Hono<{ Bindings: { incoming?: IncomingMessage } }>,
  deps: AdminKeysDeps,
  h: AdminHelpers,
): void {
  const limit = bodyLimit({ maxSize: 256 * 1024, onError: (c) => h.bad(c, 'body', 'larger than 256 KiB') });
  admin.post('/keys', limit, (c) => createKey(deps, c, h));
  admin.get('/keys', (c) => listKeys(deps, c, h));
  admin.get('/keys/:id', (c) => showKey(deps, c));
  admin.delete('/keys/:id', (c) => deleteKey(deps, c, h));
  admin.post('/keys/:id/rotate', limit, (c) => rotateKey(deps, c, h));
}
