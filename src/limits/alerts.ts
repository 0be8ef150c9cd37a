// Policy alerts: decisions counted per subject in the store (across replicas), firing once per window and subject.
import type { AlertSpec } from '../config/policy-schema.js';
import type { Limiter, LimitResult, RecordBackend, Store } from '../store/store.js';

/** What an alert is told of each decision (from its audit line). */
export interface AlertObservation {
  /** `allow`, `would-deny` (shadow), or a deny's kind. */
  decision: string;
  reason: string;
  clientIp: string | null;
  sub: string | null;
  /** A refused API key's id (no identity then). */
  keyId: string | null;
}

/** One firing: an alert's subject reached its threshold within its window. */
export interface Firing {
  alert: string;
  on: AlertSpec['on'];
  by: AlertSpec['by'];
  subject: string;
  threshold: number;
  windowSec: number;
  at: number;
  windowEndsAt: number;
}

/** An alert as the console lists it: its settings and its last firing on any replica. */
export interface AlertStatus {
  name: string;
  on: AlertSpec['on'];
  by: AlertSpec['by'];
  threshold: number;
  window: number;
  lastFired: { at: string; subject: string; windowEndsAt: string } | null;
}

/** How long the last firing of an alert is remembered. */
const LAST_FIRING_MS = 30 * 86_400_000;
/** Subjects remembered per alert as already fired in their window, before ended windows are swept. */
const SUPPRESS_LIMIT = 10_000;

/** Slack-compatible text of a firing: one line a person reads in a channel. */
export function firingText(f: Firing): string {
  const what = { auth_failures: 'failed authentications', denials: 'refused requests', requests: 'requests' }[
    f.on
  ];
  const who = f.by === 'ip' ? `client IP ${f.subject}` : `identity ${f.subject}`;
  return `warden alert "${f.alert}": ${who} reached ${f.threshold} ${what} within ${windowText(f.windowSec)}`;
}

function windowText(sec: number): string {
  if (sec % 3600 === 0) return `${sec / 3600}h`;
  if (sec % 60 === 0) return `${sec / 60}m`;
  return `${sec}s`;
}

/**
 * Firings shared by every policy version: claims each (subject, window) once across replicas
 * through the store, keeps the last firing of each alert there, and hands the firing to `notify`.
 */
export class AlertLog {
  private readonly marks: RecordBackend;

  constructor(
    store: Store,
    private readonly notify: (f: Firing) => void,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.marks = store.records('alerts');
  }

  /** Fire unless another replica (or request) already fired this alert for this subject in this window. */
  async fire(f: Firing): Promise<boolean> {
    try {
      const ttl = Math.max(1, f.windowEndsAt - f.at);
      if (!(await this.marks.claim(`fired:${f.alert}:${f.subject}`, ttl))) return false;
      await this.marks.put(`last:${f.alert}`, JSON.stringify(f), LAST_FIRING_MS);
    } catch (e) {
      this.onError(e as Error);
      return false;
    }
    this.notify(f);
    return true;
  }

  /** The alerts of a policy with their last firing (a store that does not answer: none known). */
  async list(specs: readonly AlertSpec[]): Promise<AlertStatus[]> {
    return Promise.all(
      specs.map(async (s) => {
        const raw = await this.marks.get(`last:${s.name}`).catch(() => null);
        const f = raw === null ? null : (JSON.parse(raw) as Firing);
        // A firing under the same name but other settings was another alert.
        const same =
          f && f.on === s.on && f.by === s.by && f.threshold === s.threshold && f.windowSec === s.window;
        return {
          name: s.name,
          on: s.on,
          by: s.by,
          threshold: s.threshold,
          window: s.window,
          lastFired: same
            ? {
                at: new Date(f.at).toISOString(),
                subject: f.subject,
                windowEndsAt: new Date(f.windowEndsAt).toISOString(),
              }
            : null,
        };
      }),
    );
  }
}

/** Whether a decision counts toward an alert on `on`. */
function counts(on: AlertSpec['on'], o: AlertObservation): boolean {
  if (on === 'requests') return true;
  if (on === 'auth_failures') return o.reason === 'invalid_credentials';
  return o.decision !== 'allow' && o.decision !== 'would-deny';
}

/** One alert of a policy version: its counter in the store and the subjects it fired for lately. */
class AlertRule {
  readonly limiter: Limiter;
  readonly key: string;
  /** Subject → end of the window it fired (or was seen fired) in: no store call until then. */
  private readonly fired = new Map<string, number>();

  constructor(
    readonly spec: AlertSpec,
    store: Store,
  ) {
    this.key = `${spec.name}:${spec.on}:${spec.by}:${spec.threshold}/${spec.window}`;
    // Refused from the threshold-th event on: that refusal is the firing.
    this.limiter = store.limiter({
      keyPrefix: `alert:${this.key}`,
      points: spec.threshold - 1,
      duration: spec.window,
    });
  }

  /** True the first time this replica sees `subject` over the threshold in this window. */
  firstOver(subject: string, r: LimitResult, now: number): boolean {
    if (r.allowed) return false;
    const until = this.fired.get(subject);
    if (until !== undefined && until > now) return false;
    if (this.fired.size >= SUPPRESS_LIMIT) {
      for (const [k, t] of this.fired) if (t <= now) this.fired.delete(k);
      if (this.fired.size >= SUPPRESS_LIMIT) this.fired.clear();
    }
    this.fired.set(subject, now + r.resetMs);
    return true;
  }
}

/**
 * The alerts of one policy version. `observe` counts a decision toward each alert it concerns
 * and never waits: the counter answers in memory (a lease, the memory store) or in the background.
 */
export class AlertRules {
  private readonly rules: AlertRule[];

  constructor(
    readonly specs: readonly AlertSpec[],
    store: Store,
    private readonly log: AlertLog,
    previous?: AlertRules | null,
  ) {
    // An unchanged alert keeps its counters across a reload (the memory store's live in its limiter).
    const kept = new Map((previous?.rules ?? []).map((r) => [r.key, r]));
    this.rules = specs.map(
      (s) => kept.get(`${s.name}:${s.on}:${s.by}:${s.threshold}/${s.window}`) ?? new AlertRule(s, store),
    );
  }

  /** Count one decision. No await: a store error costs the count, never the request. */
  observe(o: AlertObservation, now: number): void {
    for (const rule of this.rules) {
      if (!counts(rule.spec.on, o)) continue;
      const subject = rule.spec.by === 'ip' ? o.clientIp : (o.sub ?? o.keyId);
      if (subject === null || subject === '') continue;
      const sync = rule.limiter.consumeSync?.(subject);
      if (sync) this.judge(rule, subject, sync, now);
      else
        rule.limiter.consume(subject).then(
          (r) => this.judge(rule, subject, r, now),
          () => undefined,
        );
    }
  }

  private judge(rule: AlertRule, subject: string, r: LimitResult, now: number): void {
    if (!rule.firstOver(subject, r, now)) return;
    const s = rule.spec;
    void this.log.fire({
      alert: s.name,
      on: s.on,
      by: s.by,
      subject,
      threshold: s.threshold,
      windowSec: s.window,
      at: now,
      windowEndsAt: now + r.resetMs,
    });
  }
}
