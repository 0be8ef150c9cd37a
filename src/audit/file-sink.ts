// The audit file: append-only, rotated by size (audit.jsonl → audit.jsonl.1 → … → .N).
import { closeSync, fstatSync, openSync, renameSync, rmSync } from 'node:fs';
import type { Clock } from '../util/clock.js';
import { LineWriter } from './line-writer.js';
import { lineWriterSink, type AuditSink } from './sink.js';

/** A {@link LineWriter} on a file opened for appending, which it rotates before it grows past `maxBytes`. */
export class RotatingFile extends LineWriter {
  private fileSize: number;
  /** Rotations done; failed rotations are reported through `onError` and writing goes on. */
  rotations = 0;

  /** Opens `path` for appending now: throws (EACCES, ENOENT…) when it cannot be written. */
  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    const fd = openSync(path, 'a', 0o640);
    super(fd);
    this.fileSize = fstatSync(fd).size;
  }

  protected override room(): number {
    return this.maxBytes - this.fileSize;
  }

  /** The next line does not fit: start a new file (unless this one is empty). */
  protected override noRoom(): void {
    if (this.fileSize > 0) this.rotate();
  }

  protected override target(bytes: number): number {
    this.fileSize += bytes;
    return this.fd;
  }

  private rotate(): void {
    try {
      if (this.keep === 0) rmSync(this.path, { force: true });
      else {
        rmSync(`${this.path}.${this.keep}`, { force: true });
        for (let i = this.keep - 1; i >= 1; i--) {
          try {
            renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          }
        }
        renameSync(this.path, `${this.path}.1`);
      }
      // Open the new file before closing the old one: a failure leaves lines going to the renamed file, not lost.
      const next = openSync(this.path, 'a', 0o640);
      closeSync(this.fd);
      this.fd = next;
      this.fileSize = 0;
      this.rotations++;
    } catch (e) {
      this.onError?.(e as Error);
    }
  }

  /** Close the file (after a flush). */
  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** The file sink; throws at once when the file cannot be opened for appending. */
export function fileSink(
  path: string,
  maxBytes: number,
  keep: number,
  onError: (err: Error) => void,
  clock: Clock,
): AuditSink {
  const file = new RotatingFile(path, maxBytes, keep);
  file.onError = onError;
  return lineWriterSink('file', file, clock, () => file.close());
}
