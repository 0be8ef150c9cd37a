// The console overview: decisions per minute by outcome, top refusals and latency over the last hour, across replicas.
import type { Clock } from '../util/clock.js';
import type { DecisionEvent } from './audit-log.js';
import type { AuditStream } from './audit-stream.js';
import {
  bucketValue,
  LATENCY_BUCKETS,
  MinuteBucket,
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

const MINUTE = 60_000;
const HOUR_MINUTES = 60;
/** Minutes kept in memory: the hour and the one before it (still shared once after it ends). */
const RING = HOUR_MINUTES + 2;
const TOP = 10;

/**
 * Per-replica rolling aggregator fed with every decision (before allow sampling). `record` is a few
 * array increments (three bounded top-k updates for a refusal), nothing else: it runs on /verify.
 */
export class OverviewAggregator {
  private readonly ring: (MinuteBucket | undefined)[] = new Array<MinuteBucket | undefined>(RING);

  constructor(
    readonly replica: string,
    private readonly clock: Clock,
    private readonly k = 50,
  ) {}

  record(e: DecisionEvent): void {
    const minute = Math.floor(this.clock.now() / MINUTE);
    const slot = minute % RING;
    let b = this.ring[slot];
    if (b?.minute !== minute) this.ring[slot] = b = new MinuteBucket(minute, this.k);
    b.add(e);
  }

  /** This replica's snapshots of the minutes from `first` to `last`. */
  snapshots(first: number, last: number): MinuteSnapshot[] {
    const out: MinuteSnapshot[] = [];
    for (const b of this.ring) if (b && b.minute >= first && b.minute <= last) out.push(b.snapshot());
    return out;
  }

  /** Snapshots of minutes changed since the last call (marked clean; `undo` marks them again). */
  takeChanged(): { snapshots: MinuteSnapshot[]; undo: () => void } {
    const changed = this.ring.filter((b): b is MinuteBucket => b?.dirty === true);
    for (const b of changed) b.dirty = false;
    return {
      snapshots: changed.map((b) => b.snapshot()),
      undo: () => changed.forEach((b) => (b.dirty = true)),
    };
  }
}

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
function parseSnapshot(json: string): MinuteSnapshot | null {
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

/** Minute hashes outlive the hour they show by this much, then Redis drops them. */
const SNAPSHOT_TTL_SEC = 2 * 3600;

/** The overview service: this replica's aggregator, shared through Redis when there is one. */
export interface OverviewService {
  readonly aggregator: OverviewAggregator;
  /** The hour ending now (default: the clock's now). */
  overview(now?: number): Promise<Overview>;
  /** Write this replica's changed minutes to Redis (a timer does it every second). */
  share(): Promise<void>;
  /** Share every `ms` until stopped. */
  start(ms?: number): void;
  stop(): void;
}

/** Build the overview over `aggregator`; with `stream`, merged with the other replicas' shared minutes. */
export function createOverview(
  aggregator: OverviewAggregator,
  clock: Clock,
  stream: Pick<AuditStream, 'putSnapshots' | 'snapshots'> | null,
): OverviewService {
  let timer: NodeJS.Timeout | null = null;
  let sharing: Promise<void> | null = null;
  const share = async () => {
    if (!stream) return;
    const { snapshots, undo } = aggregator.takeChanged();
    if (snapshots.length === 0) return;
    try {
      await stream.putSnapshots(
        snapshots.map((s) => ({ minute: s.m, replica: aggregator.replica, json: JSON.stringify(s) })),
        SNAPSHOT_TTL_SEC,
      );
    } catch {
      undo();
    }
  };
  // One share at a time: the timer and a reader never write the same minute concurrently.
  const shareOnce = () => (sharing ??= share().finally(() => (sharing = null)));
  return {
    aggregator,
    share: shareOnce,
    async overview(now = clock.now()) {
      const last = Math.floor(now / MINUTE);
      const first = last - HOUR_MINUTES + 1;
      const own = aggregator.snapshots(first, last);
      if (!stream) return { ...mergeOverview(own, now), source: 'local', replicas: [aggregator.replica] };
      const minutes = Array.from({ length: HOUR_MINUTES }, (_, i) => first + i);
      try {
        // A reader shares its own minutes first: every replica asked sees this one's latest counts.
        await shareOnce();
        const stored = (await stream.snapshots(minutes)).flat();
        const replicas = new Set([aggregator.replica]);
        const others: MinuteSnapshot[] = [];
        for (const s of stored) {
          // This replica's own minutes come from memory: fresher than its last share.
          if (s.replica === aggregator.replica) continue;
          const parsed = parseSnapshot(s.json);
          if (parsed && parsed.m === s.minute) {
            others.push(parsed);
            replicas.add(s.replica);
          }
        }
        return {
          ...mergeOverview([...own, ...others], now),
          source: 'redis',
          replicas: [...replicas].sort(),
        };
      } catch (e) {
        return {
          ...mergeOverview(own, now),
          source: 'local',
          replicas: [aggregator.replica],
          unavailable: `Redis: ${(e as Error).message}`,
        };
      }
    },
    start(ms = 1000) {
      if (!stream || timer) return;
      timer = setInterval(() => void shareOnce(), ms);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
