// Load configuration as warden does and return its problems as printed (`source: path: message`), or [] when valid.
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';

export async function configProblems(vars: Record<string, string>): Promise<string[]> {
  try {
    await loadConfig(vars, { fetch });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}
