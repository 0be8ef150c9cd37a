// Per-key usage of stored keys, counted in memory and written to the store in one batch a second.
import type { KeyBackend, UsageBatch } from '../store/key-records.js';
import { PeriodicFlush } from '../store/periodic-flush.js';
import type { Clock } from '../util/clock.js';

/** The UTC day (`YYYY-MM-DD`) of an instant: usage is counted per day. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Ids counted but not yet written beyond this are dropped: a store down for long costs counts, not memory. */
const MAX_PENDING_IDS = 100_000;

/** A batch of usage, and how many (day, id) pairs it holds. */
type Pending = UsageBatch & { ids: number };

const emptyBatch = (): Pending => ({ counts: new Map(), lastUsed: new Map(), ids: 0 });

/**
 * Counts requests per key id and day without I/O; a timer writes them with one pipeline when
 * `flushMs` have passed on the clock (a FakeClock moves it by hand). A failed write is kept for the next.
 */
export class UsageCounter {
  private readonly pending: PeriodicFlush<Pending>;

  constructor(backend: Pick<KeyBackend, 'addUsage'>, clock: Clock, flushMs: number) {
    this.pending = new PeriodicFlush({
      clock,
      flushMs,
      empty: emptyBatch,
      isEmpty: (batch) => batch.ids === 0,
      write: (batch) => backend.addUsage(batch),
      restore: (failed) => this.merge(failed),
    });
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
    if (this.add(this.day, id, 1)) {
      const lastUsed = this.pending.batch.lastUsed;
      lastUsed.set(id, Math.max(now, lastUsed.get(id) ?? 0));
    }
  }

  /** Check the clock often; write when a flush interval has passed. */
  start(): void {
    this.pending.start();
  }

  /** Write what was counted (one round trip); on failure it is merged into the next batch. */
  flush(): Promise<void> {
    return this.pending.flush();
  }

  private merge(old: UsageBatch): void {
    for (const [day, perId] of old.counts) for (const [id, n] of perId) this.add(day, id, n);
    const lastUsed = this.pending.batch.lastUsed;
    for (const [id, t] of old.lastUsed) lastUsed.set(id, Math.max(t, lastUsed.get(id) ?? 0));
  }

  /** Add `n` requests of `id` on `day`; false when the batch is full and `id` new to it. */
  private add(day: string, id: string, n: number): boolean {
    const batch = this.pending.batch;
    let perId = batch.counts.get(day);
    if (!perId) batch.counts.set(day, (perId = new Map<string, number>()));
    const had = perId.get(id);
    if (had === undefined) {
      if (batch.ids >= MAX_PENDING_IDS) return false;
      batch.ids++;
    }
    perId.set(id, (had ?? 0) + n);
    return true;
  }

  stop(): void {
    this.pending.stop();
  }
}
