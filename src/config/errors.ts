// Configuration problems: collected with their path and source, reported together.
import type { z } from 'zod';

/** One problem with a setting, file or field. */
export interface ConfigProblem {
  /** Where the value came from: `env HOST`, `rbac/policy.yaml (WARDEN_POLICY)`. */
  source: string;
  /** Dotted path inside that source, e.g. `rules[3].require`; empty for the whole source. */
  path: string;
  message: string;
}

/** Thrown when configuration is invalid; carries every problem found. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * A variable the environment's cross-checks require in this configuration (`message` says when):
 * always set in an Env that passed them; a ConfigError naming it for one that did not.
 */
export function requiredVar<T>(value: T | undefined, variable: string, message: string): T {
  if (value === undefined) throw new ConfigError([{ source: `env ${variable}`, path: '', message }]);
  return value;
}

/** `rules`,3,`require` → `rules[3].require`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out === '' ? '' : '.') + String(seg);
  }
  return out;
}

/** One line per problem: `source: path: message`. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.source}: ${p.path === '' ? '' : p.path + ': '}${p.message}`;
}

/** Turn zod issues into problems for one source, with an optional path prefix. */
export function zodProblems(
  source: string,
  error: z.ZodError,
  prefix: readonly PropertyKey[] = [],
): ConfigProblem[] {
  return error.issues.map((issue) => ({
    source,
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}
