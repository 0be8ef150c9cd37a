// Shared counters counted in memory and added to the store in one batch a second (no round trip per request).
import type { Clock } from '../util/clock.js';
import { PeriodicFlush } from './periodic-flush.js';
import type { CountBackend } from './store.js';

/** Ids counted but not yet written beyond this are dropped: a store down for long costs counts, not memory. */
const MAX_PENDING_IDS = 10_000;

/**
 * Counts per id without I/O; a timer adds the counts to the store with one round trip once
 * `flushMs` have passed on the clock (a FakeClock moves it by hand). A failed write is kept for the
 * next. Reads add what this replica has not written yet, so its own counts show at once.
 */
export class BatchedCounts {
  private readonly pending: PeriodicFlush<Map<string, number>>;

  constructor(
    private readonly backend: CountBackend,
    clock: Clock,
    flushMs = 1000,
  ) {
    this.pending = new PeriodicFlush({
      clock,
      flushMs,
      empty: () => new Map<string, number>(),
      isEmpty: (counts) => counts.size === 0,
      write: (counts) => backend.add(counts),
      restore: (failed) => {
        for (const [id, n] of failed) this.count(id, n);
      },
    });
  }

  /** Count `n` (default one) for `id`. No I/O. */
  count(id: string, n = 1): void {
    const counts = this.pending.batch;
    const had = counts.get(id);
    if (had === undefined && counts.size >= MAX_PENDING_IDS) return;
    counts.set(id, (had ?? 0) + n);
  }

  /** Check the clock often; write when a flush interval has passed. */
  start(): void {
    this.pending.start();
  }

  /** Write what was counted (one round trip); on failure it is merged into the next batch. */
  flush(): Promise<void> {
    return this.pending.flush();
  }

  /**
   * The counts of `ids` across every replica (as far as each has written) plus this replica's
   * unwritten ones. A store that does not answer gives this replica's alone: `shared` false.
   */
  async read(ids: readonly string[]): Promise<{ counts: number[]; shared: boolean }> {
    const sent = this.pending.writing();
    if (sent) await sent;
    const stored = await this.backend.get(ids).then(
      (v) => ({ v, shared: true }),
      () => ({ v: ids.map(() => 0), shared: false }),
    );
    return {
      counts: ids.map((id, i) => (stored.v[i] ?? 0) + (this.pending.batch.get(id) ?? 0)),
      shared: stored.shared,
    };
  }

  /** Forget the counts of `ids` (a lifted ban): best effort, a store error leaves them to linger. */
  async forget(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.pending.batch.delete(id);
    await this.backend.remove(ids).catch(() => undefined);
  }

  stop(): void {
    this.pending.stop();
  }
}
