// The shared CSRF key: written once, read by the others, this process's own while the store does not answer.
import { describe, expect, it } from 'vitest';
import {
  fixedCsrfKey,
  SHARED_KEY_ID,
  SharedCsrfKey,
  type SharedKeyRecord,
} from '../../src/console/csrf-key.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { FakeClock } from '../helpers/clock.js';

/** The memory store's records, with a switch that makes every call fail as an unreachable Redis does. */
function records(clock: FakeClock) {
  const backend = createMemoryStore({ clock }).records('console');
  const state = { down: false, reads: 0 };
  const guard = <T>(f: () => Promise<T>) =>
    state.down ? Promise.reject(new Error('connection refused')) : f();
  const record: SharedKeyRecord = {
    get: (id) => guard(() => (state.reads++, backend.get(id))),
    claim: (id, ttl, value) => guard(() => backend.claim(id, ttl, value)),
  };
  return { record, backend, state };
}

describe('SharedCsrfKey', () => {
  it('the first process writes its key, a second one reads and signs with it', async () => {
    const clock = new FakeClock();
    const { record, backend } = records(clock);
    const first = new SharedCsrfKey(record, () => clock.now());
    const second = new SharedCsrfKey(record, () => clock.now());
    const key = await first.signing();
    expect(await backend.get(SHARED_KEY_ID)).toBe(key.toString('base64url'));
    expect((await second.signing()).equals(key)).toBe(true);
  });

  it('while the store does not answer, signs with its own key; adopts the shared one once it answers', async () => {
    const clock = new FakeClock();
    const { record, backend, state } = records(clock);
    await backend.claim(SHARED_KEY_ID, 60_000, Buffer.alloc(32, 7).toString('base64url'));
    state.down = true;
    const k = new SharedCsrfKey(record, () => clock.now());
    const own = await k.signing();
    expect(own.equals(Buffer.alloc(32, 7))).toBe(false);
    // Not asked again on every page within the second.
    state.down = false;
    expect((await k.signing()).equals(own)).toBe(true);
    expect(state.reads).toBe(0);
    clock.advance(1000);
    expect((await k.signing()).equals(Buffer.alloc(32, 7))).toBe(true);
    // The forms it gave out meanwhile still work here.
    expect(k.accepted().map((b) => b.equals(own))).toEqual([false, true]);
  });

  it('a refused token re-reads the key at most once a second; a malformed stored value is not used', async () => {
    const clock = new FakeClock();
    const { record, backend, state } = records(clock);
    await backend.put(SHARED_KEY_ID, 'not a key', 60_000);
    const k = new SharedCsrfKey(record, () => clock.now());
    const own = await k.signing();
    expect(own.toString('base64url')).not.toBe('not a key');
    const reads = state.reads;
    expect(await k.recheck()).toBe(false);
    expect(state.reads).toBe(reads);
    await backend.put(SHARED_KEY_ID, Buffer.alloc(32, 9).toString('base64url'), 60_000);
    clock.advance(1000);
    expect(await k.recheck()).toBe(true);
    expect(k.accepted()[0]!.equals(Buffer.alloc(32, 9))).toBe(true);
  });

  it('with the session secret, every process derives the same key; without, each its own', async () => {
    const secret = 'a-session-secret-of-at-least-32-bytes!!';
    expect((await fixedCsrfKey(secret).signing()).equals(await fixedCsrfKey(secret).signing())).toBe(true);
    expect((await fixedCsrfKey(undefined).signing()).equals(await fixedCsrfKey(undefined).signing())).toBe(
      false,
    );
  });
});
