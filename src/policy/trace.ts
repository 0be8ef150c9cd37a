// The decision trace: what decide() saw and why, collected only when `warden explain` or `warden test` asks.
import type { Identity } from '../auth/identity.js';
import type { CompiledPolicy, CompiledRule } from './compile.js';
import { grants } from './permissions.js';
import { describeAuthn, type StepUpCause } from './step-up.js';

/** What the trace keeps of a decision: the members every kind of decide()'s Decision has. */
export interface TracedDecision {
  kind: 'allow' | 'unauthenticated' | 'forbidden';
  reason: string;
  rule: number | null;
}

/** Why a rule did or did not match the request. */
export type RuleVerdict = 'match' | 'methods' | 'host' | 'path';

/**
 * Hooks decide() and matchRule() call when given a tracer. Without one, they call nothing and
 * allocate nothing (`tracer?.hook(…)` does not evaluate its arguments).
 */
export interface DecisionTracer {
  reading(matchPath: string): void;
  network(scope: 'global' | number, allowed: boolean): void;
  rule(rule: CompiledRule, verdict: RuleVerdict): void;
  permissions(policy: CompiledPolicy, rule: CompiledRule, identity: Identity): void;
  /** The rule's `authn` was judged: null when the sign-in meets it, else what it lacks. */
  authn(rule: CompiledRule, unmet: StepUpCause | null): void;
  decided(d: TracedDecision): void;
}

/** Which role grants one required permission (null: none of the identity's roles). */
export interface PermissionCheck {
  permission: string;
  grantedBy: string[];
}

/** What happened on one reading of the path (the canonical one, then each alternate). */
export interface ReadingTrace {
  matchPath: string;
  networks: { scope: 'global' | number; allowed: boolean }[];
  rules: { index: number; verdict: RuleVerdict }[];
  require: { rule: number; mode: 'any' | 'all'; checks: PermissionCheck[] } | null;
  /** The rule's step-up requirement (maxAge in seconds) and what the sign-in lacks (null: met). */
  authn: { rule: number; acr?: string[]; amr?: string[]; maxAge?: number; unmet: StepUpCause | null } | null;
  decision: TracedDecision | null;
}

/** A tracer that records everything, in order, as plain data. */
export class TraceCollector implements DecisionTracer {
  readonly readings: ReadingTrace[] = [];

  private get current(): ReadingTrace {
    const r = this.readings[this.readings.length - 1];
    if (!r) throw new Error('trace: no reading started');
    return r;
  }

  reading(matchPath: string): void {
    this.readings.push({ matchPath, networks: [], rules: [], require: null, authn: null, decision: null });
  }

  network(scope: 'global' | number, allowed: boolean): void {
    this.current.networks.push({ scope, allowed });
  }

  rule(rule: CompiledRule, verdict: RuleVerdict): void {
    this.current.rules.push({ index: rule.index, verdict });
  }

  permissions(policy: CompiledPolicy, rule: CompiledRule, identity: Identity): void {
    if (!rule.require) return;
    const checks = rule.require.permissions.map((permission) => ({
      permission,
      grantedBy: identity.roles.filter((role) => {
        const g = policy.roles.get(role);
        return g !== undefined && grants(g, permission);
      }),
    }));
    this.current.require = { rule: rule.index, mode: rule.require.mode, checks };
  }

  authn(rule: CompiledRule, unmet: StepUpCause | null): void {
    if (rule.authn) this.current.authn = { rule: rule.index, ...describeAuthn(rule.authn), unmet };
  }

  decided(d: TracedDecision): void {
    this.current.decision = { kind: d.kind, reason: d.reason, rule: d.rule };
  }
}
