// Temporary directories that tests make under the system temp dir, and their removal: a test run leaves none behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A fresh directory `<tmpdir>/<prefix>XXXXXX`; whoever makes it removes it with {@link removeDir}. */
export function makeDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Remove a directory and everything in it; nothing happens when it is already gone. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A fresh directory for the current test, removed when the test finishes, passed or failed. Call it
 * inside a test (vitest throws elsewhere); a beforeAll's directory is removed by its afterAll.
 */
export function testDir(prefix: string): string {
  const dir = makeDir(prefix);
  onTestFinished(() => {
    removeDir(dir);
  });
  return dir;
}
