// YAML (a superset of JSON) into plain data, fast enough for a keys file of 100 000 entries.
import yaml from 'js-yaml';

/** A document that could not be read: where (1-based) and why. */
export interface YamlProblem {
  line: number | null;
  column: number | null;
  message: string;
}

/**
 * How many values a document may stand for once its aliases are followed. An alias is a reference,
 * not a copy, but every later step (validation, compilation) walks it as a copy: a few lines of
 * nested aliases ("billion laughs") would stand for billions of values.
 */
const MAX_EXPANDED_VALUES = 5_000_000;

/** Whether `value` stands for at most `budget` values when every shared reference is counted each time. */
function expandsWithin(value: unknown, budget: number): boolean {
  let left = budget;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (--left < 0) return false;
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push(x);
  }
  return true;
}

/**
 * Parse a configuration document with the YAML 1.2 core schema (no timestamps, binary or merge
 * keys: `expires: 2027-01-01` stays text for the schema to check); a key repeated in a mapping is
 * an error, as is a document whose aliases expand beyond 5 000 000 values.
 */
export function parseYaml(text: string): { value: unknown } | { problem: YamlProblem } {
  let value: unknown;
  try {
    value = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (!(e instanceof yaml.YAMLException)) throw e;
    const mark = e.mark as { line?: number; column?: number } | undefined;
    return {
      problem: {
        line: typeof mark?.line === 'number' ? mark.line + 1 : null,
        column: typeof mark?.column === 'number' ? mark.column + 1 : null,
        message: e.reason,
      },
    };
  }
  if (!expandsWithin(value, MAX_EXPANDED_VALUES))
    return {
      problem: {
        line: null,
        column: null,
        message: `the document's aliases (*name) expand to more than ${MAX_EXPANDED_VALUES} values`,
      },
    };
  return { value: value ?? {} };
}
