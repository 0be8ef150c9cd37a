// The shared audit stream the redis sink, the search and the overview use: a port that store/ implements over Redis.

/** One stored line (its UTF-8 bytes) and its stream id (`<ms>-<n>`, ms ≥ the line's own `time`). */
export interface StreamEntry {
  id: string;
  line: Buffer;
}

/** One line to append, with its `time` in epoch ms (the stream id is never earlier). */
export interface StreamLine {
  ms: number;
  line: string;
}

/** One replica's overview of one minute, as stored (JSON text). */
export interface StoredSnapshot {
  minute: number;
  replica: string;
  json: string;
}

/**
 * The capped Redis stream of audit lines, shared by every replica, and the overview's minute
 * hashes beside it. Every method rejects when Redis does not answer; none retries.
 */
export interface AuditStream {
  /** Append lines in one round trip, in order; ids follow the lines' times, never going back. */
  append(lines: readonly StreamLine[]): Promise<void>;
  /**
   * At most `count` entries from `end` down to `start`, newest first. Bounds are stream ids or
   * epoch ms (`1700000000000`), `+` and `-` for the ends; `(id` excludes that id.
   */
  newest(end: string, start: string, count: number): Promise<StreamEntry[]>;
  /** Entries stored now. */
  length(): Promise<number>;
  /** Store replicas' minute snapshots (one field per replica in the minute's hash), kept `ttlSec`. */
  putSnapshots(snapshots: readonly StoredSnapshot[], ttlSec: number): Promise<void>;
  /** Every replica's snapshot of each minute asked for, in the order asked. */
  snapshots(minutes: readonly number[]): Promise<StoredSnapshot[][]>;
}
