// What this replica hears of its decisions, in-process: the live feed (sampled above 20 a second) and each key's last use.
import type { DecisionEvent } from '../audit/audit-log.js';

/** One decision as the live feed sends it. */
export interface LiveDecision {
  time: string;
  decision: string;
  status: number;
  path: string | null;
  identity: string | null;
  clientIp: string | null;
  durationMs: number;
  /** One decision sent for every `sample` taken while the rate is over the feed's limit. */
  sample: number;
}

/** The live feed's limit: above this many decisions a second, one in `sample` is sent. */
export const LIVE_RATE = 20;

/** Key ids remembered at most (a flood of made-up ids cannot grow it further). */
const MAX_KEYS_SEEN = 100_000;

/**
 * The live feed and when this replica last saw each key, fed by `AuditLog.onDecision`. The counts
 * of the overview are the audit view's (shared across replicas), not kept here.
 */
export class DecisionFeed {
  private readonly keysSeen = new Map<string, number>();
  private readonly live = new Set<(d: LiveDecision) => void>();
  private readonly closers = new Set<() => void>();
  private second = 0;
  private inSecond = 0;
  private sample = 1;
  private taken = 0;

  /** Hear one decision (AuditLog listener). */
  record(e: DecisionEvent, t: number): void {
    if (e.keyId !== null && (this.keysSeen.has(e.keyId) || this.keysSeen.size < MAX_KEYS_SEEN))
      this.keysSeen.set(e.keyId, t);
    if (this.live.size > 0) this.tellLive(e, t);
  }

  /** When this replica last saw a request with that key id (since it started). */
  keyLastSeen(id: string): number | undefined {
    return this.keysSeen.get(id);
  }

  /** Hear decisions as they come (sampled above LIVE_RATE a second), and `onClose` at shutdown; returns the unsubscribe. */
  subscribe(listener: (d: LiveDecision) => void, onClose: () => void = () => undefined): () => void {
    this.live.add(listener);
    this.closers.add(onClose);
    return () => {
      this.live.delete(listener);
      this.closers.delete(onClose);
    };
  }

  /** Shutdown: every live feed ends (its connection can then drain). */
  close(): void {
    for (const c of [...this.closers]) c();
    this.live.clear();
    this.closers.clear();
  }

  private tellLive(e: DecisionEvent, t: number): void {
    const sec = Math.floor(t / 1000);
    if (sec !== this.second) {
      // The sampling of this second follows the rate of the one before.
      this.sample = sec === this.second + 1 ? Math.max(1, Math.ceil(this.inSecond / LIVE_RATE)) : 1;
      this.second = sec;
      this.inSecond = 0;
    }
    this.inSecond++;
    if (this.taken++ % this.sample !== 0) return;
    const d: LiveDecision = {
      time: new Date(t).toISOString(),
      decision: e.decision,
      status: e.status,
      path: e.path,
      identity: e.sub,
      clientIp: e.clientIp,
      durationMs: e.durationMs,
      sample: this.sample,
    };
    for (const l of this.live) l(d);
  }
}
