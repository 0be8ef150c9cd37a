// Checks audit files against the hash chain, per replica in seq order whatever the order of the files given.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { chainHash, splitChained } from './chain.js';

/** What is wrong at a line: changed, lines missing before it, out of order, repeated, or not an audit line. */
export type BreakKind = 'edited' | 'missing' | 'reordered' | 'duplicate' | 'malformed';

/** The first break of a replica's chain (or a malformed line), at a physical line (1-based) of a file. */
export interface ChainBreak {
  file: string;
  line: number;
  kind: BreakKind;
  replica: string | null;
  seq: number | null;
  detail: string;
}

/** One replica's lines among the files. */
export interface ReplicaSummary {
  replica: string;
  lines: number;
  checkpoints: number;
  firstSeq: number;
  lastSeq: number;
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

/** A file's lines, split on `\n` only (1-based numbers as an editor shows them), gunzipped when it ends in `.gz`. */
async function* physicalLines(file: string): AsyncGenerator<PhysicalLine> {
  const raw = createReadStream(file);
  const stream: AsyncIterable<Buffer> = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const line = new LineBuffer();
  let n = 0;
  for await (const chunk of stream) {
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

interface Link {
  seq: number;
  replica: string;
  hash: string;
  body: string;
  checkpoint: boolean;
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
  const { seq, replica, hash, type } = v as Record<string, unknown>;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return 'no seq';
  if (typeof replica !== 'string') return 'no replica';
  if (!split || hash !== split.hash) return 'hash is missing or not the last member';
  return { seq, replica, hash: split.hash, body: split.body, checkpoint: type === 'checkpoint' };
}

/** Where each replica's lines are: per file, the seq of its first line there. */
interface Segment {
  file: string;
  firstSeq: number;
}

/** Pass 1: count lines, find malformed ones and each replica's segments. */
async function survey(files: readonly string[]) {
  const report: VerifyReport = { lines: 0, checkpoints: 0, replicas: [], breaks: [], notes: [] };
  const replicas = new Map<string, ReplicaSummary & { segments: Segment[] }>();
  for (const file of files) {
    const here = new Set<string>();
    let malformed = false;
    for await (const { n, text } of physicalLines(file)) {
      const link = linkOf(text);
      if (typeof link === 'string') {
        // The first malformed line of each file: more would only repeat it.
        if (!malformed)
          report.breaks.push({ file, line: n, kind: 'malformed', replica: null, seq: null, detail: link });
        malformed = true;
        continue;
      }
      report.lines++;
      if (link.checkpoint) report.checkpoints++;
      let r = replicas.get(link.replica);
      if (!r) {
        r = {
          replica: link.replica,
          lines: 0,
          checkpoints: 0,
          firstSeq: link.seq,
          lastSeq: link.seq,
          segments: [],
        };
        replicas.set(link.replica, r);
      }
      r.lines++;
      if (link.checkpoint) r.checkpoints++;
      r.firstSeq = Math.min(r.firstSeq, link.seq);
      r.lastSeq = Math.max(r.lastSeq, link.seq);
      if (!here.has(link.replica)) {
        here.add(link.replica);
        r.segments.push({ file, firstSeq: link.seq });
      }
    }
  }
  return { report, replicas };
}

/** Pass 2 for one replica: its lines in seq order, file by file; the first break, or null. */
async function walk(replica: string, segments: Segment[], notes: string[]): Promise<ChainBreak | null> {
  const ordered = [...segments].sort((a, b) => a.firstSeq - b.firstSeq);
  let expected = 1;
  let prev = '';
  let started = false;
  /** A gap waiting to be told apart: `missing`, or `reordered` if the expected seq turns up later. */
  let gap: ChainBreak | null = null;
  for (const { file } of ordered) {
    for await (const { n, text } of physicalLines(file)) {
      const link = linkOf(text);
      if (typeof link === 'string' || link.replica !== replica) continue;
      const at = { file, line: n, replica, seq: link.seq };
      if (gap) {
        if (link.seq === expected)
          return {
            ...gap,
            kind: 'reordered',
            detail: `${gap.detail}; seq ${expected} comes later, at ${file}:${n}`,
          };
        continue;
      }
      if (!started && link.seq > 1) {
        notes.push(`${replica}: starts at seq ${link.seq}; the lines before are not among the files given`);
        expected = link.seq;
        prev = '';
      }
      started = true;
      if (link.seq > expected) {
        gap = {
          ...at,
          kind: 'missing',
          detail: `seq ${expected}–${link.seq - 1} missing before seq ${link.seq}`,
        };
        continue;
      }
      if (link.seq < expected)
        return link.seq === expected - 1 && link.hash === prev
          ? { ...at, kind: 'duplicate', detail: `seq ${link.seq} appears again` }
          : { ...at, kind: 'reordered', detail: `seq ${link.seq} after seq ${expected - 1}` };
      // The first line of a set that starts past seq 1 is taken as given: its prev is not among the files.
      const anchor = link.seq === expected && prev === '' && link.seq > 1;
      if (!anchor && chainHash(prev, link.body) !== link.hash)
        return { ...at, kind: 'edited', detail: `seq ${link.seq}: the line is not the one that was chained` };
      prev = link.hash;
      expected = link.seq + 1;
    }
  }
  return gap;
}

/**
 * Verify audit files: every line's hash against the previous line of its replica, seq without gap,
 * order or repeat. Reads each file once to survey it and once per replica it holds; memory stays
 * constant whatever the files' size. Files ending in `.gz` are gunzipped.
 */
export async function verifyAuditFiles(files: readonly string[]): Promise<VerifyReport> {
  const { report, replicas } = await survey(files);
  for (const r of [...replicas.values()].sort((a, b) => a.replica.localeCompare(b.replica))) {
    const { segments, ...summary } = r;
    report.replicas.push(summary);
    const broken = await walk(r.replica, segments, report.notes);
    if (broken) report.breaks.push(broken);
  }
  return report;
}
