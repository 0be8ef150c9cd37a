// What this replica decided in the last hour, heard in-process: per-minute counts, most refused, latency, the live feed.
import type { DecisionEvent } from '../audit/audit-log.js';

/** The outcomes charted, in the order of the chart's series. */
export const OUTCOMES = [
  'allow',
  'unauthenticated',
  'forbidden',
  'limited',
  'malformed',
  'error',
  'would-deny',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One of the most refused identities, IPs or paths, with its count. */
export interface Ranked {
  value: string;
  count: number;
}

/** Decision latency over the window (ms), from a fixed-bucket histogram: each figure is a bucket's upper bound. */
export interface Latency {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** The overview page's data: what the console shows whatever its source. */
export interface Overview {
  /** Where it comes from, said on the page. */
  source: string;
  /** The start of each minute (epoch ms), oldest first, and the count of each outcome in it. */
  minutes: number[];
  series: Record<Outcome, number[]>;
  top: { identities: Ranked[]; ips: Ranked[]; paths: Ranked[] };
  latency: Latency;
  total: number;
}

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

const MINUTE = 60_000;
const WINDOW_MINUTES = 60;
/** Distinct values counted per minute and kind; past it a new value is not counted (a flood of random paths). */
const MAX_DISTINCT = 1000;
/** Upper bounds of the latency buckets (ms); the last catches everything longer. */
const LATENCY_BOUNDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

interface Minute {
  start: number;
  counts: Record<Outcome, number>;
  identities: Map<string, number>;
  ips: Map<string, number>;
  paths: Map<string, number>;
  latency: number[];
  maxMs: number;
}

const zeroCounts = (): Record<Outcome, number> =>
  Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;

function bump(m: Map<string, number>, key: string | null): void {
  if (key === null || key === '') return;
  const n = m.get(key);
  if (n !== undefined) m.set(key, n + 1);
  else if (m.size < MAX_DISTINCT) m.set(key, 1);
}

function topOf(maps: Map<string, number>[], n: number): Ranked[] {
  const sum = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) sum.set(k, (sum.get(k) ?? 0) + v);
  return [...sum]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([value, count]) => ({ value, count }));
}

function quantile(hist: number[], total: number, q: number): number | null {
  if (total === 0) return null;
  const want = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i] ?? 0;
    if (seen >= want) return LATENCY_BOUNDS[i] ?? Infinity;
  }
  return null;
}

/** The live feed's limit: above this many decisions a second, one in `sample` is sent. */
export const LIVE_RATE = 20;

/**
 * The last hour of this replica's decisions, in memory (bounded: 60 minutes × 1000 distinct values
 * per kind), and the live feed. Fed by `AuditLog.onDecision`; `now` is the injected clock.
 */
export class DecisionFeed {
  private readonly minutes: Minute[] = [];
  private readonly keysSeen = new Map<string, number>();
  /** Requests refused because of a revocation, by `key:<id>` and `subject:<sub>`. */
  private readonly revokedRefusals = new Map<string, number>();
  private readonly live = new Set<(d: LiveDecision) => void>();
  private readonly closers = new Set<() => void>();
  private second = 0;
  private inSecond = 0;
  private sample = 1;
  private taken = 0;

  constructor(private readonly now: () => number) {}

  /** Count one decision (AuditLog listener). */
  record(e: DecisionEvent, t: number): void {
    const m = this.minuteOf(t);
    const outcome: Outcome = e.decision;
    m.counts[outcome]++;
    if (outcome !== 'allow') {
      bump(m.identities, e.sub);
      bump(m.ips, e.clientIp);
      bump(m.paths, e.path);
    }
    const i = LATENCY_BOUNDS.findIndex((b) => e.durationMs <= b);
    const slot = i === -1 ? LATENCY_BOUNDS.length - 1 : i;
    m.latency[slot] = (m.latency[slot] ?? 0) + 1;
    m.maxMs = Math.max(m.maxMs, e.durationMs);
    if (e.keyId !== null && (this.keysSeen.has(e.keyId) || this.keysSeen.size < 100_000))
      this.keysSeen.set(e.keyId, t);
    if (e.cause === 'revoked') {
      if (e.keyId !== null) bump(this.revokedRefusals, `key:${e.keyId}`);
      if (e.sub !== null) bump(this.revokedRefusals, `subject:${e.sub}`);
    }
    if (this.live.size > 0) this.tellLive(e, t);
  }

  /** Requests this replica refused because `type:id` is revoked, since it started. */
  refusedByRevocation(type: string, id: string): number {
    return this.revokedRefusals.get(`${type}:${id}`) ?? 0;
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

  private minuteOf(t: number): Minute {
    const start = Math.floor(t / MINUTE) * MINUTE;
    const last = this.minutes.at(-1);
    if (last && last.start === start) return last;
    // A decision stamped just before the newest minute (clock skew between turns) joins the newest.
    if (last && start < last.start) return last;
    const m: Minute = {
      start,
      counts: zeroCounts(),
      identities: new Map(),
      ips: new Map(),
      paths: new Map(),
      latency: [],
      maxMs: 0,
    };
    this.minutes.push(m);
    while (this.minutes.length > 0 && (this.minutes[0]?.start ?? 0) <= start - WINDOW_MINUTES * MINUTE)
      this.minutes.shift();
    return m;
  }

  /** The last hour, minute by minute (missing minutes as zeros), the most refused, latency. */
  overview(): Overview {
    const nowMinute = Math.floor(this.now() / MINUTE) * MINUTE;
    const first = nowMinute - (WINDOW_MINUTES - 1) * MINUTE;
    const kept = this.minutes.filter((m) => m.start >= first && m.start <= nowMinute);
    const byStart = new Map(kept.map((m) => [m.start, m]));
    const minutes = Array.from({ length: WINDOW_MINUTES }, (_, i) => first + i * MINUTE);
    const series = Object.fromEntries(
      OUTCOMES.map((o) => [o, minutes.map((s) => byStart.get(s)?.counts[o] ?? 0)]),
    ) as Record<Outcome, number[]>;
    const hist: number[] = [];
    for (const m of kept) m.latency.forEach((n, i) => (hist[i] = (hist[i] ?? 0) + n));
    const count = hist.reduce((a, b) => a + b, 0);
    return {
      source: "this replica's decisions since it started (last hour)",
      minutes,
      series,
      top: {
        identities: topOf(
          kept.map((m) => m.identities),
          10,
        ),
        ips: topOf(
          kept.map((m) => m.ips),
          10,
        ),
        paths: topOf(
          kept.map((m) => m.paths),
          10,
        ),
      },
      latency: {
        count,
        p50Ms: quantile(hist, count, 0.5),
        p95Ms: quantile(hist, count, 0.95),
        p99Ms: quantile(hist, count, 0.99),
        maxMs: count === 0 ? null : Math.max(...kept.map((m) => m.maxMs)),
      },
      total: count,
    };
  }
}
