// Readiness as a registry of named checks: policy, keys, store, bans, accepting; JWKS and OIDC add theirs.

/** One check's answer: ready or not, and optionally why (`connecting`, `waiting for the keys of …`). */
export type CheckResult = boolean | { ready: boolean; detail?: string };

/** What /readyz reports. */
export interface ReadinessReport {
  ready: boolean;
  /** Names of the checks that are not ready, in registration order. */
  notReady: string[];
  parts: Record<string, boolean>;
  details: Record<string, string>;
}

/** Named readiness checks; /readyz is ready when every one is. Checks run on each /readyz, so keep them cheap. */
export class Readiness {
  private readonly checks = new Map<string, () => CheckResult>();

  /** Add a check; a name may be registered once (e.g. `jwks`, `oidc`). Returns a function that removes it. */
  register(name: string, check: () => CheckResult): () => void {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" is already registered`);
    this.checks.set(name, check);
    return () => void this.checks.delete(name);
  }

  /** Run every check; a check that throws is not ready, with its message as detail. */
  report(): ReadinessReport {
    const out: ReadinessReport = { ready: true, notReady: [], parts: {}, details: {} };
    for (const [name, check] of this.checks) {
      let r: CheckResult;
      try {
        r = check();
      } catch (e) {
        r = { ready: false, detail: (e as Error).message };
      }
      const ready = typeof r === 'boolean' ? r : r.ready;
      out.parts[name] = ready;
      if (typeof r !== 'boolean' && r.detail !== undefined) out.details[name] = r.detail;
      if (!ready) {
        out.ready = false;
        out.notReady.push(name);
      }
    }
    return out;
  }
}
