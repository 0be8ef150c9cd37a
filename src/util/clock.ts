// The one clock: every time warden reads comes from a Clock passed in; this is the only place that reads the system's.

/** Wall-clock time in epoch milliseconds, injected so tests can move it by hand. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };
