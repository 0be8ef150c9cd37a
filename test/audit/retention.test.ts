// The audit file's daily rotation, gzip of rotated files, and retention judged by each file's newest line, audited.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditChain } from '../../src/audit/chain.js';
import { FakeClock } from '../helpers/clock.js';
import { send } from '../helpers/http.js';
import { within } from '../helpers/redis.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 23, 12);

/** Lines of an earlier run, every one at `time`. */
function oldFile(path: string, chain: AuditChain, time: number, n: number): void {
  const iso = new Date(time).toISOString();
  let text = '';
  for (let i = 0; i < n; i++)
    text += chain.seal(`{"level":"info","time":"${iso}","schema":1,"event":"decision"`);
  writeFileSync(path, text);
}

const records = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let w: TestWarden | null = null;
afterEach(async () => {
  await w?.close();
  w = null;
});

describe('WARDEN_AUDIT_RETENTION, WARDEN_AUDIT_FILE_ROTATE=daily, WARDEN_AUDIT_FILE_COMPRESS=gzip', () => {
  it('removes an expired file at start and at a rotation, audits each removal, keeps younger ones, gzips the rest', async () => {
    const dir = testDir('warden-retention-');
    const file = join(dir, 'audit.jsonl');
    const earlier = new AuditChain('edge-0');
    oldFile(`${file}.2`, earlier, T0 - 100 * DAY, 5);
    const lastOfExpired = earlier.head;
    oldFile(`${file}.1`, earlier, T0 - 10 * DAY, 5);
    const lastOfYounger = earlier.head;
    const clock = new FakeClock(T0);
    w = await startWarden({
      policy: { rules: [{ match: { path: '/**' }, public: true }] },
      clock,
      env: {
        WARDEN_AUDIT_SINKS: 'file',
        WARDEN_AUDIT_FILE: file,
        WARDEN_AUDIT_FILE_ROTATE: 'daily',
        WARDEN_AUDIT_FILE_COMPRESS: 'gzip',
        WARDEN_AUDIT_RETENTION: '90d',
        // The count alone would remove .1 too: retention wins, a file younger than it is kept.
        WARDEN_AUDIT_FILE_KEEP: '0',
      },
    });
    const removals = () => {
      const texts = [existsSync(file) ? readFileSync(file, 'utf8') : ''];
      for (const n of [1, 2, 3])
        if (existsSync(`${file}.${n}.gz`)) texts.push(gunzipSync(readFileSync(`${file}.${n}.gz`)).toString());
      return texts.flatMap(records).filter((r) => r.event === 'audit_file_removed');
    };
    // At start: the 100-day-old file goes, the 10-day-old one stays and is compressed.
    await within(3000, () => removals().length === 1 && existsSync(`${file}.1.gz`));
    expect(existsSync(`${file}.2`)).toBe(false);
    expect(existsSync(`${file}.1`)).toBe(false);
    expect(removals()[0]).toMatchObject({
      event: 'audit_file_removed',
      file: `${file}.2`,
      cause: 'retention',
      lastSeq: lastOfExpired.seq,
      lastHash: lastOfExpired.hash,
      newest: new Date(T0 - 100 * DAY).toISOString(),
    });
    const ask = () => send(`${w!.url}/verify/traefik`, { headers: traefikHeaders('/x', '203.0.113.5') });
    expect((await ask()).status).toBe(200);
    // Written (lines wait up to 10 ms in the writer) before the day changes.
    await within(1000, () => readFileSync(file, 'utf8').includes('"event":"decision"'));

    // The next day's first line goes to a new file; the day before is rotated and compressed.
    clock.advance(DAY);
    await ask();
    await within(3000, () => existsSync(`${file}.1.gz`) && existsSync(`${file}.2.gz`));
    expect(records(readFileSync(file, 'utf8')).map((r) => r.event)).toEqual(['decision']);
    expect(records(gunzipSync(readFileSync(`${file}.1.gz`)).toString()).map((r) => r.event)).toEqual([
      'audit_file_removed',
      'decision',
    ]);

    // 82 days after start, the file of 10 days before start is past 90 days: removed at the rotation.
    clock.advance(81 * DAY);
    await ask();
    await within(3000, () => removals().length === 2);
    expect(removals().find((r) => r.file !== `${file}.2`)).toMatchObject({
      file: `${file}.3.gz`,
      cause: 'retention',
      lastSeq: lastOfYounger.seq,
      lastHash: lastOfYounger.hash,
    });
    expect(existsSync(`${file}.3.gz`)).toBe(false);
    expect(existsSync(`${file}.2.gz`)).toBe(true);
    expect(existsSync(`${file}.1.gz`)).toBe(true);
  });
});
