// Evaluate one request offline, as /verify would, with the decision trace: the core of `warden explain` and `warden test`.
import { authenticateKey, type KeyTable } from '../auth/apikey.js';
import { authenticate, type Chain } from '../auth/chain.js';
import { HEADERS_ONLY } from '../auth/credentials.js';
import { AuthError } from '../auth/errors.js';
import type { Identity } from '../auth/identity.js';
import type { RateLimitSpec } from '../config/policy-schema.js';
import { describeUrl } from '../http/dialects.js';
import { HeaderMap } from '../http/header-map.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { AuthnFacts } from '../auth/authn-facts.js';
import {
  decide,
  shadowDenial,
  type AuthOutcome,
  type ForbiddenDecision,
  type PolicyDecision,
  type StepUp,
} from '../policy/decide.js';
import { TraceCollector, type ReadingTrace } from '../policy/trace.js';
import { compileCidrs, parseAddress } from '../request/client-ip.js';
import type { RequestDescription } from '../request/description.js';

/** Client IP used when none is given: outside every private range, like a client on the internet. */
export const DEFAULT_IP = '203.0.113.7';

/** A request to evaluate, with its credential. */
export interface EvalInput {
  method: string;
  url: string;
  ip?: string;
  headers?: Record<string, string>;
  /** An API key, looked up in the keys file like /verify does. */
  key?: string;
  /** A synthetic identity with these roles (no credential lookup). */
  roles?: readonly string[];
  /** A credential already checked elsewhere (a bearer JWT verified against its issuer): its identity or refusal. */
  verified?: Identity | AuthError;
  /** With `roles`: the synthetic identity is a bearer token issued for this resource, with these scopes. */
  token?: { resource: string; scopes: readonly string[] };
  /** The body the proxy forwards (Traefik forwardBody, Envoy with_request_body): what `mcp` sub-rules judge. */
  body?: string;
  /**
   * With `roles`: the synthetic identity is a person who signed in this way (`acr`, `amr`, and
   * `authTime` in seconds since the epoch): a session, or with `token` a bearer token. Without it,
   * roles stand for an API key, which no step-up rule accepts.
   */
  signIn?: SignInFacts;
}

/** How a synthetic person signed in, as step-up rules judge it. */
export interface SignInFacts {
  acr?: string;
  amr?: readonly string[];
  /** Seconds since the epoch. */
  authTime?: number;
}

/** How `mcp` sub-rules judged each JSON-RPC message of the body. */
export interface McpTrace {
  calls: {
    method: string | null;
    id: string | number | null;
    tool: string | null;
    rule: number | null;
    refusal: string | null;
  }[];
}

/** The decision as the proxy would see it. */
export interface EvalOutcome {
  decision: 'allow' | 'unauthenticated' | 'forbidden' | 'malformed';
  status: number;
  reason: string;
  rule: number | null;
  required?: readonly string[];
  rateLimit?: { name: string; spec: RateLimitSpec | null } | null;
  detail?: string;
}

/** Everything explain prints. */
export interface Evaluation {
  request: {
    method: string;
    url: string;
    host: string | null;
    path: string | null;
    altPaths: readonly string[];
    clientIp: string | null;
  };
  identity:
    | { kind: 'anonymous' }
    | { kind: 'synthetic'; roles: readonly string[]; signIn?: SignInFacts }
    | {
        kind: 'synthetic-token';
        roles: readonly string[];
        resource: string;
        scopes: readonly string[];
        signIn?: SignInFacts;
      }
    | { kind: 'api_key'; id: string; roles: readonly string[] }
    | { kind: 'jwt'; id: string; issuer: string; roles: readonly string[] }
    | {
        kind: 'refused';
        reason: string;
        cause: string;
        keyId: string | null;
        kid?: string;
        joseCode?: string;
      };
  outcome: EvalOutcome;
  trace: ReadingTrace[];
  /** The body's calls as the matched rule's `mcp` sub-rules judged them; null when none did. */
  mcp: McpTrace | null;
  notes: string[];
}

/** Thrown for input that is not a request at all (bad IP); distinct from a request warden denies. */
export class EvalInputError extends Error {}

const NO_PROXIES = compileCidrs([]);

/** Evaluate a request through the same describe → authenticate → decide steps as /verify; rate limits are named, not consumed. */
export function evaluate(policy: CompiledPolicy, keys: KeyTable, input: EvalInput, now: number): Evaluation {
  const ip = parseAddress(input.ip ?? DEFAULT_IP);
  if (!ip) throw new EvalInputError(`not an IP address: ${input.ip}`);
  if ([input.key, input.roles, input.verified].filter((x) => x !== undefined).length > 1)
    throw new EvalInputError('give one of a key, a token or roles');
  const headers = requestHeaders(input);
  const notes: string[] = [];
  const request: Evaluation['request'] = {
    method: input.method,
    url: input.url,
    host: null,
    path: null,
    altPaths: [],
    clientIp: ip.ip,
  };
  const described = describeUrl(input.method, input.url, ip, headers, NO_PROXIES);
  if (!described.ok) {
    request.host = described.partial.host ?? null;
    return {
      request,
      identity: { kind: 'anonymous' },
      outcome: {
        decision: 'malformed',
        status: 403,
        reason: described.reason,
        rule: null,
        detail: described.detail,
      },
      trace: [],
      mcp: null,
      notes,
    };
  }
  const req = described.req;
  if (input.body !== undefined) req.body = { bytes: Buffer.from(input.body), cut: null };
  request.host = req.host;
  request.path = req.path;
  request.altPaths = req.altMatchPaths ?? [];
  const { auth, identity } = identify(input, { keys, policy }, req, now, notes);
  const collector = new TraceCollector();
  // As /verify: shadow rules are left out of the enforced decision, and only audited.
  const d = decide(policy.enforced ?? policy, req, auth, { now, tracer: collector });
  const shadowed = d.kind === 'allow' ? shadowDenial(policy, req, auth, now) : null;
  if (shadowed)
    notes.push(
      `shadow rule [${shadowed.rule}] would deny (${shadowed.reason}); /verify allows and audits decision "would-deny"`,
    );
  const outcome = outcomeOf(d, policy, notes);
  // A verified token the rule refuses (its audience): /verify audits the same cause.
  if (d.kind === 'unauthenticated' && d.error && auth && 'identity' in auth) {
    outcome.detail = d.error.failure;
    const resource = d.rule === null ? null : (policy.rules[d.rule]?.resource ?? null);
    notes.push(
      resource
        ? `the token is not issued for resource "${resource.id}" (${resource.url}) by one of its authorization servers`
        : "the token is issued only for a resource (an MCP server), not for its issuer's audience",
    );
  }
  if (d.kind !== 'allow' && d.kind !== 'unauthenticated' && d.detail !== undefined) outcome.detail = d.detail;
  const mcp = d.mcp
    ? { calls: d.mcp.calls.map((c) => ({ ...c.call, rule: c.rule, refusal: c.refusal })) }
    : null;
  return { request, identity, outcome, trace: collector.readings, mcp, notes };
}

/** A synthetic bearer token for a resource: issued by its first authorization server, `aud` its url. */
function syntheticToken(
  policy: CompiledPolicy,
  roles: readonly string[],
  token: { resource: string; scopes: readonly string[] },
): Identity {
  const resource = policy.resources.get(token.resource);
  if (!resource) throw new EvalInputError(`resource "${token.resource}" is not defined in the policy`);
  const [issuer] = resource.authorizationServers;
  return {
    sub: `roles:${roles.join(',')}`,
    name: '',
    email: '',
    roles,
    method: 'jwt',
    ...(issuer !== undefined ? { issuer } : {}),
    token: { audience: new Set([resource.key]), issuerAudience: false, scopes: new Set(token.scopes) },
  };
}

/** The request's headers as /verify would read them, the key (if any) as X-API-Key. */
function requestHeaders(input: EvalInput): HeaderMap {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(input.headers ?? {})) raw.push(name, value);
  if (input.key !== undefined) raw.push('x-api-key', input.key);
  return HeaderMap.fromRaw(raw);
}

/** Who the request is: a verified token's outcome, a synthetic identity of roles, or the API key looked up. */
function identify(
  input: EvalInput,
  { keys, policy }: { keys: KeyTable; policy: CompiledPolicy },
  req: RequestDescription,
  now: number,
  notes: string[],
): { auth: AuthOutcome; identity: Evaluation['identity'] } {
  if (input.verified !== undefined) {
    const v = input.verified;
    return v instanceof AuthError
      ? { auth: { error: v }, identity: refusedIdentity(v) }
      : {
          auth: { identity: v },
          identity: { kind: 'jwt', id: v.sub, issuer: v.issuer ?? '', roles: v.roles },
        };
  }
  const signedIn = input.signIn ? { signIn: input.signIn } : {};
  const authn = input.signIn ? { authn: syntheticFacts(input.signIn) } : {};
  if (input.token !== undefined) {
    const roles = input.roles ?? [];
    const t = { ...syntheticToken(policy, roles, input.token), ...authn };
    const described = { kind: 'synthetic-token' as const, roles, ...input.token, ...signedIn };
    return { auth: { identity: t }, identity: described };
  }
  if (input.roles !== undefined) {
    const synthetic: Identity = {
      sub: `roles:${input.roles.join(',')}`,
      name: '',
      email: '',
      roles: input.roles,
      method: input.signIn ? 'session' : 'api_key',
      ...authn,
    };
    return {
      auth: { identity: synthetic },
      identity: { kind: 'synthetic', roles: input.roles, ...signedIn },
    };
  }
  // Revocations live in the store of the running servers; offline, they are not consulted.
  const chain: Chain = {
    sources: HEADERS_ONLY,
    authenticators: [(c, r, t) => authenticateKey(keys, c, r, t, null)],
  };
  const auth = authenticate(chain, req, now);
  // API keys authenticate synchronously; only a token's signature check is asynchronous.
  if (auth instanceof Promise) throw new Error('API key authentication returned a promise');
  if (input.key !== undefined)
    notes.push("key revocations are not consulted (they live in the running servers' store)");
  if (auth === null) return { auth, identity: { kind: 'anonymous' } };
  if ('identity' in auth)
    return { auth, identity: { kind: 'api_key', id: auth.identity.sub, roles: auth.identity.roles } };
  return { auth, identity: refusedIdentity(auth.error) };
}

/** The sign-in facts of a synthetic person. */
function syntheticFacts(f: SignInFacts): AuthnFacts {
  return {
    acr: f.acr === undefined ? null : [f.acr],
    amr: f.amr ?? null,
    authTime: f.authTime ?? null,
    bad: [],
  };
}

/** What /verify answers a step-up refusal: 403 for an API key (no sign-in mends it), else 401 (a browser: sent to sign in again). */
function stepUpOutcome(d: ForbiddenDecision, su: StepUp, notes: string[]): EvalOutcome {
  const notUser = su.unmet === 'not_a_user';
  notes.push(
    notUser
      ? 'the rule has authn: only a signed-in person can pass (give --acr, --amr or --auth-time with --roles for one)'
      : 'a browser is sent to sign in again (acr_values, max_age); a bearer token gets the RFC 9470 401 challenge',
  );
  return {
    decision: notUser ? 'forbidden' : 'unauthenticated',
    status: notUser ? 403 : 401,
    reason: d.reason,
    rule: d.rule,
    detail: su.unmet,
  };
}

/** The decision as the proxy would see it; a rate limit that applies is noted. */
function outcomeOf(d: PolicyDecision, policy: CompiledPolicy, notes: string[]): EvalOutcome {
  if (d.kind === 'unauthenticated')
    return { decision: 'unauthenticated', status: 401, reason: d.reason, rule: d.rule };
  if (d.kind === 'forbidden' && d.stepUp) return stepUpOutcome(d, d.stepUp, notes);
  if (d.kind !== 'allow')
    return { decision: 'forbidden', status: 403, reason: d.reason, rule: d.rule, required: d.required };
  if (d.rateLimit !== null)
    notes.push(`rate limit "${d.rateLimit}" applies; a client over it gets 429 (not consumed here)`);
  return {
    decision: 'allow',
    status: 200,
    reason: d.reason,
    rule: d.rule,
    rateLimit:
      d.rateLimit === null ? null : { name: d.rateLimit, spec: policy.rateLimits.get(d.rateLimit) ?? null },
  };
}

function refusedIdentity(e: AuthError): Evaluation['identity'] {
  return {
    kind: 'refused',
    reason: e.code,
    cause: e.failure,
    keyId: e.keyId ?? null,
    ...(e.token?.kid !== undefined ? { kid: e.token.kid } : {}),
    ...(e.token?.joseCode !== undefined ? { joseCode: e.token.joseCode } : {}),
  };
}
