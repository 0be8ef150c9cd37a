// The /verify pipeline: describe → authenticate → decide → enforce → answer → audit, each a stage returning a value.
import { randomUUID } from 'node:crypto';
import type { CidrSet } from '../request/cidr-set.js';
import type { AuditLog } from '../audit/audit-log.js';
import { auditRecord, type AuditedRequest } from '../audit/decision-record.js';
import { authenticate } from '../auth/chain.js';
import { bannedDecision } from '../limits/admin-bans.js';
import { enforce } from '../limits/enforce.js';
import type { Metrics } from '../metrics.js';
import {
  decide,
  type AuthOutcome,
  type Decision,
  type MalformedDecision,
  type PolicyDecision,
} from '../policy/decide.js';
import { shadowed, type Verdict } from '../policy/shadow.js';
import { trustedPeer } from '../request/client-ip.js';
import type { RequestBody, RequestDescription } from '../request/description.js';
import type { Runtime, RuntimeState } from '../runtime.js';
import { after } from '../util/after.js';
import { answer, type AnswerSettings } from './answer.js';
import { claimHeaders } from './claim-headers.js';
import { describe, type Dialect } from './dialects.js';
import type { HeaderMap } from './header-map.js';
import { errorResponse, type Answer } from './respond.js';

/** What the handler needs, injected. */
export interface VerifyDeps extends AnswerSettings {
  state: RuntimeState;
  trustedProxies: CidrSet;
  audit: AuditLog;
  metrics: Metrics;
  now: () => number;
  /** `WARDEN_MCP_MAX_BODY`: the most of a forwarded body read for `mcp` sub-rules. */
  mcpMaxBody?: number;
  /** `WARDEN_MODE=shadow`: every deny with a described request is answered allow and audited `would-deny`. */
  shadowMode?: boolean;
}

/** The raw auth request as the HTTP layer sees it. */
export interface RawAuthRequest {
  method: string;
  pathAfterPrefix: string;
  peer: string | undefined;
  headers: HeaderMap;
  /** The body the proxy forwarded, when read (a policy with `mcp` sub-rules); absent: none. */
  body?: RequestBody | null;
}

/** An incoming X-Request-ID is kept when it is 1–128 of these; anything else (CR/LF, 10 KB) is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id to use: the proxy's when it is safe to log and echo, else a new UUID. */
export function requestId(given: string | undefined): string {
  return given !== undefined && given.length <= 128 && REQUEST_ID.test(given) ? given : randomUUID();
}

/** What the stages after describe produce: what was decided and answered, and what the audit needs. */
interface Outcome {
  /** The version the request was judged by (its alerts count it). */
  runtime: Runtime;
  auth: AuthOutcome;
  verdict: Verdict;
  answer: Answer;
  headerProblems: string[] | null;
}

/** The request and the state one request reads throughout (one runtime version, one instant). */
interface Judged {
  req: RequestDescription | null;
  runtime: Runtime;
  now: number;
}

/**
 * Answer one auth request for a dialect. Synchronous unless a store must be asked (rate limit,
 * failure count) or a token's first signature checked. Any exception becomes a 500, never a 2xx.
 */
export function verify(deps: VerifyDeps, dialect: Dialect, raw: RawAuthRequest): Answer | Promise<Answer> {
  const started = performance.now();
  const audited: AuditedRequest = {
    reqId: requestId(raw.headers.get('x-request-id')),
    dialect,
    peer: raw.peer ?? null,
    req: null,
  };
  let out: Outcome | Promise<Outcome>;
  try {
    out = run(deps, dialect, raw, audited);
  } catch {
    return finish(deps, audited, null, started);
  }
  if (out instanceof Promise) {
    return out.then(
      (o) => finish(deps, audited, o, started),
      () => finish(deps, audited, null, started),
    );
  }
  return finish(deps, audited, out, started);
}

/** Describe the request (noting what was read of it for the audit), then judge it. */
function run(
  deps: VerifyDeps,
  dialect: Dialect,
  raw: RawAuthRequest,
  audited: AuditedRequest,
): Outcome | Promise<Outcome> {
  const described = describeRequest(deps.trustedProxies, dialect, raw);
  audited.peer = described.peer ?? audited.peer;
  audited.req = described.req ?? described.seen;
  const at: Judged = { req: described.req, runtime: deps.state.current, now: deps.now() };
  if (!described.req) return conclude(deps, dialect, at, null, described.refusal);
  const req = described.req;
  // An admin ban on the client's address refuses it before any credential is read or rule consulted.
  const ipBan = at.runtime.adminBans?.ipBan(req.clientIp, at.now);
  if (ipBan) return conclude(deps, dialect, at, null, bannedDecision(ipBan, null, at.now));
  // Only a token's first signature check is asynchronous; everything else answers in this tick.
  const auth = authenticate(at.runtime.chain, req, at.now);
  return after(auth, (a) => judge(deps, dialect, at, req, a));
}

/** The described request, or the malformed decision that refuses it and what could be read of it. */
type Described =
  | { req: RequestDescription; peer: string; seen: null; refusal: null }
  | { req: null; peer: string | null; seen: Partial<RequestDescription> | null; refusal: MalformedDecision };

function malformed(reason: MalformedDecision['reason'], detail: string | null): MalformedDecision {
  return { kind: 'malformed', rule: null, reason, detail };
}

/** The describe stage: only a trusted proxy is heard, and only a well-formed forwarded context is judged. */
function describeRequest(trusted: CidrSet, dialect: Dialect, raw: RawAuthRequest): Described {
  const peer = trustedPeer(trusted, raw.peer);
  if (!peer) {
    return { req: null, peer: null, seen: null, refusal: malformed('untrusted_proxy', null) };
  }
  const d = describe(
    dialect,
    { method: raw.method, pathAfterPrefix: raw.pathAfterPrefix, peer, headers: raw.headers },
    trusted,
  );
  if (d.ok) {
    if (raw.body) d.req.body = raw.body;
    return { req: d.req, peer: peer.ip, seen: null, refusal: null };
  }
  return { req: null, peer: peer.ip, seen: d.partial, refusal: malformed(d.reason, d.detail) };
}

/** Decide with the enforced policy, then apply the limits. */
function judge(
  deps: VerifyDeps,
  dialect: Dialect,
  at: Judged,
  req: RequestDescription,
  auth: AuthOutcome,
): Outcome | Promise<Outcome> {
  // An admin ban on the identity refuses it once authenticated, before the rules.
  const identity = auth && 'identity' in auth ? auth.identity : null;
  const idBan = identity ? at.runtime.adminBans?.identityBan(identity.sub, at.now) : null;
  if (idBan) return conclude(deps, dialect, at, auth, bannedDecision(idBan, identity, at.now));
  const policy = at.runtime.policy;
  const d: PolicyDecision = decide(policy.enforced ?? policy, req, auth, { now: at.now });
  return after(enforce(at.runtime, req, auth, d, at.now), (limited) =>
    conclude(deps, dialect, at, auth, limited ?? d),
  );
}

/** Wrap the final decision in the shadow settings and answer it. */
function conclude(
  deps: VerifyDeps,
  dialect: Dialect,
  at: Judged,
  auth: AuthOutcome,
  d: Decision,
): Outcome | Promise<Outcome> {
  const verdict = shadowed(d, {
    mode: deps.shadowMode === true,
    policy: at.runtime.policy,
    req: at.req,
    auth,
    now: at.now,
  });
  const claims =
    verdict.answer.kind === 'allow' ? claimHeaders(at.runtime.claimHeaders, verdict.answer.identity) : null;
  const headerProblems = claims ? claims.problems : null;
  const ctx = {
    dialect,
    req: at.req,
    runtime: at.runtime,
    now: at.now,
    claims: claims ? claims.values : null,
  };
  return after(answer(verdict, deps, ctx), (a) => ({
    runtime: at.runtime,
    auth,
    verdict,
    answer: a,
    headerProblems,
  }));
}

/** The audit stage: one line and the metrics for every request, an exception (`out` null) included. */
function finish(deps: VerifyDeps, audited: AuditedRequest, out: Outcome | null, started: number): Answer {
  const a = out ? out.answer : errorResponse();
  // Returned to the proxy, which can pass it on to the app and its own log (answers are built per request).
  a.headers['x-request-id'] = audited.reqId;
  const seconds = (performance.now() - started) / 1000;
  const durationMs = Math.round(seconds * 1e6) / 1e3;
  const answered = { status: a.status, durationMs, headerProblems: out ? out.headerProblems : null };
  const ev = auditRecord(audited, out ? out.auth : null, out ? out.verdict : null, answered);
  deps.audit.decision(ev);
  deps.metrics.decided(ev.decision, ev.reason, ev.dialect, ev.authMethod ?? 'none', seconds);
  if (out) countMcpCalls(deps.metrics, out.verdict);
  const refused = out?.verdict.answer;
  if (refused?.kind === 'limited') {
    if (refused.reason === 'banned') deps.metrics.bannedRequests.inc();
    else deps.metrics.rateLimited.inc({ limit: refused.refusal.name });
  }
  if (out) countEffects(deps.metrics, out);
  (out?.runtime ?? deps.state.current).alerts?.observe(
    { decision: ev.decision, reason: ev.reason, clientIp: ev.clientIp, sub: ev.sub, keyId: ev.keyId },
    deps.now(),
  );
  return a;
}

/** Count a refusal toward the admin ban or the revocation that caused it ("12 requests refused since"). */
function countEffects(metrics: Metrics, out: Outcome): void {
  const answered = out.verdict.answer;
  if (answered.kind === 'allow') return;
  if (answered.kind === 'limited' && answered.ban) {
    metrics.banRefused(answered.ban.type, answered.ban.id);
    out.runtime.adminBans?.countRefusal(answered.ban.id);
    return;
  }
  const revoked = out.auth && 'error' in out.auth ? out.auth.error.revocation : undefined;
  if (revoked) out.runtime.revocations?.countRefusal(revoked);
}

/** Each `tools/call` a request's sub-rules judged: allowed when the request was answered allow. */
function countMcpCalls(metrics: Metrics, v: Verdict): void {
  const d = v.decision;
  if (d.kind === 'limited' || d.kind === 'malformed' || d.mcp === undefined) return;
  const allowed = v.answer.kind === 'allow';
  for (const c of d.mcp.calls)
    if (c.call.tool !== null)
      metrics.mcpCalled(c.call.tool, allowed && c.refusal === null ? 'allow' : 'deny');
}
