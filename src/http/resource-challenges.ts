// The WWW-Authenticate challenges of rules with a resource, which send MCP clients to the metadata and the scopes they need.
import type { CompiledRule } from '../policy/compile.js';
import { metadataUrl } from './resource-metadata.js';

/**
 * A resource rule's challenges (MCP authorization; RFC 9728 §5.1, RFC 6750 §3), written once per
 * policy version. Scopes are RFC 6749 scope tokens and the metadata URL is a serialized URL, so
 * neither holds a `"` or `\` to escape.
 */
export interface ResourceChallenges {
  /** 401 without a credential: where the metadata is, and the resource's scopes to ask for. */
  missing: string;
  /** 401 with a refused credential: the same, with `error="invalid_token"`. */
  invalid: string;
  /** 403 `insufficient_scope`: the scopes the rule needs, and where the metadata is; null without rule scopes. */
  insufficientScope: string | null;
}

/** The challenges of each rule, by rule index: null for a rule without a resource. */
export type RuleChallenges = readonly (ResourceChallenges | null)[];

function challengesOf(rule: CompiledRule): ResourceChallenges | null {
  const resource = rule.resource;
  if (resource === null) return null;
  const metadata = `resource_metadata="${metadataUrl(resource.url)}"`;
  const scope = resource.scopes.length > 0 ? `, scope="${resource.scopes.join(' ')}"` : '';
  const missing = `Bearer ${metadata}${scope}`;
  return {
    missing,
    invalid: `${missing}, error="invalid_token"`,
    insufficientScope: rule.scopes ? scopeChallenge(rule.scopes, metadata) : null,
  };
}

/** The 403 `insufficient_scope` challenge: the scopes to ask for, then the `resource_metadata` parameter. */
function scopeChallenge(scopes: readonly string[], metadata: string): string {
  return `Bearer error="insufficient_scope", scope="${scopes.join(' ')}", ${metadata}`;
}

/** The 403 `insufficient_scope` challenge naming `required` (a sub-rule's scopes with its rule's), or null without a resource. */
export function insufficientScopeFor(
  rule: CompiledRule | undefined,
  required: readonly string[],
): string | null {
  const resource = rule?.resource;
  return resource ? scopeChallenge(required, `resource_metadata="${metadataUrl(resource.url)}"`) : null;
}

/** Write the challenges of a policy's rules (all of them, shadow rules included: indexes are the policy's). */
export function compileChallenges(rules: readonly CompiledRule[]): RuleChallenges {
  const out: (ResourceChallenges | null)[] = [];
  for (const rule of rules) out[rule.index] = challengesOf(rule);
  return out;
}
