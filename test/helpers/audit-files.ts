// An audit trail's files as tests read and tamper with them: in rotation order, copied, line by line.
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDir } from './tmp.js';

/** The files of a rotated trail in `dir`, oldest first: audit.jsonl.N … audit.jsonl.1, audit.jsonl. */
export function trailFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0))
    .map((f) => join(dir, f));
}

/** Lines in all of `files`. */
export const lineCount = (files: string[]): number =>
  files.reduce((n, f) => n + readFileSync(f, 'utf8').trim().split('\n').length, 0);

/** A copy of `dir` for this test (removed after it), with `files` (all in `dir`) named in the copy, in order. */
export function copyTrail(dir: string, files: string[]): string[] {
  const to = testDir('warden-trail-copy-');
  cpSync(dir, to, { recursive: true });
  return files.map((f) => join(to, f.slice(dir.length + 1)));
}

/** A file's lines, without their newlines. */
export const lines = (f: string): string[] => readFileSync(f, 'utf8').split('\n').slice(0, -1);

/** Write lines, each ending in a newline. */
export const writeLines = (f: string, ls: string[]): void =>
  writeFileSync(f, ls.map((l) => `${l}\n`).join(''));
