// Admin API for incident response: ban / unban an IP, a CIDR or an identity, and the policy alerts' last firings.
import type { IncomingMessage } from 'node:http';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import {
  BAN_TYPES,
  checkTarget,
  trustedNetworks,
  type AdminBans,
  type Ban,
  type BanType,
} from '../limits/admin-bans.js';
import type { AlertLog, AlertStatus } from '../limits/alerts.js';
import type { RuntimeState } from '../runtime.js';
import { duration } from '../util/duration.js';
import type { AdminHelpers } from './admin-keys.js';

/** The shortest and the longest ban. */
export const BAN_MIN_SEC = 60;
export const BAN_MAX_SEC = 30 * 86_400;

// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const PRINTABLE = /^[^\x00-\x1f\x7f]+$/;

const banBody = z.strictObject({
  type: z.enum(BAN_TYPES, { error: `one of ${BAN_TYPES.join(', ')}` }),
  value: z
    .string({ error: 'required: the IP, CIDR or identity to ban' })
    .min(1, 'required: the IP, CIDR or identity to ban')
    .max(256, 'at most 256 characters')
    .regex(PRINTABLE, 'no control characters'),
  /** A duration from now (`1h`, `30m`) or an ISO date-time when it ends. */
  duration: z.union([z.iso.datetime({ offset: true }), duration], {
    error: 'a duration like 1h or 30m, or an ISO date-time when the ban ends',
  }),
  reason: z
    .string({ error: 'required: why (it is audited and shown with the ban)' })
    .trim()
    .min(1, 'required: why (it is audited and shown with the ban)')
    .max(256, 'at most 256 characters')
    .regex(PRINTABLE, 'no control characters'),
});

/** A reason given for an action: required text, audited. */
export const actionReason = banBody.shape.reason;
const unbanReason = actionReason;

/** What the ban and alert routes use of the admin API's dependencies. */
export interface AdminBansDeps {
  state: RuntimeState;
  now: () => number;
  audit: AuditLog;
  services: { adminBans?: AdminBans | null; alertLog?: AlertLog | null };
  /** `WARDEN_TRUSTED_PROXIES`: no ban may cover one of them. */
  trustedProxyCidrs?: readonly string[];
  /** True when WARDEN_ALERT_WEBHOOK_URL is set. */
  alertWebhook?: boolean;
}

/** A ban as the API shows it. */
export interface PublicBan {
  id: string;
  type: BanType;
  value: string;
  reason: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** Requests refused by it so far, across replicas (each replica adds its count once a second). */
  refused: number;
}

function publicBan(b: Ban, refused: number): PublicBan {
  return {
    id: b.id,
    type: b.type,
    value: b.value,
    reason: b.reason,
    createdBy: b.createdBy,
    createdAt: new Date(b.createdAt).toISOString(),
    expiresAt: new Date(b.expiresAt).toISOString(),
    refused,
  };
}

/** What a ban or unban came to: done, refused with the field at fault, or the store unavailable. */
export type BanActionResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: 400; field: string; message: string }
  | { ok: false; status: 404 | 503; message: string };

const STORE_DOWN = 'the store (Redis) does not answer: nothing changed; try again when it is back';

/**
 * Ban a target for a duration, audited as `ban` with the admin's identity and reason. The one
 * implementation behind `POST /admin/bans` and the console's form.
 */
export async function banAction(
  deps: AdminBansDeps,
  input: unknown,
  by: string,
): Promise<BanActionResult<PublicBan>> {
  const bans = deps.services.adminBans;
  if (!bans) return { ok: false, status: 503, message: 'bans are not available in this process' };
  const parsed = banBody.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      status: 400,
      field: issue?.path.join('.') || 'body',
      message: issue?.message ?? 'invalid',
    };
  }
  const { type, value, reason } = parsed.data;
  const now = deps.now();
  const d = parsed.data.duration;
  const expiresAt = typeof d === 'number' ? now + d * 1000 : Date.parse(d);
  const seconds = (expiresAt - now) / 1000;
  if (seconds < BAN_MIN_SEC || seconds > BAN_MAX_SEC)
    return { ok: false, status: 400, field: 'duration', message: 'a ban lasts between 1 minute and 30 days' };
  const target = checkTarget(type, value, trustedNetworks(deps.trustedProxyCidrs ?? []));
  if (!target.ok) return { ok: false, status: 400, field: 'value', message: target.message };
  let ban: Ban;
  try {
    ban = await bans.add({ type, value: target.value, reason, createdBy: by, createdAt: now, expiresAt });
  } catch {
    return { ok: false, status: 503, message: STORE_DOWN };
  }
  deps.audit.admin({
    event: 'ban',
    id: ban.id,
    type,
    value: ban.value,
    reason,
    expiresAt: new Date(expiresAt).toISOString(),
    by,
  });
  return { ok: true, value: publicBan(ban, 0) };
}

/** Lift a ban, audited as `unban` with the admin's identity, the reason and what it had refused. */
export async function unbanAction(
  deps: AdminBansDeps,
  id: string,
  reasonInput: unknown,
  by: string,
): Promise<BanActionResult<PublicBan>> {
  const bans = deps.services.adminBans;
  if (!bans) return { ok: false, status: 503, message: 'bans are not available in this process' };
  const reason = unbanReason.safeParse(reasonInput);
  if (!reason.success)
    return { ok: false, status: 400, field: 'reason', message: reason.error.issues[0]?.message ?? 'invalid' };
  const now = deps.now();
  const ban = bans.get(id, now);
  if (!ban) return { ok: false, status: 404, message: `no ban ${id} in force` };
  const { bans: listed } = await bans.list(now);
  const refused = listed.find((b) => b.id === id)?.refused ?? 0;
  try {
    await bans.remove(id);
  } catch {
    return { ok: false, status: 503, message: STORE_DOWN };
  }
  deps.audit.admin({
    event: 'unban',
    id,
    type: ban.type,
    value: ban.value,
    reason: reason.data,
    by,
    refused,
  });
  return { ok: true, value: publicBan(ban, refused) };
}

/** Every ban in force, newest first; `countsShared` false when the store did not answer (this replica's counts only). */
export async function listBans(deps: AdminBansDeps): Promise<{ bans: PublicBan[]; countsShared: boolean }> {
  const bans = deps.services.adminBans;
  if (!bans) return { bans: [], countsShared: false };
  const { bans: list, countsShared } = await bans.list(deps.now());
  return { bans: list.map((b) => publicBan(b, b.refused)), countsShared };
}

/** The policy's alerts with their last firing on any replica (what /console/alerts shows). */
export async function listAlerts(deps: AdminBansDeps): Promise<{ alerts: AlertStatus[]; webhook: boolean }> {
  const specs = deps.state.current.docs.policy.alerts;
  const log = deps.services.alertLog;
  const alerts = log
    ? await log.list(specs)
    : specs.map((s) => ({
        name: s.name,
        on: s.on,
        by: s.by,
        threshold: s.threshold,
        window: s.window,
        lastFired: null,
      }));
  return { alerts, webhook: deps.alertWebhook === true };
}

const NO_STORE = { 'cache-control': 'no-store' };

function answer<T>(c: Context, r: BanActionResult<T>, ok: (v: T) => Response): Response {
  if (r.ok) return ok(r.value);
  if (r.status === 400)
    return c.json({ error: 'bad_request', field: r.field, message: r.message }, 400, NO_STORE);
  return c.json(
    { error: r.status === 404 ? 'not_found' : 'unavailable', message: r.message },
    r.status,
    NO_STORE,
  );
}

/** A DELETE's reason: `?reason=` (what a form or curl sends with DELETE), else a JSON body's `reason`. */
export async function deleteReasonOf(c: Context): Promise<unknown> {
  const q = c.req.query('reason');
  if (q !== undefined) return q;
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  try {
    return (JSON.parse(text) as { reason?: unknown } | null)?.reason;
  } catch {
    return undefined;
  }
}

/** Routes /bans and /alerts under /admin (the caller has passed `requireAdmin`). */
export function addBanRoutes(
  admin: Hono<{ Bindings: { incoming?: IncomingMessage } }>,
  deps: AdminBansDeps,
  h: AdminHelpers,
): void {
  const limit = bodyLimit({ maxSize: 4096, onError: (c) => h.bad(c, 'body', 'larger than 4096 bytes') });
  admin.get('/bans', async (c) => c.json(await listBans(deps), 200, NO_STORE));
  admin.post('/bans', limit, async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return h.bad(c, 'body', 'must be a JSON object');
    }
    const r = await banAction(deps, raw, h.adminSub(c));
    return answer(c, r, (ban) => c.json({ ban }, 201, NO_STORE));
  });
  admin.delete('/bans/:id', limit, async (c) => {
    const r = await unbanAction(deps, c.req.param('id'), await deleteReasonOf(c), h.adminSub(c));
    return answer(c, r, (ban) => c.json({ removed: true, ban }, 200, NO_STORE));
  });
  admin.get('/alerts', async (c) => c.json(await listAlerts(deps), 200, NO_STORE));
}
