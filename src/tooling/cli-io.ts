// Shared plumbing of the `warden` commands: output streams and configuration failures.
import { ConfigError, formatProblem } from '../config/errors.js';

/** Where a command writes. */
export type Out = { out: (s: string) => void; err: (s: string) => void };

/** Print every configuration problem and return exit code 2; other errors propagate. */
export function configFailure(e: unknown, io: Out): number {
  if (e instanceof ConfigError) {
    io.err(
      `warden: configuration invalid (${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}):\n`,
    );
    for (const p of e.problems) io.err(`  ${formatProblem(p)}\n`);
    return 2;
  }
  throw e;
}
