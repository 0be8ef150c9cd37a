// The redis audit sink: lines batched into the shared capped stream off the hot path, bounded while Redis is away.
import type { Clock } from '../util/clock.js';
import type { AuditStream, StreamLine } from './audit-stream.js';
import { byDeadline, type AuditSink } from './sink.js';

/** Redis sink settings. */
export interface RedisSinkOptions {
  stream: Pick<AuditStream, 'append'>;
  clock: Clock;
  /** Lines waiting at most (the batch in flight included); more are dropped and counted. */
  queue?: number;
  /** Lines per round trip at most. */
  batch?: number;
  /** Told of each failed round trip (the caller throttles). */
  onFailure?: (detail: string, queued: number) => void;
  /** Told when lines start being dropped, once per outage, with the count so far. */
  onDrop?: (dropped: number) => void;
}

/** Where the line's `time` sits: every audit line starts `{"level":"info","time":"`. */
const TIME_AT = '{"level":"info","time":"'.length;

/** The line's `time` in epoch ms (its fixed place first, else searched); `fallback` when unreadable. */
export function lineTime(line: string, fallback: number): number {
  let at = TIME_AT;
  if (line.slice(at - 8, at) !== '"time":"') {
    const i = line.indexOf('"time":"');
    if (i === -1) return fallback;
    at = i + 8;
  }
  const ms = Date.parse(line.slice(at, at + 24));
  return Number.isFinite(ms) ? ms : fallback;
}

/**
 * The sink. `write` only pushes onto an array; one batch (up to `batch` lines, one Lua call that
 * XADDs them all) is in flight at a time, the next taken as soon as it returns, so lines reach Redis
 * within a round trip under any load. A failed batch stays at the head and is retried with backoff
 * (at-least-once: a batch Redis applied but whose answer was lost is sent again). While Redis is
 * away, up to `queue` lines wait; beyond that new lines are dropped and counted, never blocking.
 */
export class RedisAuditSink implements AuditSink {
  readonly name = 'redis';
  private lines: string[] = [];
  private sending = false;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private lost = 0;
  private dropping = false;
  private idle: (() => void)[] = [];
  private readonly queue: number;
  private readonly batch: number;
  /** Lines Redis accepted. */
  delivered = 0;
  /** Round trips that failed. */
  failures = 0;
  /** More listeners told when dropping starts (main.ts audits it to the other sinks). */
  readonly dropListeners: ((dropped: number) => void)[] = [];

  constructor(private readonly opts: RedisSinkOptions) {
    this.queue = opts.queue ?? 100_000;
    this.batch = opts.batch ?? 500;
  }

  write(line: string): void {
    if (this.lines.length >= this.queue) {
      this.lost++;
      if (!this.dropping) {
        this.dropping = true;
        this.opts.onDrop?.(this.lost);
        for (const l of this.dropListeners) l(this.lost);
      }
      return;
    }
    this.lines.push(line);
    if (!this.sending && this.attempt === 0 && this.timer === null) this.later(0);
  }

  queued(): number {
    return this.lines.length;
  }

  dropped(): number {
    return this.lost;
  }

  private later(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send();
    }, ms);
    this.timer.unref();
  }

  private async send(): Promise<void> {
    if (this.sending || this.lines.length === 0) return;
    this.sending = true;
    const n = Math.min(this.batch, this.lines.length);
    const now = this.opts.clock.now();
    const batch: StreamLine[] = new Array<StreamLine>(n);
    for (let i = 0; i < n; i++) {
      const line = this.lines[i] ?? '';
      // The stream holds the line as written, without its newline.
      const text = line.endsWith('\n') ? line.slice(0, -1) : line;
      batch[i] = { ms: lineTime(text, now), line: text };
    }
    try {
      await this.opts.stream.append(batch);
      this.lines.splice(0, n);
      this.delivered += n;
      this.attempt = 0;
      this.dropping = false;
    } catch (e) {
      this.failures++;
      this.attempt++;
      this.opts.onFailure?.((e as Error).message, this.lines.length);
    }
    this.sending = false;
    this.next();
  }

  private next(): void {
    if (this.lines.length === 0) {
      for (const w of this.idle.splice(0)) w();
      return;
    }
    if (this.attempt === 0) this.later(0);
    else this.later(Math.min(5000, 50 * 2 ** Math.min(this.attempt - 1, 7)));
  }

  /** Send what waits, retrying at once and with backoff, until done or `deadline` (epoch ms). */
  async flush(deadline: number): Promise<void> {
    if (this.lines.length === 0 && !this.sending) return;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    if (!this.sending) this.later(0);
    await byDeadline(done, deadline, this.opts.clock);
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.lines.length > 0) {
      this.lost += this.lines.length;
      this.lines = [];
    }
  }
}
