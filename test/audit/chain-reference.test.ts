// docs/audit.md's reference verifier (Python), run as written on a real trail: an independent implementation of the chain.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditLog, type DecisionEvent } from '../../src/audit/audit-log.js';
import { AuditChain } from '../../src/audit/chain.js';
import { fileSink } from '../../src/audit/file-sink.js';
import { systemClock } from '../../src/util/clock.js';
import { findBinary } from '../e2e/harness/process.js';
import { testDir } from '../helpers/tmp.js';

const DOC = readFileSync(join(import.meta.dirname, '../../docs/audit.md'), 'utf8');
/** The first ```python block after "### Check it yourself". */
const script = /### Check it yourself[\s\S]*?```python\n([\s\S]*?)```/.exec(DOC)?.[1] ?? '';

const python = findBinary('python3');
// python3 is not among the packages .ci/run installs: an extra check where it exists.
if (!python) console.warn('SKIPPED audit chain reference verifier (docs/audit.md): python3 is not installed');

const decision = (i: number): DecisionEvent => ({
  reqId: `r${i}`,
  decision: i % 4 === 0 ? 'forbidden' : 'allow',
  reason: i % 4 === 0 ? 'insufficient_permissions' : 'permitted',
  status: i % 4 === 0 ? 403 : 200,
  dialect: 'traefik',
  method: 'GET',
  host: 'api.example.com',
  path: i % 5 === 0 ? `/ü/€/😀/${i}` : `/api/${i}`,
  clientIp: '203.0.113.7',
  peer: '127.0.0.1',
  sub: i % 3 === 0 ? 'José "quoted"' : 'agent-1',
  authMethod: 'api_key',
  keyId: 'agent-1',
  rule: 1,
  durationMs: 0.41,
});

/** Two replicas' trails in two files, as warden writes them (decisions, admin events). */
async function trail(dir: string): Promise<string[]> {
  const files = [join(dir, 'a.jsonl'), join(dir, 'b.jsonl')];
  for (const [k, file] of files.entries()) {
    const log = createAuditLog(
      [fileSink(file, { maxBytes: 1024 ** 2, keep: 1, clock: systemClock }, () => {})],
      systemClock,
      {
        chain: new AuditChain(`edge-${k}`),
      },
    );
    for (let i = 0; i < 120; i++) {
      log.decision(decision(i));
      if (i % 25 === 0) log.admin({ event: 'revocation_added', id: `k${i}`, reason: 'ünïcode\n"x"' });
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await log.flush();
    log.close();
  }
  return files;
}

describe('the reference verifier of docs/audit.md', () => {
  it('is in the docs', () => expect(script).toMatch(/hashlib\.sha256/));

  it.skipIf(!python)('passes a real trail and names the line of an edit', async () => {
    const dir = testDir('warden-chain-ref-');
    const checker = join(dir, 'chain-check.py');
    writeFileSync(checker, script);
    const files = await trail(dir);
    const ok = execFileSync(python!, [checker, ...files], { encoding: 'utf8' });
    expect(ok.trim()).toBe('intact: 2 replicas');

    const lines = readFileSync(files[1]!, 'utf8').split('\n');
    lines[6] = lines[6]!.replace('"status":200', '"status":201');
    writeFileSync(files[1]!, lines.join('\n'));
    const bad = spawnSync(python!, [checker, ...files], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`${files[1]}:7: broken`);
    expect(bad.stdout.trim().split('\n').at(-1)).toBe('broken');
  });
});
