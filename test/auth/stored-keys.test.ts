// StoredKeys over a fake backend: what is cached, for how long, and what an outage or an invalidation does.
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/apikey.js';
import { StoredKeys } from '../../src/auth/stored-keys.js';
import type { KeyBackend, KeyLookup, UsageBatch } from '../../src/store/key-records.js';
import { FakeClock } from '../helpers/clock.js';

/** A backend holding lookups in a Map; `down` makes every call reject; counts lookups. */
function fakeBackend() {
  const byHash = new Map<string, KeyLookup>();
  let onInvalidate: (hashes: string[]) => void = () => {};
  let resync: () => void = () => {};
  const batches: UsageBatch[] = [];
  const state = { down: false, lookups: 0, gate: null as Promise<void> | null };
  const fail = () => Promise.reject(new Error('connection is closed'));
  const backend: KeyBackend = {
    async lookup(sha) {
      state.lookups++;
      // Read now, answer after the gate opens: an answer already on its way.
      const found = byHash.get(sha) ?? null;
      if (state.gate) await state.gate;
      if (state.down) return fail();
      return found;
    },
    create: () => Promise.resolve(true),
    get: () => Promise.resolve(null),
    list: () => Promise.resolve({ entries: [], cursor: null }),
    remove: () => Promise.resolve(null),
    rotate: () => Promise.resolve(null),
    existing: () => Promise.resolve([]),
    addUsage: (b) => (state.down ? fail() : (batches.push(b), Promise.resolve())),
    usage: () => Promise.resolve({ lastUsed: null, days: [] }),
    invalidate: (hashes) => (onInvalidate([...hashes]), Promise.resolve()),
    watch(on, re) {
      onInvalidate = on;
      resync = re;
    },
  };
  return { backend, byHash, batches, state, resync: () => resync() };
}

const entry = (id: string): KeyLookup => ({
  entry: { id, roles: ['viewer'], createdAt: 0 },
  version: 'current',
});

describe('StoredKeys', () => {
  it('asks the backend once per hash while cached; found for 60 s, unknown for 5 s', async () => {
    const clock = new FakeClock();
    const { backend, byHash, state } = fakeBackend();
    const keys = new StoredKeys(backend, { clock });
    keys.start();
    byHash.set(hashKey('good'), entry('good-1'));
    const now = clock.now();
    // Two lookups in flight for the same hash share one backend call.
    const [a, b] = [keys.lookup(hashKey('good'), now), keys.lookup(hashKey('good'), now)];
    expect(a).toBe(b);
    expect(((await a) as { identity: { sub: string } }).identity.sub).toBe('good-1');
    expect(keys.lookup(hashKey('good'), now + 59_000)).not.toBeInstanceOf(Promise);
    expect(await keys.lookup(hashKey('nope'), now)).toBeNull();
    expect(keys.lookup(hashKey('nope'), now + 4_999)).toBeNull();
    expect(state.lookups).toBe(2);
    expect(keys.lookup(hashKey('nope'), now + 5_000)).toBeInstanceOf(Promise);
    expect(keys.lookup(hashKey('good'), now + 60_000)).toBeInstanceOf(Promise);
    keys.usage.stop();
  });

  it('answers a cached key while the backend is down; unknown ones are unavailable, not cached as absent', async () => {
    const clock = new FakeClock();
    const { backend, byHash, state } = fakeBackend();
    const keys = new StoredKeys(backend, { clock });
    byHash.set(hashKey('good'), entry('good-1'));
    const now = clock.now();
    await keys.lookup(hashKey('good'), now);
    state.down = true;
    expect(keys.lookup(hashKey('good'), now + 1000)).not.toBe('unavailable');
    expect(await keys.lookup(hashKey('other'), now)).toBe('unavailable');
    state.down = false;
    byHash.set(hashKey('other'), entry('other-1'));
    expect(await keys.lookup(hashKey('other'), now)).not.toBeNull();
  });

  it('forgets invalidated hashes, and everything after a reconnect; a lookup racing an invalidation is not cached', async () => {
    const clock = new FakeClock();
    const { backend, byHash, state, resync } = fakeBackend();
    const keys = new StoredKeys(backend, { clock });
    keys.start();
    const now = clock.now();
    byHash.set(hashKey('k'), entry('k-1'));
    await keys.lookup(hashKey('k'), now);
    byHash.delete(hashKey('k'));
    await backend.invalidate([hashKey('k')]);
    expect(await keys.lookup(hashKey('k'), now)).toBeNull();
    byHash.set(hashKey('k'), entry('k-1'));
    resync();
    expect(await keys.lookup(hashKey('k'), now)).not.toBeNull();
    // A lookup that started before an invalidation: its answer is used once, not remembered.
    let open: () => void = () => {};
    state.gate = new Promise((r) => (open = r));
    byHash.set(hashKey('r'), entry('r-1'));
    const racing = keys.lookup(hashKey('r'), now);
    byHash.delete(hashKey('r'));
    await backend.invalidate([hashKey('r')]);
    open();
    state.gate = null;
    expect(await racing).not.toBeNull();
    expect(await keys.lookup(hashKey('r'), now)).toBeNull();
    keys.usage.stop();
  });

  it('counts usage in memory and writes one batch per flush; a failed write is kept for the next', async () => {
    const clock = new FakeClock(Date.parse('2026-12-02T10:00:00Z'));
    const { backend, batches, state } = fakeBackend();
    const keys = new StoredKeys(backend, { clock });
    for (let i = 0; i < 3; i++) keys.usage.count('a', clock.now());
    keys.usage.count('b', clock.now());
    state.down = true;
    await keys.usage.flush();
    expect(batches).toHaveLength(0);
    state.down = false;
    keys.usage.count('a', clock.now() + 5);
    await keys.usage.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.counts.get('2026-12-02')).toEqual(
      new Map([
        ['a', 4],
        ['b', 1],
      ]),
    );
    expect(batches[0]?.lastUsed.get('a')).toBe(clock.now() + 5);
    await keys.usage.flush();
    expect(batches).toHaveLength(1);
    // Counts fall on the UTC day of each request, across midnight.
    const midnight = Date.parse('2026-12-03T00:00:00Z');
    keys.usage.count('a', midnight - 1);
    keys.usage.count('a', midnight);
    keys.usage.count('a', midnight + 1);
    await keys.usage.flush();
    expect(batches[1]?.counts).toEqual(
      new Map([
        ['2026-12-02', new Map([['a', 1]])],
        ['2026-12-03', new Map([['a', 2]])],
      ]),
    );
  });
});
