// The audit webhook: NDJSON batches POSTed off the hot path, retried with backoff, bounded queue.
import { jitteredBackoff } from '../util/backoff.js';
import type { Clock } from '../util/clock.js';
import { BatchQueue, QueuedSink } from './batch-queue.js';

/** Webhook settings (WARDEN_AUDIT_WEBHOOK_*). */
export interface WebhookOptions {
  url: string;
  /** Extra header sent with every POST, e.g. `['Authorization', 'Splunk <token>']`. */
  header?: [string, string];
  /** Events per POST at most. */
  batch: number;
  /** How long a partial batch waits before it is sent (ms). */
  intervalMs: number;
  /** Events waiting at most, the batch in flight included; more are dropped and counted. */
  queue: number;
  /** One POST's time limit (ms). */
  timeoutMs: number;
  /** First retry delay (ms), doubled per failure up to `maxBackoffMs`, with ±20 % jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Told about each failed POST (the ops log, rate-limited by the caller). */
  onFailure?: (detail: string, attempt: number) => void;
  fetch?: typeof fetch;
  /** The clock `flush`'s deadline is read on. */
  clock: Clock;
}

/**
 * The webhook sink. `write` only appends to a {@link BatchQueue}: the POST, its retries and its
 * waiting never touch the request that produced the event. One POST is in flight at a time, so
 * events arrive in order; a failed batch is retried (the same events, at the head of the queue)
 * until it is accepted with a 2xx. Delivery is at-least-once: a POST that times out after the
 * receiver took it is sent again.
 */
export class WebhookSink extends QueuedSink {
  readonly name = 'webhook';
  protected readonly lines: BatchQueue;
  /** Aborts the POST in flight at the shutdown deadline. */
  private readonly cancel = new AbortController();
  /** POSTs sent, retries included. */
  posts = 0;
  private readonly fetch: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: WebhookOptions) {
    super();
    this.fetch = opts.fetch ?? fetch;
    this.headers = { 'content-type': 'application/x-ndjson' };
    if (opts.header) this.headers[opts.header[0]] = opts.header[1];
    this.lines = new BatchQueue({
      queue: opts.queue,
      batch: opts.batch,
      intervalMs: opts.intervalMs,
      backoffMs: (attempt) => jitteredBackoff(attempt, opts.backoffMs ?? 500, opts.maxBackoffMs ?? 30_000),
      deliver: (lines) => this.post(lines.join('')),
      onFailure: (detail, attempt) => opts.onFailure?.(detail, attempt),
    });
  }

  /** One POST: null when the receiver took it (2xx), else what went wrong. */
  private async post(body: string): Promise<string | null> {
    this.posts++;
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.cancel.signal]);
      const res = await this.fetch(this.opts.url, { method: 'POST', headers: this.headers, body, signal });
      await res.arrayBuffer().catch(() => undefined);
      return res.status < 200 || res.status > 299 ? `HTTP ${res.status}` : null;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      return err.name === 'TimeoutError'
        ? `no answer within ${this.opts.timeoutMs} ms`
        : (err.cause?.code ?? err.message);
    }
  }

  /**
   * Send everything queued now, retrying with backoff, until it is delivered or `deadline`
   * passes; then the POST in flight is aborted and what is left counts as dropped.
   */
  async flush(deadline: number): Promise<void> {
    this.lines.stop();
    if (this.lines.queued() === 0 && !this.lines.sending()) return;
    // Sent at once, even in the middle of a backoff: the receiver may be back, and time is short.
    const done = this.lines.drain();
    const late = setTimeout(() => this.cancel.abort(), Math.max(0, deadline - this.opts.clock.now()));
    await Promise.race([
      done,
      new Promise<void>((resolve) => this.cancel.signal.addEventListener('abort', () => resolve())),
    ]);
    clearTimeout(late);
    // A POST aborted at the deadline settles on its own; wait for it so its outcome is counted.
    await this.lines.halt();
    this.lines.discard();
  }

  close(): void {
    this.lines.close();
  }
}
