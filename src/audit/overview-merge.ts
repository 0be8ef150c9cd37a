// The overview's shape, and the merge of minute snapshots (any replicas) into it.
import {
  bucketValue,
  LATENCY_BUCKETS,
  OUTCOMES,
  type MinuteSnapshot,
  type Outcome,
} from './overview-minute.js';

/** Latency percentiles in milliseconds (from a log histogram: within ±9 %). */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** A key and how often it was refused (space-saving: at least this often; exact unless the key was evicted). */
export interface TopEntry {
  value: string;
  count: number;
}

/** One minute of the overview. */
export interface OverviewMinute {
  /** The minute's start, ISO 8601 UTC. */
  time: string;
  counts: Record<Outcome, number>;
  total: number;
  /** null when the minute had no decision. */
  latency: Percentiles | null;
}

/**
 * What `GET /admin/overview` answers and the console's overview page draws: the last 60 minutes
 * (the current one included), oldest first.
 */
export interface Overview {
  /** Start of the oldest minute and the time the overview was taken. */
  from: string;
  to: string;
  /** `redis`: every replica that shared its minutes; `local`: this replica alone. */
  source: 'redis' | 'local';
  /** The replicas counted. */
  replicas: string[];
  outcomes: readonly Outcome[];
  minutes: OverviewMinute[];
  /** Per outcome over the hour. */
  totals: Record<Outcome, number>;
  latency: Percentiles | null;
  /** The most refused (every outcome but allow and would-deny), 10 of each, most first. */
  top: { identities: TopEntry[]; clientIps: TopEntry[]; paths: TopEntry[] };
  /** Set when the shared view could not be read (Redis down): this replica's counts only. */
  unavailable?: string;
}

export const MINUTE = 60_000;
export const HOUR_MINUTES = 60;
const TOP = 10;

function percentiles(hist: number[]): Percentiles | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const at = (q: number) => {
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < hist.length; i++) {
      seen += hist[i] ?? 0;
      if (seen >= rank) return Math.round(bucketValue(i) * 1000) / 1000;
    }
    return 0;
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

function top(counts: Map<string, number>): TopEntry[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP)
    .map(([value, count]) => ({ value, count }));
}

const zeroCounts = (): Record<Outcome, number> =>
  Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;

/** Sum snapshots (any replicas, any minutes) into the overview of the hour ending at `now`. */
export function mergeOverview(
  snapshots: readonly MinuteSnapshot[],
  now: number,
): Omit<Overview, 'source' | 'replicas'> {
  const last = Math.floor(now / MINUTE);
  const first = last - HOUR_MINUTES + 1;
  const counts = Array.from({ length: HOUR_MINUTES }, () => new Array<number>(OUTCOMES.length).fill(0));
  const hists = Array.from({ length: HOUR_MINUTES }, () => new Array<number>(LATENCY_BUCKETS).fill(0));
  const tops = { i: new Map<string, number>(), a: new Map<string, number>(), p: new Map<string, number>() };
  for (const s of snapshots) {
    const row = s.m - first;
    const c = counts[row];
    const h = hists[row];
    if (!c || !h) continue;
    s.c.forEach((n, i) => (c[i] = (c[i] ?? 0) + (typeof n === 'number' ? n : 0)));
    for (const [i, n] of Object.entries(s.l))
      if (Number(i) < LATENCY_BUCKETS) h[Number(i)] = (h[Number(i)] ?? 0) + n;
    for (const key of ['i', 'a', 'p'] as const)
      for (const [k, n] of s.t[key]) tops[key].set(k, (tops[key].get(k) ?? 0) + n);
  }
  const totals = zeroCounts();
  const hour = new Array<number>(LATENCY_BUCKETS).fill(0);
  const minutes = counts.map((c, row): OverviewMinute => {
    const byOutcome = zeroCounts();
    OUTCOMES.forEach((o, i) => {
      byOutcome[o] = c[i] ?? 0;
      totals[o] += c[i] ?? 0;
    });
    const h = hists[row] ?? [];
    h.forEach((n, i) => (hour[i] = (hour[i] ?? 0) + n));
    return {
      time: new Date((first + row) * MINUTE).toISOString(),
      counts: byOutcome,
      total: c.reduce((a, b) => a + b, 0),
      latency: percentiles(h),
    };
  });
  return {
    from: new Date(first * MINUTE).toISOString(),
    to: new Date(now).toISOString(),
    outcomes: OUTCOMES,
    minutes,
    totals,
    latency: percentiles(hour),
    top: { identities: top(tops.i), clientIps: top(tops.a), paths: top(tops.p) },
  };
}

/** A stored snapshot, checked: a hand-edited or foreign field is skipped, not trusted. */
export function parseSnapshot(json: string): MinuteSnapshot | null {
  try {
    const s = JSON.parse(json) as MinuteSnapshot;
    const pairs = (v: unknown) =>
      Array.isArray(v) &&
      v.every((p) => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'number');
    return typeof s.m === 'number' &&
      Array.isArray(s.c) &&
      typeof s.l === 'object' &&
      Object.values(s.l).every((n) => typeof n === 'number') &&
      pairs(s.t.i) &&
      pairs(s.t.a) &&
      pairs(s.t.p)
      ? s
      : null;
  } catch {
    return null;
  }
}
