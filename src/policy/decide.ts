// decide(): the pure decision core. Plain data in, Decision out; no I/O, no clock, no HTTP.
import { AuthError } from '../auth/errors.js';
import type { Identity } from '../auth/identity.js';
import { inList, type Address } from '../request/client-ip.js';
import type { RequestBody } from '../request/description.js';
import type { CompiledPolicy, CompiledResource, CompiledRule, RuleEntry } from './compile.js';
import { candidates, forEachInOrder } from './rule-index.js';
import { globMatch, hostMatches, splitPath } from './matchers.js';
import { judgeMcp, meets, type McpRefusalReason, type McpSummary } from './mcp-rules.js';
import { unmetAuthn, type AuthnRequirement, type StepUpCause } from './step-up.js';
import type { DecisionTracer } from './trace.js';

/** What decide() needs to know about the request. */
export interface DecisionInput {
  method: string;
  host: string;
  matchPath: string;
  /** Other readings of an ambiguous path (dot segments): each must be allowed as well. */
  altMatchPaths?: readonly string[] | null;
  clientIp: Address;
  /** The body the proxy forwarded: judged by a rule's `mcp` sub-rules. */
  body?: RequestBody | null;
}

/** What decide() needs besides the request and the credential. */
export interface DecideOptions {
  /** The instant of the decision (ms): a rule's `authn.maxAge` is judged against it. Without it, maxAge is never met. */
  now?: number;
  /** Hears every step (`warden explain`, `warden test`). */
  tracer?: DecisionTracer;
}

/** The authenticators' verdict: an identity, a refused credential, or nothing presented. */
export type AuthOutcome = { identity: Identity } | { error: AuthError } | null;

/** Reasons a request is refused by policy. */
export type ForbiddenReason =
  | 'rule_deny'
  | 'default_deny'
  | 'network_not_allowed'
  | 'insufficient_permissions'
  | 'step_up_required'
  | McpRefusalReason;

/** A signed-in person whose sign-in is not strong or recent enough for the rule (`step_up_required`). */
export interface StepUp {
  authn: AuthnRequirement;
  unmet: StepUpCause;
}

/** The policy allows it: `identity` null on a public route without credentials. */
export interface AllowDecision {
  kind: 'allow';
  rule: number | null;
  reason: 'public' | 'permitted' | 'authenticated';
  identity: Identity | null;
  /** The named rate limit to count it against (the key's own, else the rule's). */
  rateLimit: string | null;
  /** The JSON-RPC body its `mcp` sub-rules judged. */
  mcp?: McpSummary;
}

/** No usable credential where one is needed. */
export interface UnauthenticatedDecision {
  kind: 'unauthenticated';
  rule: number | null;
  reason: 'missing_credentials' | 'invalid_credentials';
  error: AuthError | null;
  /** The JSON-RPC body whose sub-rule needs a caller. */
  mcp?: McpSummary;
}

/** Refused by policy: `required` names the permissions (for `insufficient_scope`, the scopes) the rule asks for. */
export interface ForbiddenDecision {
  kind: 'forbidden';
  rule: number | null;
  reason: ForbiddenReason;
  required: readonly string[];
  identity: Identity | null;
  /** The JSON-RPC body its `mcp` sub-rules refused: the 403 is a JSON-RPC error per refused call. */
  mcp?: McpSummary;
  /** Audit-only: why a body could not be judged (`bad_mcp_request`, `mcp_body_required`), or the unmet step-up. */
  detail?: string;
  /** `step_up_required`: what the rule asks of the sign-in, and what is missing. */
  stepUp?: StepUp;
}

/** What decide() returns. `rule` is the matched rule's index, null for the default. */
export type PolicyDecision = AllowDecision | UnauthenticatedDecision | ForbiddenDecision;

/** Every decision /verify can reach: the policy's, then the limits', or a request refused before either. */
export type Decision = PolicyDecision | LimitedDecision | MalformedDecision;

/** What a limited client is told: the limit that refused it and when to come back. */
export interface LimitRefusal {
  name: string;
  limit: number;
  windowSec: number;
  retryAfterSec: number;
}

/** Refused by limits after the policy allowed or refused it: a banned client IP or an exhausted rate limit. */
export interface LimitedDecision {
  kind: 'limited';
  rule: number | null;
  reason: 'rate_limited' | 'banned';
  refusal: LimitRefusal;
  identity: Identity | null;
  /** The rate limit that refused it (null for a ban). */
  rateLimit: string | null;
  /** The admin ban that refused it (POST /admin/bans), checked before the rules. */
  ban?: { id: string; type: 'ip' | 'cidr' | 'identity' };
}

/** Why a request could not be described: refused before any credential is read. */
export type MalformedReason = 'untrusted_proxy' | 'bad_forwarded_context' | 'bad_path';

/** The auth request itself is unusable: an untrusted peer, a broken forwarded context, an unsafe path. */
export interface MalformedDecision {
  kind: 'malformed';
  rule: null;
  reason: MalformedReason;
  /** Audit-only detail (which header, which path problem); null when there is nothing to add. */
  detail: string | null;
}

/** The identity a decision was made for, if any. */
export function identityOf(d: Decision): Identity | null {
  return d.kind === 'unauthenticated' || d.kind === 'malformed' ? null : d.identity;
}

/** The first rule whose host, methods and path all match, or null. `tracer` hears every rule tried. */
export function matchRule(
  policy: CompiledPolicy,
  method: string,
  host: string,
  matchPath: string,
  tracer?: DecisionTracer,
): CompiledRule | null {
  const segments = splitPath(matchPath);
  // A tracer hears every rule, so it walks them all; otherwise only the rules the index finds.
  if (tracer) {
    for (const rule of policy.rules) if (tried(rule, method, host, segments, tracer)) return rule;
    return null;
  }
  const lists = scratch;
  lists.length = 0;
  candidates(policy.index, host, segments, lists);
  if (lists.length === 1) {
    for (const e of lists[0] ?? []) if (tried(e.rule, method, host, segments)) return e.rule;
    return null;
  }
  const found = forEachInOrder(lists, (e) => tried(e.rule, method, host, segments));
  lists.length = 0;
  return found?.rule ?? null;
}

/** Reused by every matchRule() (synchronous, so never two at once): no list allocated per request. */
const scratch: RuleEntry[][] = [];

/** Whether one rule matches, told to the tracer. */
function tried(
  rule: CompiledRule,
  method: string,
  host: string,
  segments: readonly string[],
  tracer?: DecisionTracer,
): boolean {
  if (rule.methods && !rule.methods.has(method)) {
    tracer?.rule(rule, 'methods');
    return false;
  }
  if (rule.host !== null && !hostMatches(rule.host, host)) {
    tracer?.rule(rule, 'host');
    return false;
  }
  if (globMatch(rule.path, segments)) {
    tracer?.rule(rule, 'match');
    return true;
  }
  tracer?.rule(rule, 'path');
  return false;
}

/**
 * The refusal of a bearer token the rule does not accept: one issued for another resource, or by an
 * issuer that is no authorization server of the rule's resource; on a rule without a resource, one
 * that does not name its issuer's audience (a token for an MCP server never opens the APIs: the
 * confused-deputy and token-passthrough defence). Audited with cause `wrong_audience`.
 */
export const WRONG_AUDIENCE = new AuthError('invalid_credentials', 'wrong_audience', undefined, {});

/**
 * Whether a rule (its resource, or none: any other route, the admin API) accepts this identity's
 * token; API keys and sessions always.
 */
export function tokenAccepted(resource: CompiledResource | null, identity: Identity): boolean {
  if (identity.method !== 'jwt') return true;
  const grant = identity.token;
  if (grant === undefined) return false;
  if (resource === null) return grant.issuerAudience;
  return (
    identity.issuer !== undefined &&
    resource.authorizationServers.has(identity.issuer) &&
    grant.audience.has(resource.key)
  );
}

/** A bearer token carries every scope the rule asks for; scopes do not apply to API keys and sessions. */
function scoped(scopes: readonly string[], identity: Identity): boolean {
  if (identity.method !== 'jwt') return true;
  const held = identity.token?.scopes;
  return held !== undefined && scopes.every((s) => held.has(s));
}

function wrongAudience(rule: number | null): UnauthenticatedDecision {
  return { kind: 'unauthenticated', rule, reason: 'invalid_credentials', error: WRONG_AUDIENCE };
}

function unauthenticated(rule: number | null, auth: AuthOutcome): UnauthenticatedDecision {
  if (auth && 'error' in auth)
    return { kind: 'unauthenticated', rule, reason: 'invalid_credentials', error: auth.error };
  return { kind: 'unauthenticated', rule, reason: 'missing_credentials', error: null };
}

function forbidden(
  rule: number | null,
  reason: ForbiddenReason,
  identity: Identity | null,
  required: readonly string[] = [],
): ForbiddenDecision {
  return { kind: 'forbidden', rule, reason, required, identity };
}

/**
 * Decide a request: global networks, first matching rule (deny, networks, public, then
 * credentials and permissions), else the policy default. A presented but invalid credential
 * never falls through to anonymous, except on a public rule, where no credential is needed.
 */
export function decide(
  policy: CompiledPolicy,
  req: DecisionInput,
  auth: AuthOutcome,
  opts: DecideOptions = {},
): PolicyDecision {
  const d = opts.tracer
    ? traced(policy, req, req.matchPath, auth, opts)
    : decideOne(policy, req, req.matchPath, auth, opts);
  if (d.kind !== 'allow' || !req.altMatchPaths) return d;
  // An ambiguous path passes only if every reading an upstream might take would pass.
  for (const alt of req.altMatchPaths) {
    const other = opts.tracer
      ? traced(policy, req, alt, auth, opts)
      : decideOne(policy, req, alt, auth, opts);
    if (other.kind !== 'allow') return other;
  }
  return d;
}

function traced(
  policy: CompiledPolicy,
  req: DecisionInput,
  matchPath: string,
  auth: AuthOutcome,
  opts: DecideOptions,
): PolicyDecision {
  opts.tracer?.reading(matchPath);
  const d = decideOne(policy, req, matchPath, auth, opts);
  opts.tracer?.decided(d);
  return d;
}

function decideOne(
  policy: CompiledPolicy,
  req: DecisionInput,
  matchPath: string,
  auth: AuthOutcome,
  { now, tracer }: DecideOptions,
): PolicyDecision {
  const identity = auth && 'identity' in auth ? auth.identity : null;
  if (policy.networks) {
    const inside = inList(policy.networks, req.clientIp);
    tracer?.network('global', inside);
    if (!inside) return forbidden(null, 'network_not_allowed', identity);
  }
  const rule = matchRule(policy, req.method, req.host, matchPath, tracer);
  if (!rule) {
    if (policy.defaultEffect === 'deny') return forbidden(null, 'default_deny', identity);
    if (!identity) return unauthenticated(null, auth);
    if (!tokenAccepted(null, identity)) return wrongAudience(null);
    return {
      kind: 'allow',
      rule: null,
      reason: 'authenticated',
      identity,
      rateLimit: identity.rateLimit ?? null,
    };
  }
  const index = rule.index;
  if (rule.effect === 'deny') return forbidden(index, 'rule_deny', identity);
  if (rule.networks) {
    const inside = inList(rule.networks, req.clientIp);
    tracer?.network(index, inside);
    if (!inside) return forbidden(index, 'network_not_allowed', identity);
  }
  if (rule.effect === 'public') {
    // A token the rule would not accept passes as no credential, as a refused one does.
    const caller = identity && tokenAccepted(rule.resource, identity) ? identity : null;
    const reason = 'public';
    return passed(policy, rule, req, {
      kind: 'allow',
      rule: index,
      reason,
      identity: caller,
      rateLimit: caller?.rateLimit ?? rule.rateLimit,
    });
  }
  if (!identity) return unauthenticated(index, auth);
  if (!tokenAccepted(rule.resource, identity)) return wrongAudience(index);
  // Scopes before permissions: a client mends missing scopes itself (it asks for a token with them).
  if (rule.scopes && !scoped(rule.scopes, identity))
    return forbidden(index, 'insufficient_scope', identity, rule.scopes);
  const rateLimit = identity.rateLimit ?? rule.rateLimit;
  if (rule.require) tracer?.permissions(policy, rule, identity);
  if (rule.require && !meets(identity.roles, policy.roles, rule.require))
    return forbidden(index, 'insufficient_permissions', identity, rule.require.permissions);
  // Step-up after permissions: a stronger sign-in cannot give a person roles they lack.
  const weak = rule.authn ? stepUpRefusal(rule, rule.authn, identity, { now, tracer }) : null;
  if (weak) return weak;
  if (rule.require) {
    return passed(policy, rule, req, {
      kind: 'allow',
      rule: index,
      reason: 'permitted',
      identity,
      rateLimit,
    });
  }
  return passed(policy, rule, req, {
    kind: 'allow',
    rule: index,
    reason: 'authenticated',
    identity,
    rateLimit,
  });
}

/** The refusal of a sign-in too weak or too old for the rule's `authn`, or null when it is strong and recent enough. */
function stepUpRefusal(
  rule: CompiledRule,
  authn: AuthnRequirement,
  identity: Identity,
  { now, tracer }: DecideOptions,
): ForbiddenDecision | null {
  const unmet = unmetAuthn(authn, identity, now ?? Number.NaN);
  tracer?.authn(rule, unmet);
  if (unmet === null) return null;
  const out = forbidden(rule.index, 'step_up_required', identity);
  out.stepUp = { authn, unmet };
  out.detail = unmet;
  return out;
}

/**
 * A request its rule allows, judged by the rule's `mcp` sub-rules when it has some: every JSON-RPC
 * call in the body must pass too.
 */
function passed(
  policy: CompiledPolicy,
  rule: CompiledRule,
  req: DecisionInput,
  d: AllowDecision,
): PolicyDecision {
  if (rule.mcp === null) return d;
  const v = judgeMcp({
    rules: rule.mcp,
    roles: policy.roles,
    ruleScopes: rule.scopes,
    method: req.method,
    body: req.body,
    identity: d.identity,
  });
  if (v === null) return d;
  if (v.kind === 'pass') return { ...d, mcp: v.mcp };
  if (v.kind === 'unauthenticated')
    return { kind: 'unauthenticated', rule: d.rule, reason: 'missing_credentials', error: null, mcp: v.mcp };
  const out = forbidden(d.rule, v.reason, d.identity, v.required);
  if (v.mcp) out.mcp = v.mcp;
  if (v.detail !== null) out.detail = v.detail;
  return out;
}

/**
 * With shadow rules: where the enforced policy allows, the denial a shadow rule would have
 * given (to audit as `would-deny`); null when there is none.
 */
export function shadowDenial(
  policy: CompiledPolicy,
  req: DecisionInput,
  auth: AuthOutcome,
  now: number,
): PolicyDecision | null {
  if (!policy.enforced) return null;
  const full = decide(policy, req, auth, { now });
  return full.kind !== 'allow' && full.rule !== null && policy.rules[full.rule]?.shadow === true
    ? full
    : null;
}
