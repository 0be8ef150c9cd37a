// WARDEN_JWT_ISSUERS: the token issuers warden trusts, as a JSON array or a YAML/JSON file.
import { z } from 'zod';
import { repeatedField, type DocumentIssue } from './repeats.js';

/** Signature algorithms warden accepts: asymmetric only; never `none`, never HMAC. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** `https:`, or plain `http:` on a loopback host (local development and tests); docs/jwt.md. */
export function isAllowedIdpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    if (u.username || u.password || u.hash) return false;
    return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.test(u.hostname));
  } catch {
    return false;
  }
}

const idpUrl = z
  .string()
  .refine(
    isAllowedIdpUrl,
    'must be an https:// URL (plain http only on a loopback host), without credentials or fragment',
  );

const DOTTED = /^[A-Za-z0-9_:$-]+(?:\.[A-Za-z0-9_:$-]+)*$|^https?:\/\/\S+$/;
const claimPath = z
  .string()
  .regex(
    DOTTED,
    'a claim name or dotted path like realm_access.roles (a URL-shaped claim name is taken whole)',
  );

/** One trusted issuer. */
export const issuerSchema = z.strictObject({
  /** Exactly the `iss` its tokens carry. */
  issuer: idpUrl,
  /** Accepted `aud` values: a token must name at least one. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).nonempty()]),
  /** Where the signing keys are; found by OpenID discovery when absent. */
  jwksUri: idpUrl.optional(),
  /** Pinned signature algorithms; default every asymmetric one the key set offers. */
  algorithms: z
    .array(
      z.enum(ASYMMETRIC_ALGORITHMS, {
        error: `algorithms are asymmetric only: ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
      }),
    )
    .nonempty()
    .optional(),
  /** Claim (dotted path) holding roles or groups; default the policy's `claims.roles`. */
  rolesClaim: claimPath.optional(),
  /** Claim naming the user; default `sub`. */
  subjectClaim: claimPath.optional(),
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in seconds (at most 60). */
  clockToleranceSec: z.number().int().min(0).max(60).default(30),
  /** Prepended to the subject (X-User-ID, revocations): required, and distinct, with several issuers. */
  subjectPrefix: z
    .string()
    .regex(/^[\x21-\x7e]{0,64}$/, 'up to 64 printable ASCII characters, no spaces or commas')
    .refine((s) => !s.includes(','), 'no commas')
    .default(''),
});

export type IssuerConfig = z.output<typeof issuerSchema>;

/** The whole list. */
export const issuersSchema = z.array(issuerSchema);

/**
 * With several issuers, each needs a `subjectPrefix` of its own, none the start of another, so that
 * prefix + sub names exactly one issuer's user: in X-User-ID, in subject revocations, everywhere.
 */
function prefixIssues(raw: unknown): DocumentIssue[] {
  if (!Array.isArray(raw) || raw.length < 2) return [];
  const out: DocumentIssue[] = [];
  const seen: [number, string][] = [];
  raw.forEach((entry: unknown, i) => {
    const given =
      entry && typeof entry === 'object' ? (entry as Record<string, unknown>).subjectPrefix : undefined;
    if (given !== undefined && typeof given !== 'string') return; // the schema reports it
    const prefix = given ?? '';
    if (prefix === '') {
      out.push({
        path: [i, 'subjectPrefix'],
        message:
          'with several issuers, each needs a subjectPrefix (like "kc:"), so that the same sub from two issuers is two users (X-User-ID, revocations)',
      });
      return;
    }
    for (const [j, other] of seen) {
      if (prefix.startsWith(other) || other.startsWith(prefix))
        out.push({
          path: [i, 'subjectPrefix'],
          message: `"${prefix}" overlaps issuer [${j}]'s "${other}" (one starts the other), so a subject of one could read as a subject of the other`,
        });
    }
    seen.push([i, prefix]);
  });
  return out;
}

/** Issuers are told apart by `iss`, so each appears once, and by their subject prefixes (checked on the raw list, so reported with every other problem). */
export function issuersCrossCheck(raw: unknown): DocumentIssue[] {
  return [
    ...repeatedField(
      raw,
      'issuer',
      (issuer) => `issuer ${issuer} is listed twice; tokens are routed by iss, so each issuer appears once`,
    ),
    ...prefixIssues(raw),
  ];
}
