// The console overview: decisions per minute by outcome, top refusals and latency over the last hour, across replicas.
import type { Clock } from '../util/clock.js';
import type { DecisionEvent } from './audit-log.js';
import type { AuditStream } from './audit-stream.js';
import { HOUR_MINUTES, mergeOverview, MINUTE, parseSnapshot, type Overview } from './overview-merge.js';
import { MinuteBucket, type MinuteSnapshot } from './overview-minute.js';

export type { Overview, OverviewMinute, Percentiles, TopEntry } from './overview-merge.js';

/** Minutes kept in memory: the hour and the one before it (still shared once after it ends). */
const RING = HOUR_MINUTES + 2;

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
