// The audit search over this replica's file sink: the current file and its rotated ones, newest first.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { fileSink } from '../../src/audit/file-sink.js';
import { exportAudit } from '../../src/audit/search-export.js';
import { fileSource } from '../../src/audit/search-file.js';
import { parseAuditQuery } from '../../src/audit/search-query.js';
import { createAuditSearch } from '../../src/audit/search.js';
import { writeTrail } from '../helpers/audit-trail.js';
import { FakeClock } from '../helpers/clock.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { searchContract, TRAIL_START, writeContractTrail } from './search-contract.js';

const dir = makeDir('warden-audit-search-');
const path = join(dir, 'audit.jsonl');
const start = TRAIL_START;
afterAll(() => removeDir(dir));

describe('audit search over the file sink', () => {
  searchContract('file', async () => {
    // Small files: the trail spans many rotated files, each read backwards in chunks.
    const trail = await writeContractTrail((clock) =>
      fileSink(path, { maxBytes: 16 * 1024, keep: 100, clock }, () => {}),
    );
    const rotated = readdirSync(dir).filter((f) => /^audit\.jsonl\.\d+$/.test(f));
    expect(rotated.length).toBeGreaterThan(5);
    return { ...trail, search: createAuditSearch({ file: fileSource(path) }) };
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

describe('lines longer than a read chunk, across a rotation', () => {
  const T0 = Date.parse('2026-12-03T02:00:00.000Z');
  /** Lines `first`… one a second, each with a 2 KB path: a page spans several 64 KiB chunks. */
  const lines = (n: number, first: number) =>
    Array.from({ length: n }, (_, i) => {
      const k = first + i;
      return JSON.stringify({
        time: new Date(T0 + k * 1000).toISOString(),
        event: 'decision',
        decision: k % 3 === 0 ? 'forbidden' : 'allow',
        status: k % 3 === 0 ? 403 : 200,
        path: `/n/${k}/${'x'.repeat(2000)}`,
        sub: `agent-${k % 2}`,
        clientIp: '203.0.113.5',
        rule: 1,
      });
    }).join('\n') + '\n';
  const numberOf = (r: Record<string, unknown>) => Number(String(r.path).split('/')[2]);

  it('pages newest first with no gap and no repeat; a time range stops the reading before it', async () => {
    const dir3 = makeDir('warden-audit-long-');
    try {
      const file = join(dir3, 'audit.jsonl');
      writeFileSync(`${file}.1`, lines(150, 0));
      writeFileSync(file, lines(150, 150));
      const search = createAuditSearch({ file: fileSource(file) });
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const page = await search.search({}, cursor, { limit: 50 });
        seen.push(...page.lines.map((l) => numberOf(l.record)));
        cursor = page.next;
        if (cursor === null) break;
      }
      expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => 299 - i));

      const filters: Record<string, string> = {
        identity: 'agent-0',
        decision: 'refused',
        from: '2026-12-03T02:04:00Z',
        path: '/n/',
      };
      const parsed = parseAuditQuery((name) => filters[name]);
      if (!('query' in parsed)) throw new Error(parsed.problem.message);
      const page = await search.search(parsed.query, null, { limit: 100 });
      expect(page.lines.map((l) => numberOf(l.record))).toEqual([
        294, 288, 282, 276, 270, 264, 258, 252, 246, 240,
      ]);
      // Lines more than a minute older than `from` end the scan: the rotated file is never read.
      expect(page.next).toBeNull();
      expect(page.scanned).toBeLessThan(150);
    } finally {
      removeDir(dir3);
    }
  });
});
