// Suite-level variables that beforeAll assigns and afterAll cleans up.

/**
 * A variable beforeAll assigns, as afterAll really sees it. TypeScript types `let w: TestWarden` as
 * assigned in every closure: true in the tests (vitest does not run them when beforeAll throws), not in
 * afterAll, which runs anyway, when whatever beforeAll had not started yet is still undefined. Cleanup
 * reads such variables through this, so that it stops what was started and only that.
 */
export function ifStarted<T>(value: T): T | undefined {
  return value;
}
