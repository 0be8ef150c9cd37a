// Claims → identity: subject, name, email and roles from a verified token, every value type-checked.
import type { IssuerConfig } from '../config/issuers-schema.js';
import type { PolicyFile } from '../config/policy-schema.js';
import { authnFacts } from './authn-facts.js';
import { AuthError } from './errors.js';
import type { Identity } from './identity.js';
import { headerSafe } from '../util/header-safe.js';

/** The policy's `claims:` section, compiled: where roles are and what IdP groups mean. */
export interface ClaimsMapping {
  rolesPath: string;
  map: ReadonlyMap<string, string>;
  /** Roles the policy defines; a group that is none of them after mapping grants nothing and is not passed on. */
  defined: ReadonlySet<string>;
}

// eslint-disable-next-line no-control-regex -- finding control characters is its purpose
const CONTROL = /[\x00-\x1f\x7f]/;
const MAX_VALUE = 1024;
const MAX_ROLES = 256;

/** Compile the policy's claims section. */
export function claimsMapping(policy: PolicyFile): ClaimsMapping {
  return {
    rolesPath: policy.claims?.roles ?? 'groups',
    map: new Map(Object.entries(policy.claims?.map ?? {})),
    defined: new Set(Object.keys(policy.roles)),
  };
}

/** The claim at a dotted path (`realm_access.roles`); a URL-shaped name (Auth0 namespaces) is one claim. */
export function claimAt(payload: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(payload, path) || /^https?:\/\//.test(path)) return payload[path];
  let cur: unknown = payload;
  for (const seg of path.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function refuse(cause: 'bad_subject' | 'bad_roles' | 'bad_claim'): AuthError {
  return new AuthError('invalid_credentials', cause, undefined, {});
}

/** An optional string claim: absent → '', a string without control characters → header-safe, else invalid. */
function textClaim(value: unknown): string | null {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length > MAX_VALUE || CONTROL.test(value)) return null;
  return headerSafe(value);
}

/** Roles: an array of strings only; a string, object or nested array is not roles. */
function rolesOf(value: unknown, mapping: ClaimsMapping): string[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_ROLES) return null;
  const out: string[] = [];
  for (const g of value) {
    if (typeof g !== 'string' || g.length > MAX_VALUE || CONTROL.test(g) || g.includes(',')) return null;
    const role = mapping.map.get(g) ?? g;
    if (mapping.defined.has(role) && !out.includes(role)) out.push(role);
  }
  return out;
}

/** Where claims come from: a trusted JWT issuer, or an OIDC provider's ID token (sessions). */
export type ClaimsSource = Pick<IssuerConfig, 'issuer' | 'rolesClaim' | 'subjectClaim' | 'subjectPrefix'>;

/** The identity a verified token stands for, or an AuthError naming the claim that is not acceptable. */
export function identityFromClaims(
  payload: Readonly<Record<string, unknown>>,
  issuer: ClaimsSource,
  mapping: ClaimsMapping,
  expiresAt?: number,
): Identity | AuthError {
  const sub = claimAt(payload, issuer.subjectClaim ?? 'sub');
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256 || CONTROL.test(sub))
    return refuse('bad_subject');
  const roles = rolesOf(claimAt(payload, issuer.rolesClaim ?? mapping.rolesPath), mapping);
  if (roles === null) return refuse('bad_roles');
  const name = textClaim(payload.name ?? payload.preferred_username);
  const email = textClaim(payload.email);
  if (name === null || email === null) return refuse('bad_claim');
  const authn = authnFacts(payload);
  return Object.freeze({
    sub: headerSafe(issuer.subjectPrefix + sub),
    name,
    email,
    roles: Object.freeze(roles),
    method: 'jwt' as const,
    issuer: issuer.issuer,
    claims: payload,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(authn !== undefined ? { authn } : {}),
  });
}
