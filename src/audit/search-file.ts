// Search over this replica's audit file and its rotated files, newest first, reading each file backwards in chunks.
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ScanSource, ScanResult } from './search-source.js';
import { lineTime } from './redis-sink.js';

const CHUNK = 64 * 1024;
const NL = 0x0a;

/** A complete line (its bytes, without the newline) and the byte offset it starts at. */
interface FileLine {
  bytes: Buffer;
  start: number;
}

/** The last newline in `data` before index `before` (exclusive), or -1. */
function newlineBefore(data: Buffer, before: number): number {
  return before <= 0 ? -1 : data.lastIndexOf(NL, before - 1);
}

/**
 * The complete lines of a file that end at or before `end`, last first. A line still being written
 * (no newline yet) at the end is left out. Reads `CHUNK` bytes at a time from the end backwards, so
 * the newest lines of a large file come at once.
 */
async function* linesBackward(path: string, end: number | null): AsyncGenerator<FileLine> {
  const fh = await open(path, 'r');
  try {
    let pos = end ?? (await fh.stat()).size;
    let rest: Buffer | null = null;
    // Until the first newline from the end is found, bytes belong to an unfinished line.
    let trimming = end === null;
    while (pos > 0) {
      const size = Math.min(CHUNK, pos);
      pos -= size;
      const chunk = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(chunk, 0, size, pos);
      let data: Buffer = rest
        ? Buffer.concat([chunk.subarray(0, bytesRead), rest])
        : chunk.subarray(0, bytesRead);
      if (trimming) {
        const last = data.lastIndexOf(NL);
        if (last === -1) {
          rest = null;
          continue;
        }
        data = data.subarray(0, last + 1);
        trimming = false;
      }
      // data ends with a newline; each line runs from after the newline before it to its own.
      let lineEnd = data.length;
      for (let i = newlineBefore(data, lineEnd - 1); i !== -1; i = newlineBefore(data, lineEnd - 1)) {
        yield { bytes: data.subarray(i + 1, lineEnd - 1), start: pos + i + 1 };
        lineEnd = i + 1;
      }
      rest = data.subarray(0, lineEnd);
    }
    if (rest && rest.length > 1) yield { bytes: rest.subarray(0, rest.length - 1), start: 0 };
  } finally {
    await fh.close();
  }
}

/** The file and its rotated copies that exist, newest first: `audit.jsonl`, `.1`, `.2` … */
async function auditFiles(path: string): Promise<{ path: string; ino: number }[]> {
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return [];
  }
  const rotated = names
    .map((n) => ({ n, m: n.startsWith(base + '.') ? /^\d+$/.exec(n.slice(base.length + 1)) : null }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(a.m?.[0]) - Number(b.m?.[0]))
    .map((x) => join(dirname(path), x.n));
  const out: { path: string; ino: number }[] = [];
  for (const p of names.includes(base) ? [path, ...rotated] : rotated) {
    try {
      out.push({ path: p, ino: (await stat(p)).ino });
    } catch {
      // rotated away while listing
    }
  }
  return out;
}

/** Lines older than the range's start by more than this end the scan (a clock stepping back a little is tolerated). */
const CLOCK_SLACK_MS = 60_000;

/**
 * Scan the file sink's files newest first. A position is `<inode>:<offset>` of the last line
 * visited, so a page boundary survives a rotation (the renamed file keeps its inode).
 */
export function fileSource(path: string): ScanSource {
  return {
    kind: 'file',
    validPosition: (p) => /^\d{1,20}:\d{1,16}$/.test(p),
    async scan(q, position, budget, visit): Promise<ScanResult> {
      const files = await auditFiles(path);
      let index = 0;
      let end: number | null = null;
      if (position !== null) {
        const [ino, offset] = position.split(':').map(Number);
        index = files.findIndex((f) => f.ino === ino);
        // The file of the previous page is gone (removed for age or count): nothing older is left.
        if (index === -1) return { position: null, scanned: 0 };
        end = offset ?? 0;
      }
      let scanned = 0;
      let last = position;
      for (; index < files.length; index++) {
        const file = files[index];
        if (!file) break;
        for await (const l of linesBackward(file.path, end)) {
          if (l.bytes.length === 0) continue;
          if (scanned >= budget) return { position: last, scanned };
          scanned++;
          last = `${file.ino}:${l.start}`;
          if (
            q.from !== undefined &&
            lineTime(l.bytes.toString('latin1', 0, 64), Infinity) < q.from - CLOCK_SLACK_MS
          )
            return { position: null, scanned };
          if (!visit(l.bytes)) return { position: last, scanned };
        }
        end = null;
      }
      return { position: null, scanned };
    },
  };
}
