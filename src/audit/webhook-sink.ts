// The audit webhook: NDJSON batches POSTed off the hot path, retried with backoff, bounded queue.
import type { Clock } from '../util/clock.js';
import type { AuditSink } from './sink.js';

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
 * The webhook sink. `write` only appends to an array: the POST, its retries and its waiting never
 * touch the request that produced the event. One POST is in flight at a time, so events arrive
 * in order; a failed batch is retried (the same events, at the head of the queue) until it is
 * accepted with a 2xx. Delivery is at-least-once: a POST that times out after the receiver took it
 * is sent again.
 */
export class WebhookSink implements AuditSink {
  readonly name = 'webhook';
  private lines: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sending = false;
  private attempt = 0;
  private stopping = false;
  /** Aborts the POST in flight at the shutdown deadline. */
  private readonly cancel = new AbortController();
  private idle: (() => void)[] = [];
  private lost = 0;
  /** Events accepted by the receiver. */
  delivered = 0;
  /** POSTs that failed (network error, timeout, non-2xx). */
  failures = 0;
  /** POSTs sent, retries included. */
  posts = 0;
  private readonly fetch: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: WebhookOptions) {
    this.fetch = opts.fetch ?? fetch;
    this.headers = { 'content-type': 'application/x-ndjson' };
    if (opts.header) this.headers[opts.header[0]] = opts.header[1];
  }

  write(line: string): void {
    if (this.lines.length >= this.opts.queue || this.stopping) {
      this.lost++;
      return;
    }
    this.lines.push(line);
    // A POST in flight, or a retry waiting out its backoff, sends these later: new events never cut a backoff short.
    if (this.sending || this.attempt > 0) return;
    if (this.lines.length >= this.opts.batch) this.sendSoon(0);
    else if (this.timer === null) this.sendSoon(this.opts.intervalMs);
  }

  queued(): number {
    return this.lines.length;
  }

  dropped(): number {
    return this.lost;
  }

  private sendSoon(ms: number): void {
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
    const n = Math.min(this.lines.length, this.opts.batch);
    const body = this.lines.slice(0, n).join('');
    let failure: string | null = null;
    this.posts++;
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.cancel.signal]);
      const res = await this.fetch(this.opts.url, { method: 'POST', headers: this.headers, body, signal });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status > 299) failure = `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      failure =
        err.name === 'TimeoutError'
          ? `no answer within ${this.opts.timeoutMs} ms`
          : (err.cause?.code ?? err.message);
    }
    this.sending = false;
    if (failure === null) {
      this.lines.splice(0, n);
      this.delivered += n;
      this.attempt = 0;
    } else {
      this.failures++;
      this.attempt++;
      this.opts.onFailure?.(failure, this.attempt);
    }
    this.next();
  }

  /** After a POST: the next full batch now, a partial one after the interval, a failed one after the backoff. */
  private next(): void {
    if (this.lines.length === 0) {
      for (const w of this.idle.splice(0)) w();
      return;
    }
    if (this.cancel.signal.aborted) return;
    if (this.attempt > 0) {
      const base = Math.min(
        this.opts.maxBackoffMs ?? 30_000,
        (this.opts.backoffMs ?? 500) * 2 ** (this.attempt - 1),
      );
      this.sendSoon(Math.round(base * (0.8 + Math.random() * 0.4)));
    } else if (this.lines.length >= this.opts.batch || this.stopping) this.sendSoon(0);
    else this.sendSoon(this.opts.intervalMs);
  }

  /**
   * Send everything queued now, retrying with backoff, until it is delivered or `deadline`
   * passes; then the POST in flight is aborted and what is left counts as dropped.
   */
  async flush(deadline: number): Promise<void> {
    this.stopping = true;
    if (this.lines.length === 0 && !this.sending) return;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    // Try at once, even in the middle of a backoff: the receiver may be back, and time is short.
    if (!this.sending) this.sendSoon(0);
    const late = setTimeout(() => this.cancel.abort(), Math.max(0, deadline - this.opts.clock.now()));
    await Promise.race([
      done,
      new Promise<void>((resolve) => this.cancel.signal.addEventListener('abort', () => resolve())),
    ]);
    clearTimeout(late);
    // A POST aborted at the deadline settles on its own; wait for it so its outcome is counted.
    while (this.sending) await new Promise((r) => setTimeout(r, 5));
    if (this.lines.length > 0) {
      this.lost += this.lines.length;
      this.lines = [];
    }
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
