// The in-process store: a single replica's counters in memory.
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { LimiterOptions, Store } from './store.js';

/** Create the memory store (no `REDIS_URL`). */
export function createMemoryStore(): Store {
  return {
    kind: 'memory',
    limiter: (opts: LimiterOptions) => new RateLimiterMemory(opts),
    ready: async () => true,
    close: async () => {},
  };
}
