// The store contract: what limits (and later bans, revocations, sessions) need from a backend.
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/** Options of one counter family. */
export interface LimiterOptions {
  /** Distinct per limit name and configuration, so a changed limit starts fresh. */
  keyPrefix: string;
  points: number;
  /** Seconds. */
  duration: number;
}

/** A backend for shared state. The memory store serves one replica; Redis serves many. */
export interface Store {
  readonly kind: 'memory' | 'redis';
  limiter(opts: LimiterOptions): RateLimiterAbstract;
  /** True when the backend answers; the memory store always does. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
