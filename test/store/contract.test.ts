// One store contract, two stores: the same suite runs on the memory store and on a real redis-server.
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadEnv } from '../../src/config/load.js';
import { openStore } from '../../src/services.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { BatchedCounts } from '../../src/store/batched-counts.js';
import { MirroredSet } from '../../src/store/mirror.js';
import type { SetChange, Store } from '../../src/store/store.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { ifStarted } from '../helpers/hooks.js';
import { makeDir, removeDir } from '../helpers/tmp.js';

/** The contract on the stores `make` opens; its `cleanUp` runs once they are closed. */
function contract(name: string, make: () => { a: Store; b: Store; cleanUp?: () => void }) {
  describe(name, () => {
    let a: Store;
    let b: Store;
    let cleanUp: (() => void) | undefined;
    beforeAll(async () => {
      ({ a, b, cleanUp } = make());
      expect(await a.waitReady(5000)).toBe(true);
      expect(await b.waitReady(5000)).toBe(true);
    });
    afterAll(async () => {
      try {
        await a.close();
        await b.close();
      } finally {
        cleanUp?.();
      }
    });

    it('counts a limit and refuses over it with the time to wait', async () => {
      const l = a.limiter({ keyPrefix: `t1:${Math.random()}`, points: 2, duration: 60 });
      expect(await l.consume('k')).toMatchObject({ allowed: true, remaining: 1 });
      expect(await l.consume('k')).toMatchObject({ allowed: true, remaining: 0 });
      const over = await l.consume('k');
      expect(over).toMatchObject({ allowed: false, remaining: 0 });
      expect(over.resetMs).toBeGreaterThan(58_000);
      expect(over.resetMs).toBeLessThanOrEqual(60_000);
      expect((await l.consume('other')).allowed).toBe(true);
    });

    it('keeps set entries, removes them, and drops expired ones', async () => {
      const s = a.set(`s1-${Math.random()}`, { persistent: true });
      const now = Date.now();
      await s.add({ id: 'x', createdAt: now, reason: 'r' });
      await s.add({ id: 'gone', createdAt: now, expiresAt: now - 1 });
      await s.add({ id: 'later', createdAt: now, expiresAt: now + 60_000 });
      expect((await s.all()).entries.map((e) => e.id).sort()).toEqual(['later', 'x']);
      expect(await s.remove('x')).toBe(true);
      expect(await s.remove('x')).toBe(false);
      expect((await s.all()).entries.map((e) => e.id)).toEqual(['later']);
    });

    it('adds counts in batches, reads them back (0 for none) and forgets them; batched counts add what is not written yet', async () => {
      const c = a.counts(`c1-${Math.random()}`);
      await c.add(
        new Map([
          ['x', 2],
          ['y', 1],
        ]),
      );
      await c.add(new Map([['x', 3]]));
      expect(await c.get(['x', 'y', 'never'])).toEqual([5, 1, 0]);
      await c.remove(['x']);
      expect(await c.get(['x', 'y'])).toEqual([0, 1]);
      const clock = { now: () => 0 };
      const batched = new BatchedCounts(c, clock);
      batched.count('y');
      batched.count('y');
      expect((await batched.read(['y'])).counts).toEqual([3]);
      await batched.flush();
      expect(await c.get(['y'])).toEqual([3]);
      expect(await batched.read(['y'])).toEqual({ counts: [3], shared: true });
    });

    it('mirrors a set into memory and hears changes from another client', async () => {
      const name = `s2-${Math.random()}`;
      const changes: SetChange[] = [];
      const mirror = new MirroredSet(a.set(name, { persistent: true }), {
        resyncMs: 60_000,
        onChange: (c) => changes.push(c),
      });
      await mirror.start();
      expect(mirror.loaded).toBe(true);
      const other = new MirroredSet(b.set(name, { persistent: true }), { resyncMs: 60_000 });
      await other.start();
      await other.add({ id: 'k1', createdAt: Date.now() });
      await within(2000, () => mirror.get('k1', Date.now()) !== undefined);
      await other.remove('k1');
      await within(2000, () => mirror.get('k1', Date.now()) === undefined);
      mirror.stop();
      other.stop();
    });

    it('keeps records until they expire, replaces, updates only present ones, deletes, and claims an id once', async () => {
      const r = a.records(`r-${Math.random()}`);
      expect(await r.get('s1')).toBeNull();
      await r.put('s1', '{"v":1}', 60_000);
      await r.put('s1', '{"v":2}', 60_000);
      expect(await r.get('s1')).toBe('{"v":2}');
      await r.put('short', 'x', 50);
      expect(await r.update('absent', 'x', 60_000)).toBe(false);
      expect(await r.get('absent')).toBeNull();
      expect(await r.update('s1', '{"v":3}', 60_000)).toBe(true);
      expect(await r.get('s1')).toBe('{"v":3}');
      expect(await r.claim('state-1', 60_000)).toBe(true);
      expect(await r.claim('state-1', 60_000)).toBe(false);
      // A claim may write a value: the first one stays, a later claim changes nothing.
      expect(await r.claim('shared-key', 60_000, 'first')).toBe(true);
      expect(await r.claim('shared-key', 60_000, 'second')).toBe(false);
      expect(await r.get('shared-key')).toBe('first');
      expect(await r.delete('s1')).toBe(true);
      expect(await r.delete('s1')).toBe(false);
      expect(await r.get('s1')).toBeNull();
      await new Promise((done) => setTimeout(done, 120));
      expect(await r.get('short')).toBeNull();
    });
  });
}

contract('memory store', () => {
  const dir = makeDir('warden-state-');
  // Two memory stores on one state dir: the second plays `warden keys revoke` writing the file.
  const a = openStore(loadEnv({ WARDEN_STATE_DIR: dir }));
  const b = openStore(loadEnv({ WARDEN_STATE_DIR: dir }));
  return { a, b, cleanUp: () => removeDir(dir) };
});

redisDescribe('redis store', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await ifStarted(redis)?.stop();
  });
  contract('contract', () => ({
    a: openStore(loadEnv({ REDIS_URL: redis.url, WARDEN_REDIS_PREFIX: 'ct:' })),
    b: openStore(loadEnv({ REDIS_URL: redis.url, WARDEN_REDIS_PREFIX: 'ct:' })),
  }));

  it('prefixes every key', async () => {
    const s = openStore(loadEnv({ REDIS_URL: redis.url, WARDEN_REDIS_PREFIX: 'pfx:' }));
    await s.waitReady(5000);
    await s.limiter({ keyPrefix: 'lim', points: 5, duration: 60 }).consume('client');
    await s.set('things', { persistent: true }).add({ id: 'a', createdAt: 1 });
    const keys = (await redis.cli('--scan')).split('\n').filter((k) => !k.startsWith('ct:'));
    expect(keys.sort()).toEqual(['pfx:lim:client', 'pfx:set:{things}']);
    await s.close();
  });

  it('leases a large limit to two replicas: exactly the limit in all, in far fewer round trips than requests', async () => {
    const env = loadEnv({ REDIS_URL: redis.url, WARDEN_REDIS_PREFIX: 'lease:' });
    const [a, b] = [openStore(env), openStore(env)];
    await Promise.all([a.waitReady(5000), b.waitReady(5000)]);
    const limit = 3000;
    const [la, lb] = [a, b].map((s) => s.limiter({ keyPrefix: 'big', points: limit, duration: 60 }));
    const calls = async () =>
      Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.cli('INFO', 'commandstats'))?.[1] ?? 0) +
      Number(/cmdstat_eval:calls=(\d+)/.exec(await redis.cli('INFO', 'commandstats'))?.[1] ?? 0);
    const before = await calls();
    let allowed = 0;
    let refused = 0;
    // Bursts of 40 concurrent requests on each replica, one client, until both refuse a whole burst.
    for (let round = 0; round < 200; round++) {
      const burst = [la!, lb!].flatMap((l) =>
        Array.from({ length: 40 }, () => l.consume('client').then((r) => r.allowed)),
      );
      const r = await Promise.all(burst);
      allowed += r.filter(Boolean).length;
      refused += r.filter((x) => !x).length;
      if (r.every((x) => !x)) break;
    }
    const roundTrips = (await calls()) - before;
    console.log(`lease: ${allowed} allowed, ${refused} refused, ${roundTrips} script calls`);
    expect(allowed).toBe(limit);
    expect(refused).toBeGreaterThanOrEqual(80);
    expect(Number(await redis.cli('GET', 'lease:big:client'))).toBe(limit);
    expect(roundTrips).toBeLessThan(limit / 10);
    await a.close();
    await b.close();
  });
});

describe('memory limiter', () => {
  // Both read the same stopped clock, so even on a loaded machine the times compare exactly.
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("counts exactly like rate-limiter-flexible's RateLimiterMemory, in this tick", async () => {
    const store = openStore(loadEnv({}));
    for (const points of [3, 2]) {
      const reference = new RateLimiterMemory({ points, duration: 60 });
      const ours = store.limiter({ keyPrefix: `m${points}`, points, duration: 60 });
      const compare = async (step: string) => {
        const a = await reference.consume('k').then(
          (r) => ({ over: false, r }),
          // rate-limiter-flexible rejects with the RateLimiterRes when over the limit.
          (r: unknown) => ({ over: true, r: r as RateLimiterRes }),
        );
        const b = ours.consumeSync!('k')!;
        expect(b, step).toEqual({
          allowed: !a.over,
          remaining: a.r.remainingPoints,
          resetMs: a.r.msBeforeNext,
        });
      };
      for (let i = 0; i < points + 3; i++) {
        await compare(`request ${i + 1}`);
        vi.advanceTimersByTime(7_000);
      }
      // The window ends at its duration for both, and a new one opens.
      vi.advanceTimersByTime(60_000 - 7_000 * (points + 3) - 1);
      await compare('last ms of the window');
      vi.advanceTimersByTime(1);
      await compare('first ms of the next window');
      // The promise path counts on the same windows.
      expect(await ours.consume('k')).toEqual({ allowed: true, remaining: points - 2, resetMs: 60_000 });
      expect((await ours.consume('other')).allowed).toBe(true);
    }
  });
});

describe('memory store on an injected clock', () => {
  it('takes every time from the clock: windows, record lifetimes, set expiry', async () => {
    let now = 1_000_000;
    const store = createMemoryStore({ clock: { now: () => now } });
    const l = store.limiter({ keyPrefix: 'c', points: 1, duration: 60 });
    expect(l.consumeSync!('k')!.allowed).toBe(true);
    now += 59_999;
    expect(l.consumeSync!('k')).toEqual({ allowed: false, remaining: 0, resetMs: 1 });
    now += 1;
    expect(l.consumeSync!('k')).toEqual({ allowed: true, remaining: 0, resetMs: 60_000 });
    const r = store.records('r');
    await r.put('id', 'v', 1000);
    now += 999;
    expect(await r.get('id')).toBe('v');
    now += 1;
    expect(await r.get('id')).toBeNull();
    const s = store.set('s', { persistent: false });
    await s.add({ id: 'x', createdAt: now, expiresAt: now + 10 });
    expect((await s.all()).entries).toHaveLength(1);
    now += 10;
    expect((await s.all()).entries).toHaveLength(0);
    await store.close();
  });
});
