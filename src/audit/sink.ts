// Where audit lines go: one contract for stdout, the rotating file and the webhook.
import type { DestinationStream } from 'pino';
import type { Clock } from '../util/clock.js';
import { LineWriter } from './line-writer.js';

/** One destination of the audit stream. Lines arrive pre-serialised, newline-terminated. */
export interface AuditSink {
  readonly name: string;
  /** Accept one line; never blocks, never throws (a full sink drops and counts). `ascii`: the caller knows it is 7-bit. */
  write(line: string, ascii?: boolean): void;
  /** Deliver what was accepted; resolves by `deadline` (epoch ms) at the latest. */
  flush(deadline: number): Promise<void>;
  /** Release files and timers (after flush). */
  close(): void;
  /** Events accepted but not yet delivered. */
  queued(): number;
  /** Events lost: queue full, write failed, or undelivered at shutdown. */
  dropped(): number;
}

/** Resolve when `work` finishes or the deadline (epoch ms on `clock`) passes, whichever is first. */
export function byDeadline(work: Promise<void>, deadline: number, clock: Clock): Promise<void> {
  const ms = Math.max(0, deadline - clock.now());
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** A sink over a {@link LineWriter} (stdout, the file). */
export function lineWriterSink(
  name: string,
  writer: LineWriter,
  clock: Clock,
  close: () => void = () => {},
): AuditSink {
  return {
    name,
    write: (line, ascii) => void writer.write(line, ascii),
    flush: (deadline) => byDeadline(new Promise<void>((resolve) => writer.flush(resolve)), deadline, clock),
    close,
    queued: () => writer.pending,
    dropped: () => writer.dropped,
  };
}

/** stdout: a {@link LineWriter} on fd 1 (see notes in line-writer.ts on why not sonic-boom). */
export function stdoutSink(clock: Clock): AuditSink {
  return lineWriterSink('stdout', new LineWriter(1), clock);
}

/** A destination stream with a flush (pino.destination's SonicBoom). */
type Flushable = DestinationStream & { flush: (cb: () => void) => void };

function isFlushable(d: DestinationStream): d is Flushable {
  return typeof (d as Partial<Flushable>).flush === 'function';
}

/** Any pino destination stream in place of stdout (tests capture the stream this way). */
export function destinationSink(name: string, d: DestinationStream, clock: Clock): AuditSink {
  return {
    name,
    write: (line) => {
      d.write(line);
    },
    flush: (deadline) =>
      isFlushable(d)
        ? byDeadline(new Promise<void>((resolve) => d.flush(resolve)), deadline, clock)
        : Promise.resolve(),
    close: () => {},
    queued: () => 0,
    dropped: () => 0,
  };
}
