// A fixed-window counter in process memory: the memory store's limiter, the Redis store's insurance.
import { systemClock, type Clock } from '../util/clock.js';
import type { Limiter, LimitResult } from './store.js';

interface Window {
  count: number;
  endsAt: number;
}

/** Windows held before the ended ones are swept; after a sweep, twice those left. */
const SWEEP_FLOOR = 1024;

/**
 * Counts each key's requests in a window of `windowMs` opened by its first request: the arithmetic
 * of rate-limiter-flexible's RateLimiterMemory, which offers no synchronous consume, answered at
 * once because /verify should not pay promise round trips for a Map update (~10% of throughput).
 */
export class MemoryLimiter implements Limiter {
  private readonly windows = new Map<string, Window>();
  private sweepAt = SWEEP_FLOOR;

  constructor(
    private readonly points: number,
    private readonly windowMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  consumeSync(key: string): LimitResult {
    const now = this.clock.now();
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.sweepAt) this.sweep(now);
      w = { count: 0, endsAt: now + this.windowMs };
      this.windows.set(key, w);
    } else if (w.endsAt <= now) {
      w.count = 0;
      w.endsAt = now + this.windowMs;
    }
    w.count++;
    return {
      allowed: w.count <= this.points,
      remaining: Math.max(this.points - w.count, 0),
      resetMs: w.endsAt - now,
    };
  }

  consume(key: string): Promise<LimitResult> {
    return Promise.resolve(this.consumeSync(key));
  }

  delete(key: string): Promise<boolean> {
    return Promise.resolve(this.windows.delete(key));
  }

  /** Forget ended windows, so a flood of one-time clients does not grow the map beyond the live ones. */
  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.endsAt <= now) this.windows.delete(k);
    this.sweepAt = Math.max(SWEEP_FLOOR, this.windows.size * 2);
  }
}
