// Sign-in sessions: a sealed cookie naming a record in the store; the record says who and until when.
import { createHash, randomBytes } from 'node:crypto';
import type { Authenticator } from '../auth/chain.js';
import { identityFromClaims, type ClaimsMapping, type ClaimsSource } from '../auth/claims.js';
import { AuthError, type RevocationRef, type SessionFailureCause } from '../auth/errors.js';
import type { Identity } from '../auth/identity.js';
import type { Revocations } from '../auth/revocations.js';
import type { RecordBackend } from '../store/store.js';
import { cookieValues, setCookie, type CookiePolicy } from './cookies.js';
import type { Sealer } from './seal.js';

/** What the store holds for one session. The session id itself is not stored, only its hash. */
export interface SessionRecord {
  /** Provider id, or `dev` for a dev user. */
  provider: string;
  sub: string;
  createdAt: number;
  expiresAt: number;
  /** When roles were last refreshed with the refresh token (default: createdAt). */
  refreshedAt?: number;
  /** ID token claims (OIDC): roles are mapped through the current policy at each request. */
  claims?: Record<string, unknown>;
  /** Roles as given (dev users). */
  roles?: string[];
  /** A dev user's declared `acr` and `amr` (their sign-in time is `createdAt`). */
  acr?: string;
  amr?: string[];
  name?: string;
  email?: string;
  /** The IdP's session id (`sid`), for back-channel logout. */
  idpSid?: string;
  /** Refresh and ID tokens, sealed: a store dump does not give them away. */
  refreshToken?: string;
  idToken?: string;
}

/** Lifetimes, in ms. */
export interface SessionTimes {
  lifetimeMs: number;
  idleMs: number;
  /** Interval of role refreshes for sessions holding a refresh token. */
  refreshMs: number;
}

/** How often a session's last-seen time is written back, at most (a quarter of the idle timeout when that is shorter). */
const TOUCH_EVERY_MS = 60_000;

/** A session read from its cookie. */
export interface OpenSession {
  key: string;
  record: SessionRecord;
}

const refuse = (cause: SessionFailureCause, revocation?: RevocationRef) =>
  new AuthError('invalid_credentials', cause, undefined, undefined, revocation);

/** Sessions over one record family of the store. */
export class Sessions {
  constructor(
    private readonly records: RecordBackend,
    private readonly sealer: Sealer,
    readonly cookies: CookiePolicy,
    readonly times: SessionTimes,
    private readonly revocations: Revocations | null,
  ) {}

  /** Called (not awaited) for a session due a refresh; set by sign-in when providers are configured. */
  onStale: ((key: string, record: SessionRecord) => void) | null = null;

  /** Write a changed record back (same id, same expiry). False when it has ended meanwhile: never resurrected. */
  replace(key: string, record: SessionRecord, now: number): Promise<boolean> {
    return this.records.update(key, JSON.stringify(record), Math.max(1, record.expiresAt - now));
  }

  /** Start a new session (a new id at every sign-in); resolves to its Set-Cookie value. */
  async create(
    data: Omit<SessionRecord, 'createdAt' | 'expiresAt'>,
    now: number,
  ): Promise<{ setCookie: string; record: SessionRecord }> {
    const sid = randomBytes(32).toString('base64url');
    const record: SessionRecord = { ...data, createdAt: now, expiresAt: now + this.times.lifetimeMs };
    const key = storeKey(sid);
    await this.records.put(key, JSON.stringify(record), this.times.lifetimeMs);
    await this.records.put(seenKey(key), String(now), this.times.idleMs);
    const sealed = await this.sealer.seal({ sid }, record.expiresAt);
    return {
      setCookie: setCookie(this.cookies, this.cookies.sessionName, sealed, {
        maxAgeSec: this.times.lifetimeMs / 1000,
        domain: true,
      }),
      record,
    };
  }

  /** The Set-Cookie value that removes the session cookie. */
  clearCookie(): string {
    return setCookie(this.cookies, this.cookies.sessionName, '', { maxAgeSec: 0, domain: true });
  }

  /** Seal a secret (refresh or ID token) for the record. */
  sealSecret(value: string, now: number): Promise<string> {
    return this.sealer.seal({ t: value }, now + this.times.lifetimeMs);
  }

  /** A secret sealed by {@link sealSecret}, or undefined. */
  async unsealSecret(sealed: string, now: number): Promise<string | undefined> {
    const v = await this.sealer.unseal(sealed, now);
    return typeof v?.t === 'string' ? v.t : undefined;
  }

  /**
   * The session a Cookie header names: null without a session cookie; an AuthError for a duplicated,
   * tampered, foreign, expired, idle, signed-out or revoked one.
   */
  open(cookieHeader: string | undefined, now: number): Promise<OpenSession | AuthError | null> {
    return this.openValues(cookieValues(cookieHeader, this.cookies.sessionName), now);
  }

  /** The session the session cookie's values (every one the request sent) name, as {@link open}. */
  async openValues(values: readonly string[], now: number): Promise<OpenSession | AuthError | null> {
    if (values.length > 1) return refuse('bad_session');
    const value = values[0];
    if (value === undefined) return null;
    const sealed = await this.sealer.unseal(value, now);
    if (!sealed || typeof sealed.sid !== 'string') return refuse('bad_session');
    const key = storeKey(sealed.sid);
    // The last use is a record of its own that expires after the idle timeout, so writing it back
    // never races with a refresh rewriting the session record.
    const [raw, seen] = await Promise.all([this.records.get(key), this.records.get(seenKey(key))]);
    if (raw === null || seen === null) return refuse('session_ended');
    const record = JSON.parse(raw) as SessionRecord;
    const seenAt = Number(seen);
    if (record.expiresAt <= now || seenAt + this.times.idleMs <= now) return refuse('session_ended');
    const revoked = this.revoked(record, now);
    if (revoked) return revoked;
    if (
      record.refreshToken !== undefined &&
      this.onStale &&
      now - (record.refreshedAt ?? record.createdAt) >= this.times.refreshMs
    )
      this.onStale(key, record);
    if (now - seenAt >= Math.min(TOUCH_EVERY_MS, this.times.idleMs / 4)) {
      // Best effort: a failed write only shortens the idle window by the touch interval.
      void this.records
        .update(seenKey(key), String(now), Math.min(this.times.idleMs, record.expiresAt - now))
        .catch(() => undefined);
    }
    return { key, record };
  }

  /** End a session on every replica (its record is gone). */
  async end(key: string): Promise<boolean> {
    const [had] = await Promise.all([this.records.delete(key), this.records.delete(seenKey(key))]);
    return had;
  }

  /**
   * The authenticator for the /verify chain: `X-Auth-Method: session`. The chain reads the cookie
   * named `cookies.sessionName` into the credentials.
   */
  authenticator(mapping: ClaimsMapping, sources: ReadonlyMap<string, ClaimsSource>): Authenticator {
    return (creds, _req, now) => {
      // No session cookie (other cookies, warden's own flow and CSRF cookies): not this authenticator's kind.
      if (creds.session.length === 0) return null;
      return this.openValues(creds.session, now).then((s) =>
        s === null
          ? refuse('session_ended')
          : s instanceof AuthError
            ? s
            : sessionIdentity(s.record, mapping, sources),
      );
    };
  }

  private revoked(record: SessionRecord, now: number): AuthError | null {
    const revs = this.revocations;
    if (!revs) return null;
    if (!revs.mirror.loaded) return new AuthError('invalid_credentials', 'revocations_unavailable');
    const sid =
      record.idpSid === undefined
        ? undefined
        : revs.find('session', `sid:${record.provider}#${record.idpSid}`, now);
    if (sid) return refuse('session_ended', sid);
    const since =
      revs.find('session', `sub:${record.provider}#${record.sub}`, now) ??
      revs.find('subject', record.sub, now);
    if (since && record.createdAt <= since.createdAt) return refuse('session_ended', since);
    return null;
  }
}

/** Store key of a session's last use. */
function seenKey(key: string): string {
  return `${key}:seen`;
}

/** Store key of a session id: its hash, so neither the store nor a log line holds a usable id. */
function storeKey(sid: string): string {
  return createHash('sha256').update(sid).digest('base64url');
}

/** The identity of a session: an OIDC session's roles through the policy's claims mapping; a dev user's as given. */
export function sessionIdentity(
  record: SessionRecord,
  mapping: ClaimsMapping,
  sources: ReadonlyMap<string, ClaimsSource>,
): Identity | AuthError {
  const source = sources.get(record.provider);
  if (record.claims && source) {
    const id = identityFromClaims(record.claims, source, mapping);
    return id instanceof AuthError
      ? id
      : Object.freeze({ ...id, method: 'session' as const, provider: record.provider });
  }
  if (record.claims) return refuse('session_ended');
  return Object.freeze({
    sub: record.sub,
    name: record.name ?? '',
    email: record.email ?? '',
    roles: Object.freeze((record.roles ?? []).filter((r) => mapping.defined.has(r))),
    method: 'session' as const,
    provider: record.provider,
    authn: Object.freeze({
      acr: record.acr === undefined ? null : [record.acr],
      amr: record.amr ?? null,
      authTime: Math.floor(record.createdAt / 1000),
      bad: [],
    }),
  });
}
