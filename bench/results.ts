// What a run leaves behind: bench/results/<date-time>.json always, and, with --record, this
// layout's summary in bench/README.md (only the text between its marker comments).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Layout } from './options.js';
import { configTable, ratioTable, type Report } from './report.js';

const MARKERS: Record<Layout, [string, string]> = {
  split: ['<!-- bench:results:start -->', '<!-- bench:results:end -->'],
  shared: ['<!-- bench:results-shared:start -->', '<!-- bench:results-shared:end -->'],
};

const TITLES: Record<Layout, string> = {
  split: 'proxy and auth service on separate cores (the default layout)',
  shared: 'everything on shared cores (BENCH_LAYOUT=shared)',
};

/** Format with the tree's Prettier settings, so that `prettier --check` passes; as is without Prettier. */
async function prettified(text: string, file: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const config = await prettier.resolveConfig(file);
    return await prettier.format(text, { ...config, filepath: file });
  } catch (e) {
    process.stdout.write(`(${relative(process.cwd(), file)} not formatted: ${(e as Error).message})\n`);
    return text;
  }
}

/** 2026-12-02T11:50:25Z → 20261202T115025Z (ISO 8601 basic format: no colons in file names). */
export const fileStamp = (isoDate: string): string => isoDate.replace(/[-:]/g, '');

/** Write the results file; returns its path. */
export async function writeResults(dir: string, isoDate: string, results: unknown): Promise<string> {
  mkdirSync(dir, { recursive: true });
  let file = join(dir, `${fileStamp(isoDate)}.json`);
  for (let i = 2; existsSync(file); i++) file = join(dir, `${fileStamp(isoDate)}-${i}.json`);
  writeFileSync(file, await prettified(`${JSON.stringify(results, null, 2)}\n`, file));
  return file;
}

/** The summary recorded in bench/README.md for a layout. */
export function summaryBlock(
  layout: Layout,
  machineLines: string,
  resultsLink: string,
  report: Report,
  firstVerify: string,
): string {
  return [
    `## Results: ${TITLES[layout]}, last recorded run`,
    '',
    machineLines,
    `- every round, and the run's settings: [${resultsLink}](${resultsLink})`,
    '',
    configTable(report, false),
    '',
    ratioTable(report),
    ...(firstVerify ? ['', firstVerify] : []),
  ].join('\n');
}

/** Replace the text between this layout's markers in the README (appended when the markers are missing). */
export function recordInReadme(readme: string, layout: Layout, block: string): Promise<void> {
  return replaceMarked(readme, MARKERS[layout], block);
}

/** Replace the text between two marker comments of the README (appended with them when missing). */
async function replaceMarked(readme: string, [start, end]: readonly [string, string], block: string) {
  const old = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
  const s = old.indexOf(start);
  const e = old.indexOf(end);
  const replaced =
    s !== -1 && e > s
      ? `${old.slice(0, s + start.length)}\n\n${block}\n\n${old.slice(e)}`
      : `${old.trimEnd()}\n\n${start}\n\n${block}\n\n${end}\n`;
  writeFileSync(readme, await prettified(replaced, readme));
}

const SCALE_MARKERS: readonly [string, string] = ['<!-- bench:scale:start -->', '<!-- bench:scale:end -->'];

/** Replace the scale table between its markers in the README. */
export function recordScale(readme: string, block: string): Promise<void> {
  return replaceMarked(readme, SCALE_MARKERS, block);
}

const AUDIT_SEARCH_MARKERS: readonly [string, string] = [
  '<!-- bench:audit-search:start -->',
  '<!-- bench:audit-search:end -->',
];

/** Replace the audit search table between its markers in the README. */
export function recordAuditSearch(readme: string, block: string): Promise<void> {
  return replaceMarked(readme, AUDIT_SEARCH_MARKERS, block);
}
