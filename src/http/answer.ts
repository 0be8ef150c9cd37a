// The answer stage: a verdict becomes status, headers and body for the proxy that asked.
import type { AuthError } from '../auth/errors.js';
import type { Identity } from '../auth/identity.js';
import { ASSERTION_HEADER, type AssertionSigner } from '../identity/assertion.js';
import type { AllowDecision, ForbiddenDecision, StepUp } from '../policy/decide.js';
import type { Verdict } from '../policy/shadow.js';
import type { RequestDescription } from '../request/description.js';
import type { Runtime } from '../runtime.js';
import type { Dialect } from './dialects.js';
import type { McpSummary } from '../policy/mcp-rules.js';
import { metadataUrl } from './resource-metadata.js';
import { insufficientScopeFor, type ResourceChallenges } from './resource-challenges.js';
import {
  allowResponse,
  DIALECT_ANSWERS,
  forbiddenResponse,
  limitedResponse,
  mcpForbiddenResponse,
  stepUpResponse,
  unauthenticatedResponse,
  type Answer,
} from './respond.js';

/** Settings the answers depend on, fixed for the process. */
export interface AnswerSettings {
  loginUrl: string | undefined;
  /** `WARDEN_MODE=shadow`: no answer is marked reusable (each request must reach warden to be audited). */
  shadowMode?: boolean;
  /** Set-Cookie that removes a refused session cookie (sign-in configured), sent with its 401/302. */
  clearSessionCookie?: string | null;
  /** Signs X-Warden-Assertion on every allow (WARDEN_ASSERTION_KEY). */
  assertion?: AssertionSigner | null;
  /** `<public url>/oauth2/start` when warden signs people in with providers: where a step-up sends a browser. */
  startUrl?: string | undefined;
}

/** What one request's answer depends on besides its verdict. */
export interface AnswerContext {
  dialect: Dialect;
  /** The described request; null when it could not be described. */
  req: RequestDescription | null;
  runtime: Runtime;
  now: number;
  /** The policy's extra claim headers for an allow. */
  claims: Record<string, string> | null;
}

/** Answer a verdict. Synchronous but for a first assertion signature. */
export function answer(v: Verdict, s: AnswerSettings, ctx: AnswerContext): Answer | Promise<Answer> {
  const d = v.answer;
  switch (d.kind) {
    case 'allow':
      return allowed(d, v.shadow === null, s, ctx);
    case 'unauthenticated': {
      const bearer = { description: d.error?.description, resource: challenges(ctx, d.rule) };
      return clearingSession(
        s,
        d.error,
        unauthenticatedResponse(d.reason, ctx.dialect, ctx.req, s.loginUrl, bearer),
      );
    }
    case 'forbidden': {
      if (d.stepUp) return stepUp(d, d.stepUp, s, ctx);
      if (d.mcp) return mcpRefusal(d, d.mcp, ctx);
      const scope = d.reason === 'insufficient_scope' ? challenges(ctx, d.rule)?.insufficientScope : null;
      return reusable(forbiddenResponse(d.reason, d.required, scope ?? null), 'deny', d, s, ctx);
    }
    case 'limited':
      return limitedResponse(d.refusal, d.reason);
    case 'malformed':
      return forbiddenResponse(d.reason);
  }
}

/** A refused MCP call: a JSON-RPC error, never reusable (the proxy's cache key holds no body). */
function mcpRefusal(d: ForbiddenDecision, mcp: McpSummary, ctx: AnswerContext): Answer {
  const rule = d.rule === null ? undefined : ctx.runtime.policy.rules[d.rule];
  const scope = d.reason === 'insufficient_scope' ? insufficientScopeFor(rule, d.required) : null;
  return mcpForbiddenResponse(d.reason, d.required, scope, mcp);
}

/** A sign-in too weak or too old for its rule: never reusable (it depends on the clock and the session). */
function stepUp(d: ForbiddenDecision, su: StepUp, s: AnswerSettings, ctx: AnswerContext): Answer {
  const resource = d.rule === null ? null : (ctx.runtime.policy.rules[d.rule]?.resource ?? null);
  return stepUpResponse(
    {
      ...su,
      method: d.identity?.method ?? 'session',
      provider: d.identity?.provider,
      startUrl: s.startUrl,
      loginUrl: s.loginUrl,
      resourceMetadata: resource ? `resource_metadata="${metadataUrl(resource.url)}"` : null,
    },
    ctx.dialect,
    ctx.req,
  );
}

/** The resource challenges of the rule that decided (MCP clients follow them), or null: compiled with the runtime. */
function challenges(ctx: AnswerContext, rule: number | null): ResourceChallenges | null {
  return rule === null ? null : (ctx.runtime.resourceChallenges[rule] ?? null);
}

/** 200 with the identity headers, the claim headers and the assertion; reusable when nothing forbids it. */
function allowed(
  d: AllowDecision,
  real: boolean,
  s: AnswerSettings,
  ctx: AnswerContext,
): Answer | Promise<Answer> {
  const a = allowResponse(d.identity, ctx.runtime.headerNames, ctx.claims);
  if (real && !s.shadowMode && d.rateLimit === null) reusable(a, 'allow', d, s, ctx);
  return withAssertion(s.assertion, a, d.identity, ctx.req?.host ?? null);
}

/** Add X-Warden-Assertion to an allow: signed for an identity, empty for a public route (the proxy overwrites a client copy). */
function withAssertion(
  signer: AssertionSigner | null | undefined,
  answer: Answer,
  identity: Identity | null,
  host: string | null,
): Answer | Promise<Answer> {
  if (!signer) return answer;
  if (!identity || host === null) {
    answer.headers[ASSERTION_HEADER] = '';
    return answer;
  }
  const token = signer.assertion(identity, host);
  if (typeof token === 'string') {
    answer.headers[ASSERTION_HEADER] = token;
    return answer;
  }
  return token.then((t) => {
    answer.headers[ASSERTION_HEADER] = t;
    return answer;
  });
}

/**
 * Mark a decision the proxy may reuse (the rule's opt-in `cache`): `Cache-Control: private, max-age=N`,
 * never beyond the credential's own expiry (nor an assertion's), and never for a decision that also
 * depends on something the proxy's cache key (API key, Authorization, cookies, method, host, URI) does
 * not hold — the client IP (networks, IP-bound keys), a client certificate, a rate limit, a second
 * reading of the path — or on a session, which can end sooner. A deny only where the dialect's row
 * says the proxy consumes it (nginx); elsewhere it reaches the browser, where every deny stays `no-store`.
 */
function reusable(
  answer: Answer,
  kind: 'allow' | 'deny',
  d: AllowDecision | ForbiddenDecision,
  s: AnswerSettings,
  ctx: AnswerContext,
): Answer {
  const req = ctx.req;
  if (d.rule === null || !req || (kind === 'deny' && !DIALECT_ANSWERS[ctx.dialect].reusableDeny))
    return answer;
  const policy = ctx.runtime.policy;
  const rule = policy.source.rules[d.rule];
  let seconds = rule?.cache?.[kind] ?? 0;
  if (seconds <= 0 || rule?.networks || rule?.mcp || rule?.authn || policy.networks || req.altMatchPaths)
    return answer;
  const identity = d.identity;
  if (
    identity &&
    (identity.ipBound || identity.rateLimit || identity.method === 'session' || identity.method === 'mtls')
  )
    return answer;
  if (identity?.expiresAt !== undefined) seconds = Math.min(seconds, (identity.expiresAt - ctx.now) / 1000);
  // A reused assertion has at least half its lifetime left when warden sends it.
  if (kind === 'allow' && s.assertion) seconds = Math.min(seconds, s.assertion.ttlSec / 2);
  const maxAge = Math.floor(seconds);
  if (maxAge >= 1) {
    answer.headers['cache-control'] = `private, max-age=${maxAge}`;
    // nginx will not cache a `private` answer by itself; its recipe reads this instead (warden-decisions-cached.conf).
    answer.headers['x-accel-expires'] = String(maxAge);
  }
  return answer;
}

/** A tampered, foreign or ended session cookie is cleared with its refusal, so the browser stops sending it. */
function clearingSession(s: AnswerSettings, error: AuthError | null, answer: Answer): Answer {
  const failure = error?.failure;
  if (s.clearSessionCookie && (failure === 'bad_session' || failure === 'session_ended'))
    answer.headers['set-cookie'] = s.clearSessionCookie;
  return answer;
}
