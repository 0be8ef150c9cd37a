// `warden audit verify FILE…`: prove a set of audit files complete and unmodified, or name the first broken line.
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { STDIN, verifyAuditFiles, type ChainBreak, type VerifyReport } from '../audit/chain-verify.js';
import { verifyKeys, VerifyKeyError } from './audit-verify-keys.js';
import type { Out } from './cli-io.js';
import { helpFor } from './usage.js';

/** `1843220` → `1 843 220`, as the summary line writes counts. */
const count = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');

const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

function breakLine(b: ChainBreak): string {
  return b.kind === 'malformed'
    ? `${b.file}:${b.line}: malformed: ${b.detail}`
    : `${b.file}:${b.line}: ${b.kind.replace('_', ' ')}: replica ${b.replica}, ${b.detail}`;
}

/** The report as people read it: breaks, notes, then one summary line. */
export function formatReport(r: VerifyReport): string {
  const summary = `${plural(r.lines, 'line')}, ${plural(r.checkpoints, 'checkpoint')}, ${plural(r.replicas.length, 'replica')}: ${r.breaks.length === 0 ? 'intact' : 'broken'}`;
  return [...r.breaks.map(breakLine), ...r.notes.map((n) => `note: ${n}`), summary].join('\n') + '\n';
}

/** Standard input as the command sees it: a terminal is never read. */
export type StdinLike = Readable & { isTTY?: boolean };

/** Every FILE exists and is a file; else the usage message (exit 2). */
function unreadable(files: string[]): string | null {
  for (const file of files) {
    if (file === STDIN) continue;
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) return `cannot read ${file} (ENOENT)`;
    if (!stat.isFile()) return `${file} is not a file`;
  }
  return null;
}

/** Exit 0 when intact, 1 naming each replica's first break, 2 for a usage error or a file or key that cannot be read. */
export async function auditVerifyCommand(
  args: string[],
  io: Out,
  stdin: StdinLike = process.stdin,
  fetchFn: typeof fetch = fetch,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      jwks: { type: 'string' },
      key: { type: 'string', multiple: true },
    },
    allowPositionals: true,
    strict: true,
  });
  const fail = (message: string) => {
    io.err(`warden: audit verify: ${message}\n`);
    return 2;
  };
  const piped = positionals.length === 0 && stdin.isTTY !== true;
  const files = piped ? [STDIN] : positionals;
  if (files.length === 0)
    return fail(`name at least one audit file\n${helpFor(['audit', 'verify']).trimEnd()}`);
  if (files.includes(STDIN) && files.length > 1)
    return fail('"-" (standard input) is read alone, without files');
  const problem = unreadable(files);
  if (problem) return fail(problem);
  let report: VerifyReport;
  try {
    const keys = await verifyKeys(values.jwks, values.key ?? [], fetchFn);
    report = await verifyAuditFiles(files, { keys, stdin });
  } catch (e) {
    // A key that cannot be used, a file that vanished or a gzip that is not one: nothing can be said of the set.
    return fail(e instanceof VerifyKeyError ? e.message : (e as Error).message);
  }
  if (piped && report.lines === 0 && report.breaks.length === 0)
    return fail(
      `no audit lines on standard input; name at least one audit file\n${helpFor(['audit', 'verify']).trimEnd()}`,
    );
  io.out(
    values.json
      ? JSON.stringify({ intact: report.breaks.length === 0, ...report }) + '\n'
      : formatReport(report),
  );
  return report.breaks.length === 0 ? 0 : 1;
}
