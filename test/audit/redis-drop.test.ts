// The redis sink while Redis is away: /verify never waits, drops are counted and audited to the other sinks.
import { afterEach, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { OverviewAggregator } from '../../src/audit/overview.js';
import { RedisAuditSink } from '../../src/audit/redis-sink.js';
import type { AuditView } from '../../src/audit/view.js';
import { openAuditView } from '../../src/audit-view.js';
import { loadEnv } from '../../src/config/load.js';
import { redisAuditStream } from '../../src/store/redis-audit.js';
import { connectRedis } from '../../src/store/redis.js';
import { freePort } from '../e2e/harness/net.js';
import { memorySink, trailEvent } from '../helpers/audit-trail.js';
import { FakeClock } from '../helpers/clock.js';

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

it('audits the first drop of an outage to the other sinks, once, and keeps counting', async () => {
  const clock = new FakeClock();
  // Nothing listens on this port: every append is refused at once.
  const dead = connectRedis({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 })!;
  dead.on('error', () => {});
  cleanup.push(() => dead.disconnect());
  const stream = redisAuditStream(dead, 'drop:', 1000);
  const redis = new RedisAuditSink({ stream, clock, queue: 3 });
  const memory = memorySink(clock);
  const sinks = [redis, memory.sink];
  const aggregator = new OverviewAggregator('edge-1', clock);
  const audit = createAuditLog(sinks, clock, { observe: (e) => aggregator.record(e) });
  const env = loadEnv({ WARDEN_AUDIT_SINKS: 'stdout,redis', REDIS_URL: 'redis://127.0.0.1:1' });
  const view: AuditView = openAuditView(env, { audit, sinks, stream, aggregator, clock });
  cleanup.push(
    () => view.overview.stop(),
    () => audit.close(),
  );
  for (let i = 0; i < 10; i++) audit.decision(trailEvent(i));
  await audit.flush(clock.now());
  // The drop event is written right after the line that overflowed.
  await new Promise((resolve) => setImmediate(resolve));
  await audit.flush(clock.now());
  const events = memory.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events.filter((e) => e.event === 'decision').length).toBe(10);
  expect(events.filter((e) => e.event === 'audit_lines_dropped')).toMatchObject([
    { sink: 'redis', dropped: 1 },
  ]);
  // 3 waiting; the other 7 decisions and the drop event itself were dropped.
  expect(redis.queued()).toBe(3);
  expect(redis.dropped()).toBe(8);
  expect((await view.overview.overview()).totals.allow).toBe(2);
});
