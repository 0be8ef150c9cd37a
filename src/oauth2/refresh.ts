// Role refresh with the IdP's refresh token: one replica at a time (a lock in the store), in the background.
import type { AuditLog } from '../audit/audit-log.js';
import type { Sessions, SessionRecord } from '../session/sessions.js';
import type { RecordBackend } from '../store/store.js';
import { OidcErrors, type OidcProvider } from './oidc.js';

/** How long one replica holds a session's refresh lock (also the pause before a failed refresh is retried). */
const LOCK_MS = 30_000;

/** What a refresh uses of sign-in. */
export interface RefreshDeps {
  providers: ReadonlyMap<string, OidcProvider>;
  /** Where the refresh lock is taken. */
  usedStates: RecordBackend;
  sessions: Sessions;
  audit: AuditLog;
  now: () => number;
}

/** The sign-in claims step-up judges: a refresh is no new sign-in, so they stay those of the sign-in. */
const SIGN_IN_CLAIMS = ['acr', 'acrs', 'amr', 'auth_time'] as const;

/** Refreshed claims with the sign-in's `acr`, `acrs`, `amr` and `auth_time` (an IdP may drop or reset them). */
export function keepSignIn(
  fresh: Record<string, unknown>,
  signedIn: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const kept: string[] = [...SIGN_IN_CLAIMS];
  const out = Object.fromEntries(Object.entries(fresh).filter(([k]) => !kept.includes(k)));
  for (const c of SIGN_IN_CLAIMS)
    if (signedIn !== undefined && Object.hasOwn(signedIn, c)) out[c] = signedIn[c];
  return out;
}

/**
 * Refresh a session's claims. The replica that takes the lock calls the IdP; the others keep
 * using the current record, so a rotating refresh token is never spent twice. A refresh the IdP
 * refuses ends the session; an unreachable IdP leaves it as it is until the next attempt.
 */
export async function refreshSession(s: RefreshDeps, key: string, record: SessionRecord): Promise<void> {
  const provider = s.providers.get(record.provider);
  if (!provider || record.refreshToken === undefined) return;
  const lock = `refresh-lock:${key}`;
  if (!(await s.usedStates.claim(lock, LOCK_MS))) return;
  const now = s.now();
  const token = await s.sessions.unsealSecret(record.refreshToken, now);
  if (token === undefined) return;
  try {
    const fresh = await provider.refresh(token);
    const next: SessionRecord = {
      ...record,
      refreshedAt: now,
      refreshToken: await s.sessions.sealSecret(fresh.refreshToken, now),
      ...(fresh.claims && fresh.claims.sub === record.sub
        ? { claims: keepSignIn(fresh.claims, record.claims) }
        : {}),
      ...(fresh.idToken ? { idToken: await s.sessions.sealSecret(fresh.idToken, now) } : {}),
    };
    await s.sessions.replace(key, next, now);
    await s.usedStates.delete(lock);
  } catch (e) {
    if (e instanceof OidcErrors.ResponseBodyError) {
      await s.sessions.end(key);
      s.audit.admin({
        event: 'session_ended',
        provider: record.provider,
        sub: record.sub,
        cause: 'refresh_refused',
        error: e.error,
      });
    }
    // Anything else (IdP unreachable): the lock expires and a later request tries again.
  }
}
