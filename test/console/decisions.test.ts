// The console's decision feed: live sampling above 20 a second, and when this replica last saw each key.
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
  it('sends every decision up to 20 a second, then one in N with N sent along', () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const feed = new DecisionFeed();
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

  it('remembers when this replica last saw a key', () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const feed = new DecisionFeed();
    feed.record(decision({ keyId: 'k1' }), clock.now());
    feed.record(
      decision({ decision: 'unauthenticated', cause: 'revoked', keyId: 'k1', sub: null }),
      clock.now() + 5,
    );
    expect(feed.keyLastSeen('k1')).toBe(clock.now() + 5);
    expect(feed.keyLastSeen('k2')).toBeUndefined();
  });
});
