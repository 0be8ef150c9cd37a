// Alert delivery: one JSON POST per firing to WARDEN_ALERT_WEBHOOK_URL, off the request path, retried with backoff.
import { jitteredBackoff } from '../util/backoff.js';

/** Delivery settings. */
export interface AlertWebhookOptions {
  url: string;
  fetch: typeof fetch;
  /** One POST's time limit (ms). */
  timeoutMs?: number;
  /** POSTs per alert at most, the first included. */
  attempts?: number;
  /** First retry delay (ms), doubled per failure up to `maxBackoffMs`, with ±20 % jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Alerts waiting at most; more are dropped (an alert storm must not grow memory). */
  queue?: number;
  /** Told about each delivery's outcome: `delivered`, `retried` (a failed attempt), `failed` (gave up), `dropped`. */
  onOutcome?: (outcome: 'delivered' | 'retried' | 'failed' | 'dropped', detail: string) => void;
}

/** A status worth trying again: the receiver is busy or broken, not refusing the message. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Posts alerts one at a time, in order. A network error, a timeout, a 408, 429 or 5xx is retried
 * after a growing delay, up to `attempts` POSTs; another 4xx is final (the message will not
 * improve). `send` only queues: nothing here ever waits on the request that fired the alert.
 */
export class AlertWebhook {
  private readonly queue: { body: string; attempt: number }[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly o: Required<Omit<AlertWebhookOptions, 'onOutcome'>> &
    Pick<AlertWebhookOptions, 'onOutcome'>;

  constructor(opts: AlertWebhookOptions) {
    this.o = { timeoutMs: 5000, attempts: 5, backoffMs: 500, maxBackoffMs: 30_000, queue: 1000, ...opts };
  }

  /** Queue one alert's JSON body. */
  send(payload: unknown): void {
    if (this.closed) return;
    if (this.queue.length >= this.o.queue) {
      this.o.onOutcome?.('dropped', `queue full (${this.o.queue} alerts)`);
      return;
    }
    this.queue.push({ body: JSON.stringify(payload), attempt: 0 });
    this.next();
  }

  /** Alerts not yet delivered (the one in flight included). */
  pending(): number {
    return this.queue.length;
  }

  private next(): void {
    if (this.busy || this.timer || this.closed) return;
    const head = this.queue[0];
    if (!head) return;
    this.busy = true;
    void this.post(head).then((retryIn) => {
      this.busy = false;
      if (retryIn === null) this.queue.shift();
      else {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.next();
        }, retryIn);
        this.timer.unref();
        return;
      }
      this.next();
    });
  }

  /** POST once: null when done with it (delivered or given up), else the delay before the next try. */
  private async post(item: { body: string; attempt: number }): Promise<number | null> {
    item.attempt++;
    let detail: string;
    let again: boolean;
    try {
      const res = await this.o.fetch(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: item.body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.o.onOutcome?.('delivered', `HTTP ${res.status}`);
        return null;
      }
      detail = `HTTP ${res.status}`;
      again = retryable(res.status);
    } catch (e) {
      detail = (e as Error).name === 'TimeoutError' ? 'timed out' : (e as Error).message;
      again = true;
    }
    if (!again || item.attempt >= this.o.attempts) {
      this.o.onOutcome?.('failed', `${detail} after ${item.attempt} attempts`);
      return null;
    }
    this.o.onOutcome?.('retried', `${detail} (attempt ${item.attempt})`);
    return jitteredBackoff(item.attempt, this.o.backoffMs, this.o.maxBackoffMs);
  }

  /** Stop: what is still queued is not sent. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
