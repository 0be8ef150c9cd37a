// Brute-force bans: repeated failed credentials from one client IP ban it from every protected route.
import type { MirroredSet } from '../store/mirror.js';
import type { AuthFailureCause } from '../auth/errors.js';
import { clientKey, type Address } from '../request/client-ip.js';
import type { Limiter, Store } from '../store/store.js';
import type { LimitOutcome } from './rate-limits.js';

type Limited = Extract<LimitOutcome, { limited: true }>;

/** The policy's `bans` setting, resolved. */
export interface BanSpec {
  enabled: boolean;
  failures: number;
  /** Seconds in which `failures` failures ban. */
  window: number;
  /** Seconds a ban lasts. */
  ban: number;
}

/**
 * Failure counting (shared through the store) and the ban list (mirrored in memory, so a ban
 * check is a Map lookup). A ban found by one replica is published to all.
 */
export class Bans {
  private readonly failures: Limiter | null;

  constructor(
    store: Store,
    readonly spec: BanSpec,
    private readonly banned: MirroredSet,
    private readonly onBan: (ip: string, until: number) => void,
  ) {
    this.failures = spec.enabled
      ? store.limiter({
          keyPrefix: `ban:${spec.failures}/${spec.window}`,
          points: spec.failures - 1,
          duration: spec.window,
        })
      : null;
  }

  /** The 429 a banned client gets (Retry-After until the ban ends), or null. No I/O. */
  refusal(client: Address, now: number): Limited | null {
    if (!this.spec.enabled || this.banned.size === 0) return null;
    const e = this.banned.get(clientKey(client), now);
    if (e?.expiresAt === undefined || e.expiresAt <= now) return null;
    const s = this.spec;
    return {
      limited: true,
      name: 'bans',
      limit: s.failures,
      windowSec: s.window,
      retryAfterSec: Math.max(1, Math.ceil((e.expiresAt - now) / 1000)),
    };
  }

  /**
   * Count a credential the client got wrong; the failure that reaches the threshold starts a
   * ban. Failures the client did not cause (revocations still loading, a stale session cookie) are not counted: null.
   */
  recordFailure(client: Address, failure: AuthFailureCause, now: number): Promise<void> | null {
    if (
      !this.failures ||
      failure === 'revocations_unavailable' ||
      failure === 'keys_store_unavailable' ||
      failure === 'bad_session' ||
      failure === 'session_ended'
    )
      return null;
    return this.count(clientKey(client), now);
  }

  private async count(ip: string, now: number): Promise<void> {
    if (!this.failures) return;
    // Counting is best effort: a store error leaves the 401 as it is.
    const counted = await this.failures.consume(ip).catch(() => null);
    if (counted === null || counted.allowed || this.banned.get(ip, now)) return;
    const until = now + this.spec.ban * 1000;
    const entry = { id: ip, reason: 'failed_credentials', createdAt: now, expiresAt: until };
    // If the store cannot take it, the ban still holds on this replica.
    await this.banned.add(entry).catch(() => this.banned.addLocal(entry));
    await this.failures.delete(ip).catch(() => undefined);
    this.onBan(ip, until);
  }
}
