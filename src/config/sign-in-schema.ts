// Browser sign-in settings: OIDC providers, sessions, cookies, redirects and dev users (issue 5).
import { z } from 'zod';
import { repeatedField, type DocumentIssue } from './repeats.js';
import { duration } from '../util/duration.js';
import { isAllowedIdpUrl } from './issuers-schema.js';

const idpUrl = z
  .string()
  .refine(
    isAllowedIdpUrl,
    'must be an https:// URL (plain http only on a loopback host), without credentials or fragment',
  );
const claimPath = z
  .string()
  .regex(
    /^[A-Za-z0-9_:$-]+(?:\.[A-Za-z0-9_:$-]+)*$|^https?:\/\/\S+$/,
    'a claim name or dotted path like realm_access.roles',
  );

/** One OpenID Connect provider people sign in with. */
export const providerSchema = z.strictObject({
  /** Short name in URLs (`/oauth2/start?provider=<id>`) and in the session record. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, - and _ (at most 32), e.g. "keycloak"')
    .refine((id) => id !== 'dev', '"dev" names the dev users'),
  /** Shown on the login page; default the id. */
  name: z.string().min(1).max(64).optional(),
  issuer: idpUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token'))
    .nonempty()
    .default(['openid', 'email', 'profile']),
  /** Claim (dotted path) holding roles or groups in the ID token; default the policy's `claims.roles`. */
  rolesClaim: claimPath.optional(),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post'])
    .default('client_secret_basic'),
  /** After warden's sign-out, continue to the provider's end_session_endpoint (RP-initiated logout). */
  endSession: z.boolean().default(false),
  /** How a step-up asks for acr values: `acr_values` (default), or `claims` with an essential `acrs` (Entra ID authentication contexts). */
  acrRequest: z.enum(['acr_values', 'claims']).default('acr_values'),
});

export type ProviderConfig = z.output<typeof providerSchema>;

export const providersSchema = z.array(providerSchema).nonempty('list at least one provider');

/** Provider ids are unique (checked on the raw list, with every other problem). */
export function providersCrossCheck(raw: unknown): DocumentIssue[] {
  return repeatedField(raw, 'id', (id) => `provider id "${id}" is listed twice`);
}

/**
 * `scrypt$N$r$p$<salt b64url>$<hash b64url>`, as `hashPassword` (src/oauth2/dev-users.ts) and the
 * one-liner at the top of rbac/dev-users.yaml write it.
 */
export const SCRYPT_HASH =
  /^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;

/** The dev users file (`rbac/dev-users.yaml`). */
export const devUsersSchema = z.strictObject({
  users: z
    .array(
      z.strictObject({
        username: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "-" and "_"'),
        name: z.string().max(128).default(''),
        email: z.string().max(256).default(''),
        roles: z.array(z.string().min(1)).default([]),
        /** For trying step-up rules locally: the `acr` and `amr` this user's sign-in counts as. */
        acr: z
          .string()
          .regex(/^[\x21-\x7e]{1,256}$/, 'printable, no spaces')
          .optional(),
        amr: z
          .array(z.string().regex(/^[\x21-\x7e]{1,256}$/, 'printable, no spaces'))
          .max(64)
          .optional(),
        scrypt: z.string().regex(SCRYPT_HASH, 'scrypt$N$r$p$salt$hash (base64url)'),
      }),
    )
    .nonempty('list at least one user'),
});

export type DevUsersFile = z.output<typeof devUsersSchema>;

const secretList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .refine(
            (s) => Buffer.byteLength(s) >= 32,
            'each secret is at least 32 bytes (e.g. `openssl rand -base64 32`)',
          ),
      )
      .nonempty(),
  );

const domainList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim().toLowerCase())
      .filter((x) => x !== ''),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(
          /^\.?[a-z0-9-]+(?:\.[a-z0-9-]+)*$/,
          'a host (app.example.com) or .domain (.example.com) without scheme, port or wildcard',
        ),
    ),
  );

const publicUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (
      (u.protocol === 'https:' || u.protocol === 'http:') &&
      !u.username &&
      !u.password &&
      !u.search &&
      !u.hash &&
      (u.pathname === '/' || u.pathname === '')
    );
  } catch {
    return false;
  }
}, 'must be an absolute http(s) origin like https://auth.example.com (no path, query or credentials)');

/** The sign-in variables, merged into the environment schema. */
export const signInEnvShape = {
  WARDEN_OIDC_PROVIDERS: z.string().min(1).optional(),
  WARDEN_PUBLIC_URL: publicUrl.optional(),
  WARDEN_SESSION_SECRET: secretList.optional(),
  WARDEN_COOKIE_DOMAIN: z
    .string()
    .regex(/^\.?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/, 'a domain like example.com')
    .transform((d) => d.replace(/^\./, '').toLowerCase())
    .optional(),
  WARDEN_REDIRECT_DOMAINS: domainList.default([]),
  /** Where a sign-in with a missing or refused `rd` ends; default the public URL. */
  WARDEN_DEFAULT_REDIRECT: z.url().optional(),
  WARDEN_DEV_USERS: z.string().min(1).optional(),
  WARDEN_SESSION_LIFETIME: duration.default(7 * 24 * 3600),
  WARDEN_SESSION_IDLE: duration.default(12 * 3600),
  /** How often a session's roles are refreshed with the IdP's refresh token (when it gave one). */
  WARDEN_SESSION_REFRESH: duration.default(5 * 60),
  NODE_ENV: z.string().optional(),
} as const;

type SignInEnv = z.output<z.ZodObject<typeof signInEnvShape>>;

/** Sign-in needs its public URL and a session secret; dev users are never allowed in production. */
export function signInCrossCheck(env: SignInEnv): { variable: string; message: string }[] {
  const out: { variable: string; message: string }[] = [];
  const enabled = env.WARDEN_OIDC_PROVIDERS !== undefined || env.WARDEN_DEV_USERS !== undefined;
  if (env.WARDEN_DEV_USERS !== undefined && env.NODE_ENV === 'production') {
    out.push({
      variable: 'WARDEN_DEV_USERS',
      message:
        'dev users have published demo passwords and are refused when NODE_ENV=production; unset WARDEN_DEV_USERS or NODE_ENV',
    });
  }
  if (!enabled) return out;
  if (env.WARDEN_PUBLIC_URL === undefined)
    out.push({
      variable: 'WARDEN_PUBLIC_URL',
      message: "required for sign-in: warden's external URL, e.g. https://auth.example.com",
    });
  if (env.WARDEN_SESSION_SECRET === undefined)
    out.push({
      variable: 'WARDEN_SESSION_SECRET',
      message: 'required for sign-in: at least 32 random bytes (e.g. `openssl rand -base64 32`)',
    });
  if (env.WARDEN_PUBLIC_URL !== undefined) {
    const host = new URL(env.WARDEN_PUBLIC_URL).hostname.toLowerCase();
    const domain = env.WARDEN_COOKIE_DOMAIN;
    if (domain !== undefined && host !== domain && !host.endsWith(`.${domain}`)) {
      out.push({
        variable: 'WARDEN_COOKIE_DOMAIN',
        message: `must be WARDEN_PUBLIC_URL's host (${host}) or a parent domain of it; browsers refuse a cookie for another domain`,
      });
    }
    if (env.NODE_ENV === 'production' && new URL(env.WARDEN_PUBLIC_URL).protocol !== 'https:') {
      out.push({
        variable: 'WARDEN_PUBLIC_URL',
        message:
          'must be https with NODE_ENV=production: over plain http the session cookie cannot be Secure',
      });
    }
  }
  if (env.WARDEN_SESSION_IDLE > env.WARDEN_SESSION_LIFETIME)
    out.push({ variable: 'WARDEN_SESSION_IDLE', message: 'must not be longer than WARDEN_SESSION_LIFETIME' });
  return out;
}
