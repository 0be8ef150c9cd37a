// A batch filled in memory and written to the store in one round trip once an interval has passed on the clock.
import type { Clock } from '../util/clock.js';

/** What a batch is and how it is written. */
export interface PeriodicFlushOptions<B> {
  clock: Clock;
  /** Write at most this often (ms). */
  flushMs: number;
  /** A new, empty batch. */
  empty: () => B;
  /** True when there is nothing to write. */
  isEmpty: (batch: B) => boolean;
  /** Write a batch: one round trip. */
  write: (batch: B) => Promise<void>;
  /** Take back a batch whose write failed into {@link PeriodicFlush.batch}, to go with the next write. */
  restore: (failed: B) => void;
}

/**
 * The batch being filled (`batch`, no I/O to add to it) and its writer: a timer checks the clock
 * often and writes when `flushMs` have passed on it (a FakeClock moves it by hand). One write at a
 * time; a failed write is taken back for the next.
 */
export class PeriodicFlush<B> {
  /** The batch being filled; a write swaps in a new one. */
  batch: B;
  private lastFlush: number;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(private readonly opts: PeriodicFlushOptions<B>) {
    this.batch = opts.empty();
    this.lastFlush = opts.clock.now();
  }

  /** Check the clock often; write when a flush interval has passed. */
  start(): void {
    this.timer = setInterval(
      () => {
        if (this.opts.clock.now() - this.lastFlush >= this.opts.flushMs) void this.flush();
      },
      Math.min(100, this.opts.flushMs),
    );
    this.timer.unref();
  }

  /** Write what was added (one round trip); on failure it is taken back into the next batch. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.lastFlush = this.opts.clock.now();
    if (this.opts.isEmpty(this.batch)) return Promise.resolve();
    const sent = this.batch;
    this.batch = this.opts.empty();
    this.flushing = this.opts
      .write(sent)
      .catch(() => this.opts.restore(sent))
      .finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** The write under way, or null. */
  writing(): Promise<void> | null {
    return this.flushing;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
