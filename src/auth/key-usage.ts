// Per-key usage of stored keys, counted in memory and written to the store in one batch a second.
import type { KeyBackend, UsageBatch } from '../store/key-records.js';
import type { Clock } from '../util/clock.js';

/** The UTC day (`YYYY-MM-DD`) of an instant: usage is counted per day. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Ids counted but not yet written beyond this are dropped: a store down for long costs counts, not memory. */
const MAX_PENDING_IDS = 100_000;

/**
 * Counts requests per key id and day without I/O; a timer writes them with one pipeline when
 * `flushMs` have passed on the clock (a FakeClock moves it by hand). A failed write is kept for the next.
 */
export class UsageCounter {
  private batch: UsageBatch = { counts: new Map(), lastUsed: new Map() };
  private pendingIds = 0;
  private lastFlush: number;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly backend: Pick<KeyBackend, 'addUsage'>,
    private readonly clock: Clock,
    private readonly flushMs: number,
  ) {
    this.lastFlush = clock.now();
  }

  /** The day of the latest count and when it ends: one date formatted per day, not per request. */
  private day = '';
  private dayEnds = -Infinity;
  private dayStarts = Infinity;

  /** Count one request of `id` at `now`. No I/O. */
  count(id: string, now: number): void {
    if (now >= this.dayEnds || now < this.dayStarts) {
      this.day = dayOf(now);
      this.dayStarts = now - (now % 86_400_000);
      this.dayEnds = this.dayStarts + 86_400_000;
    }
    if (this.add(this.day, id, 1))
      this.batch.lastUsed.set(id, Math.max(now, this.batch.lastUsed.get(id) ?? 0));
  }

  /** Check the clock often; write when a flush interval has passed. */
  start(): void {
    this.timer = setInterval(
      () => {
        if (this.clock.now() - this.lastFlush >= this.flushMs) void this.flush();
      },
      Math.min(100, this.flushMs),
    );
    this.timer.unref();
  }

  /** Write what was counted (one round trip); on failure it is merged into the next batch. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.lastFlush = this.clock.now();
    if (this.pendingIds === 0) return Promise.resolve();
    const sent = this.batch;
    this.batch = { counts: new Map(), lastUsed: new Map() };
    this.pendingIds = 0;
    this.flushing = this.backend
      .addUsage(sent)
      .catch(() => this.merge(sent))
      .finally(() => (this.flushing = null));
    return this.flushing;
  }

  private merge(old: UsageBatch): void {
    for (const [day, perId] of old.counts) for (const [id, n] of perId) this.add(day, id, n);
    for (const [id, t] of old.lastUsed)
      this.batch.lastUsed.set(id, Math.max(t, this.batch.lastUsed.get(id) ?? 0));
  }

  /** Add `n` requests of `id` on `day`; false when the batch is full and `id` new to it. */
  private add(day: string, id: string, n: number): boolean {
    let perId = this.batch.counts.get(day);
    if (!perId) this.batch.counts.set(day, (perId = new Map<string, number>()));
    const had = perId.get(id);
    if (had === undefined) {
      if (this.pendingIds >= MAX_PENDING_IDS) return false;
      this.pendingIds++;
    }
    perId.set(id, (had ?? 0) + n);
    return true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
