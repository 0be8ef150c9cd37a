// Load configuration as warden does and return its problems as printed (`source: path: message`), or [] when valid.
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { NO_KEYS } from './cli.js';

/**
 * `vars` with WARDEN_API_KEYS set to an empty keys file unless given: the default, rbac/keys.yaml, is
 * the user's to edit, and a test must not depend on what they pasted into it.
 */
export function ownKeys(vars: Record<string, string>): Record<string, string> {
  return { WARDEN_API_KEYS: NO_KEYS, ...vars };
}

export async function configProblems(vars: Record<string, string>): Promise<string[]> {
  try {
    await loadConfig(ownKeys(vars), { fetch });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}
