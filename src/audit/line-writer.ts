// A buffered line writer for the audit stream: one write per few milliseconds, bounded, flushable.
import { write as fsWrite } from 'node:fs';

/** Waiting lines are written at once when they reach this many bytes, else after `delayMs`. */
const WRITE_AT_BYTES = 64 * 1024;

/**
 * Collects lines and writes them to a file descriptor in chunks: after `delayMs` (default 10 ms)
 * or once 64 KiB wait, with at most one write in flight. Each write is a trip through libuv's
 * thread pool; one per event-loop turn cost ~10 µs CPU per /verify under load, one per 10 ms
 * costs a fraction of a µs per line. The write call itself measured ~0.1 µs a line where
 * sonic-boom (pino.destination) took ~2.8 µs. Lines beyond `maxBuffered` bytes waiting (a reader
 * that stopped reading) are dropped and counted.
 */
export class LineWriter {
  private chunks: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing = false;
  private waiters: (() => void)[] = [];
  private writingLines = 0;
  /** The last write took only part of the waiting lines. */
  private partial = false;
  /** Lines dropped because the buffer was full or their write failed. */
  dropped = 0;
  /** Told about a failed write (full disk, closed stdout); its lines are counted as dropped. */
  onError: ((err: Error) => void) | null = null;

  constructor(
    protected fd: number,
    private readonly maxBuffered = 64 * 1024 * 1024,
    private readonly delayMs = 10,
  ) {}

  /** Lines accepted but not yet written (the write in flight included). */
  get pending(): number {
    return this.chunks.length + (this.writing ? this.writingLines : 0);
  }

  /** The descriptor the next chunk of `bytes` goes to. */
  protected target(_bytes: number): number {
    return this.fd;
  }

  /** How many of the waiting lines go into the next write (at least one): all, unless a subclass bounds it. */
  protected take(lines: readonly string[]): number {
    return lines.length;
  }

  write(line: string): boolean {
    if (this.size > this.maxBuffered) {
      this.dropped++;
      return false;
    }
    this.chunks.push(line);
    this.size += line.length;
    // While a write is in flight, its completion picks these lines up.
    if (!this.writing) this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.size >= WRITE_AT_BYTES) this.drain();
    else this.timer ??= setTimeout(this.onTimer, this.delayMs);
  }

  private readonly onTimer = () => {
    this.timer = null;
    this.drain();
  };

  private drain(): void {
    if (this.writing) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.chunks.length === 0) {
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    const n = Math.max(1, this.take(this.chunks));
    let lines = this.chunks;
    this.partial = n < lines.length;
    if (this.partial) {
      lines = this.chunks.slice(0, n);
      this.chunks = this.chunks.slice(n);
      this.size = this.chunks.reduce((sum, l) => sum + l.length, 0);
    } else {
      this.chunks = [];
      this.size = 0;
    }
    const data = Buffer.from(lines.join(''), 'utf8');
    this.writingLines = lines.length;
    this.writing = true;
    this.writeAll(this.target(data.length), data, 0);
  }

  private writeAll(fd: number, data: Buffer, offset: number): void {
    fsWrite(fd, data, offset, data.length - offset, null, (err, written) => {
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // A non-blocking pipe is full: try again shortly.
        setTimeout(() => this.writeAll(fd, data, offset), 10).unref();
        return;
      }
      if (!err && offset + written < data.length) return this.writeAll(fd, data, offset + written);
      if (err) {
        this.dropped += this.writingLines;
        this.onError?.(err);
      }
      this.writing = false;
      // Lines left by a bounded write go next, without waiting for the timer.
      if (this.chunks.length === 0 || this.waiters.length > 0 || this.partial) this.drain();
      else this.schedule();
    });
  }

  /** Resolve once everything written so far has reached the file descriptor. */
  flush(cb: () => void): void {
    if (!this.writing && this.chunks.length === 0) return cb();
    this.waiters.push(cb);
    if (!this.writing) this.drain();
  }
}
