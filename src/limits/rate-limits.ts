// Named rate limits of the policy, counted by the configured store's limiters.
import type { RateLimitSpec } from '../config/policy-schema.js';
import type { LimitResult, Limiter as StoreLimiter, Store } from '../store/store.js';

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
  /** In this tick when the store can answer in-process (memory, a Redis lease), else a promise. */
  take(key: string): LimitResult | Promise<LimitResult>;
}

/** Apply `f` to a value now, or once it arrives. */
function then<T, U>(v: T | Promise<T>, f: (t: T) => U | Promise<U>): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** One request against a store limiter: answered in-process when it can, else by its promise. */
function take(limiter: StoreLimiter, key: string): LimitResult | Promise<LimitResult> {
  return limiter.consumeSync?.(key) ?? limiter.consume(key);
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
      this.limiters.set(
        name,
        existing && existing.signature === signature ? existing : this.build(name, spec, signature),
      );
    }
  }

  private build(name: string, spec: RateLimitSpec, signature: string): Limiter {
    const prefix = `rl:${name}:${signature}`;
    const main = this.store.limiter({ keyPrefix: prefix, points: spec.limit, duration: spec.window });
    if (!spec.burst) return { spec, signature, take: (k) => take(main, k) };
    const burst = this.store.limiter({
      keyPrefix: `${prefix}:burst`,
      points: spec.burst,
      duration: spec.window * BURST_WINDOWS,
    });
    // Over the main limit, draw on the burst allowance (the rule of BurstyRateLimiter).
    const bursty = (k: string) =>
      then(take(main, k), (first) =>
        first.allowed
          ? first
          : then(take(burst, k), (extra) =>
              extra.allowed
                ? extra
                : { allowed: false, remaining: 0, resetMs: Math.min(first.resetMs, extra.resetMs) },
            ),
      );
    return { spec, signature, take: bursty };
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
    return then(limiter.take(subject), (r) => (r.allowed ? NOT_LIMITED : this.outcome(name, limiter, r)));
  }

  private outcome(name: string, limiter: Limiter, res: LimitResult): LimitOutcome {
    return {
      limited: true,
      name,
      limit: limiter.spec.limit,
      windowSec: limiter.spec.window,
      retryAfterSec: Math.max(1, Math.ceil(res.resetMs / 1000)),
    };
  }
}
