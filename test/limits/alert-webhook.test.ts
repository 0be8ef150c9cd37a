// Alert delivery to a real local receiver: retried on 5xx, 429 and network errors, never on another 4xx, bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { AlertWebhook } from '../../src/limits/alert-webhook.js';
import { within } from '../helpers/redis.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let receiver: WebhookReceiver | null = null;
afterEach(async () => {
  await receiver?.close();
  receiver = null;
});

function hook(url: string, outcomes: string[], attempts = 3): AlertWebhook {
  return new AlertWebhook({
    url,
    fetch,
    attempts,
    backoffMs: 10,
    onOutcome: (o) => outcomes.push(o),
  });
}

describe('AlertWebhook', () => {
  it('posts JSON in order, retrying a 503 and a 429 until accepted', async () => {
    const r = (receiver = await startReceiver((n) => ({ status: [503, 429, 200, 204][n] ?? 204 })));
    const outcomes: string[] = [];
    const h = hook(r.url, outcomes, 5);
    h.send({ text: 'one' });
    h.send({ text: 'two' });
    // The sender's outcome comes after the receiver has recorded the POST.
    await within(1000, () => outcomes.length === 4);
    expect(r.accepted().map((e) => e.text)).toEqual(['one', 'two']);
    expect(r.posts[0]!.headers['content-type']).toBe('application/json');
    expect(outcomes).toEqual(['retried', 'retried', 'delivered', 'delivered']);
    h.close();
  });

  it('gives up after the attempts allowed, and never retries a 400', async () => {
    const r = (receiver = await startReceiver((n) => ({ status: n < 3 ? 500 : 400 })));
    const outcomes: string[] = [];
    const h = hook(r.url, outcomes, 3);
    h.send({ text: 'doomed' });
    h.send({ text: 'refused' });
    await within(1000, () => outcomes.length === 4);
    expect(outcomes).toEqual(['retried', 'retried', 'failed', 'failed']);
    expect(r.posts.map((p) => p.status)).toEqual([500, 500, 500, 400]);
    expect(h.pending()).toBe(0);
    h.close();
  });

  it('drops what does not fit the queue instead of growing', () => {
    const outcomes: string[] = [];
    // Nothing listens on port 9 of 127.0.0.1 here: every POST fails and waits for its retry.
    const h = new AlertWebhook({
      url: 'http://127.0.0.1:9/',
      fetch,
      queue: 2,
      backoffMs: 60_000,
      onOutcome: (o) => outcomes.push(o),
    });
    for (let i = 0; i < 4; i++) h.send({ i });
    expect(outcomes.filter((o) => o === 'dropped')).toHaveLength(2);
    expect(h.pending()).toBe(2);
    h.close();
  });
});
