// The console's decision feed: the last hour minute by minute, the most refused, latency, and live sampling above 20/s.
import { describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/audit-log.js';
import { DecisionFeed, LIVE_RATE, type LiveDecision } from '../../src/console/decisions.js';
import { FakeClock } from '../helpers/clock.js';

function decision(over: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    reqId: 'r',
    decision: 'allow',
    reason: 'permitted',
    status: 200,
    dialect: 'traefik',
    method: 'GET',
    host: 'app.example.com',
    path: '/a',
    clientIp: '203.0.113.1',
    peer: '127.0.0.1',
    sub: 'agent-1',
    authMethod: 'api_key',
    keyId: 'agent-1',
    rule: 0,
    durationMs: 0.3,
    ...over,
  };
}

describe('DecisionFeed', () => {
  it('counts each minute of the last hour by outcome and ranks what was refused', () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 30));
    const feed = new DecisionFeed(() => clock.now());
    const hit = (e: Partial<DecisionEvent>) => feed.record(decision(e), clock.now());
    hit({});
    hit({ decision: 'forbidden', status: 403, sub: 'agent-7', path: '/admin' });
    clock.advance(60_000);
    hit({ decision: 'forbidden', status: 403, sub: 'agent-7', path: '/admin', durationMs: 40 });
    hit({ decision: 'unauthenticated', status: 401, sub: null, clientIp: '198.51.100.2', path: '/x' });
    const o = feed.overview();
    expect(o.minutes).toHaveLength(60);
    expect(o.minutes.at(-1)).toBe(Date.UTC(2026, 0, 1, 12, 1));
    expect(o.series.allow.slice(-2)).toEqual([1, 0]);
    expect(o.series.forbidden.slice(-2)).toEqual([1, 1]);
    expect(o.series.unauthenticated.slice(-2)).toEqual([0, 1]);
    expect(o.top.identities).toEqual([{ value: 'agent-7', count: 2 }]);
    expect(o.top.paths[0]).toEqual({ value: '/admin', count: 2 });
    expect(o.latency).toMatchObject({ count: 4, p50Ms: 0.5, p99Ms: 50, maxMs: 40 });
    // An hour later the first minute has left the window.
    clock.advance(59 * 60_000);
    expect(feed.overview().series.allow.reduce((a, b) => a + b)).toBe(0);
    expect(feed.overview().top.identities).toEqual([{ value: 'agent-7', count: 1 }]);
  });

  it('sends every decision up to 20 a second, then one in N with N sent along', () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const feed = new DecisionFeed(() => clock.now());
    const seen: LiveDecision[] = [];
    const stop = feed.subscribe((d) => seen.push(d));
    for (let i = 0; i < 10; i++) feed.record(decision(), clock.now());
    expect(seen).toHaveLength(10);
    expect(seen.every((d) => d.sample === 1)).toBe(true);
    clock.advance(1000);
    for (let i = 0; i < 100; i++) feed.record(decision(), clock.now());
    clock.advance(1000);
    seen.length = 0;
    for (let i = 0; i < 100; i++) feed.record(decision({ path: `/p${i}` }), clock.now());
    // 100 a second before: one in 5 is sent, each saying so.
    expect(seen).toHaveLength(100 / Math.ceil(100 / LIVE_RATE));
    expect(seen.every((d) => d.sample === 5)).toBe(true);
    expect(seen[0]).toMatchObject({ path: expect.stringMatching(/^\/p/), status: 200, identity: 'agent-1' });
    stop();
    feed.record(decision(), clock.now());
    expect(seen).toHaveLength(20);
  });

  it('remembers when this replica last saw a key, and what a revocation refused', () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const feed = new DecisionFeed(() => clock.now());
    feed.record(decision({ keyId: 'k1' }), clock.now());
    feed.record(
      decision({ decision: 'unauthenticated', cause: 'revoked', keyId: 'k1', sub: null }),
      clock.now() + 5,
    );
    expect(feed.keyLastSeen('k1')).toBe(clock.now() + 5);
    expect(feed.refusedByRevocation('key', 'k1')).toBe(1);
    expect(feed.keyLastSeen('k2')).toBeUndefined();
  });
});
