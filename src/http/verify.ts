// The /verify handler: describe → authenticate → decide → limit → respond, with one audit line.
import { randomUUID } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { AuditLog, DecisionEvent } from '../audit/audit-log.js';
import { authenticate, type Authenticator } from '../auth/chain.js';
import { AuthError } from '../auth/errors.js';
import type { Identity } from '../auth/identity.js';
import type { LimitOutcome } from '../limits/rate-limits.js';
import type { Metrics } from '../metrics.js';
import { decide, shadowDenial, type AuthOutcome } from '../policy/decide.js';
import { clientKey, inList, parseAddress, type Address } from '../request/client-ip.js';
import type { RequestDescription } from '../request/description.js';
import type { Runtime, RuntimeState } from '../runtime.js';
import { describe, type Dialect } from './dialects.js';
import { ASSERTION_HEADER, type AssertionSigner } from '../identity/assertion.js';
import { claimHeaders } from './claim-headers.js';
import type { HeaderMap } from './header-map.js';
import {
  allowResponse,
  errorResponse,
  forbiddenResponse,
  limitedResponse,
  unauthenticatedResponse,
  type Answer,
} from './respond.js';

/** What the handler needs, injected. */
export interface VerifyDeps {
  state: RuntimeState;
  trustedProxies: BlockList;
  loginUrl: string | undefined;
  audit: AuditLog;
  metrics: Metrics;
  now: () => number;
  /** `WARDEN_MODE=shadow`: every deny with a described request is answered allow and audited `would-deny`. */
  shadowMode?: boolean;
  /** Set-Cookie that removes a refused session cookie (sign-in configured), sent with its 401/302. */
  clearSessionCookie?: string | null;
  /** Signs X-Warden-Assertion on every allow (WARDEN_ASSERTION_KEY). */
  assertion?: AssertionSigner | null;
}

/** The raw auth request as the HTTP layer sees it. */
export interface RawAuthRequest {
  method: string;
  pathAfterPrefix: string;
  peer: string | undefined;
  headers: HeaderMap;
}

/** An incoming X-Request-ID is kept when it is 1–128 of these; anything else (CR/LF, 10 KB) is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id to use: the proxy's when it is safe to log and echo, else a new UUID. */
export function requestId(given: string | undefined): string {
  return given !== undefined && given.length <= 128 && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Answer one auth request for a dialect. Synchronous unless a store must be asked (rate limit,
 * failure count). Any exception becomes a 500, never a 2xx.
 */
export function verify(deps: VerifyDeps, dialect: Dialect, raw: RawAuthRequest): Answer | Promise<Answer> {
  const started = performance.now();
  const ev: DecisionEvent = {
    reqId: requestId(raw.headers.get('x-request-id')),
    decision: 'error',
    reason: 'internal_error',
    status: 500,
    dialect,
    method: null,
    host: null,
    path: null,
    clientIp: null,
    peer: raw.peer ?? null,
    sub: null,
    authMethod: null,
    keyId: null,
    rule: null,
    durationMs: 0,
  };
  let out: Answer | Promise<Answer>;
  try {
    out = decideAndRespond(deps, dialect, raw, ev);
  } catch {
    return finish(deps, ev, failed(ev), started);
  }
  if (out instanceof Promise) {
    return out.then(
      (a) => finish(deps, ev, a, started),
      () => finish(deps, ev, failed(ev), started),
    );
  }
  return finish(deps, ev, out, started);
}

function failed(ev: DecisionEvent): Answer {
  ev.decision = 'error';
  ev.reason = 'internal_error';
  return errorResponse();
}

function finish(deps: VerifyDeps, ev: DecisionEvent, answer: Answer, started: number): Answer {
  ev.status = answer.status;
  // Returned to the proxy, which can pass it on to the app and its own log (answers are built per request).
  answer.headers['x-request-id'] = ev.reqId;
  const seconds = (performance.now() - started) / 1000;
  ev.durationMs = Math.round(seconds * 1e6) / 1e3;
  deps.audit.decision(ev);
  deps.metrics.decided(ev.decision, ev.reason, ev.dialect, ev.authMethod ?? 'none', seconds);
  return answer;
}

function noteRequest(ev: DecisionEvent, r: Partial<RequestDescription>): void {
  ev.method = r.method ?? null;
  ev.host = r.host ?? null;
  ev.path = r.path ?? null;
  ev.clientIp = r.clientIp?.ip ?? null;
}

/** Answer allow, auditing the deny already noted in `ev` as `would-deny` (shadow mode or a shadow rule). */
function wouldDeny(
  deps: VerifyDeps,
  ev: DecisionEvent,
  origin: 'mode' | 'rule',
  identity: Identity | null,
  runtime: Runtime,
): Answer | Promise<Answer> {
  ev.decision = 'would-deny';
  ev.shadow = origin;
  ev.authMethod ??= 'public';
  return withAssertion(
    deps,
    allowResponse(identity, runtime.headerNames, extraHeaders(ev, identity, runtime)),
    identity,
    ev.host,
  );
}

/** Add X-Warden-Assertion to an allow: signed for an identity, empty for a public route (the proxy overwrites a client copy). */
function withAssertion(
  deps: VerifyDeps,
  answer: Answer,
  identity: Identity | null,
  host: string | null,
): Answer | Promise<Answer> {
  const signer = deps.assertion;
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

function decideAndRespond(
  deps: VerifyDeps,
  dialect: Dialect,
  raw: RawAuthRequest,
  ev: DecisionEvent,
): Answer | Promise<Answer> {
  const peer: Address | null = raw.peer === undefined ? null : parseAddress(raw.peer);
  if (!peer || !inList(deps.trustedProxies, peer)) {
    ev.decision = 'malformed';
    ev.reason = 'untrusted_proxy';
    return forbiddenResponse('untrusted_proxy');
  }
  ev.peer = peer.ip;
  const described = describe(
    dialect,
    { method: raw.method, pathAfterPrefix: raw.pathAfterPrefix, peer, headers: raw.headers },
    deps.trustedProxies,
  );
  if (!described.ok) {
    noteRequest(ev, described.partial);
    ev.decision = 'malformed';
    ev.reason = described.reason;
    ev.cause = described.detail;
    // A bad path is a policy-level refusal; a broken forwarded context is a proxy misconfiguration, refused even in shadow mode.
    if (deps.shadowMode && described.reason === 'bad_path')
      return wouldDeny(deps, ev, 'mode', null, deps.state.current);
    return forbiddenResponse(described.reason);
  }
  const req = described.req;
  noteRequest(ev, req);
  const runtime = deps.state.current;
  const now = deps.now();
  const auth = authenticate(runtime.chain, req, now);
  // Only a token's first signature check is asynchronous; everything else answers in this tick.
  return auth instanceof Promise
    ? auth.then((a) => authorize(deps, dialect, ev, req, runtime, now, a))
    : authorize(deps, dialect, ev, req, runtime, now, auth);
}

/** Decide, apply bans and rate limits, and answer, for an authenticated (or not) request. */
function authorize(
  deps: VerifyDeps,
  dialect: Dialect,
  ev: DecisionEvent,
  req: RequestDescription,
  runtime: Runtime,
  now: number,
  auth: AuthOutcome,
): Answer | Promise<Answer> {
  const policy = runtime.policy;
  const d = decide(policy.enforced ?? policy, req, auth);
  ev.rule = d.rule;
  ev.reason = d.reason;
  if (auth && 'error' in auth) {
    ev.cause = auth.error.failure;
    ev.keyId = auth.error.keyId ?? null;
    if (auth.error.token?.kid !== undefined) ev.kid = auth.error.token.kid;
    if (auth.error.token?.joseCode !== undefined) ev.joseCode = auth.error.token.joseCode;
  }
  const identity = d.kind === 'unauthenticated' ? null : d.identity;
  if (identity) {
    ev.sub = identity.sub;
    ev.authMethod = identity.method;
    ev.keyId = identity.keyId ?? null;
  }
  // A banned client IP is refused on every protected route, whatever it presents.
  const bans = runtime.bans;
  let counting: Promise<void> | null = null;
  if (bans && !(d.kind === 'allow' && d.reason === 'public')) {
    const banned = bans.refusal(req.clientIp, now);
    if (banned) {
      ev.decision = 'limited';
      ev.reason = 'banned';
      if (deps.shadowMode) return wouldDeny(deps, ev, 'mode', identity, runtime);
      deps.metrics.bannedRequests.inc();
      return limitedResponse(banned, 'banned');
    }
    if (auth && 'error' in auth) counting = bans.recordFailure(req.clientIp, auth.error.failure, now);
  }
  if (d.kind === 'unauthenticated') {
    ev.decision = 'unauthenticated';
    const answer = deps.shadowMode
      ? wouldDeny(deps, ev, 'mode', null, runtime)
      : clearingSession(
          deps,
          d.error,
          unauthenticatedResponse(d.reason, dialect, req, deps.loginUrl, d.error?.description),
        );
    return counting ? counting.then(() => answer) : answer;
  }
  if (d.kind === 'forbidden') {
    ev.decision = 'forbidden';
    const answer = deps.shadowMode
      ? wouldDeny(deps, ev, 'mode', identity, runtime)
      : reusable(deps, forbiddenResponse(d.reason, d.required), 'deny', d.rule, identity, req, runtime, now);
    return counting ? counting.then(() => answer) : answer;
  }
  ev.decision = 'allow';
  ev.authMethod ??= 'public';
  const shadowed = shadowDenial(policy, req, auth);
  if (shadowed) {
    ev.decision = 'would-deny';
    ev.shadow = 'rule';
    ev.reason = shadowed.reason;
    ev.rule = shadowed.rule;
  }
  const allowed = allowResponse(identity, runtime.headerNames, extraHeaders(ev, identity, runtime));
  if (!shadowed && !deps.shadowMode && d.rateLimit === null)
    reusable(deps, allowed, 'allow', d.rule, identity, req, runtime, now);
  if (d.rateLimit === null) return withAssertion(deps, allowed, identity, req.host);
  const spec = runtime.limits.spec(d.rateLimit);
  const subject =
    spec?.by === 'identity' && identity ? identitySubject(identity) : `ip:${clientKey(req.clientIp)}`;
  ev.rateLimit = d.rateLimit;
  const limit = (outcome: LimitOutcome): Answer | Promise<Answer> => {
    if (!outcome.limited) return withAssertion(deps, allowed, identity, req.host);
    ev.decision = 'limited';
    ev.reason = 'rate_limited';
    ev.rule = d.rule;
    if (deps.shadowMode) return wouldDeny(deps, ev, 'mode', identity, runtime);
    deps.metrics.rateLimited.inc({ limit: outcome.name });
    return limitedResponse(outcome);
  };
  const outcome = runtime.limits.consume(d.rateLimit, subject);
  return outcome instanceof Promise ? outcome.then(limit) : limit(outcome);
}

/** The policy's extra claim headers for an allow; a claim that cannot be sent goes empty and is audited. */
function extraHeaders(
  ev: DecisionEvent,
  identity: Identity | null,
  runtime: Runtime,
): Record<string, string> | null {
  const h = claimHeaders(runtime.claimHeaders, identity);
  if (h === null) return null;
  if (h.problems.length > 0) ev.headerProblems = h.problems;
  return h.values;
}

/**
 * Mark a decision the proxy may reuse (the rule's opt-in `cache`): `Cache-Control: private, max-age=N`,
 * never beyond the credential's own expiry (nor an assertion's), and never for a decision that also
 * depends on something the proxy's cache key (API key, Authorization, cookies, method, host, URI) does
 * not hold — the client IP (networks, IP-bound keys), a client certificate, a rate limit, a second
 * reading of the path — or on a session, which can end sooner. A 403 only for nginx, which consumes
 * it (other proxies hand it to the browser, where every deny stays `no-store`).
 */
function reusable(
  deps: VerifyDeps,
  answer: Answer,
  kind: 'allow' | 'deny',
  ruleIndex: number | null,
  identity: Identity | null,
  req: RequestDescription,
  runtime: Runtime,
  now: number,
): Answer {
  if (ruleIndex === null || (kind === 'deny' && req.dialect !== 'nginx')) return answer;
  const rule = runtime.policy.source.rules[ruleIndex];
  let seconds = rule?.cache?.[kind] ?? 0;
  if (seconds <= 0 || rule!.networks || runtime.policy.networks || req.altMatchPaths) return answer;
  if (
    identity &&
    (identity.ipBound || identity.rateLimit || identity.method === 'session' || identity.method === 'mtls')
  )
    return answer;
  if (identity?.expiresAt !== undefined) seconds = Math.min(seconds, (identity.expiresAt - now) / 1000);
  // A reused assertion has at least half its lifetime left when warden sends it.
  if (kind === 'allow' && deps.assertion) seconds = Math.min(seconds, deps.assertion.ttlSec / 2);
  const maxAge = Math.floor(seconds);
  if (maxAge >= 1) {
    answer.headers['cache-control'] = `private, max-age=${maxAge}`;
    // nginx will not cache a `private` answer by itself; its recipe reads this instead (warden-decisions-cached.conf).
    answer.headers['x-accel-expires'] = String(maxAge);
  }
  return answer;
}

/** A tampered, foreign or ended session cookie is cleared with its refusal, so the browser stops sending it. */
function clearingSession(deps: VerifyDeps, error: AuthError | null | undefined, answer: Answer): Answer {
  if (deps.clearSessionCookie && (error?.failure === 'bad_session' || error?.failure === 'session_ended'))
    answer.headers['set-cookie'] = deps.clearSessionCookie;
  return answer;
}

/** Rate-limit subject of an identity: its method, its issuer when it has one, and its id. */
function identitySubject(identity: Identity): string {
  return identity.issuer === undefined
    ? `id:${identity.method}:${identity.sub}`
    : `id:${identity.method}:${identity.issuer}#${identity.sub}`;
}
