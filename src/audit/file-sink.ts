// The audit file: append-only, rotated by size or daily (audit.jsonl → .1 → … → .N), compressed, removed by age or count.
import { closeSync, fstatSync, openSync, rmSync } from 'node:fs';
import type { Clock } from '../util/clock.js';
import {
  gzipRotated,
  gzNewest,
  newestLine,
  removeStaleTemps,
  rotatedFiles,
  shiftRotated,
  type RemovedFile,
} from './file-housekeeping.js';
import { LineWriter } from './line-writer.js';
import { byDeadline, lineWriterSink, type AuditSink } from './sink.js';

const DAY_MS = 86_400_000;

/** How the file rotates and what is kept. */
export interface FileOptions {
  maxBytes: number;
  /** Rotated files kept (`.1` … `.N`) when no retention is set. */
  keep: number;
  clock: Clock;
  /** Also rotate at the first write of a new UTC day. */
  daily?: boolean;
  /** Remove rotated files whose newest line is older than this (ms); files younger are never removed. */
  retentionMs?: number | null;
  /** Compress rotated files to `.N.gz`. */
  gzip?: boolean;
  /** Told of every file removed (for age or count): the audit event `audit_file_removed`. */
  onRemoved?: (r: RemovedFile) => void;
}

/** A {@link LineWriter} on a file opened for appending, which it rotates before it grows past `maxBytes`. */
export class RotatingFile extends LineWriter {
  private fileSize: number;
  /** The UTC day (days since the epoch) of the current file's lines. */
  private day: number;
  /** Rotations done; failed rotations are reported through `onError` and writing goes on. */
  rotations = 0;
  private closed = false;
  /** Compression and removal, one sweep after another; `settled()` waits for them. */
  private chores: Promise<void> = Promise.resolve();
  onRemoved: ((r: RemovedFile) => void) | null;

  /** Opens `path` for appending now: throws (EACCES, ENOENT…) when it cannot be written. */
  constructor(
    readonly path: string,
    private readonly opts: FileOptions,
  ) {
    const fd = openSync(path, 'a', 0o640);
    super(fd);
    this.fileSize = fstatSync(fd).size;
    this.onRemoved = opts.onRemoved ?? null;
    // A file left from an earlier day is rotated at its first write; its mtime is when it was last written.
    this.day = Math.floor((this.fileSize > 0 ? fstatSync(fd).mtimeMs : opts.clock.now()) / DAY_MS);
    removeStaleTemps(path);
    // Retention applies at start too, not only at the next rotation.
    this.housekeep();
  }

  protected override room(): number {
    if (this.opts.daily && Math.floor(this.opts.clock.now() / DAY_MS) !== this.day) return 0;
    return this.opts.maxBytes - this.fileSize;
  }

  /** The next line does not fit (or a new day began): start a new file (unless this one is empty). */
  protected override noRoom(): void {
    if (this.fileSize > 0) this.rotate();
    else this.day = Math.floor(this.opts.clock.now() / DAY_MS);
  }

  protected override target(bytes: number): number {
    this.fileSize += bytes;
    return this.fd;
  }

  private rotate(): void {
    try {
      shiftRotated(this.path);
      // Open the new file before closing the old one: a failure leaves lines going to the renamed file, not lost.
      const next = openSync(this.path, 'a', 0o640);
      closeSync(this.fd);
      this.fd = next;
      this.fileSize = 0;
      this.day = Math.floor(this.opts.clock.now() / DAY_MS);
      this.rotations++;
      this.housekeep();
    } catch (e) {
      this.onError?.(e as Error);
    }
  }

  private housekeep(): void {
    this.chores = this.chores.then(() => this.sweep()).catch((e: unknown) => this.onError?.(e as Error));
  }

  /** Compress, then remove what is past retention (or past the count): started over if a rotation intervenes. */
  private async sweep(): Promise<void> {
    const { keep, gzip, retentionMs = null, clock } = this.opts;
    for (let again = true; again && !this.closed;) {
      again = false;
      const gen = this.rotations;
      const same = () => !this.closed && this.rotations === gen;
      for (const f of rotatedFiles(this.path)) {
        // A .gz file's mtime is its newest line's time (set at compression): no need to read it through.
        const seen = f.gz ? { newest: gzNewest(f.path) } : await newestLine(f.path, false);
        const age = seen.newest === null ? NaN : clock.now() - Date.parse(seen.newest);
        const expired = retentionMs !== null && age > retentionMs;
        if (retentionMs !== null ? expired : f.index > keep) {
          const last = f.gz
            ? await newestLine(f.path, true)
            : (seen as Awaited<ReturnType<typeof newestLine>>);
          if (!same()) {
            again = !this.closed;
            break;
          }
          rmSync(f.path, { force: true });
          this.onRemoved?.({ file: f.path, cause: expired ? 'retention' : 'count', ...last });
        } else if (gzip && !f.gz && !(await gzipRotated(f, same, seen.newest))) {
          again = !this.closed;
          break;
        }
        if (!same()) {
          again = !this.closed;
          break;
        }
      }
    }
  }

  /** Resolves when the compression and removals started so far are done. */
  settled(): Promise<void> {
    return this.chores;
  }

  /** Close the file (after a flush); no compression or removal starts after this. */
  close(): void {
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** The file sink; throws at once when the file cannot be opened for appending. */
export function fileSink(path: string, opts: FileOptions, onError: (err: Error) => void): AuditSink {
  const file = new RotatingFile(path, opts);
  file.onError = onError;
  const sink = lineWriterSink('file', file, opts.clock, () => file.close());
  return {
    ...sink,
    // What a rotation started (compression, removals) finishes before the trail is called delivered.
    flush: async (deadline) => {
      await sink.flush(deadline);
      await byDeadline(file.settled(), deadline, opts.clock);
    },
  };
}
