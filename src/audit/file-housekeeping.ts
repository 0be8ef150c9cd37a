// Rotated audit files: their names, their newest line, compression, and removal for age or count (audited).
import {
  createReadStream,
  createWriteStream,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

/** A rotated file: `<base>.N` or `<base>.N.gz`. */
export interface RotatedFile {
  path: string;
  index: number;
  gz: boolean;
}

/** What the audit event `audit_file_removed` says of a removed file. */
export interface RemovedFile {
  file: string;
  cause: 'retention' | 'count';
  /** The `seq` and `hash` of its last line (`hash` is the line's own member: named `lastHash` here), and the `time` of its newest line. */
  lastSeq: number | null;
  lastHash: string | null;
  newest: string | null;
}

/** The rotated files of `path`, oldest (highest index) first. */
export function rotatedFiles(path: string): RotatedFile[] {
  const dir = dirname(path);
  const base = basename(path);
  const out: RotatedFile[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    if (m) out.push({ path: join(dir, name), index: Number(m[1]), gz: m[2] !== undefined });
  }
  return out.sort((a, b) => b.index - a.index);
}

/** Rename `.N` → `.N+1` (and `.N.gz`), oldest first, then `path` → `.1`. */
export function shiftRotated(path: string): void {
  for (const f of rotatedFiles(path)) renameSync(f.path, `${path}.${f.index + 1}${f.gz ? '.gz' : ''}`);
  renameSync(path, `${path}.1`);
}

/** The last bytes of a file (gunzipped through, keeping only the end, for `.gz`). */
async function tailBytes(file: string, gz: boolean, size = 64 * 1024): Promise<Buffer> {
  if (gz) {
    let tail = Buffer.alloc(0);
    for await (const chunk of createReadStream(file).pipe(createGunzip()) as AsyncIterable<Buffer>) {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > 2 * size) tail = tail.subarray(tail.length - size);
    }
    return tail;
  }
  const fh = await open(file, 'r');
  try {
    const { size: total } = await fh.stat();
    const len = Math.min(size, total);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, total - len);
    return buf;
  } finally {
    await fh.close();
  }
}

/** The last line's `seq` and `hash`, and the newest `time` among the file's last lines. */
export async function newestLine(
  file: string,
  gz = file.endsWith('.gz'),
): Promise<Omit<RemovedFile, 'file' | 'cause'>> {
  const out: Omit<RemovedFile, 'file' | 'cause'> = { lastSeq: null, lastHash: null, newest: null };
  const lines = (await tailBytes(file, gz)).toString('utf8').split('\n').reverse();
  for (const line of lines) {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (out.lastSeq === null && typeof v.seq === 'number' && typeof v.hash === 'string') {
      out.lastSeq = v.seq;
      out.lastHash = v.hash;
    }
    if (typeof v.time === 'string') {
      out.newest = v.time;
      break;
    }
  }
  return out;
}

/** The newest line's time of a rotated `.gz` file: its mtime, set to that time when it was compressed. */
export function gzNewest(path: string): string | null {
  try {
    return new Date(statSync(path).mtimeMs).toISOString();
  } catch {
    return null;
  }
}

/**
 * Compress `f` to `<f>.gz` through a temporary file; `stillThere` is asked before the rename. The
 * `.gz` file's mtime is set to `newest` (its newest line's time), so retention never reads it through.
 */
export async function gzipRotated(
  f: RotatedFile,
  stillThere: () => boolean,
  newest: string | null,
): Promise<boolean> {
  const tmp = `${f.path}.gz.tmp`;
  try {
    await pipeline(createReadStream(f.path), createGzip(), createWriteStream(tmp, { mode: 0o640 }));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (!stillThere()) {
    rmSync(tmp, { force: true });
    return false;
  }
  if (newest !== null) utimesSync(tmp, new Date(newest), new Date(newest));
  renameSync(tmp, `${f.path}.gz`);
  rmSync(f.path, { force: true });
  return true;
}

/** Temporary files a compression cut short (a stop mid-way) left beside `path`. */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const base = basename(path);
  try {
    for (const name of readdirSync(dir))
      if (name.startsWith(`${base}.`) && name.endsWith('.gz.tmp')) rmSync(join(dir, name), { force: true });
  } catch {
    // the directory is gone: nothing to clean
  }
}
