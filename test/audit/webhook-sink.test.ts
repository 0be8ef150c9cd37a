import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { AuditChain } from '../../src/audit/chain.js';
import { STDIN, verifyAuditFiles } from '../../src/audit/chain-verify.js';
import { WebhookSink, type WebhookOptions } from '../../src/audit/webhook-sink.js';
import { systemClock } from '../../src/util/clock.js';
import { within } from '../helpers/redis.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { freePort } from '../e2e/harness/net.js';

const line = (n: number) => `{"event":"decision","n":${n}}\n`;
let receiver: WebhookReceiver | null = null;
let sink: WebhookSink | null = null;

function webhook(url: string, opts: Partial<WebhookOptions> = {}): WebhookSink {
  sink = new WebhookSink({
    url,
    batch: 10,
    intervalMs: 60_000,
    queue: 1000,
    timeoutMs: 2000,
    backoffMs: 50,
    maxBackoffMs: 200,
    clock: systemClock,
    ...opts,
  });
  return sink;
}

afterEach(async () => {
  sink?.close();
  await receiver?.close();
  receiver = sink = null;
});

describe('audit webhook', () => {
  it('sends full batches at once, as NDJSON with the auth header, in order; the rest after the interval', async () => {
    receiver = await startReceiver();
    const s = webhook(receiver.url, {
      batch: 10,
      intervalMs: 1500,
      header: ['Authorization', 'Splunk test-token'],
    });
    const started = Date.now();
    for (let i = 0; i < 35; i++) s.write(line(i));
    await within(3000, () => receiver!.posts.length === 3);
    // Three full batches went without waiting for the interval (1.5 s); the partial fourth waits for it.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(receiver.posts.map((p) => p.events.length)).toEqual([10, 10, 10]);
    await within(4000, () => receiver!.posts.length === 4);
    expect(receiver.posts[3]!.at - started).toBeGreaterThanOrEqual(1400);
    expect(receiver.posts[3]!.events).toHaveLength(5);
    expect(receiver.accepted().map((e) => e.n)).toEqual([...Array(35).keys()]);
    expect(receiver.posts[0]!.headers['content-type']).toBe('application/x-ndjson');
    expect(receiver.posts[0]!.headers.authorization).toBe('Splunk test-token');
    await within(1000, () => s.queued() === 0);
    expect(s.dropped()).toBe(0);
  });

  it('retries a batch after a burst of 500s and delivers every event exactly once', async () => {
    receiver = await startReceiver((n) => ({ status: n < 3 ? 500 : 200 }));
    const s = webhook(receiver.url, { batch: 10 });
    for (let i = 0; i < 20; i++) s.write(line(i));
    await within(5000, () => receiver!.accepted().length === 20);
    expect(receiver.posts.slice(0, 3).map((p) => p.status)).toEqual([500, 500, 500]);
    // The refused batch is the one retried: the same ten events, then the next ten.
    expect(receiver.posts.slice(0, 4).map((p) => p.events.map((e) => e.n))).toEqual(
      Array(4).fill([...Array(10).keys()]),
    );
    expect(receiver.accepted().map((e) => e.n)).toEqual([...Array(20).keys()]);
    expect(s.failures).toBe(3);
    await within(1000, () => s.delivered === 20);
    expect(s.dropped()).toBe(0);
  });

  it('resends a batch the receiver stored but failed to acknowledge with the same seq and hash per line: deduped by replica+seq, it verifies', async () => {
    // The receiver stores every POST (a SIEM that wrote the batch, then timed out or answered 500).
    receiver = await startReceiver((n) => ({ status: n === 1 ? 500 : 204 }));
    const s = webhook(receiver.url, { batch: 10 });
    const log = createAuditLog([s], systemClock, { chain: new AuditChain('edge-1') });
    for (let i = 0; i < 30; i++) log.admin({ event: 'policy_reloaded', n: i });
    await within(5000, () => receiver!.accepted().length === 30);
    const stored = receiver.posts.flatMap((p) => p.events);
    expect(stored).toHaveLength(40);
    // The retried batch carries identical lines: the second and third POST are the same ten events.
    expect(receiver.posts[2]!.events).toEqual(receiver.posts[1]!.events);
    // The receiver keeps the first copy of each replica+seq; what it keeps verifies as a complete chain.
    const kept = new Map(stored.map((e) => [`${String(e.replica)} ${String(e.seq)}`, e] as const).reverse());
    expect(kept.size).toBe(30);
    const text = stored
      .filter((e, i) => stored.findIndex((o) => o.replica === e.replica && o.seq === e.seq) === i)
      .map((e) => `${JSON.stringify(e)}\n`)
      .join('');
    const report = await verifyAuditFiles([STDIN], { stdin: Readable.from([text]) });
    expect(report).toMatchObject({ lines: 30, breaks: [] });
    log.close();
  });

  it('keeps a bounded queue while the receiver is down, counts what it drops, and delivers the rest when it returns', async () => {
    const port = await freePort();
    const s = webhook(`http://127.0.0.1:${port}/audit`, { batch: 10, queue: 50 });
    for (let i = 0; i < 80; i++) s.write(line(i));
    expect(s.queued()).toBe(50);
    expect(s.dropped()).toBe(30);
    await within(3000, () => s.failures >= 2);
    receiver = await startReceiver(undefined, port);
    await within(5000, () => receiver!.accepted().length === 50);
    expect(receiver.accepted().map((e) => e.n)).toEqual([...Array(50).keys()]);
    await within(1000, () => s.queued() === 0);
    expect(s.dropped()).toBe(30);
  });

  it('backs off while the receiver keeps failing, however many events keep arriving', async () => {
    receiver = await startReceiver(() => ({ status: 500 }));
    const s = webhook(receiver.url, { batch: 5, backoffMs: 100, maxBackoffMs: 10_000 });
    // An event every 10 ms for a second, the queue always past a batch.
    for (let i = 0; i < 100; i++) {
      s.write(line(i));
      await new Promise((r) => setTimeout(r, 10));
    }
    // Retries after ~100, 200, 400 ms: four or five POSTs, not one per event.
    expect(receiver.posts.length).toBeGreaterThanOrEqual(3);
    expect(receiver.posts.length).toBeLessThanOrEqual(6);
    expect(s.queued()).toBe(100);
  });

  it('flush sends the partial batch now and gives up at the deadline, counting what it could not deliver', async () => {
    receiver = await startReceiver();
    const s = webhook(receiver.url, { batch: 100, intervalMs: 60_000 });
    for (let i = 0; i < 7; i++) s.write(line(i));
    await s.flush(Date.now() + 2000);
    expect(receiver.accepted()).toHaveLength(7);

    receiver.respond = () => ({ status: 503 });
    for (let i = 0; i < 5; i++) s.write(line(i));
    const t0 = Date.now();
    await s.flush(Date.now() + 400);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(s.dropped()).toBe(5);
    expect(s.queued()).toBe(0);
  });

  it('a receiver that takes 5 s is given up on at the POST timeout and retried', async () => {
    receiver = await startReceiver((n) => ({ status: 200, delayMs: n === 0 ? 5000 : 0 }));
    const s = webhook(receiver.url, { batch: 3, timeoutMs: 300 });
    for (let i = 0; i < 3; i++) s.write(line(i));
    await within(3000, () => receiver!.accepted().length >= 3);
    expect(s.failures).toBe(1);
    expect(receiver.accepted().map((e) => e.n)).toEqual([0, 1, 2]);
  });
});
