// OpenID Connect Back-Channel Logout 1.0: verify a provider's logout token with jose, end the sessions it names.
import { decodeJwt } from 'jose';
import { ASYMMETRIC_ALGORITHMS } from '../config/issuers-schema.js';
import { IssuerKeys } from '../auth/jwks.js';
import { verifyWithKeySet } from '../auth/key-set-verify.js';
import type { OidcProvider } from './oidc.js';
import type { SignIn } from './sign-in.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const MAX_TOKEN = 16 * 1024;
/** A logout token older than this is refused (the spec asks for short-lived tokens). */
const MAX_AGE_SEC = 300;

const keysByProvider = new WeakMap<OidcProvider, Promise<IssuerKeys>>();

function keysOf(s: SignIn, p: OidcProvider): Promise<IssuerKeys> {
  let k = keysByProvider.get(p);
  if (!k) {
    k = p.jwksUri().then(
      (uri) =>
        new IssuerKeys(p.settings.issuer, uri, {
          refreshMs: 600_000,
          cooldownMs: 30_000,
          timeoutMs: 5000,
          fetch: s.fetch,
          now: s.now,
        }),
    );
    k.catch(() => keysByProvider.delete(p));
    keysByProvider.set(p, k);
  }
  return k;
}

/** The sessions a logout token ended: one IdP session (`sid`) or every session of `sub`. */
type Ended = { provider: string; by: 'sid' | 'sub'; sub?: string };

/** The outcome of one logout token: which sessions ended, or why it was refused (audit only). */
export type LogoutOutcome = Ended | { error: string };

/** Verify a logout token and revoke what it names: one IdP session (`sid`) or every session of `sub`. */
export async function verifyLogoutToken(s: SignIn, token: string): Promise<LogoutOutcome> {
  if (token.length > MAX_TOKEN) return { error: 'too_large' };
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return { error: 'malformed' };
  }
  const provider = [...s.providers.values()].find((p) => p.settings.issuer === iss);
  if (!provider) return { error: 'unknown_issuer' };
  let payload: Record<string, unknown>;
  try {
    const keys = await keysOf(s, provider);
    ({ payload } = await verifyWithKeySet(token, keys.keyFor(), {
      issuer: provider.settings.issuer,
      audience: provider.settings.clientId,
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      requiredClaims: ['iat', 'jti', 'events'],
      maxTokenAge: MAX_AGE_SEC,
      clockTolerance: 30,
      currentDate: new Date(s.now()),
    }));
  } catch (e) {
    return { error: `jose:${(e as { code?: string }).code ?? 'unverified'}` };
  }
  const events = payload.events;
  if (
    !events ||
    typeof events !== 'object' ||
    Array.isArray(events) ||
    typeof (events as Record<string, unknown>)[EVENT] !== 'object'
  )
    return { error: 'no_logout_event' };
  if (payload.nonce !== undefined) return { error: 'nonce_present' };
  const sid = typeof payload.sid === 'string' && payload.sid.length <= 256 ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' && payload.sub.length <= 256 ? payload.sub : undefined;
  const pid = provider.settings.id;
  if (sid)
    return endSessions(s, payload.jti, `sid:${pid}#${sid}`, {
      provider: pid,
      by: 'sid',
      ...(sub ? { sub } : {}),
    });
  if (sub) return endSessions(s, payload.jti, `sub:${pid}#${sub}`, { provider: pid, by: 'sub', sub });
  return { error: 'no_sid_or_sub' };
}

/** Use the token (`jti`) once, then revoke `session`: one IdP session or every session of a subject. */
async function endSessions(s: SignIn, jti: unknown, session: string, ended: Ended): Promise<LogoutOutcome> {
  // A token is used once (replays are refused, not merely harmless).
  if (!(await s.usedStates.claim(`logout:${ended.provider}:${String(jti)}`, (MAX_AGE_SEC + 60) * 1000)))
    return { error: 'replayed' };
  if (!s.revocations) return { error: 'revocations_unavailable' };
  const now = s.now();
  const expiresAt = now + s.sessions.times.lifetimeMs;
  await s.revocations.revoke('session', session, { reason: 'backchannel_logout', expiresAt, now });
  return ended;
}
