// Named rate limits of the policy, over rate-limiter-flexible on the configured store.
import { BurstyRateLimiter, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitSpec } from '../config/policy-schema.js';
import type { Store } from '../store/store.js';

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
    if (!spec.burst) return { spec, signature, consume: (k) => main.consume(k) };
    const burst = this.store.limiter({ keyPrefix: `${prefix}:burst`, points: spec.burst, duration: spec.window * BURST_WINDOWS });
    // BurstyRateLimiter only calls consume(), which every store limiter has.
    const bursty = new BurstyRateLimiter(main as unknown as RateLimiterAbstract, burst as unknown as RateLimiterAbstract);
    return { spec, signature, consume: (k) => bursty.consume(k) };
  }

  /** The spec of a named limit, if defined. */
  spec(name: string): RateLimitSpec | undefined {
    return this.limiters.get(name)?.spec;
  }

  /** Count one request against `name` for `subject` (an IP or an identity). Store errors propagate. */
  async consume(name: string, subject: string): Promise<LimitOutcome> {
    const limiter = this.limiters.get(name);
    if (!limiter) throw new Error(`rate limit "${name}" is not defined`);
    try {
      await limiter.consume(subject);
      return { limited: false };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return {
        limited: true,
        name,
        limit: limiter.spec.limit,
        windowSec: limiter.spec.window,
        retryAfterSec: Math.max(1, Math.ceil(e.msBeforeNext / 1000)),
      };
    }
  }
}
