// The leased limiter's bookkeeping against a scripted shared counter: one question per client at a
// time, leases sized by what is left, refusals remembered, the insurance answering when the counter cannot.
import { describe, expect, it } from 'vitest';
import {
  LEASE_SHARE,
  LeasedLimiter,
  MAX_LEASE,
  leaseSize,
  type Grant,
  type LeaseSource,
} from '../../src/store/lease.js';
import type { LimitResult } from '../../src/store/store.js';

/** A shared fixed-window counter in memory, as the Redis script keeps it, recording every question. */
function counter(limit: number, windowMs = 60_000, latency = false) {
  const counts = new Map<string, number>();
  const asked: number[] = [];
  let down = false;
  let insured = 0;
  const source: LeaseSource = {
    acquire: async (key, want) => {
      if (latency) await new Promise((r) => setImmediate(r));
      if (down) return 'unavailable';
      asked.push(want);
      const used = counts.get(key) ?? 0;
      const granted = Math.max(0, Math.min(want, limit - used));
      counts.set(key, used + granted);
      return { granted, used: used + granted, ttlMs: windowMs } satisfies Grant;
    },
    insurance: () => {
      insured++;
      return Promise.resolve({ allowed: true, remaining: 0, resetMs: 1000 });
    },
    remove: () => Promise.resolve(true),
  };
  return {
    source,
    asked,
    get used() {
      return [...counts.values()].reduce((a, b) => a + b, 0);
    },
    get insured() {
      return insured;
    },
    setDown(d: boolean) {
      down = d;
    },
  };
}

const outcome = (p: Promise<LimitResult>) => p.then((r) => (r.allowed ? ('ok' as const) : ('over' as const)));

describe('lease size', () => {
  it('asks for one request when nothing is known, a share of what is left otherwise, and never less than the waiting requests', () => {
    expect(leaseSize(undefined, 1)).toBe(1);
    expect(leaseSize(undefined, 7)).toBe(7);
    expect(leaseSize(10, 1)).toBe(1);
    expect(leaseSize(LEASE_SHARE * 5, 1)).toBe(5);
    expect(leaseSize(10_000_000, 1)).toBe(MAX_LEASE);
    expect(leaseSize(10_000_000, 200)).toBe(200);
  });
});

describe('leased limiter', () => {
  it('asks once for a burst of one client and serves the rest of the lease from memory', async () => {
    const c = counter(1_000_000);
    const l = new LeasedLimiter(1_000_000, 60_000, c.source);
    const first = await Promise.all(Array.from({ length: 100 }, () => outcome(l.consume('k'))));
    expect(first.every((o) => o === 'ok')).toBe(true);
    // The first request asks alone (nothing known yet); the 99 that came while it asked, together.
    expect(c.asked).toEqual([1, 99]);
    // Now a share of what is left: MAX_LEASE requests per question, most answered in this tick.
    let inTick = 0;
    for (let i = 0; i < 1000; i++) {
      const r = l.consumeSync('k');
      if (r) {
        expect(r.allowed).toBe(true);
        inTick++;
      } else await l.consume('k');
    }
    expect(c.asked.length).toBeLessThanOrEqual(2 + Math.ceil(1000 / MAX_LEASE));
    expect(inTick).toBeGreaterThan(900);
    expect(c.used).toBeLessThanOrEqual(1100 + MAX_LEASE);
  });

  it('asks for the next lease before this one runs out, so a steady client does not wait on the counter', async () => {
    const c = counter(1_000_000, 60_000, true);
    const l = new LeasedLimiter(1_000_000, 60_000, c.source);
    await l.consume('k');
    let waited = 0;
    for (let i = 0; i < 3000; i++) {
      if (l.consumeSync('k') === null) {
        waited++;
        await l.consume('k');
      }
      // Other I/O of the server between requests: the counter's answer arrives meanwhile.
      if (i % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    // Only the first full lease is waited for; every later one was asked for ahead.
    expect(waited).toBeLessThanOrEqual(1);
    expect(c.asked.length).toBeLessThanOrEqual(2 + Math.ceil(3000 / MAX_LEASE) + 1);
  });

  it('admits exactly the limit when the window runs out, then refuses from memory until the window ends', async () => {
    let now = 1_000_000;
    const c = counter(500, 10_000);
    const l = new LeasedLimiter(500, 10_000, c.source, { now: () => now });
    const results: string[] = [];
    for (let round = 0; round < 30; round++)
      results.push(...(await Promise.all(Array.from({ length: 20 }, () => outcome(l.consume('k'))))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(500);
    expect(results.slice(500).every((r) => r === 'over')).toBe(true);
    const questions = c.asked.length;
    const refused = l.consumeSync('k');
    expect(refused?.allowed).toBe(false);
    expect(refused?.resetMs).toBeGreaterThan(9_000);
    expect(c.asked.length).toBe(questions);
    // A new window: the counter is asked again, for one request (nothing is known of this window).
    now += 10_001;
    expect(l.consumeSync('k')).toBeNull();
  });

  it('counts each waiting request in the insurance limiter while the shared counter cannot answer', async () => {
    const c = counter(1000);
    const l = new LeasedLimiter(1000, 60_000, c.source);
    c.setDown(true);
    const r = await Promise.all(Array.from({ length: 5 }, () => outcome(l.consume('k'))));
    expect(r).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(c.insured).toBe(5);
    c.setDown(false);
    await l.consume('k');
    expect(c.asked).toEqual([1]);
  });

  it('reports what the window still admits, counting the unused part of the lease', async () => {
    const c = counter(100);
    const l = new LeasedLimiter(100, 60_000, c.source);
    expect(await l.consume('k')).toMatchObject({ allowed: true, remaining: 99 });
    // A lease of 3 (a 32nd of what is left): one used now, two left in memory.
    expect(await l.consume('k')).toMatchObject({ allowed: true, remaining: 98 });
    expect(c.asked).toEqual([1, 3]);
    expect(l.consumeSync('k')).toMatchObject({ allowed: true, remaining: 97 });
    expect(l.consumeSync('k')?.resetMs).toBeGreaterThan(59_000);
  });

  it('keeps clients apart', async () => {
    const c = counter(1);
    const l = new LeasedLimiter(1, 60_000, c.source);
    expect(await outcome(l.consume('a'))).toBe('ok');
    expect(await outcome(l.consume('b'))).toBe('ok');
    expect(await outcome(l.consume('a'))).toBe('over');
  });

  it('never carries requests of an ended window into the next, even when the counter clock is ahead', async () => {
    const limit = 1_000_000;
    const windowMs = 10_000;
    let now = 0;
    let skew = 0;
    let start = 0;
    let used = 0;
    let calls = 0;
    const source: LeaseSource = {
      acquire: async (_key, want) => {
        calls++;
        await new Promise((r) => setImmediate(r));
        const t = now + skew;
        if (t >= start + windowMs) [start, used] = [t, 0];
        const granted = Math.min(want, limit - used);
        used += granted;
        return { granted, used, ttlMs: start + windowMs - t };
      },
      insurance: () => Promise.resolve({ allowed: true, remaining: 0, resetMs: 0 }),
      remove: () => Promise.resolve(true),
    };
    const l = new LeasedLimiter(limit, windowMs, source, { now: () => now });
    await l.consume('k');
    await l.consume('k');
    expect(calls).toBe(2);
    // Just before this replica's window ends, the counter (its clock 20 ms ahead) has started the next one.
    [now, skew] = [9_990, 20];
    while (calls === 2) expect(l.consumeSync('k')?.allowed).toBe(true);
    for (let i = 0; i < 6; i++) expect(l.consumeSync('k')?.allowed).toBe(true);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // The grant of the new window lands while 10 requests of the old lease are left: they are dropped.
    let served = 0;
    while (l.consumeSync('k') !== null) served++;
    expect(served).toBe(MAX_LEASE);
  });

  it('after the counter failed to answer in time, asks only for the waiting requests until it answers again', async () => {
    const asked: number[] = [];
    let down = false;
    let used = 0;
    const source: LeaseSource = {
      acquire: (_key, want) => {
        asked.push(want);
        if (down) return Promise.resolve('unavailable');
        used += want;
        return Promise.resolve({ granted: want, used, ttlMs: 60_000 });
      },
      insurance: () => Promise.resolve({ allowed: true, remaining: 0, resetMs: 0 }),
      remove: () => Promise.resolve(true),
    };
    const l = new LeasedLimiter(1_000_000, 60_000, source);
    await l.consume('k');
    await l.consume('k');
    expect(asked).toEqual([1, MAX_LEASE]);
    down = true;
    // Through the lease: the question ahead of need fails (a late answer may have been counted all the same).
    while (l.consumeSync('k') !== null) await Promise.resolve();
    await l.consume('k');
    await l.consume('k');
    expect(asked.slice(2)).toEqual([MAX_LEASE, 1, 1]);
    down = false;
    await l.consume('k');
    expect(asked.at(-1)).toBe(1);
  });
});
