// Per-tool sub-rules (`mcp:` on a rule): compiled once, and judged on the JSON-RPC body the proxy forwarded.
import type { Identity } from '../auth/identity.js';
import type { PolicyRule } from '../config/policy-schema.js';
import { readMcpBody, type JsonRpcId, type McpBody, type McpCall } from '../mcp/jsonrpc.js';
import { compileNameGlobs, type NameMatcher } from '../mcp/names.js';
import type { RequestBody } from '../request/description.js';
import { rolesGrant, type CompiledGrants } from './permissions.js';

/** Permissions a rule or sub-rule asks for: any one of them, or all. */
export interface Requirement {
  mode: 'any' | 'all';
  permissions: readonly string[];
}

/** `require` as written (`[a, b]`, `{ any }`, `{ all }`) → a Requirement; null for none. */
export function compileRequirement(r: PolicyRule['require']): Requirement | null {
  if (r === undefined) return null;
  if (Array.isArray(r)) return { mode: 'any', permissions: r };
  return 'all' in r ? { mode: 'all', permissions: r.all } : { mode: 'any', permissions: r.any };
}

/** True when the roles meet the requirement. */
export function meets(
  roles: readonly string[],
  table: ReadonlyMap<string, CompiledGrants>,
  r: Requirement,
): boolean {
  return r.mode === 'all'
    ? r.permissions.every((p) => rolesGrant(roles, table, p))
    : r.permissions.some((p) => rolesGrant(roles, table, p));
}

/** One sub-rule, ready for matching. */
export interface CompiledMcpRule {
  index: number;
  /** `tools/call` params.name globs; null: any call. */
  tools: NameMatcher | null;
  /** JSON-RPC method globs; null: any method (`tools/call` only, when `tools` is set). */
  methods: NameMatcher | null;
  effect: 'deny' | 'require' | 'allow';
  require: Requirement | null;
  scopes: readonly string[] | null;
}

/** Compile a rule's `mcp` sub-rules; null when it has none. */
export function compileMcpRules(subs: PolicyRule['mcp']): readonly CompiledMcpRule[] | null {
  if (subs === undefined) return null;
  return subs.map((s, index) => {
    const require = compileRequirement(s.require);
    return {
      index,
      tools: s.match.tools ? compileNameGlobs(s.match.tools) : null,
      methods: s.match.methods ? compileNameGlobs(s.match.methods) : null,
      effect: s.deny ? 'deny' : require ? 'require' : 'allow',
      require,
      scopes: s.scopes ?? null,
    };
  });
}

/** Reasons a body or a call is refused by sub-rules (the policy's reasons, and the two of the body itself). */
export type McpRefusalReason =
  'rule_deny' | 'insufficient_permissions' | 'insufficient_scope' | 'mcp_body_required' | 'bad_mcp_request';

/** One judged message: the sub-rule that decided it (null: none matched, it passes on the rule) and any refusal. */
export interface JudgedCall {
  call: McpCall;
  rule: number | null;
  /** Why the call may not run, as its JSON-RPC error says it (names the tool and what it needs); null: it passes. */
  refusal: string | null;
}

/** What the audit line, the metrics and a denied call's JSON-RPC error need of a judged body. */
export interface McpSummary {
  /** The method; a batch's distinct methods joined by `,`; null for responses only. */
  method: string | null;
  tools: string[];
  ids: JsonRpcId[];
  batch: boolean;
  calls: readonly JudgedCall[];
  /** The sub-rule that refused the request (its first refused call's); null when none did. */
  rule: number | null;
}

/** The sub-rules' verdict on a request the rule itself let through. */
export type McpVerdict =
  | { kind: 'pass'; mcp: McpSummary }
  | { kind: 'unauthenticated'; mcp: McpSummary }
  | {
      kind: 'refused';
      reason: McpRefusalReason;
      required: readonly string[];
      mcp: McpSummary | null;
      /** Audit-only: why the body could not be judged. */
      detail: string | null;
    };

/** What judging needs: the sub-rules, the role table, the rule's own scopes, the request and who sent it. */
export interface McpJudgement {
  rules: readonly CompiledMcpRule[];
  roles: ReadonlyMap<string, CompiledGrants>;
  ruleScopes: readonly string[] | null;
  method: string;
  body: RequestBody | null | undefined;
  identity: Identity | null;
}

const parsed = new WeakMap<RequestBody, McpBody>();

/** A body is read once per request, however many readings of its path or shadow checks judge it. */
function readOnce(body: RequestBody): McpBody {
  let out = parsed.get(body);
  if (out === undefined) {
    out = readMcpBody(body.bytes);
    parsed.set(body, out);
  }
  return out;
}

function matches(sub: CompiledMcpRule, call: McpCall): boolean {
  const method = call.method;
  if (method === null) return false;
  if (sub.methods ? !sub.methods(method) : sub.tools !== null && method !== 'tools/call') return false;
  return sub.tools === null || (call.tool !== null && sub.tools(call.tool));
}

function subject(call: McpCall): string {
  return call.tool !== null ? `tool "${call.tool}"` : `method "${call.method ?? ''}"`;
}

function listed(r: Requirement): string {
  const [one, ...more] = r.permissions;
  if (more.length === 0) return `the permission ${one ?? ''}`;
  return r.mode === 'all'
    ? `all of the permissions ${r.permissions.join(', ')}`
    : `one of the permissions ${r.permissions.join(', ')}`;
}

/** Why one call may not run, or null; `need` collects what the first refusal asks for. */
type CallOutcome = {
  rule: number | null;
  refusal: null | { reason: McpRefusalReason | 'unauthenticated'; text: string; required: readonly string[] };
};

function judgeCall(j: McpJudgement, call: McpCall): CallOutcome {
  const sub = j.rules.find((s) => matches(s, call));
  if (!sub) return { rule: null, refusal: null };
  if (sub.effect === 'allow' && sub.scopes === null) return { rule: sub.index, refusal: null };
  const rule = sub.index;
  if (sub.effect === 'deny')
    return {
      rule,
      refusal: { reason: 'rule_deny', text: `${subject(call)} is denied by policy`, required: [] },
    };
  const id = j.identity;
  if (!id)
    return {
      rule,
      refusal: { reason: 'unauthenticated', text: `${subject(call)} needs a signed-in caller`, required: [] },
    };
  if (sub.scopes && id.method === 'jwt') {
    const held = id.token?.scopes;
    if (!held || !sub.scopes.every((s) => held.has(s))) {
      const required = [...new Set([...(j.ruleScopes ?? []), ...sub.scopes])];
      const text = `${subject(call)} needs a token with the scopes ${required.join(' ')}`;
      return { rule, refusal: { reason: 'insufficient_scope', text, required } };
    }
  }
  if (sub.require && !meets(id.roles, j.roles, sub.require)) {
    const text = `${subject(call)} needs ${listed(sub.require)}`;
    return { rule, refusal: { reason: 'insufficient_permissions', text, required: sub.require.permissions } };
  }
  return { rule, refusal: null };
}

function summary(body: Extract<McpBody, { ok: true }>, calls: JudgedCall[], rule: number | null): McpSummary {
  const methods = [...new Set(body.calls.flatMap((c) => (c.method === null ? [] : [c.method])))];
  return {
    method: methods.length === 0 ? null : methods.join(','),
    tools: body.calls.flatMap((c) => (c.tool === null ? [] : [c.tool])),
    ids: body.calls.flatMap((c) => (c.id === null ? [] : [c.id])),
    batch: body.batch,
    calls,
    rule,
  };
}

function refusedBody(reason: McpRefusalReason, detail: string): McpVerdict {
  return { kind: 'refused', reason, required: [], mcp: null, detail };
}

/**
 * Judge the body of a request its rule let through. Nothing to judge (null) for a request without a
 * body that is not a POST (the SSE stream, the end of a session); a POST needs its body. Every call of
 * a batch must pass: the first refused call decides, and the others are reported as not run.
 */
export function judgeMcp(j: McpJudgement): McpVerdict | null {
  const body = j.body;
  if (body && body.cut !== null) return refusedBody('bad_mcp_request', body.cut);
  if (!body || body.bytes.length === 0)
    return j.method === 'POST'
      ? refusedBody('mcp_body_required', 'no body: the proxy did not forward it')
      : null;
  const read = readOnce(body);
  if (!read.ok) return refusedBody('bad_mcp_request', read.detail);
  const outcomes = read.calls.map((c) => judgeCall(j, c));
  const first = outcomes.find((o) => o.refusal !== null);
  const firstCall = first ? read.calls[outcomes.indexOf(first)] : undefined;
  const notRun = first
    ? `not run: the batch holds a refused call (id ${JSON.stringify(firstCall?.id ?? null)})`
    : null;
  const calls: JudgedCall[] = read.calls.map((call, i) => {
    const o = outcomes[i];
    const own = o?.refusal?.text ?? null;
    const sibling = first && own === null && call.id !== null && call.method !== null;
    return { call, rule: o?.rule ?? null, refusal: own ?? (sibling ? notRun : null) };
  });
  const mcp = summary(read, calls, first?.rule ?? null);
  if (!first?.refusal) return { kind: 'pass', mcp };
  if (outcomes.some((o) => o.refusal?.reason === 'unauthenticated')) return { kind: 'unauthenticated', mcp };
  const r = first.refusal;
  return { kind: 'refused', reason: r.reason as McpRefusalReason, required: r.required, mcp, detail: null };
}
