// Audit search over the file sink: newest first across chunk boundaries and rotations, pages without gaps, filters, CSV.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditFileSearch } from '../../src/console/audit-file.js';
import { csvLine, parseAuditQuery, rowOf } from '../../src/console/audit-query.js';
import { testDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 11, 3, 2, 0, 0);

/** `n` decision lines, one a second from `start`, each with a long path so a page spans several 64 KiB chunks. */
function lines(n: number, start: number, first = 0): string {
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        level: 'info',
        time: new Date(start + i * 1000).toISOString(),
        event: 'decision',
        decision: (first + i) % 3 === 0 ? 'forbidden' : 'allow',
        status: (first + i) % 3 === 0 ? 403 : 200,
        path: `/n/${first + i}/${'x'.repeat(2000)}`,
        sub: `agent-${(first + i) % 2}`,
        clientIp: '203.0.113.5',
        rule: 1,
      }),
    ).join('\n') + '\n'
  );
}

const numberOf = (path: string | null) => Number(path!.split('/')[2]);

describe('AuditFileSearch', () => {
  it('pages newest first through the file and its rotation, with no gap and no repeat', () => {
    const dir = testDir('warden-audit-search-');
    const file = join(dir, 'audit.jsonl');
    writeFileSync(`${file}.1`, lines(150, T0, 0));
    // An admin event in between is not a decision: never shown.
    writeFileSync(
      file,
      lines(150, T0 + 150_000, 150) + '{"event":"revocation_added","time":"2026-12-03T03:00:00Z"}\n',
    );
    const search = new AuditFileSearch(file, 5);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = search.page({}, cursor, 50);
      seen.push(...page.rows.map((r) => numberOf(r.path)));
      cursor = page.next;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => 299 - i));
    expect(() => search.page({}, 'not-a-cursor', 50)).toThrow(RangeError);
  });

  it('filters by identity, decision, path prefix and time range, and stops reading before the range', () => {
    const dir = testDir('warden-audit-search-');
    const file = join(dir, 'audit.jsonl');
    writeFileSync(file, lines(60, T0));
    const search = new AuditFileSearch(file, 0);
    const q = parseAuditQuery({
      identity: 'agent-0',
      decision: 'refused',
      from: '2026-12-03T02:00:30',
      path: '/n/',
    });
    if (!('query' in q)) throw new Error(q.message);
    const got = [...search.all(q.query)].map((r) => numberOf(r.path));
    expect(got).toEqual([54, 48, 42, 36, 30]);
    expect(search.page(q.query, null, 2).rows.map((r) => numberOf(r.path))).toEqual([54, 48]);
  });

  it('refuses malformed filters naming the field', () => {
    expect(parseAuditQuery({ from: 'yesterday' })).toMatchObject({ field: 'from' });
    expect(parseAuditQuery({ status: '99' })).toMatchObject({ field: 'status' });
    expect(parseAuditQuery({ identity: 'a'.repeat(257) })).toMatchObject({ field: 'identity' });
    expect(parseAuditQuery({ decision: 'maybe' })).toMatchObject({ field: 'decision' });
  });

  it('writes CSV a spreadsheet cannot run', () => {
    const row = rowOf({
      event: 'decision',
      time: '2026-12-03T02:00:00.000Z',
      decision: 'forbidden',
      path: '/a,"b"',
      sub: '=HYPERLINK("x")',
    })!;
    expect(csvLine(row)).toBe(
      '2026-12-03T02:00:00.000Z,forbidden,,,,"/a,""b""",,"\'=HYPERLINK(""x"")",,,,,,\r\n',
    );
  });
});
