// The overview's rolling aggregator: per-minute counts by outcome, latency percentiles, bounded top refusals.
import { describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/audit-log.js';
import { TopK } from '../../src/audit/overview-minute.js';
import { createOverview, OverviewAggregator } from '../../src/audit/overview.js';
import { trailEvent } from '../helpers/audit-trail.js';
import { FakeClock } from '../helpers/clock.js';

const start = Date.parse('2026-12-03T02:00:00.000Z');
const event = (over: Partial<DecisionEvent>): DecisionEvent => ({ ...trailEvent(2), ...over });

describe('the overview of one replica', () => {
  it('counts decisions per minute by outcome over the last hour, oldest minute first', async () => {
    const clock = new FakeClock(start);
    const agg = new OverviewAggregator('edge-1', clock);
    const overview = createOverview(agg, clock, null);
    for (let m = 0; m < 90; m++) {
      for (let i = 0; i <= m % 3; i++) agg.record(event({ decision: 'allow' }));
      agg.record(event({ decision: 'forbidden' }));
      clock.advance(60_000);
    }
    const o = await overview.overview(clock.now() - 1);
    expect(o).toMatchObject({ source: 'local', replicas: ['edge-1'] });
    expect(o.minutes.length).toBe(60);
    expect(o.minutes[59]?.time).toBe(new Date(start + 89 * 60_000).toISOString());
    // Minutes 30 … 89 of the loop: allows cycle 1, 2, 3.
    expect(o.minutes.map((m) => m.counts.allow)).toEqual(
      Array.from({ length: 60 }, (_, i) => ((30 + i) % 3) + 1),
    );
    expect(o.totals.forbidden).toBe(60);
    expect(o.totals.allow).toBe(120);
    // Two hours later nothing is left.
    clock.advance(2 * 3600_000);
    expect((await overview.overview()).totals.allow).toBe(0);
  });

  it('gives latency percentiles per minute and over the hour, within the histogram’s ±9 %', async () => {
    const clock = new FakeClock(start);
    const agg = new OverviewAggregator('edge-1', clock);
    for (let i = 1; i <= 1000; i++) agg.record(event({ durationMs: i / 100 }));
    const o = await createOverview(agg, clock, null).overview();
    const near = (got: number | undefined, want: number) =>
      expect(Math.abs((got ?? 0) / want - 1)).toBeLessThan(0.1);
    near(o.latency?.p50, 5);
    near(o.latency?.p95, 9.5);
    near(o.latency?.p99, 9.9);
    expect(o.minutes[59]?.latency).toEqual(o.latency);
    expect(o.minutes[0]?.latency).toBeNull();
  });

  it('names the most refused identities, client IPs and paths, allows not counted', async () => {
    const clock = new FakeClock(start);
    const agg = new OverviewAggregator('edge-1', clock, 8);
    for (let i = 0; i < 50; i++)
      agg.record(event({ decision: 'allow', sub: 'friendly', clientIp: '192.0.2.1' }));
    for (let i = 0; i < 30; i++)
      agg.record(event({ decision: 'unauthenticated', sub: null, keyId: 'agent-7' }));
    // Many one-off attackers: more keys than the top-k holds.
    for (let i = 0; i < 200; i++)
      agg.record(event({ decision: 'forbidden', sub: `x${i}`, clientIp: `198.51.100.${i}` }));
    for (let i = 0; i < 20; i++) agg.record(event({ decision: 'limited', sub: 'agent-9', path: '/api/hot' }));
    const o = await createOverview(agg, clock, null).overview();
    expect(o.top.identities.slice(0, 2)).toEqual([
      { value: 'agent-7', count: 30 },
      { value: 'agent-9', count: 20 },
    ]);
    expect(o.top.paths).toEqual([
      { value: '/health', count: 230 },
      { value: '/api/hot', count: 20 },
    ]);
    expect(o.top.identities.map((t) => t.value)).not.toContain('friendly');
    expect(o.top.clientIps.map((t) => t.value)).not.toContain('192.0.2.1');
    expect(o.top.identities.length).toBeLessThanOrEqual(10);
  });

  it('keeps a heavy hitter among many keys (space-saving), its count an upper bound', () => {
    const top = new TopK(10);
    for (let i = 0; i < 1000; i++) {
      top.add(`noise-${i}`);
      if (i % 4 === 0) top.add('heavy');
    }
    expect(top.counts.size).toBe(10);
    expect(top.counts.get('heavy')).toBeGreaterThanOrEqual(250);
  });

  it('falls back to this replica when the shared minutes cannot be read, and says why', async () => {
    const clock = new FakeClock(start);
    const agg = new OverviewAggregator('edge-1', clock);
    agg.record(event({ decision: 'forbidden' }));
    const down = {
      putSnapshots: () => Promise.reject(new Error('connection refused')),
      snapshots: () => Promise.reject(new Error('connection refused')),
    };
    const o = await createOverview(agg, clock, down).overview();
    expect(o).toMatchObject({ source: 'local', unavailable: 'Redis: connection refused' });
    expect(o.totals.forbidden).toBe(1);
  });
});
