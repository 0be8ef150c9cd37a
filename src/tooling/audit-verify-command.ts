// `warden audit verify FILE…`: prove a set of audit files complete and unmodified, or name the first broken line.
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyAuditFiles, type ChainBreak, type VerifyReport } from '../audit/chain-verify.js';
import type { Out } from './cli-io.js';
import { helpFor } from './usage.js';

/** `1843220` → `1 843 220`, as the summary line writes counts. */
const count = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');

const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

function breakLine(b: ChainBreak): string {
  return b.kind === 'malformed'
    ? `${b.file}:${b.line}: malformed: ${b.detail}`
    : `${b.file}:${b.line}: ${b.kind}: replica ${b.replica}, ${b.detail}`;
}

/** The report as people read it: breaks, notes, then one summary line. */
export function formatReport(r: VerifyReport): string {
  const summary = `${plural(r.lines, 'line')}, ${plural(r.checkpoints, 'checkpoint')}, ${plural(r.replicas.length, 'replica')}: ${r.breaks.length === 0 ? 'intact' : 'broken'}`;
  return [...r.breaks.map(breakLine), ...r.notes.map((n) => `note: ${n}`), summary].join('\n') + '\n';
}

/** Exit 0 when intact, 1 naming each replica's first break, 2 for a usage error or a file that cannot be read. */
export async function auditVerifyCommand(args: string[], io: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) {
    io.err(`warden: audit verify: name at least one audit file\n${helpFor(['audit', 'verify'])}`);
    return 2;
  }
  for (const file of positionals) {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) {
      io.err(`warden: audit verify: cannot read ${file} (ENOENT)\n`);
      return 2;
    }
    if (!stat.isFile()) {
      io.err(`warden: audit verify: ${file} is not a file\n`);
      return 2;
    }
  }
  let report: VerifyReport;
  try {
    report = await verifyAuditFiles(positionals);
  } catch (e) {
    // A file that vanished or a gzip that is not one: nothing can be said of the set.
    io.err(`warden: audit verify: ${(e as Error).message}\n`);
    return 2;
  }
  io.out(
    values.json
      ? JSON.stringify({ intact: report.breaks.length === 0, ...report }) + '\n'
      : formatReport(report),
  );
  return report.breaks.length === 0 ? 0 : 1;
}
