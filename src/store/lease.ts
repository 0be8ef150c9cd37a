// Leased counters: a replica takes several requests' worth of a shared fixed-window limit from
// Redis at once and counts them down in memory, so a busy client costs one Redis round trip per
// lease instead of one per request (and asks for the next lease before this one runs out). Redis never grants more than the limit, so replicas together
// never admit more than it either; near the limit every lease shrinks to one request (exact).
import { systemClock, type Clock } from '../util/clock.js';
import type { Limiter, LimitResult } from './store.js';

/** What the shared counter answered to a lease request. */
export interface Grant {
  /** Requests granted to this replica (0 when the window's limit is used up). */
  granted: number;
  /** The window's count after this grant, across every replica. */
  used: number;
  /** Milliseconds until the window ends. */
  ttlMs: number;
}

/** Largest lease: what one replica can strand when its client stops mid-lease. */
export const MAX_LEASE = 64;
/** A lease takes at most this fraction of what was left of the window's limit. */
export const LEASE_SHARE = 32;
/** Clients tracked per limit before the oldest are forgotten (their unused lease lapses). */
export const MAX_LEASED_CLIENTS = 50_000;

/** The size of the next lease, knowing (or not) what the window had left at the last answer. */
export function leaseSize(remaining: number | undefined, waiting: number): number {
  // The first request of a client asks for itself alone: a small limit stays exact from the start.
  const share = remaining === undefined ? 1 : Math.min(MAX_LEASE, Math.floor(remaining / LEASE_SHARE));
  return Math.max(1, waiting, share);
}

/** A waiting request's promise callbacks (plain functions, passed on as they are). */
interface Waiter {
  resolve: (res: LimitResult) => void;
  reject: (e: unknown) => void;
}

/** One client's lease on one limit. */
interface Lease {
  /** Granted requests not yet used, valid until `until`. */
  left: number;
  until: number;
  /** The window's remaining count at the last answer (undefined before the first). */
  remaining: number | undefined;
  /** Refused in memory until then: the window's limit is used up on every replica. */
  blockedUntil: number;
  /** Ask for the next lease once this few are left, before they run out (0: only when they have). */
  refill: number;
  queue: Waiter[];
  asking: boolean;
}

/** The shared counter, and the insurance that answers for a request when it cannot. */
export interface LeaseSource {
  /** Ask for up to `want` requests of `key`'s window: the grant, or 'unavailable' (Redis down, slow or failing). */
  acquire(key: string, want: number): Promise<Grant | 'unavailable'>;
  /** Count one request in memory instead (the insurance limiter). */
  insurance(key: string): Promise<LimitResult>;
  /** Forget `key`'s shared counter. */
  remove(key: string): Promise<boolean>;
}

/**
 * A fixed-window limiter over a shared counter, taken in leases. Answers in memory while a lease
 * lasts (or the window is known to be used up); otherwise one request per client asks the source
 * while the others of that client wait for its answer, so a burst never multiplies the round trips.
 */
export class LeasedLimiter implements Limiter {
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly points: number,
    /** The window's length (ms): tells a grant of the same window from one of the next. */
    private readonly windowMs: number,
    private readonly source: LeaseSource,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Answer from the lease in memory, or null when the shared counter must be asked. */
  consumeSync(key: string): LimitResult | null {
    const lease = this.leases.get(key);
    if (!lease || lease.queue.length > 0) return null;
    const now = this.clock.now();
    if (lease.blockedUntil > now) return this.refusal(lease, now);
    if (lease.left > 0 && lease.until > now) {
      lease.left--;
      // The next lease is asked for while this one still answers, so the client's requests never stall on Redis.
      if (lease.left <= lease.refill && lease.refill > 0 && !lease.asking) this.ask(key, lease, true);
      return { allowed: true, remaining: lease.left + (lease.remaining ?? 0), resetMs: lease.until - now };
    }
    return null;
  }

  consume(key: string): Promise<LimitResult> {
    const sync = this.consumeSync(key);
    if (sync) return Promise.resolve(sync);
    const lease = this.lease(key);
    return new Promise((resolve, reject) => {
      lease.queue.push({ resolve, reject });
      this.ask(key, lease);
    });
  }

  async delete(key: string): Promise<boolean> {
    this.leases.delete(key);
    return this.source.remove(key);
  }

  private lease(key: string): Lease {
    let lease = this.leases.get(key);
    if (lease) return lease;
    if (this.leases.size >= MAX_LEASED_CLIENTS) this.prune();
    lease = { left: 0, until: 0, remaining: undefined, blockedUntil: 0, refill: 0, queue: [], asking: false };
    this.leases.set(key, lease);
    return lease;
  }

  /** Drop lapsed leases; if every one is live, the oldest go (their unused requests lapse, never more are granted). */
  private prune(): void {
    const now = this.clock.now();
    for (const [k, l] of this.leases)
      if (!l.asking && l.until <= now && l.blockedUntil <= now) this.leases.delete(k);
    for (const [k, l] of this.leases) {
      if (this.leases.size < MAX_LEASED_CLIENTS * 0.9) break;
      if (!l.asking) this.leases.delete(k);
    }
  }

  private refusal(lease: Lease, now: number): LimitResult {
    return { allowed: false, remaining: 0, resetMs: Math.max(0, lease.blockedUntil - now) };
  }

  /** Ask the source for the waiting requests, or ahead of need (one question per client at a time). */
  private ask(key: string, lease: Lease, ahead = false): void {
    if (lease.asking || (lease.queue.length === 0 && !ahead)) return;
    lease.asking = true;
    const sentAt = this.clock.now();
    // What was left of a window that has ended says nothing of the next one.
    const want = leaseSize(lease.until > sentAt ? lease.remaining : undefined, lease.queue.length);
    this.source
      .acquire(key, want)
      .then((grant) => {
        lease.asking = false;
        if (grant === 'unavailable') {
          // A late answer may still have been counted: until the counter answers in time again,
          // ask only for the requests waiting, never for a lease nobody would use.
          lease.remaining = undefined;
          lease.refill = 0;
          this.insure(key, lease);
        } else this.granted(lease, grant, sentAt);
        // Requests that came while asking, beyond the grant, ask again (or wait for the next answer).
        this.ask(key, lease);
      })
      .catch((e: unknown) => {
        lease.asking = false;
        for (const w of lease.queue.splice(0)) w.reject(e);
      });
  }

  private granted(lease: Lease, grant: Grant, sentAt: number): void {
    const now = this.clock.now();
    // The window ended at least ttlMs after the question was sent: a lease never outlives its window.
    const until = sentAt + grant.ttlMs;
    // A grant asked for ahead of need adds to what is left of the lease only within the same window
    // (the next one ends about a whole window later); requests of an ended window are dropped.
    const sameWindow = lease.until > now && Math.abs(until - lease.until) < this.windowMs / 2;
    lease.left = (sameWindow ? lease.left : 0) + grant.granted;
    lease.until = until;
    lease.remaining = Math.max(0, this.points - grant.used);
    // Only large leases are renewed ahead: small ones (a small limit, the end of a window) stay exact.
    lease.refill = grant.granted >= 8 ? Math.floor(grant.granted / 4) : 0;
    if (lease.left === 0) {
      lease.blockedUntil = Math.max(until, now);
      const res = this.refusal(lease, now);
      for (const w of lease.queue.splice(0)) w.resolve(res);
      return;
    }
    const served = lease.queue.splice(0, Math.min(lease.left, lease.queue.length));
    lease.left -= served.length;
    const res = { allowed: true, remaining: lease.left + lease.remaining, resetMs: Math.max(0, until - now) };
    for (const w of served) w.resolve(res);
  }

  /** The shared counter cannot answer: every waiting request is counted by the insurance limiter. */
  private insure(key: string, lease: Lease): void {
    for (const w of lease.queue.splice(0)) this.source.insurance(key).then(w.resolve, w.reject);
  }
}
