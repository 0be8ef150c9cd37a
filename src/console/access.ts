// Who may use the console: a session or API key granting warden:console (read) or warden:admin (act); CSRF tokens.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { AuditLog } from '../audit/audit-log.js';
import { authenticate } from '../auth/chain.js';
import type { Identity } from '../auth/identity.js';
import { ADMIN_PERMISSION, CONSOLE_PERMISSION, describeAdminRequest } from '../http/admin.js';
import { tokenAccepted } from '../policy/decide.js';
import { rolesGrant } from '../policy/permissions.js';
import type { RuntimeState } from '../runtime.js';
import { cookieValues } from '../session/cookies.js';
import type { CsrfKeySource } from './csrf-key.js';

export type ConsoleEnv = { Bindings: { incoming?: IncomingMessage } };

/** What access needs from the process. */
export interface AccessDeps {
  state: Pick<RuntimeState, 'current'>;
  audit: AuditLog;
  now: () => number;
  /** The absolute sign-in URL browsers are sent to; undefined without sign-in. */
  loginUrl: string | undefined;
  /** The session cookie's name; null without sign-in. */
  sessionCookie: string | null;
  /** The CSRF key: derived from WARDEN_SESSION_SECRET, else shared through Redis, else this process's. */
  csrfKey: CsrfKeySource;
  /** Whether cookies get `Secure` (an https public URL). */
  secure: boolean;
}

/** A caller let in. */
export interface Caller {
  identity: Identity;
  canAct: boolean;
  /** The session cookie's value, when signed in with one (CSRF tokens are bound to it). */
  session: string | null;
}

/** Why a caller is not let in: nobody (no or bad credentials), or not permitted. */
export type Refusal =
  { kind: 'unauthenticated'; rd: string } | { kind: 'forbidden' } | { kind: 'bad_request' };

/** The console's own cookie: a random value the CSRF token is bound to (SameSite=Strict, only under /console/). */
export const CSRF_COOKIE = 'warden_console';

/** Authenticate with the current policy's keys and sessions, then check the permission `need` asks for. */
export async function admit(
  deps: AccessDeps,
  c: Context<ConsoleEnv>,
  need: 'read' | 'act',
): Promise<Caller | Refusal> {
  const desc = describeAdminRequest(c);
  if (!desc) return { kind: 'bad_request' };
  const runtime = deps.state.current;
  const now = deps.now();
  const url = new URL(c.req.url);
  const rd = url.pathname + url.search;
  if (runtime.bans?.refusal(desc.peer, now)) return { kind: 'forbidden' };
  const auth = await authenticate(runtime.chain, desc, now);
  if (!auth || 'error' in auth || !tokenAccepted(null, auth.identity)) {
    if (auth && 'error' in auth && runtime.bans)
      await runtime.bans.recordFailure(desc.peer, auth.error.failure, now);
    return { kind: 'unauthenticated', rd };
  }
  const roles = auth.identity.roles;
  const canAct = rolesGrant(roles, runtime.policy.roles, ADMIN_PERMISSION);
  const canRead = canAct || rolesGrant(roles, runtime.policy.roles, CONSOLE_PERMISSION);
  if (!canRead || (need === 'act' && !canAct)) {
    deps.audit.admin({
      event: 'admin_denied',
      path: desc.path,
      method: c.req.method,
      peer: desc.peer.ip,
      sub: auth.identity.sub,
      reason: 'insufficient_permissions',
      needs: need === 'act' ? ADMIN_PERMISSION : CONSOLE_PERMISSION,
    });
    return { kind: 'forbidden' };
  }
  const cookie = deps.sessionCookie ? cookieValues(c.req.header('cookie'), deps.sessionCookie) : [];
  return { identity: auth.identity, canAct, session: cookie.length === 1 ? (cookie[0] ?? null) : null };
}

/** CSRF tokens: an HMAC of the console cookie, the session (or the API key's identity) — checked on every POST. */
export class CsrfTokens {
  constructor(private readonly keys: CsrfKeySource) {}

  /** A fresh value for the console cookie. */
  static newCookie(): string {
    return randomBytes(24).toString('base64url');
  }

  /** The token the forms of this caller carry, given the console cookie's value. */
  async token(caller: Caller, cookie: string): Promise<string> {
    return sign(await this.keys.signing(), caller, cookie);
  }

  /**
   * True when `sent` is this caller's token for the cookie the request carries (compared in constant
   * time), under any key this process accepts; a miss re-reads a shared key once (another replica's form).
   */
  async valid(caller: Caller, cookie: string | undefined, sent: unknown): Promise<boolean> {
    if (cookie === undefined || typeof sent !== 'string' || sent.length > 128) return false;
    const got = Buffer.from(sent);
    const matches = () =>
      this.keys.accepted().some((key) => {
        const want = Buffer.from(sign(key, caller, cookie));
        return got.length === want.length && timingSafeEqual(got, want);
      });
    return matches() || ((await this.keys.recheck()) && matches());
  }
}

function sign(key: Buffer, caller: Caller, cookie: string): string {
  const binding = caller.session !== null ? `session:${caller.session}` : `sub:${caller.identity.sub}`;
  return createHmac('sha256', key).update(`${cookie}\n${binding}`).digest('base64url');
}

/** The console cookie of a request (exactly one well-formed value), if any. */
export function consoleCookie(header: string | undefined): string | undefined {
  const v = cookieValues(header, CSRF_COOKIE);
  return v.length === 1 && v[0] !== undefined && /^[A-Za-z0-9_-]{32}$/.test(v[0]) ? v[0] : undefined;
}

/** Set-Cookie for the console cookie: HttpOnly, SameSite=Strict, only sent to /console/. */
export function consoleSetCookie(value: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${value}; Path=/console/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
