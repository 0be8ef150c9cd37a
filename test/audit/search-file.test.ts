// The audit search over this replica's file sink: the current file and its rotated ones, newest first.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { AuditChain } from '../../src/audit/chain.js';
import { fileSink } from '../../src/audit/file-sink.js';
import { exportAudit } from '../../src/audit/search-export.js';
import { fileSource } from '../../src/audit/search-file.js';
import { createAuditSearch } from '../../src/audit/search.js';
import { memorySink, writeTrail } from '../helpers/audit-trail.js';
import { FakeClock } from '../helpers/clock.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { searchContract } from './search-contract.js';

const dir = makeDir('warden-audit-search-');
const path = join(dir, 'audit.jsonl');
const start = Date.parse('2026-12-03T00:00:00.000Z');
afterAll(() => removeDir(dir));

describe('audit search over the file sink', () => {
  let close = () => {};
  afterAll(() => close());

  searchContract('file', async () => {
    const clock = new FakeClock(start);
    const memory = memorySink(clock);
    // Small files: the trail spans many rotated files, each read backwards in chunks.
    const file = fileSink(path, { maxBytes: 16 * 1024, keep: 100, clock }, () => {});
    const audit = createAuditLog([file, memory.sink], clock, { chain: new AuditChain('edge-1') });
    close = () => audit.close();
    let n = 0;
    const more = async (k: number) => {
      await writeTrail(audit, clock, n, n + k);
      n += k;
    };
    await more(300);
    const rotated = readdirSync(dir).filter((f) => /^audit\.jsonl\.\d+$/.test(f));
    expect(rotated.length).toBeGreaterThan(5);
    return { search: createAuditSearch({ file: fileSource(path) }), written: memory.lines, more, start };
  });

  it('finds nothing, and says it is done, when the file does not exist', async () => {
    const search = createAuditSearch({ file: fileSource(join(dir, 'none', 'audit.jsonl')) });
    expect(await search.search({}, null, { limit: 10 })).toMatchObject({
      lines: [],
      next: null,
      source: 'file',
    });
  });
});

describe('export', () => {
  it('reads the next page only when the consumer asks for more (backpressure)', async () => {
    const dir2 = makeDir('warden-audit-export-');
    try {
      const clock = new FakeClock(start);
      const file = join(dir2, 'audit.jsonl');
      const audit = createAuditLog(
        [fileSink(file, { maxBytes: 1024 ** 2, keep: 1, clock }, () => {})],
        clock,
      );
      await writeTrail(audit, clock, 0, 2500);
      audit.close();
      const real = createAuditSearch({ file: fileSource(file) });
      let pages = 0;
      const counting = {
        primary: real.primary,
        search: (...args: Parameters<typeof real.search>) => {
          pages++;
          return real.search(...args);
        },
      };
      const chunks = exportAudit(counting, {}, 'jsonl');
      const first = await chunks.next();
      expect(first.value?.split('\n').length).toBe(1001);
      expect(pages).toBe(1);
      await chunks.return(undefined);
      expect(pages).toBe(1);
    } finally {
      removeDir(dir2);
    }
  });
});
