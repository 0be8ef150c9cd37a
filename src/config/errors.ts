// Configuration problems: collected with their path and source, reported together.
import type { z } from 'zod';

/** One problem with a setting, file or field. */
export interface ConfigProblem {
  /** Where the value came from: `env HOST`, `rbac/policy.yaml (WARDEN_POLICY)`. */
  source: string;
  /** Dotted path inside that source, e.g. `rules[3].require`; empty for the whole source. */
  path: string;
  message: string;
  /** On the last problem of a long list only: how many problems it stands for, left out. */
  omitted?: number;
}

/** The most problems one error lists: a generated file with the same mistake 100 000 times says so in a screen. */
export const MAX_LISTED_PROBLEMS = 100;

/** Thrown when configuration is invalid; carries the problems found (the first 100, then how many more). */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    // A list built from another error's keeps counting what that one left out.
    const real = problems.filter((p) => p.omitted === undefined);
    const left =
      problems.reduce((n, p) => n + (p.omitted ?? 0), 0) + Math.max(0, real.length - MAX_LISTED_PROBLEMS);
    const listed =
      left === 0
        ? real
        : [
            ...real.slice(0, MAX_LISTED_PROBLEMS),
            {
              source: real[MAX_LISTED_PROBLEMS]?.source ?? real.at(-1)?.source ?? '',
              path: '',
              message: `… and ${left} more problems`,
              omitted: left,
            },
          ];
    super(listed.map(formatProblem).join('\n'));
    this.problems = listed;
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
