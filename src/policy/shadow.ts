// Shadow mode and shadow rules: the one wrapper that answers a deny as allow and audits it `would-deny`.
import type { CompiledPolicy } from './compile.js';
import {
  identityOf,
  shadowDenial,
  type AllowDecision,
  type AuthOutcome,
  type Decision,
  type DecisionInput,
} from './decide.js';

/** The decision the proxy gets and the one the audit records; they differ only under a shadow. */
export interface Verdict {
  /** Answered to the proxy. */
  answer: Decision;
  /** Audited: `answer` itself, or the deny a shadow let pass. */
  decision: Decision;
  /** Why a deny was answered allow: `WARDEN_MODE=shadow` (`mode`) or a `shadow: true` rule (`rule`). */
  shadow: 'mode' | 'rule' | null;
}

/** What the wrapper needs besides the decision. */
export interface ShadowInput {
  /** `WARDEN_MODE=shadow`. */
  mode: boolean;
  policy: CompiledPolicy;
  /** The described request; null when it could not be described. */
  req: DecisionInput | null;
  auth: AuthOutcome;
  /** The instant of the decision (ms), for step-up freshness. */
  now: number;
}

/**
 * Wrap the final decision. An allow is checked against the policy's shadow rules (a deny one of
 * them would give is audited, the allow answered). Under shadow mode every deny is answered allow,
 * except a broken forwarded context or an untrusted peer: a proxy misconfiguration, refused even then.
 */
export function shadowed(d: Decision, s: ShadowInput): Verdict {
  if (d.kind === 'allow') {
    const denial = s.policy.enforced && s.req ? shadowDenial(s.policy, s.req, s.auth, s.now) : null;
    return { answer: d, decision: denial ?? d, shadow: denial ? 'rule' : null };
  }
  if (!s.mode || (d.kind === 'malformed' && d.reason !== 'bad_path')) {
    return { answer: d, decision: d, shadow: null };
  }
  const passed: AllowDecision = {
    kind: 'allow',
    rule: d.rule,
    reason: 'authenticated',
    identity: identityOf(d),
    rateLimit: null,
  };
  return { answer: passed, decision: d, shadow: 'mode' };
}
