// enforce(): the limits after the policy: a banned client IP, failed credentials counted toward a ban, rate limits.
import type { Identity } from '../auth/identity.js';
import type { AuthOutcome, LimitedDecision, LimitRefusal, PolicyDecision } from '../policy/decide.js';
import { identityOf } from '../policy/decide.js';
import { clientKey } from '../request/client-ip.js';
import type { RequestDescription } from '../request/description.js';
import type { Bans } from './bans.js';
import type { LimitOutcome, RateLimits } from './rate-limits.js';

/** The limits of one policy version. */
export interface Limits {
  limits: RateLimits;
  bans: Bans | null;
}

/** A limited decision, or null when the limits let the policy's decision stand. */
export type Enforced = LimitedDecision | null;

function limited(
  d: PolicyDecision,
  reason: LimitedDecision['reason'],
  refusal: LimitRefusal,
  rateLimit: string | null,
): LimitedDecision {
  return { kind: 'limited', rule: d.rule, reason, refusal, identity: identityOf(d), rateLimit };
}

/**
 * Apply the limits to a policy decision. A banned client IP is refused on every route but a public
 * one, whatever it presents; a refused credential counts toward a ban (the answer waits for the
 * count); an allow with a rate limit consumes from it. Synchronous unless the store must be asked.
 */
export function enforce(
  l: Limits,
  req: RequestDescription,
  auth: AuthOutcome,
  d: PolicyDecision,
  now: number,
): Enforced | Promise<Enforced> {
  let counting: Promise<void> | null = null;
  if (l.bans && !(d.kind === 'allow' && d.reason === 'public')) {
    const banned = l.bans.refusal(req.clientIp, now);
    if (banned) return limited(d, 'banned', banned, null);
    if (auth && 'error' in auth) counting = l.bans.recordFailure(req.clientIp, auth.error.failure, now);
  }
  if (d.kind !== 'allow') return counting ? counting.then(() => null) : null;
  if (d.rateLimit === null) return null;
  const name = d.rateLimit;
  const outcome = l.limits.consume(name, subject(l.limits, name, d.identity, req));
  return outcome instanceof Promise ? outcome.then((o) => verdict(d, name, o)) : verdict(d, name, outcome);
}

function verdict(d: PolicyDecision, name: string, o: LimitOutcome): Enforced {
  return o.limited ? limited(d, 'rate_limited', o, name) : null;
}

/** Whom a rate limit counts: the identity for `by: identity` limits, else the client IP. */
function subject(
  limits: RateLimits,
  name: string,
  identity: Identity | null,
  req: RequestDescription,
): string {
  return limits.spec(name)?.by === 'identity' && identity
    ? identitySubject(identity)
    : `ip:${clientKey(req.clientIp)}`;
}

/** Rate-limit subject of an identity: its method, its issuer when it has one, and its id. */
function identitySubject(identity: Identity): string {
  return identity.issuer === undefined
    ? `id:${identity.method}:${identity.sub}`
    : `id:${identity.method}:${identity.issuer}#${identity.sub}`;
}
