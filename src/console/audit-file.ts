// Audit search over this replica's audit file (and its rotations), read backwards: newest first, paged by byte offset.
import { closeSync, existsSync, openSync, readSync, fstatSync } from 'node:fs';
import { matches, rowOf, type AuditQuery, type AuditRow } from './audit-query.js';

/** One page of results, and where the next (older) one starts, if anywhere. */
export interface AuditPage {
  rows: AuditRow[];
  next: string | null;
}

const CHUNK = 64 * 1024;
/** The most a page reads before it returns what it found (the next page goes on from there). */
const SCAN_BUDGET = 64 * 1024 * 1024;

/** The files newest first: `audit.jsonl`, `audit.jsonl.1`, … `.keep`. */
function filesOf(path: string, keep: number): string[] {
  return [path, ...Array.from({ length: keep }, (_, i) => `${path}.${i + 1}`)];
}

/**
 * The lines of `file` that end before `end`, newest first, with the offset each starts at. A line
 * longer than the reader's buffer is read whole (it grows); `end` undefined means the file's end.
 */
function* linesBackwards(file: string, end?: number): Generator<{ line: string; start: number }> {
  if (!existsSync(file)) return;
  const fd = openSync(file, 'r');
  try {
    let pos = Math.min(end ?? Infinity, fstatSync(fd).size);
    let tail = Buffer.alloc(0);
    while (pos > 0) {
      const size = Math.min(CHUNK, pos);
      pos -= size;
      const buf = Buffer.alloc(size);
      readSync(fd, buf, 0, size, pos);
      let data = Buffer.concat([buf, tail]);
      let nl = data.lastIndexOf(0x0a, data.length - 1);
      // A complete line lies after each newline found; the part before the first stays for the next chunk.
      let stop = data.length;
      while (nl !== -1) {
        const line = data.subarray(nl + 1, stop).toString('utf8');
        if (line.trim() !== '') yield { line, start: pos + nl + 1 };
        stop = nl;
        nl = nl === 0 ? -1 : data.lastIndexOf(0x0a, nl - 1);
      }
      data = data.subarray(0, stop);
      tail = data;
    }
    const first = tail.toString('utf8');
    if (first.trim() !== '') yield { line: first, start: 0 };
  } finally {
    closeSync(fd);
  }
}

function parse(line: string): AuditRow | null {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? rowOf(v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A cursor `<file index>:<offset>`; null when it is not one. */
function readCursor(cursor: string | null): { file: number; offset: number } | null {
  if (cursor === null) return { file: 0, offset: Infinity };
  const m = /^(\d{1,3}):(\d{1,15})$/.exec(cursor);
  return m ? { file: Number(m[1]), offset: Number(m[2]) } : null;
}

/** The audit file sink's search: newest first, `limit` rows a page. */
export class AuditFileSearch {
  constructor(
    readonly path: string,
    private readonly keep: number,
  ) {}

  /** One page from `cursor` (null: the newest); throws RangeError on a cursor it did not give. */
  page(q: AuditQuery, cursor: string | null, limit: number): AuditPage {
    const at = readCursor(cursor);
    if (!at) throw new RangeError('cursor');
    const rows: AuditRow[] = [];
    const files = filesOf(this.path, this.keep);
    let scanned = 0;
    for (let f = at.file; f < files.length; f++) {
      const file = files[f] ?? '';
      for (const { line, start } of linesBackwards(file, f === at.file ? at.offset : undefined)) {
        scanned += line.length + 1;
        const r = parse(line);
        if (r && matches(r, q)) {
          rows.push(r);
          if (rows.length === limit) return { rows, next: `${f}:${start}` };
        }
        // Lines older than the range's start cannot match: the file is in time order.
        if (r && q.from !== undefined && Date.parse(r.time) < q.from) return { rows, next: null };
        if (scanned > SCAN_BUDGET) return { rows, next: `${f}:${start}` };
      }
    }
    return { rows, next: null };
  }

  /** Every matching row, newest first. */
  *all(q: AuditQuery): Generator<AuditRow> {
    for (const file of filesOf(this.path, this.keep))
      for (const { line } of linesBackwards(file)) {
        const r = parse(line);
        if (!r) continue;
        if (q.from !== undefined && Date.parse(r.time) < q.from) return;
        if (matches(r, q)) yield r;
      }
  }
}
