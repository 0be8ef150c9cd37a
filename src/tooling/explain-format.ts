// Human-readable rendering of an Evaluation, for `warden explain`.
import type { PolicyFile, PolicyRule } from '../config/policy-schema.js';
import type { ReadingTrace, RuleVerdict } from '../policy/trace.js';
import type { EvalOutcome, Evaluation, SignInFacts } from './evaluate.js';

/** `GET,HEAD /api/**`, `admin.example.com/**` — a rule's match, as written in the policy. */
export function describeMatch(policy: PolicyFile, index: number): string {
  const r = policy.rules[index];
  if (!r) return '?';
  return `${r.match.methods ? r.match.methods.join(',') + ' ' : ''}${r.match.host ?? ''}${r.match.path}`;
}

/** `public`, `deny`, `require any [api:read]`, `authenticated`. */
export function describeEffect(policy: PolicyFile, index: number): string {
  const r = policy.rules[index];
  if (!r) return '?';
  if (r.public) return 'public';
  if (r.deny) return 'deny';
  const who = r.require === undefined ? 'authenticated' : describeRequire(r.require);
  return r.authn ? `${who}, ${describeAuthnAsWritten(r.authn)}` : who;
}

/** `authn amr [hwk, mfa] maxAge 600s`: a rule's step-up requirement as written (maxAge in seconds). */
function describeAuthnAsWritten(a: NonNullable<PolicyRule['authn']>): string {
  const parts = [
    a.acr ? `acr [${a.acr.join(', ')}]` : '',
    a.amr ? `amr [${a.amr.join(', ')}]` : '',
    a.maxAge !== undefined ? `maxAge ${a.maxAge}s` : '',
  ].filter((x) => x !== '');
  return `authn ${parts.join(' ')}`;
}

/** `require any [api:read]`, `require all [a, b]`: a rule's or a sub-rule's `require` as written. */
function describeRequire(require: NonNullable<PolicyRule['require']>): string {
  if (Array.isArray(require)) return `require any [${require.join(', ')}]`;
  return 'all' in require
    ? `require all [${require.all.join(', ')}]`
    : `require any [${require.any.join(', ')}]`;
}

/** One line for a decision: `403 forbidden (rule_deny), rule [7]`. */
export function describeOutcome(o: EvalOutcome): string {
  const rule = o.decision === 'malformed' ? '' : o.rule === null ? ', policy default' : `, rule [${o.rule}]`;
  const required = o.required && o.required.length > 0 ? `, required [${o.required.join(', ')}]` : '';
  const detail = o.detail ? `: ${o.detail}` : '';
  return `${o.status} ${o.decision} (${o.reason}${detail})${rule}${required}`;
}

const WHY: Record<RuleVerdict, string> = {
  match: '✓ matches',
  methods: "✗ method not in the rule's methods",
  host: '✗ host does not match',
  path: '✗ path does not match',
};

function reading(policy: PolicyFile, r: ReadingTrace, label: string): string[] {
  const out = [`${label} ${r.matchPath} (first match wins):`];
  for (const n of r.networks.filter((x) => x.scope === 'global'))
    out.push(
      `  global networks [${(policy.networks ?? []).join(', ')}]: client IP ${n.allowed ? 'inside' : 'OUTSIDE'}`,
    );
  if (r.rules.length === 0 && r.networks.some((x) => x.scope === 'global' && !x.allowed))
    out.push('  no rule tried: the global network allowlist refused the client');
  for (const t of r.rules)
    out.push(
      `  [${t.index}] ${describeMatch(policy, t.index)} → ${describeEffect(policy, t.index)}: ${WHY[t.verdict]}`,
    );
  const matched = r.rules.find((t) => t.verdict === 'match');
  if (!matched && r.rules.length > 0) out.push(`  no rule matches: default ${policy.default}`);
  for (const n of r.networks.filter((x) => x.scope !== 'global')) {
    out.push(
      `  rule [${n.scope}] networks [${(policy.rules[n.scope as number]?.networks ?? []).join(', ')}]: client IP ${n.allowed ? 'inside' : 'OUTSIDE'}`,
    );
  }
  if (r.require) {
    out.push(`  permission check (${r.require.mode === 'all' ? 'all of' : 'any of'}):`);
    for (const c of r.require.checks)
      out.push(
        `    ${c.permission}: ${c.grantedBy.length > 0 ? `granted by ${c.grantedBy.join(', ')}` : 'granted by none of the roles'}`,
      );
  }
  if (r.authn) {
    const a = r.authn;
    const asks = [
      a.acr ? `acr any of [${a.acr.join(', ')}]` : '',
      a.amr ? `amr any of [${a.amr.join(', ')}]` : '',
      a.maxAge !== undefined ? `signed in within ${a.maxAge}s` : '',
    ].filter((x) => x !== '');
    out.push(`  step-up (authn: ${asks.join(', ')}): ${a.unmet === null ? 'met' : `NOT met (${a.unmet})`}`);
  }
  if (r.decision) out.push(`  → ${r.decision.kind} (${r.decision.reason})`);
  return out;
}

/** `, acr X, amr [a, b], signed in 2026-12-02T10:00:00Z`: how a synthetic person signed in. */
function signInText(f: SignInFacts | undefined): string {
  if (!f) return '';
  return [
    f.acr !== undefined ? `, acr ${f.acr}` : '',
    f.amr !== undefined ? `, amr [${f.amr.join(', ')}]` : '',
    f.authTime !== undefined ? `, signed in ${new Date(f.authTime * 1000).toISOString()}` : '',
  ].join('');
}

/** The full explain text. */
export function formatExplanation(policy: PolicyFile, e: Evaluation): string {
  const lines = [`decision: ${describeOutcome(e.outcome)}`, `request:  ${e.request.method} ${e.request.url}`];
  if (e.request.host !== null) lines.push(`host:     ${e.request.host}`);
  if (e.request.path !== null) lines.push(`path:     ${e.request.path} (canonical)`);
  for (const alt of e.request.altPaths)
    lines.push(`          ${alt} (another reading of the dot segments: must be allowed too)`);
  lines.push(`client:   ${e.request.clientIp}`);
  const id = e.identity;
  lines.push(
    `identity: ${
      id.kind === 'anonymous'
        ? 'anonymous (no credential)'
        : id.kind === 'synthetic'
          ? `synthetic${id.signIn ? ' signed-in person' : ''}, roles [${id.roles.join(', ')}]${signInText(id.signIn)}`
          : id.kind === 'synthetic-token'
            ? `synthetic token for resource ${id.resource}, scopes [${id.scopes.join(' ')}], roles [${id.roles.join(', ')}]${signInText(id.signIn)}`
            : id.kind === 'api_key'
              ? `api key ${id.id}, roles [${id.roles.join(', ')}]`
              : id.kind === 'jwt'
                ? `jwt ${id.id} from ${id.issuer}, roles [${id.roles.join(', ')}]`
                : `credential refused: ${id.reason} (cause: ${id.cause}${id.keyId ? `, key ${id.keyId}` : ''}${id.kid ? `, kid ${id.kid}` : ''}${id.joseCode ? `, ${id.joseCode}` : ''})`
    }`,
  );
  e.trace.forEach((r, i) =>
    lines.push(...reading(policy, r, i === 0 ? 'rules tried on' : 'rules tried on the other reading')),
  );
  if (e.mcp) lines.push(...mcpLines(policy, e));
  const rl = e.outcome.rateLimit;
  if (rl) {
    const s = rl.spec;
    lines.push(
      `limit:    ${rl.name}${s ? ` ${s.limit}/${s.window}s by ${s.by}${s.burst ? ` burst ${s.burst}` : ''}` : ' (undefined)'}`,
    );
  } else if (e.outcome.decision === 'allow') lines.push('limit:    none');
  for (const n of e.notes) lines.push(`note:     ${n}`);
  return lines.join('\n') + '\n';
}

/** `tools [delete_*] → require any [memory:admin]`: a sub-rule as written. */
export function describeSubRule(policy: PolicyFile, rule: number, sub: number): string {
  const s = policy.rules[rule]?.mcp?.[sub];
  if (!s) return '?';
  const match = [
    s.match.methods ? `methods [${s.match.methods.join(', ')}]` : '',
    s.match.tools ? `tools [${s.match.tools.join(', ')}]` : '',
  ].filter((x) => x !== '');
  const effect = s.deny ? 'deny' : s.require === undefined ? 'allow' : describeRequire(s.require);
  return `${match.join(' ')} → ${effect}${s.scopes ? `, scopes [${s.scopes.join(' ')}]` : ''}`;
}

/** Each JSON-RPC message of the body and the sub-rule that decided it (first match wins). */
function mcpLines(policy: PolicyFile, e: Evaluation): string[] {
  const rule = e.outcome.rule;
  const out = [`mcp sub-rules of rule [${rule ?? '?'}] on the body (first match wins):`];
  for (const c of e.mcp?.calls ?? []) {
    const what = c.method === null ? 'response' : `${c.method}${c.tool !== null ? ` ${c.tool}` : ''}`;
    const id = c.id === null ? '' : ` (id ${JSON.stringify(c.id)})`;
    const by =
      c.rule === null || rule === null
        ? 'no sub-rule matches: the rule alone decides'
        : `mcp[${c.rule}] ${describeSubRule(policy, rule, c.rule)}`;
    out.push(`  ${what}${id}: ${by}${c.refusal ? `; refused: ${c.refusal}` : '; passes'}`);
  }
  return out;
}
