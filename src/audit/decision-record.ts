// auditRecord(): the one place a /verify decision becomes its audit line's fields, built once at the end.
import type { AuthOutcome, Decision, UnauthenticatedDecision } from '../policy/decide.js';
import { identityOf } from '../policy/decide.js';
import type { Verdict } from '../policy/shadow.js';
import type { RequestDescription } from '../request/description.js';
import { describeAuthn } from '../policy/step-up.js';
import type { DecisionEvent } from './audit-log.js';

/** The auth request as far as it was understood. */
export interface AuditedRequest {
  reqId: string;
  dialect: string;
  /** The direct peer: its parsed address once trusted, else as the socket gave it. */
  peer: string | null;
  /** The described request, or what could be read of it before it was refused. */
  req: Partial<RequestDescription> | null;
}

/** How it was answered. */
export interface Answered {
  status: number;
  durationMs: number;
  /** Extra claim headers sent empty on an allow, and why. */
  headerProblems: string[] | null;
}

/** A refused credential (auth/'s AuthError, as the decision carries it). */
type Refusal = NonNullable<UnauthenticatedDecision['error']>;

/** Audit-only detail: a malformed request's problem, else a refused credential's cause. */
function cause(d: Decision, error: Refusal | null): string | undefined {
  if (d.kind === 'malformed') return d.detail ?? undefined;
  if (d.kind === 'forbidden' && d.detail !== undefined) return d.detail;
  return error?.failure;
}

/** The `mcp` member: what the sub-rules judged, and the one that refused it. */
function mcpOf(d: Decision): DecisionEvent['mcp'] {
  if (d.kind === 'limited' || d.kind === 'malformed' || d.mcp === undefined) return undefined;
  const { method, tools, ids, rule } = d.mcp;
  return rule === null ? { method, tools, ids } : { method, tools, ids, rule };
}

/**
 * The refused credential: the decision's own (a token the rule does not accept, refused by decide()
 * though the authenticators verified it), else the authenticators' refusal.
 */
function refusal(d: Decision | null, auth: AuthOutcome): Refusal | null {
  if (d?.kind === 'unauthenticated' && d.error) return d.error;
  return auth && 'error' in auth ? auth.error : null;
}

/** The decision field: `would-deny` when a shadow let a deny pass. */
function decisionName(v: Verdict): DecisionEvent['decision'] {
  return v.shadow ? 'would-deny' : v.decision.kind;
}

/**
 * The decision event of one /verify: `verdict` null for an exception (audited `error`). Who it was
 * comes from the answered decision (a shadowed deny passes with its identity), the rule and reason
 * from the audited one.
 */
export function auditRecord(
  request: AuditedRequest,
  auth: AuthOutcome,
  verdict: Verdict | null,
  answered: Answered,
): DecisionEvent {
  const r = request.req;
  const d = verdict?.decision ?? null;
  const identity = verdict ? identityOf(verdict.answer) : null;
  const error = refusal(d, auth);
  const ev: DecisionEvent = {
    reqId: request.reqId,
    decision: verdict ? decisionName(verdict) : 'error',
    reason: d ? d.reason : 'internal_error',
    status: answered.status,
    dialect: request.dialect,
    method: r?.method ?? null,
    host: r?.host ?? null,
    path: r?.path ?? null,
    clientIp: r?.clientIp?.ip ?? null,
    peer: request.peer,
    sub: identity?.sub ?? null,
    authMethod: identity ? identity.method : verdict?.answer.kind === 'allow' ? 'public' : null,
    keyId: identity ? (identity.keyId ?? null) : (error?.keyId ?? null),
    rule: d ? d.rule : null,
    durationMs: answered.durationMs,
  };
  if (identity?.keyVersion !== undefined) ev.keyVersion = identity.keyVersion;
  if (!verdict || !d) return ev;
  const detail = cause(d, error);
  if (detail !== undefined) ev.cause = detail;
  if (error?.token?.kid !== undefined) ev.kid = error.token.kid;
  if (error?.token?.joseCode !== undefined) ev.joseCode = error.token.joseCode;
  const rateLimit = rateLimitOf(verdict);
  if (rateLimit !== null) ev.rateLimit = rateLimit;
  if (answered.headerProblems && answered.headerProblems.length > 0)
    ev.headerProblems = answered.headerProblems;
  if (verdict.shadow) ev.shadow = verdict.shadow;
  const mcp = mcpOf(d);
  if (mcp) ev.mcp = mcp;
  if (d.kind === 'forbidden' && d.stepUp) ev.authn = describeAuthn(d.stepUp.authn);
  if (d.kind === 'limited' && d.ban) ev.ban = d.ban.id;
  return ev;
}

/** The rate limit a request was counted against: refused by it, or an allow that consumed from it. */
function rateLimitOf(v: Verdict): string | null {
  const d = v.decision;
  if (d.kind === 'limited' && d.reason === 'rate_limited') return d.rateLimit;
  return v.answer.kind === 'allow' ? v.answer.rateLimit : null;
}
