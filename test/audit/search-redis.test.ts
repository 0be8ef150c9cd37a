// The redis audit sink and the search over its shared stream, against a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { AuditChain } from '../../src/audit/chain.js';
import { RedisAuditSink } from '../../src/audit/redis-sink.js';
import { redisSource } from '../../src/audit/search-source.js';
import { createAuditSearch } from '../../src/audit/search.js';
import { fileSource } from '../../src/audit/search-file.js';
import { auditKeys, redisAuditStream } from '../../src/store/redis-audit.js';
import { connectRedis } from '../../src/store/redis.js';
import { memorySink, writeTrail } from '../helpers/audit-trail.js';
import { FakeClock } from '../helpers/clock.js';
import { ifStarted } from '../helpers/hooks.js';
import { redisDescribe, startRedis, type RedisServer } from '../helpers/redis.js';
import { freePort } from '../e2e/harness/net.js';
import { searchContract, TRAIL_START, writeContractTrail } from './search-contract.js';

const start = TRAIL_START;

redisDescribe('the redis audit sink and search', () => {
  let redis: RedisServer;
  const clients: { quit(): Promise<unknown> }[] = [];
  /** A connected client (commands are refused, not queued, before it is ready). */
  const client = async () => {
    const c = connectRedis({ url: redis.url, commandTimeoutMs: 2000 })!;
    clients.push(c);
    if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
    return c;
  };
  /** A client of a port nothing listens on: every command is refused at once. */
  const deadClient = async () => {
    const dead = connectRedis({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 })!;
    dead.on('error', () => {});
    clients.push({
      quit: () => {
        dead.disconnect();
        return Promise.resolve();
      },
    });
    return dead;
  };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) await c.quit().catch(() => {});
    await ifStarted(redis)?.stop();
  });

  describe('search over the shared stream', () => {
    searchContract('redis', async () => {
      const stream = redisAuditStream(await client(), 'search:', 1_000_000);
      const trail = await writeContractTrail((clock) => new RedisAuditSink({ stream, clock, batch: 64 }));
      return { ...trail, search: createAuditSearch({ redis: redisSource(stream) }) };
    });
  });

  it('stores exactly the chained lines the other sinks write, ids on the lines’ times', async () => {
    const clock = new FakeClock(start);
    const stream = redisAuditStream(await client(), 'exact:', 1_000_000);
    const memory = memorySink(clock);
    const audit = createAuditLog([new RedisAuditSink({ stream, clock }), memory.sink], clock, {
      chain: new AuditChain('edge-2'),
    });
    await writeTrail(audit, clock, 0, 40);
    audit.close();
    const stored = (await stream.newest('+', '-', 1000)).reverse();
    expect(stored.map((e) => e.line.toString())).toEqual(memory.lines);
    for (const e of stored) {
      const r = JSON.parse(e.line.toString()) as { time: string; hash: string; seq: number; replica: string };
      expect(Number(e.id.split('-')[0])).toBe(Date.parse(r.time));
      expect(r.replica).toBe('edge-2');
    }
  });

  it('keeps ids in order when a replica’s clock lags, and never earlier than the line', async () => {
    const stream = redisAuditStream(await client(), 'lag:', 1_000_000);
    const line = (ms: number) => `{"level":"info","time":"${new Date(ms).toISOString()}","x":1}`;
    await stream.append([{ ms: start + 5000, line: line(start + 5000) }]);
    await stream.append([{ ms: start + 1000, line: line(start + 1000) }]);
    const ids = (await stream.newest('+', '-', 10)).map((e) => e.id).reverse();
    expect(ids).toEqual([`${start + 5000}-0`, `${start + 5000}-1`]);
  });

  it('caps the stream near WARDEN_AUDIT_REDIS_MAXLEN, keeping the newest', async () => {
    const stream = redisAuditStream(await client(), 'cap:', 1000);
    const batch = (i: number) =>
      Array.from({ length: 500 }, (_, j) => ({ ms: start + i * 500 + j, line: `{"n":${i * 500 + j}}` }));
    for (let i = 0; i < 10; i++) await stream.append(batch(i));
    const len = await stream.length();
    expect(len).toBeGreaterThanOrEqual(1000);
    // MAXLEN ~ trims whole stream nodes (100 entries by default): never far past the cap.
    expect(len).toBeLessThanOrEqual(1100);
    const [newest] = await stream.newest('+', '-', 1);
    expect(newest?.line.toString()).toBe('{"n":4999}');
    expect(await redis.cli('TYPE', auditKeys('cap:').stream)).toBe('stream');
  });

  it('never blocks while Redis is away: bounded, drops counted and told once', async () => {
    const clock = new FakeClock(start);
    const dead = await deadClient();
    const drops: number[] = [];
    const failures: string[] = [];
    const sink = new RedisAuditSink({
      stream: redisAuditStream(dead, 'dead:', 1000),
      clock,
      queue: 10,
      onDrop: (n) => drops.push(n),
      onFailure: (d) => failures.push(d),
    });
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++)
      sink.write(`{"level":"info","time":"2026-12-03T00:00:00.000Z","i":${i}}\n`);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(sink.queued()).toBe(10);
    expect(sink.dropped()).toBe(990);
    expect(drops).toEqual([1]);
    await sink.flush(clock.now() + 100);
    expect(failures.length).toBeGreaterThan(0);
    sink.close();
    expect(sink.dropped()).toBe(1000);
  });

  it('answers from this replica’s file when the shared stream is unavailable, and says why', async () => {
    const dead = await deadClient();
    const search = createAuditSearch({
      redis: redisSource(redisAuditStream(dead, 'dead:', 1000)),
      file: fileSource('/nonexistent-dir/audit.jsonl'),
    });
    const page = await search.search({}, null, { limit: 5 });
    expect(page.source).toBe('file');
    expect(page.unavailable).toMatch(/^Redis: /);
  });
});
