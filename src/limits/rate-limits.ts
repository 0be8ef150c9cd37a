// Named rate limits of the policy, over rate-limiter-flexible on the configured store.
import { BurstyRateLimiter, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitSpec } from '../config/policy-schema.js';
import type { Store } from '../store/store.js';

const NOT_LIMITED: LimitOutcome = Object.freeze({ limited: false });

/** A burst allowance refills over this many windows. */
export const BURST_WINDOWS = 10;

/** Outcome of consuming one request from a named limit. */
export type LimitOutcome =
  | { limited: false }
  | { limited: true; name: string; limit: number; windowSec: number; retryAfterSec: number };

interface Limiter {
  spec: RateLimitSpec;
  signature: string;
  consume(key: string): Promise<RateLimiterRes>;
  /** Present when every counter answers in-process: over the limit → its RateLimiterRes. */
  consumeSync?(key: string): RateLimiterRes | null;
}

/**
 * The named limits of one policy version. A reload builds a new instance that keeps the
 * counters of limits whose definition did not change, so a reload never resets a client.
 */
export class RateLimits {
  private readonly limiters = new Map<string, Limiter>();

  constructor(
    private readonly store: Store,
    specs: ReadonlyMap<string, RateLimitSpec>,
    previous?: RateLimits,
  ) {
    for (const [name, spec] of specs) {
      const signature = `${spec.limit}/${spec.window}/${spec.burst ?? 0}`;
      const existing = previous?.limiters.get(name);
      this.limiters.set(name, existing && existing.signature === signature ? existing : this.build(name, spec, signature));
    }
  }

  private build(name: string, spec: RateLimitSpec, signature: string): Limiter {
    const prefix = `rl:${name}:${signature}`;
    const main = this.store.limiter({ keyPrefix: prefix, points: spec.limit, duration: spec.window });
    if (!spec.burst) {
      const sync = main.consumeSync?.bind(main);
      return { spec, signature, consume: (k) => main.consume(k), ...(sync ? { consumeSync: (k: string) => { const r = sync(k); return r.over ? r.res : null; } } : {}) };
    }
    const burst = this.store.limiter({ keyPrefix: `${prefix}:burst`, points: spec.burst, duration: spec.window * BURST_WINDOWS });
    // BurstyRateLimiter only calls consume(), which every store limiter has.
    const bursty = new BurstyRateLimiter(main as unknown as RateLimiterAbstract, burst as unknown as RateLimiterAbstract);
    const limiter: Limiter = { spec, signature, consume: (k) => bursty.consume(k) };
    if (main.consumeSync && burst.consumeSync) {
      // BurstyRateLimiter's rule, synchronously: over the main limit, draw on the burst allowance.
      const [m, b] = [main.consumeSync.bind(main), burst.consumeSync.bind(burst)];
      limiter.consumeSync = (k) => {
        const first = m(k);
        if (!first.over) return null;
        const extra = b(k);
        if (!extra.over) return null;
        return new RateLimiterRes(0, Math.min(first.res.msBeforeNext, extra.res.msBeforeNext), first.res.consumedPoints, false);
      };
    }
    return limiter;
  }

  /** The spec of a named limit, if defined. */
  spec(name: string): RateLimitSpec | undefined {
    return this.limiters.get(name)?.spec;
  }

  /**
   * Count one request against `name` for `subject` (an IP or an identity). Synchronous when the
   * store answers in-process. Store errors propagate.
   */
  consume(name: string, subject: string): LimitOutcome | Promise<LimitOutcome> {
    const limiter = this.limiters.get(name);
    if (!limiter) throw new Error(`rate limit "${name}" is not defined`);
    if (limiter.consumeSync) {
      const over = limiter.consumeSync(subject);
      return over ? this.outcome(name, limiter, over) : NOT_LIMITED;
    }
    return this.consumeAsync(name, limiter, subject);
  }

  private outcome(name: string, limiter: Limiter, res: RateLimiterRes): LimitOutcome {
    return { limited: true, name, limit: limiter.spec.limit, windowSec: limiter.spec.window, retryAfterSec: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
  }

  private async consumeAsync(name: string, limiter: Limiter, subject: string): Promise<LimitOutcome> {
    try {
      await limiter.consume(subject);
      return NOT_LIMITED;
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return this.outcome(name, limiter, e);
    }
  }
}
