// What a verified bearer token was issued for: its audiences (the APIs, or an MCP server) and its scopes.
import { resourceKey } from '../util/resource-url.js';
import type { TokenGrant } from './identity.js';

/** For each issuer, the resources (their resourceKey) it issues tokens for: policy `resources:` by authorization server. */
export type ResourceAudiences = ReadonlyMap<string, ReadonlySet<string>>;

/** No resources: every token must carry its issuer's audience. */
export const NO_RESOURCES: ResourceAudiences = new Map();

/** Index a policy's resources by their authorization servers, once per policy version. */
export function resourceAudiences(
  resources: Iterable<{ key: string; authorizationServers: ReadonlySet<string> }>,
): ResourceAudiences {
  const out = new Map<string, Set<string>>();
  for (const r of resources)
    for (const issuer of r.authorizationServers) {
      let keys = out.get(issuer);
      if (!keys) out.set(issuer, (keys = new Set()));
      keys.add(r.key);
    }
  return out;
}

/** The `aud` values: a string or a list of strings; null for anything else (refused). */
function audienceValues(aud: unknown): readonly string[] | null {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a): a is string => typeof a === 'string')) return aud;
  return null;
}

/** Scopes from a `scope` or `scp` claim: a space-delimited string or a list of strings; other types add none. */
function addScopes(into: Set<string>, claim: unknown): void {
  const list = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  for (const s of list) if (typeof s === 'string' && s !== '') into.add(s);
}

/**
 * What a token whose signature and claims were verified was issued for: null when its `aud` names
 * neither its issuer's configured audience (compared exactly, as jose does) nor a resource that
 * issuer serves (compared as resourceKey() writes both), so it is no token for warden to accept.
 */
export function tokenGrant(
  payload: Readonly<Record<string, unknown>>,
  issuerAudience: string | readonly string[],
  resources: ReadonlySet<string> | undefined,
): TokenGrant | null {
  const aud = audienceValues(payload.aud);
  if (aud === null) return null;
  const accepted = typeof issuerAudience === 'string' ? [issuerAudience] : issuerAudience;
  const forIssuer = aud.some((a) => accepted.includes(a));
  const audience = new Set(aud.map(resourceKey));
  if (!forIssuer && !(resources && [...audience].some((a) => resources.has(a)))) return null;
  const scopes = new Set<string>();
  addScopes(scopes, payload.scope);
  addScopes(scopes, payload.scp);
  return Object.freeze({ audience, issuerAudience: forIssuer, scopes });
}
