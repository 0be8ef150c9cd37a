// A clock tests move by hand: injected through StartOptions.clock (or any Clock parameter) instead of sleeping.
import type { Clock } from '../../src/util/clock.js';

/** A Clock that stands still until told: `advance(ms)` moves it forward, `set(ms)` puts it anywhere. */
export class FakeClock implements Clock {
  /** Starts at `start` (epoch ms; default: the real time now, so tokens and dates it stamps look current). */
  constructor(private ms: number = Date.now()) {}

  now(): number {
    return this.ms;
  }

  /** Move forward by `ms` milliseconds; returns the new time. */
  advance(ms: number): number {
    if (ms < 0) throw new Error(`FakeClock.advance: negative step ${ms}`);
    this.ms += ms;
    return this.ms;
  }

  /** Set the time to `ms` (epoch milliseconds). */
  set(ms: number): void {
    this.ms = ms;
  }
}
