// Shared counters counted in memory and added to the store in one batch a second (no round trip per request).
import type { Clock } from '../util/clock.js';
import type { CountBackend } from './store.js';

/** Ids counted but not yet written beyond this are dropped: a store down for long costs counts, not memory. */
const MAX_PENDING_IDS = 10_000;

/**
 * Counts per id without I/O; a timer adds the counts to the store with one round trip once
 * `flushMs` have passed on the clock (a FakeClock moves it by hand). A failed write is kept for the
 * next. Reads add what this replica has not written yet, so its own counts show at once.
 */
export class BatchedCounts {
  private pending = new Map<string, number>();
  private lastFlush: number;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly backend: CountBackend,
    private readonly clock: Clock,
    private readonly flushMs = 1000,
  ) {
    this.lastFlush = clock.now();
  }

  /** Count `n` (default one) for `id`. No I/O. */
  count(id: string, n = 1): void {
    const had = this.pending.get(id);
    if (had === undefined && this.pending.size >= MAX_PENDING_IDS) return;
    this.pending.set(id, (had ?? 0) + n);
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
    if (this.pending.size === 0) return Promise.resolve();
    const sent = this.pending;
    this.pending = new Map();
    this.flushing = this.backend
      .add(sent)
      .catch(() => {
        for (const [id, n] of sent) this.count(id, n);
      })
      .finally(() => (this.flushing = null));
    return this.flushing;
  }

  /**
   * The counts of `ids` across every replica (as far as each has written) plus this replica's
   * unwritten ones. A store that does not answer gives this replica's alone: `shared` false.
   */
  async read(ids: readonly string[]): Promise<{ counts: number[]; shared: boolean }> {
    const sent = this.flushing;
    if (sent) await sent;
    const stored = await this.backend.get(ids).then(
      (v) => ({ v, shared: true }),
      () => ({ v: ids.map(() => 0), shared: false }),
    );
    return {
      counts: ids.map((id, i) => (stored.v[i] ?? 0) + (this.pending.get(id) ?? 0)),
      shared: stored.shared,
    };
  }

  /** Forget the counts of `ids` (a lifted ban): best effort, a store error leaves them to linger. */
  async forget(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.pending.delete(id);
    await this.backend.remove(ids).catch(() => undefined);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
