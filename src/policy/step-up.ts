// Step-up (RFC 9470): a rule's `authn` asks how strongly and how recently the user signed in, judged
// on the `acr`, `amr` and `auth_time` an IdP put in the ID token (sessions) or the bearer token.
import type { Identity } from '../auth/identity.js';
import type { PolicyRule } from '../config/policy-schema.js';

/** A rule's `authn`, compiled: any one acr, any one amr, a sign-in at most `maxAgeSec` old; null members ask nothing. */
export interface AuthnRequirement {
  acr: readonly string[] | null;
  amr: readonly string[] | null;
  maxAgeSec: number | null;
}

/** Why an identity does not satisfy a rule's `authn` (the audit's `cause`). */
export type StepUpCause =
  | 'not_a_user'
  | 'bad_acr'
  | 'bad_amr'
  | 'bad_auth_time'
  | 'acr'
  | 'amr'
  | 'auth_time_missing'
  | 'auth_time_future'
  | 'max_age';

/** How far in the future an `auth_time` may be (clock skew between the IdP and warden), in seconds. */
export const AUTH_TIME_SKEW_SEC = 60;

/** The most a rule's `maxAge` may ask (30 days): anything longer is a typo, not a policy. */
export const MAX_AGE_LIMIT_SEC = 30 * 86400;

/** `authn` as written → the requirement; null for none. */
export function compileAuthn(a: PolicyRule['authn']): AuthnRequirement | null {
  if (a === undefined) return null;
  return Object.freeze({ acr: a.acr ?? null, amr: a.amr ?? null, maxAgeSec: a.maxAge ?? null });
}

/**
 * What keeps an identity from satisfying a requirement at `nowMs`, or null when it does. API keys
 * and client certificates never do: a person must have signed in. Checked in the order acr, amr,
 * freshness, so the cause names the first requirement a new sign-in must meet.
 */
export function unmetAuthn(
  r: AuthnRequirement,
  identity: Pick<Identity, 'method' | 'authn'>,
  nowMs: number,
): StepUpCause | null {
  if (identity.method === 'api_key' || identity.method === 'mtls') return 'not_a_user';
  const f = identity.authn;
  if (r.acr) {
    if (f?.bad.includes('bad_acr')) return 'bad_acr';
    if (!f?.acr?.some((v) => r.acr?.includes(v))) return 'acr';
  }
  if (r.amr) {
    if (f?.bad.includes('bad_amr')) return 'bad_amr';
    if (!f?.amr?.some((v) => r.amr?.includes(v))) return 'amr';
  }
  if (r.maxAgeSec !== null) {
    if (f?.bad.includes('bad_auth_time')) return 'bad_auth_time';
    const at = f?.authTime ?? null;
    if (at === null) return 'auth_time_missing';
    const now = nowMs / 1000;
    if (at > now + AUTH_TIME_SKEW_SEC) return 'auth_time_future';
    // Without a clock (NaN) freshness is never met.
    if (!(now - at <= r.maxAgeSec)) return 'max_age';
  }
  return null;
}

/** Only freshness is missing: a new sign-in (`prompt=login`) is all it takes. */
export function onlyFreshness(cause: StepUpCause): boolean {
  return cause === 'max_age' || cause === 'auth_time_missing' || cause === 'auth_time_future';
}

/** The requirement as the audit line and `explain` show it (maxAge in seconds). */
export function describeAuthn(r: AuthnRequirement): { acr?: string[]; amr?: string[]; maxAge?: number } {
  return {
    ...(r.acr ? { acr: [...r.acr] } : {}),
    ...(r.amr ? { amr: [...r.amr] } : {}),
    ...(r.maxAgeSec !== null ? { maxAge: r.maxAgeSec } : {}),
  };
}
