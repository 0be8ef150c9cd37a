// Compile a validated policy into matchers and lookup tables, once per load or reload.
import type { CidrSet } from '../request/cidr-set.js';
import type { PolicyFile, RateLimitSpec } from '../config/policy-schema.js';
import { compileCidrs } from '../request/client-ip.js';
import { resourceKey } from '../util/resource-url.js';
import { hostPatternKey, pathPatternSegments } from './matchers.js';
import { buildRuleIndex, type IndexedEntry, type RuleIndex } from './rule-index.js';
import { compileMcpRules, compileRequirement, type CompiledMcpRule, type Requirement } from './mcp-rules.js';
import { compileGrants, type CompiledGrants } from './permissions.js';
import { compileAuthn, type AuthnRequirement } from './step-up.js';

/** An OAuth protected resource (policy `resources:`), ready for lookups. */
export interface CompiledResource {
  id: string;
  /** The resource identifier as configured: `resource` of its metadata. */
  url: string;
  /** {@link resourceKey} of the url: what a token's `aud` values are compared with. */
  key: string;
  /** Issuers whose tokens for this resource are accepted. */
  authorizationServers: ReadonlySet<string>;
  scopes: readonly string[];
  name: string | null;
}

/** A rule ready for matching. */
export interface CompiledRule {
  index: number;
  /** The path pattern's canonical segments ({@link globMatch}); rules with the same pattern share one array. */
  path: readonly string[];
  /** The host pattern's key ({@link hostMatches}): exact or `*.suffix`; null for any host. */
  host: string | null;
  methods: ReadonlySet<string> | null;
  effect: 'public' | 'deny' | 'require' | 'authenticated';
  require: Requirement | null;
  networks: CidrSet | null;
  rateLimit: string | null;
  /** `resource`: bearer tokens must be issued for it; null on a rule without one. */
  resource: CompiledResource | null;
  /** `scopes` a bearer token must all carry; null for none. */
  scopes: readonly string[] | null;
  /** Per-tool sub-rules judged on the JSON-RPC body; null for none. */
  mcp: readonly CompiledMcpRule[] | null;
  /** `authn`: how strongly and recently the person must have signed in (step-up); null for none. */
  authn: AuthnRequirement | null;
  /** `shadow: true`: the rule is only audited; {@link CompiledPolicy.enforced} leaves it out. */
  shadow: boolean;
}

/** The policy as `decide()` consumes it. Immutable; a reload builds a new one. */
export interface CompiledPolicy {
  rules: readonly CompiledRule[];
  roles: ReadonlyMap<string, CompiledGrants>;
  networks: CidrSet | null;
  defaultEffect: 'deny' | 'authenticated';
  rateLimits: ReadonlyMap<string, RateLimitSpec>;
  /** The protected resources by id. */
  resources: ReadonlyMap<string, CompiledResource>;
  source: PolicyFile;
  /** Some rule has `mcp` sub-rules: /verify reads the bodies proxies forward. */
  readsBodies: boolean;
  /** The policy without its shadow rules (what is enforced), or null when it has none. */
  enforced: CompiledPolicy | null;
  /**
   * The rules a request can match, found by host and path instead of walked: exact hosts in a map,
   * `*.` hosts by suffix, paths by their first literal segment or (wildcard-led) a literal they
   * contain. Every list keeps policy order (first match stays first match).
   */
  index: RuleIndex<RuleEntry>;
}

/** A rule in the index: its host pattern and path segments as its matchers compare them. */
export interface RuleEntry extends IndexedEntry {
  rule: CompiledRule;
}

function indexRules(entries: readonly RuleEntry[]): Pick<CompiledPolicy, 'rules' | 'index'> {
  return { rules: entries.map((e) => e.rule), index: buildRuleIndex(entries) };
}

/** Thrown when a validated policy still cannot be compiled; names the rule. */
export class PolicyCompileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function compileResources(policy: PolicyFile): ReadonlyMap<string, CompiledResource> {
  const out = new Map<string, CompiledResource>();
  for (const r of policy.resources)
    out.set(
      r.id,
      Object.freeze({
        id: r.id,
        url: r.url,
        key: resourceKey(r.url),
        authorizationServers: new Set(r.authorizationServers),
        scopes: r.scopes,
        name: r.name ?? null,
      }),
    );
  return out;
}

/** A rule's resource; validation made sure it is defined. */
function resourceOf(resources: ReadonlyMap<string, CompiledResource>, id: string, index: number) {
  const found = resources.get(id);
  if (!found) throw new PolicyCompileError(`rules[${index}].resource`, `resource "${id}" is not defined`);
  return found;
}

/** The value `make` builds for `key`, built once: rules that say the same thing share one object. */
function interned<V>(table: Map<string, V>, key: string, make: () => V): V {
  let v = table.get(key);
  if (v === undefined) table.set(key, (v = make()));
  return v;
}

/**
 * What rules have in common, compiled once and shared: 10 000 tenant rules of `path: /**` hold one
 * pattern, not 10 000, and rules hold patterns as data, not a matcher closure each. Fewer objects
 * per rule is less for every garbage collection to walk, which is what a large policy costs per
 * request once its lookups are indexed.
 */
class SharedParts {
  private readonly paths = new Map<string, string[]>();
  private readonly requirements = new Map<string, Requirement | null>();
  private readonly methods = new Map<string, ReadonlySet<string>>();

  path(path: string, index: number): string[] {
    return interned(this.paths, path, () => {
      try {
        return pathPatternSegments(path);
      } catch (e) {
        throw new PolicyCompileError(`rules[${index}].match.path`, (e as Error).message);
      }
    });
  }

  requirement(r: PolicyFile['rules'][number]['require']): Requirement | null {
    return r === undefined
      ? null
      : interned(this.requirements, JSON.stringify(r), () => compileRequirement(r));
  }

  methodSet(methods: readonly string[] | undefined): ReadonlySet<string> | null {
    return methods === undefined ? null : interned(this.methods, methods.join(' '), () => new Set(methods));
  }
}

/** Build matchers, grant tables and block lists from a validated policy. */
export function compilePolicy(policy: PolicyFile): CompiledPolicy {
  const resources = compileResources(policy);
  const shared = new SharedParts();
  const led = policy.rules.map((r, index): RuleEntry => {
    const pattern = shared.path(r.match.path, index);
    const require = shared.requirement(r.require);
    const host = r.match.host === undefined ? null : hostPatternKey(r.match.host);
    const rule: CompiledRule = {
      index,
      path: pattern,
      host,
      methods: shared.methodSet(r.match.methods),
      effect: r.public ? 'public' : r.deny ? 'deny' : require ? 'require' : 'authenticated',
      require,
      networks: r.networks ? compileCidrs(r.networks) : null,
      rateLimit: r.rateLimit ?? null,
      resource: r.resource === undefined ? null : resourceOf(resources, r.resource, index),
      scopes: r.scopes ?? null,
      mcp: compileMcpRules(r.mcp),
      authn: compileAuthn(r.authn),
      shadow: r.shadow === true,
    };
    return { index, host, path: pattern, rule };
  });
  const roles = new Map<string, CompiledGrants>();
  for (const [name, perms] of Object.entries(policy.roles)) roles.set(name, compileGrants(perms));
  const base = {
    roles,
    networks: policy.networks ? compileCidrs(policy.networks) : null,
    defaultEffect: policy.default,
    rateLimits: new Map(Object.entries(policy.rateLimits)),
    resources,
    source: policy,
    readsBodies: policy.rules.some((r) => r.mcp !== undefined),
  };
  // Shadow rules keep their indexes; the enforced policy simply skips them.
  const enforced = led.some((l) => l.rule.shadow)
    ? Object.freeze({ ...base, ...indexRules(led.filter((l) => !l.rule.shadow)), enforced: null })
    : null;
  return Object.freeze({ ...base, ...indexRules(led), enforced });
}
