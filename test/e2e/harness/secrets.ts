// After an e2e suite: no line its warden wrote (audit or operational) holds a secret the suite used.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { AUDIT_SCHEMA } from '../../../src/audit/audit-log.js';
import { removeDir } from '../../helpers/tmp.js';
import type { TestWarden } from '../../helpers/warden.js';
import { SECRETS, type E2eWarden } from './fixture.js';

/** Keys and their hashes: what a suite's key entries make secret. */
export function keySecrets(...keys: { key: string; entry: Record<string, unknown> }[]): string[] {
  return keys.flatMap((k) => [k.key, String(k.entry.sha256)]);
}

/**
 * Every audit line (the captured stdout stream, and the audit file when there is one) and every
 * operational line is JSON and holds none of `secrets`; at least `minLines` audit lines were seen,
 * so that an empty stream cannot pass.
 */
export function expectNoSecrets(
  w: TestWarden & { auditFile?: string },
  secrets: readonly string[],
  minLines: number,
): void {
  const fromFile = w.auditFile ? readFileSync(w.auditFile, 'utf8').split('\n').filter(Boolean) : null;
  const audit = fromFile ?? w.audit.map((l) => JSON.stringify(l));
  expect(audit.length, 'audit lines written during the suite').toBeGreaterThanOrEqual(minLines);
  if (fromFile) expect(fromFile.length, 'the audit file holds what stdout got').toBe(w.audit.length);
  for (const line of [...audit, ...w.ops.map((l) => JSON.stringify(l))]) {
    expect(JSON.parse(line)).toBeTypeOf('object');
    for (const secret of secrets)
      expect(line.includes(secret), `a secret in: ${line.slice(0, 200)}`).toBe(false);
  }
  for (const line of audit) expect(JSON.parse(line).schema).toBe(AUDIT_SCHEMA);
}

/** {@link expectNoSecrets} for a warden of {@link startE2eWarden}: its audit file, the fixture's keys. */
export function expectNoE2eSecrets(w: E2eWarden): void {
  // The proxy suites make dozens of decisions and reload twice: a near-empty file means the scan saw nothing.
  expectNoSecrets(w, SECRETS, 40);
}

/**
 * Stop an e2e warden at the end of its suite: close it, scan what it wrote for the suite's secrets
 * (the scan reads the audit file after close), then remove its directory, the scan failing or not.
 */
export async function closeAndScan(w: E2eWarden | undefined): Promise<void> {
  if (!w) return;
  await w.close();
  try {
    expectNoE2eSecrets(w);
  } finally {
    removeDir(w.dir);
  }
}
