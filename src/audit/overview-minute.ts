// One minute of decisions, aggregated cheaply: counts by outcome, a latency histogram, bounded top-k of refusals.
import type { DecisionEvent } from './audit-log.js';
import { DECISIONS, type DecisionName } from './search-query.js';

/** The decision outcomes counted: every `decision` audit lines carry (search-query.ts lists them). */
export const OUTCOMES = DECISIONS;
export type Outcome = DecisionName;

const OUTCOME_INDEX = new Map<string, number>(OUTCOMES.map((o, i) => [o, i]));

/** Latency buckets: four per power of two of microseconds, bucket 0 below 1 µs, the last from ~134 s up. */
export const LATENCY_BUCKETS = 4 * 27 + 2;

/** The bucket of a duration in milliseconds. */
export function latencyBucket(ms: number): number {
  const us = ms * 1000;
  if (!(us >= 1)) return 0;
  return Math.min(LATENCY_BUCKETS - 1, 1 + Math.floor(4 * Math.log2(us)));
}

/** A bucket's representative value in ms: the geometric middle of its bounds (within ±9 %). */
export function bucketValue(i: number): number {
  if (i === 0) return 0;
  return 2 ** ((i - 0.5) / 4) / 1000;
}

/** Longest key kept (identities, IPs and paths are cut to this). */
const MAX_KEY = 256;

/**
 * Space-saving top-k (Metwally et al.): at most `k` keys; a new key when full replaces the least
 * counted one and inherits its count + 1, so any key counted more than total/k times is kept. The
 * inherited part is remembered as the key's error: `guaranteed()` is what it surely had (exact for a
 * key never evicted), the count shown, so a late key is not inflated by the noise it displaced.
 */
export class TopK {
  readonly counts = new Map<string, number>();
  private readonly errors = new Map<string, number>();
  constructor(private readonly k: number) {}

  add(key: string): void {
    const kk = key.length > MAX_KEY ? key.slice(0, MAX_KEY) : key;
    const n = this.counts.get(kk);
    if (n !== undefined) {
      this.counts.set(kk, n + 1);
      return;
    }
    if (this.counts.size < this.k) {
      this.counts.set(kk, 1);
      return;
    }
    let minKey = '';
    let min = Infinity;
    for (const [key2, c] of this.counts)
      if (c < min) {
        min = c;
        minKey = key2;
      }
    this.counts.delete(minKey);
    this.errors.delete(minKey);
    this.counts.set(kk, min + 1);
    this.errors.set(kk, min);
  }

  /** Each key with the count it surely had (its count less what it inherited). */
  guaranteed(): [string, number][] {
    return [...this.counts].map(([key, n]) => [key, n - (this.errors.get(key) ?? 0)]);
  }
}

/** One replica's minute as stored in Redis and merged by the reader. */
export interface MinuteSnapshot {
  /** Minutes since the epoch. */
  m: number;
  /** Count per outcome, in {@link OUTCOMES} order. */
  c: number[];
  /** Latency histogram, sparse: bucket index → count. */
  l: Record<string, number>;
  /** Refused decisions' top identities, client IPs and paths: [key, guaranteed count] pairs. */
  t: { i: [string, number][]; a: [string, number][]; p: [string, number][] };
}

/** A minute being counted. */
export class MinuteBucket {
  readonly counts = new Array<number>(OUTCOMES.length).fill(0);
  readonly latency = new Array<number>(LATENCY_BUCKETS).fill(0);
  readonly identities: TopK;
  readonly ips: TopK;
  readonly paths: TopK;
  /** Changed since last shared. */
  dirty = false;

  constructor(
    readonly minute: number,
    k: number,
  ) {
    this.identities = new TopK(k);
    this.ips = new TopK(k);
    this.paths = new TopK(k);
  }

  /** Count one decision: a few array increments, and three top-k updates when it was refused. */
  add(e: DecisionEvent): void {
    const o = OUTCOME_INDEX.get(e.decision);
    if (o !== undefined) this.counts[o] = (this.counts[o] ?? 0) + 1;
    const b = latencyBucket(e.durationMs);
    this.latency[b] = (this.latency[b] ?? 0) + 1;
    this.dirty = true;
    if (e.decision === 'allow' || e.decision === 'would-deny') return;
    const who = e.sub ?? e.keyId;
    if (who !== null) this.identities.add(who);
    if (e.clientIp !== null) this.ips.add(e.clientIp);
    if (e.path !== null) this.paths.add(e.path);
  }

  snapshot(): MinuteSnapshot {
    const l: Record<string, number> = {};
    this.latency.forEach((n, i) => {
      if (n > 0) l[i] = n;
    });
    return {
      m: this.minute,
      c: [...this.counts],
      l,
      t: { i: this.identities.guaranteed(), a: this.ips.guaranteed(), p: this.paths.guaranteed() },
    };
  }
}
