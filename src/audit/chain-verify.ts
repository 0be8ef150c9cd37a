// Checks audit files against the hash chain, per replica in seq order whatever the order of the files given.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { splitChained } from './chain.js';
import { ReplicaWalk, type ChainBreak, type CheckpointKeys, type Link } from './replica-walk.js';

export type { BreakKind, ChainBreak } from './replica-walk.js';
export { CheckpointKeys } from './replica-walk.js';

/** One replica's lines among the files. */
export interface ReplicaSummary {
  replica: string;
  lines: number;
  checkpoints: number;
  firstSeq: number;
  lastSeq: number;
  /** With keys: the seq of the last checkpoint whose signature verified (0: none). */
  signedThrough?: number;
}

/** The outcome of {@link verifyAuditFiles}; intact when `breaks` is empty. */
export interface VerifyReport {
  lines: number;
  checkpoints: number;
  replicas: ReplicaSummary[];
  breaks: ChainBreak[];
  /** What was taken on trust: a replica whose first line given is not its seq 1. */
  notes: string[];
}

/** A line longer than this is reported as malformed without being held in memory. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

interface PhysicalLine {
  n: number;
  /** The line's text, or null when it is longer than the limit. */
  text: string | null;
}

/** The line being gathered across chunks; dropped (and only measured) past {@link MAX_LINE_BYTES}. */
class LineBuffer {
  private parts: Buffer[] = [];
  private size = 0;
  private tooLong = false;

  get empty(): boolean {
    return this.size === 0 && !this.tooLong;
  }

  keep(b: Buffer): void {
    if (this.tooLong || b.length === 0) return;
    this.size += b.length;
    if (this.size > MAX_LINE_BYTES) {
      this.tooLong = true;
      this.parts = [];
    } else this.parts.push(b);
  }

  take(): string | null {
    const text = this.tooLong
      ? null
      : ((this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts))?.toString('utf8') ?? '');
    this.parts = [];
    this.size = 0;
    this.tooLong = false;
    return text;
  }
}

/** The bytes of a file (gunzipped when it ends in `.gz`), or of stdin. */
function bytesOf(file: string, stdin: Readable | null): AsyncIterable<Buffer | string> {
  if (file === STDIN) return stdin ?? process.stdin;
  const raw = createReadStream(file);
  return file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
}

/** How standard input is named in reports (`-` on the command line). */
export const STDIN = '-';

/** A file's lines, split on `\n` only (1-based numbers as an editor shows them), gunzipped when it ends in `.gz`. */
async function* physicalLines(file: string, stdin: Readable | null = null): AsyncGenerator<PhysicalLine> {
  const stream = bytesOf(file, stdin);
  const line = new LineBuffer();
  let n = 0;
  for await (const piece of stream) {
    // A stream with an encoding set (stdin in some hosts) yields strings.
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      line.keep(chunk.subarray(start, nl));
      yield { n: ++n, text: line.take() };
      start = nl + 1;
    }
    line.keep(chunk.subarray(start));
  }
  if (!line.empty) yield { n: n + 1, text: line.take() };
}

/** A checkpoint's own members, or null when they are not all there. */
function checkpointOf(v: Record<string, unknown>): Link['checkpoint'] | string {
  const seals = (typeof v.seals === 'object' ? v.seals : null) as Record<string, unknown> | null;
  if (
    seals === null ||
    typeof seals.seq !== 'number' ||
    typeof seals.hash !== 'string' ||
    typeof v.sig !== 'string' ||
    typeof v.kid !== 'string'
  )
    return 'a checkpoint without seals, sig or kid';
  return { sealsSeq: seals.seq, sealsHash: seals.hash, sig: v.sig, kid: v.kid };
}

/** A chained line's link, or why it is not one. */
function linkOf(text: string | null): Link | string {
  if (text === null) return `longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB`;
  const split = splitChained(text);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text === '' ? 'an empty line' : 'not JSON (a truncated or edited line)';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const rec = v as Record<string, unknown>;
  const { seq, replica, hash, time } = rec;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return 'no seq';
  if (typeof replica !== 'string') return 'no replica';
  if (!split || hash !== split.hash) return 'hash is missing or not the last member';
  const checkpoint = rec.type === 'checkpoint' ? checkpointOf(rec) : null;
  if (typeof checkpoint === 'string') return checkpoint;
  const t = typeof time === 'string' ? time : null;
  return { seq, replica, hash: split.hash, body: split.body, time: t, checkpoint };
}

/** Where each replica's lines are: per file, the seq of its first line there. */
interface Segment {
  file: string;
  firstSeq: number;
}

/** The report of a set before its walk: nothing counted yet. */
const emptyReport = (): VerifyReport => ({ lines: 0, checkpoints: 0, replicas: [], breaks: [], notes: [] });

/** Count a chained line in the report and in its replica's entry of `seen` (made by `make` at its first line). */
function tally<S extends ReplicaSummary>(
  report: VerifyReport,
  seen: Map<string, S>,
  link: Link,
  make: (summary: ReplicaSummary) => S,
): S {
  report.lines++;
  if (link.checkpoint) report.checkpoints++;
  let r = seen.get(link.replica);
  if (!r) {
    r = make({ replica: link.replica, lines: 0, checkpoints: 0, firstSeq: link.seq, lastSeq: link.seq });
    seen.set(link.replica, r);
  }
  r.lines++;
  if (link.checkpoint) r.checkpoints++;
  r.firstSeq = Math.min(r.firstSeq, link.seq);
  r.lastSeq = Math.max(r.lastSeq, link.seq);
  return r;
}

/** A file's lines as links; the first malformed line of the file is reported (more would only repeat it). */
async function* linksOf(report: VerifyReport, file: string, stdin: Readable | null = null) {
  let malformed = false;
  for await (const { n, text } of physicalLines(file, stdin)) {
    const link = linkOf(text);
    if (typeof link !== 'string') yield { n, link };
    else if (!malformed) {
      malformed = true;
      report.breaks.push({ file, line: n, kind: 'malformed', replica: null, seq: null, detail: link });
    }
  }
}

/** Pass 1: count lines, find malformed ones and each replica's segments. */
async function survey(files: readonly string[]) {
  const report = emptyReport();
  const replicas = new Map<string, ReplicaSummary & { segments: Segment[] }>();
  for (const file of files) {
    const here = new Set<string>();
    for await (const { link } of linksOf(report, file)) {
      const r = tally(report, replicas, link, (summary) => ({ ...summary, segments: [] }));
      if (!here.has(link.replica)) {
        here.add(link.replica);
        r.segments.push({ file, firstSeq: link.seq });
      }
    }
  }
  return { report, replicas };
}

/** Pass 2 for one replica: its lines in seq order, file by file; the first break, or null. */
async function walk(walker: ReplicaWalk, segments: Segment[]): Promise<void> {
  const ordered = [...segments].sort((a, b) => a.firstSeq - b.firstSeq);
  for (const { file } of ordered) {
    for await (const { n, text } of physicalLines(file)) {
      const link = linkOf(text);
      if (typeof link === 'string' || link.replica !== walker.replica) continue;
      await walker.feed(link, file, n);
      if (walker.broken) return;
    }
  }
}

/** What a verification checks besides the chain. */
export interface VerifyOptions {
  /** Checkpoint signatures are checked against these; without them they are counted, not checked. */
  keys?: CheckpointKeys | null;
  /** Standard input, read when a file is named `-` (default process.stdin). */
  stdin?: Readable;
}

function finish(report: VerifyReport, walker: ReplicaWalk, summary: ReplicaSummary, keyed: boolean): void {
  const broken = walker.finish(summary.lastSeq);
  report.replicas.push(keyed ? { ...summary, signedThrough: walker.sealedThrough } : summary);
  if (broken) report.breaks.push(broken);
}

/**
 * Verify audit files: every line's hash against the previous line of its replica, seq without gap,
 * order or repeat, and (with keys) every checkpoint's signature. Reads each file once to survey it
 * and once per replica it holds; memory stays constant whatever the files' size. Files ending in
 * `.gz` are gunzipped. Standard input (`-`, alone) is read once, its replicas walked side by side.
 */
export async function verifyAuditFiles(
  files: readonly string[],
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const keys = opts.keys ?? null;
  const report =
    files.length === 1 && files[0] === STDIN
      ? await verifyStream(opts.stdin ?? process.stdin, keys)
      : await verifySet(files, keys);
  if (!keys && report.checkpoints > 0)
    report.notes.push('checkpoint signatures not checked: give --jwks or --key');
  return report;
}

/** Files: surveyed once, then each replica walked in seq order across them. */
async function verifySet(files: readonly string[], keys: CheckpointKeys | null): Promise<VerifyReport> {
  const { report, replicas } = await survey(files);
  for (const r of [...replicas.values()].sort((a, b) => a.replica.localeCompare(b.replica))) {
    const { segments, ...summary } = r;
    const walker = new ReplicaWalk(r.replica, keys, report.notes);
    await walk(walker, segments);
    finish(report, walker, summary, keys !== null);
  }
  return report;
}

/** One pass over a stream (stdin): each replica's lines must come in seq order, as warden writes them. */
async function verifyStream(stdin: Readable, keys: CheckpointKeys | null): Promise<VerifyReport> {
  const report = emptyReport();
  const walks = new Map<string, ReplicaSummary & { walker: ReplicaWalk }>();
  for await (const { n, link } of linksOf(report, STDIN, stdin)) {
    const w = tally(report, walks, link, (summary) => ({
      ...summary,
      walker: new ReplicaWalk(link.replica, keys, report.notes),
    }));
    await w.walker.feed(link, STDIN, n);
  }
  for (const { walker, ...summary } of [...walks.values()].sort((a, b) => a.replica.localeCompare(b.replica)))
    finish(report, walker, summary, keys !== null);
  return report;
}
