// Brute-force bans: repeated failed credentials from one client IP ban it from every protected route.
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { MirroredSet } from '../store/mirror.js';
import type { Limiter, Store } from '../store/store.js';

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
      ? store.limiter({ keyPrefix: `ban:${spec.failures}/${spec.window}`, points: spec.failures - 1, duration: spec.window })
      : null;
  }

  /** Milliseconds left on a ban of this IP; 0 when not banned. No I/O. */
  remainingMs(ip: string, now: number): number {
    if (!this.spec.enabled) return 0;
    const e = this.banned.get(ip, now);
    return e?.expiresAt === undefined ? 0 : e.expiresAt - now;
  }

  /** Count a failed credential; the failure that reaches the threshold starts a ban. */
  async recordFailure(ip: string, now: number): Promise<void> {
    if (!this.failures) return;
    try {
      await this.failures.consume(ip);
    } catch (e) {
      // Counting is best effort: a store error leaves the 401 as it is.
      if (!(e instanceof RateLimiterRes)) return;
      if (this.banned.get(ip, now)) return;
      const until = now + this.spec.ban * 1000;
      const entry = { id: ip, reason: 'failed_credentials', createdAt: now, expiresAt: until };
      // If the store cannot take it, the ban still holds on this replica.
      await this.banned.add(entry).catch(() => this.banned.addLocal(entry));
      await this.failures.delete(ip).catch(() => undefined);
      this.onBan(ip, until);
    }
  }
}
