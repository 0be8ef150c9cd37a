// WARDEN_* variables warden does not know: a typo (WARDEN_TRUSTED_PROXY) would otherwise be ignored in silence.
import { closest } from '../util/closest.js';
import { envSchema } from './env-schema.js';

/** Variables of the deploy recipes (deploy/caddy's Caddyfile), set beside warden's own, never read by warden. */
const RECIPE_VARIABLES = ['WARDEN_SITE', 'WARDEN_ADDR', 'WARDEN_BIND'];

const KNOWN = Object.keys(envSchema.shape);

/** One unknown variable and the known name closest to it, if any. */
export interface UnknownVariable {
  variable: string;
  suggestion?: string;
  message: string;
}

/** Every `WARDEN_`-prefixed variable in `vars` that neither warden nor its recipes read, sorted by name. */
export function unknownVariables(vars: Record<string, string | undefined>): UnknownVariable[] {
  return Object.keys(vars)
    .filter((v) => v.startsWith('WARDEN_') && !KNOWN.includes(v) && !RECIPE_VARIABLES.includes(v))
    .sort()
    .map((variable) => {
      const suggestion = closest(variable, KNOWN);
      return {
        variable,
        ...(suggestion ? { suggestion } : {}),
        message: `not a warden variable, ignored${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
      };
    });
}
