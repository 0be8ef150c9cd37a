// How a synthetic person signed in, as `warden explain --acr/--amr/--auth-time` and `warden test` cases write it.
import { z } from 'zod';
import type { SignInFacts } from './evaluate.js';

const DURATION_AGO = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * When the person signed in, in seconds since the epoch: epoch seconds (`1767225600`), an ISO time
 * (`2026-12-02T10:00:00Z`), or a duration meaning that long before `nowMs` (`15m`: fifteen minutes ago).
 * Null when it is none of these.
 */
export function parseAuthTime(value: string | number, nowMs: number): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null;
  const v = value.trim();
  if (/^\d{1,12}$/.test(v)) return Number(v) > 0 ? Number(v) : null;
  const ago = DURATION_AGO.exec(v);
  if (ago) return Math.floor(nowMs / 1000 - Number(ago[1]) * (UNIT[ago[2] ?? 's'] ?? 1));
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}

const AUTH_TIME_FORMS = 'epoch seconds, an ISO time (2026-12-02T10:00:00Z) or a duration ago (15m)';

/** The `acr`, `amr`, `authTime` members of a test case's identity. */
export const signInFields = {
  /** The sign-in's `acr`. */
  acr: z
    .string()
    .regex(/^[\x21-\x7e]{1,256}$/, 'printable, no spaces')
    .optional(),
  /** The sign-in's `amr` values. */
  amr: z.array(z.string().regex(/^[\x21-\x7e]{1,256}$/, 'printable, no spaces')).optional(),
  /** When the person signed in. */
  authTime: z
    .union([z.number(), z.string()])
    .refine((v) => parseAuthTime(v, 0) !== null, `authTime is ${AUTH_TIME_FORMS}`)
    .optional(),
};

/** The sign-in facts given (undefined: none, the roles stand for an API key), or the message of a bad --auth-time. */
export function signInFacts(
  given: {
    acr?: string | undefined;
    amr?: readonly string[] | undefined;
    authTime?: string | number | undefined;
  },
  nowMs: number,
): SignInFacts | undefined | string {
  if (given.acr === undefined && given.amr === undefined && given.authTime === undefined) return undefined;
  const authTime = given.authTime === undefined ? undefined : parseAuthTime(given.authTime, nowMs);
  if (authTime === null)
    return `the sign-in time must be ${AUTH_TIME_FORMS}, not "${String(given.authTime)}"`;
  return {
    ...(given.acr !== undefined ? { acr: given.acr } : {}),
    ...(given.amr !== undefined ? { amr: given.amr } : {}),
    ...(authTime !== undefined ? { authTime } : {}),
  };
}
