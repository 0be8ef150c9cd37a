// The redis audit sink: lines batched into the shared capped stream off the hot path, bounded while Redis is away.
import type { Clock } from '../util/clock.js';
import type { AuditStream, StreamLine } from './audit-stream.js';
import { BatchQueue, QueuedSink } from './batch-queue.js';
import { byDeadline } from './sink.js';

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

/** Retry delays: 50 ms, doubled per failure, 5 s at most. */
const backoffMs = (attempt: number) => Math.min(5000, 50 * 2 ** Math.min(attempt - 1, 7));

/**
 * The sink. `write` only pushes onto a {@link BatchQueue}; one batch (up to `batch` lines, one Lua
 * call that XADDs them all) is in flight at a time, the next taken as soon as it returns, so lines
 * reach Redis within a round trip under any load. A failed batch stays at the head and is retried
 * with backoff (at-least-once: a batch Redis applied but whose answer was lost is sent again). While
 * Redis is away, up to `queue` lines wait; beyond that new lines are dropped and counted, never blocking.
 */
export class RedisAuditSink extends QueuedSink {
  readonly name = 'redis';
  protected readonly lines: BatchQueue;
  /** More listeners told when dropping starts (main.ts audits it to the other sinks). */
  readonly dropListeners: ((dropped: number) => void)[] = [];

  constructor(private readonly opts: RedisSinkOptions) {
    super();
    this.lines = new BatchQueue({
      queue: opts.queue ?? 100_000,
      batch: opts.batch ?? 500,
      intervalMs: 0,
      backoffMs,
      deliver: (lines) => this.append(lines),
      onFailure: (detail, _attempt, queued) => opts.onFailure?.(detail, queued),
      onDrop: (dropped) => {
        opts.onDrop?.(dropped);
        for (const l of this.dropListeners) l(dropped);
      },
    });
  }

  private async append(lines: readonly string[]): Promise<null> {
    const now = this.opts.clock.now();
    const batch = lines.map((line): StreamLine => {
      // The stream holds the line as written, without its newline.
      const text = line.endsWith('\n') ? line.slice(0, -1) : line;
      return { ms: lineTime(text, now), line: text };
    });
    await this.opts.stream.append(batch);
    return null;
  }

  /** Send what waits, retrying at once and with backoff, until done or `deadline` (epoch ms). */
  async flush(deadline: number): Promise<void> {
    await byDeadline(this.lines.drain(), deadline, this.opts.clock);
  }

  close(): void {
    this.lines.close();
    this.lines.discard();
  }
}
