import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/util/collect-garbage.js';

/** A later macrotask: a WeakRef's target is held until the job that made or read it ends. */
const nextTask = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('collectGarbage', () => {
  it('collects what nothing holds any more, on this Node without --expose-gc', async () => {
    // Made in a function of its own: nothing in this one holds the array.
    const ref = (() => new WeakRef(Array.from({ length: 200_000 }, (_, i) => ({ i }))))();
    await nextTask();
    expect(collectGarbage()).toBe(true);
    expect(ref.deref()).toBeUndefined();
  });

  it('leaves gc() exposed nowhere', () => {
    collectGarbage();
    const flagged = process.execArgv.some((a) => a.replace(/_/g, '-') === '--expose-gc');
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe(flagged ? 'function' : 'undefined');
    expect(runInNewContext('typeof gc')).toBe(flagged ? 'function' : 'undefined');
  });
});
