// A webhook receiver that takes 5 s per POST leaves /verify latency as it is (a timing suite: runs alone).
import { afterAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { scrape, value } from '../helpers/prometheus.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const policy = {
  roles: { developer: ['api:*'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const dev = testKey('dev', ['developer']);
const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
});

async function timed(w: TestWarden): Promise<number> {
  const t0 = performance.now();
  const r = await send(`${w.url}/verify/traefik`, {
    headers: traefikHeaders('/api/x', '203.0.113.5', dev.key),
  });
  expect(r.status).toBe(200);
  return performance.now() - t0;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)]!;

describe('webhook sink: a slow receiver', () => {
  it('a receiver that takes 5 s per POST does not slow /verify (compared with audit off, interleaved)', async () => {
    const receiver: WebhookReceiver = await startReceiver(() => ({ status: 200, delayMs: 5000 }));
    open.push(receiver);
    const slow = await startWarden({
      policy,
      keys: [dev.entry],
      env: {
        WARDEN_AUDIT_SINKS: 'webhook',
        WARDEN_AUDIT_WEBHOOK_URL: receiver.url,
        WARDEN_AUDIT_WEBHOOK_BATCH: '5',
        WARDEN_AUDIT_WEBHOOK_INTERVAL: '50ms',
        WARDEN_SHUTDOWN_TIMEOUT: '1s',
      },
    });
    open.push(slow);
    const off = await startWarden({ policy, keys: [dev.entry], env: { WARDEN_AUDIT_SINKS: 'none' } });
    open.push(off);
    const withWebhook: number[] = [];
    const without: number[] = [];
    // Alternate so that whatever else the machine does falls on both alike.
    for (let i = 0; i < 300; i++) {
      withWebhook.push(await timed(slow));
      without.push(await timed(off));
    }
    const [p50, p99, max] = [pct(withWebhook, 0.5), pct(withWebhook, 0.99), Math.max(...withWebhook)];
    const [b50, b99] = [pct(without, 0.5), pct(without, 0.99)];
    console.log(
      `/verify with a 5 s webhook: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${max.toFixed(2)} ms; audit off: p50 ${b50.toFixed(2)} ms, p99 ${b99.toFixed(2)} ms`,
    );
    // No answer waits for a POST (5 s); the distribution is that of warden without any audit.
    expect(max).toBeLessThan(1000);
    expect(p50).toBeLessThan(b50 * 2 + 1);
    expect(p99).toBeLessThan(b99 * 3 + 10);
    // Meanwhile the first POSTs still wait for their answers and the events queue up.
    const m = await scrape(`${slow.url}/metrics`);
    expect(value(m, 'warden_audit_queue_depth', { sink: 'webhook' })).toBe(300);
    expect(receiver.posts).toHaveLength(0);
  });
});
