// The queue behind the redis and webhook sinks: lines sent in batches off the hot path, retried, bounded.
import type { AuditSink } from './sink.js';

/** How a queue sends, waits and retries. */
export interface BatchQueueOptions {
  /** Lines waiting at most, the batch in flight included; more are dropped and counted. */
  queue: number;
  /** Lines per batch at most. */
  batch: number;
  /** How long a partial batch waits before it is sent (ms); 0 sends at once. */
  intervalMs: number;
  /** The wait before retry number `attempt` (1 for the first) of a failed batch (ms). */
  backoffMs: (attempt: number) => number;
  /** Send one batch, oldest line first: null when it was taken, else why not (a rejection's message says it too). */
  deliver: (lines: readonly string[]) => Promise<string | null>;
  /** Told of each failed batch, with the attempts so far and the lines waiting. */
  onFailure?: (detail: string, attempt: number, queued: number) => void;
  /** Told when lines start being dropped, once until a batch is taken again, with the count so far. */
  onDrop?: (dropped: number) => void;
}

/**
 * Lines waiting to be sent. `push` only appends to an array; one batch is in flight at a time, so
 * lines arrive in order. A failed batch stays at the head and is sent again after a backoff
 * (at-least-once: a batch taken whose answer was lost is sent again); new lines never cut a backoff
 * short. A full batch goes at once, a partial one after `intervalMs`. Beyond `queue` lines, or once
 * stopped, new lines are dropped and counted, never blocking.
 */
export class BatchQueue {
  private lines: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The delay the pending timer was set with. */
  private timerMs = 0;
  private inFlight: Promise<void> | null = null;
  private attempt = 0;
  private lost = 0;
  private dropping = false;
  private stopped = false;
  private halted = false;
  private idle: (() => void)[] = [];
  /** Lines taken. */
  delivered = 0;
  /** Batches that failed. */
  failures = 0;

  constructor(private readonly opts: BatchQueueOptions) {}

  /** Queue a line (no I/O); dropped and counted when full or stopped. */
  push(line: string): void {
    if (this.lines.length >= this.opts.queue || this.stopped) {
      this.lost++;
      if (!this.dropping) {
        this.dropping = true;
        this.opts.onDrop?.(this.lost);
      }
      return;
    }
    this.lines.push(line);
    if (this.inFlight !== null || this.attempt > 0) return;
    const wait = this.lines.length >= this.opts.batch ? 0 : this.opts.intervalMs;
    if (this.timer === null || (wait === 0 && this.timerMs > 0)) this.sendIn(wait);
  }

  /** Lines waiting, the batch in flight included. */
  queued(): number {
    return this.lines.length;
  }

  /** Lines dropped so far. */
  dropped(): number {
    return this.lost;
  }

  /** True while a batch is being sent. */
  sending(): boolean {
    return this.inFlight !== null;
  }

  /** Take no more lines: from now on `push` drops them, and what waits goes without waiting for the interval. */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when nothing waits; sends at once (even in the middle of a backoff) what does. */
  drain(): Promise<void> {
    if (this.lines.length === 0 && this.inFlight === null) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    if (this.inFlight === null) this.sendIn(0);
    return done;
  }

  /** Send nothing more after the batch in flight; resolves once that one has settled. */
  async halt(): Promise<void> {
    this.halted = true;
    this.clearTimer();
    await this.inFlight;
  }

  /** Count every line still waiting as dropped, and forget it. */
  discard(): void {
    this.lost += this.lines.length;
    this.lines = [];
  }

  /** Stop the timer (the process is closing). */
  close(): void {
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private sendIn(ms: number): void {
    this.clearTimer();
    this.timerMs = ms;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.send();
    }, ms);
    this.timer.unref();
  }

  private send(): void {
    const n = Math.min(this.opts.batch, this.lines.length);
    if (this.inFlight !== null || n === 0) return;
    this.inFlight = this.opts
      .deliver(this.lines.slice(0, n))
      .catch((e: unknown) => (e as Error).message)
      .then((failure) => {
        this.inFlight = null;
        if (failure === null) {
          this.lines.splice(0, n);
          this.delivered += n;
          this.attempt = 0;
          this.dropping = false;
        } else {
          this.failures++;
          this.attempt++;
          this.opts.onFailure?.(failure, this.attempt, this.lines.length);
        }
        this.next();
      });
  }

  /** After a batch: the next full one now, a partial one after the interval, a failed one after its backoff. */
  private next(): void {
    if (this.lines.length === 0) {
      for (const w of this.idle.splice(0)) w();
      return;
    }
    if (this.halted) return;
    if (this.attempt > 0) this.sendIn(this.opts.backoffMs(this.attempt));
    else if (this.lines.length >= this.opts.batch || this.stopped) this.sendIn(0);
    else this.sendIn(this.opts.intervalMs);
  }
}

/** A sink whose lines wait in a {@link BatchQueue}: writing queues them, the counts are the queue's. */
export abstract class QueuedSink implements AuditSink {
  abstract readonly name: string;
  protected abstract readonly lines: BatchQueue;

  /** Lines delivered. */
  get delivered(): number {
    return this.lines.delivered;
  }

  /** Batches that failed. */
  get failures(): number {
    return this.lines.failures;
  }

  write(line: string): void {
    this.lines.push(line);
  }

  queued(): number {
    return this.lines.queued();
  }

  dropped(): number {
    return this.lines.dropped();
  }

  abstract flush(deadline: number): Promise<void>;
  abstract close(): void;
}
