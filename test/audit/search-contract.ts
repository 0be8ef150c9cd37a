// The audit search's behaviour, the same over the Redis stream and over the rotated file: filters, pages, cursors, export.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { AuditChain } from '../../src/audit/chain.js';
import type { AuditSink } from '../../src/audit/sink.js';
import { exportAudit } from '../../src/audit/search-export.js';
import type { AuditQuery } from '../../src/audit/search-query.js';
import { CursorError, type AuditPage, type AuditSearch } from '../../src/audit/search.js';
import { FORMULA_IDENTITY, memorySink, ODD_PATH, writeTrail } from '../helpers/audit-trail.js';
import { FakeClock } from '../helpers/clock.js';

/** What a suite hands the contract: the search and the lines written, oldest first; `more` writes on. */
export interface Trail {
  search: AuditSearch;
  written: string[];
  /** Write `n` more decisions; the lines written so far grow. */
  more(n: number): Promise<void>;
  /** The first line's time (epoch ms); lines are a second apart. */
  start: number;
  /** End the audit log that wrote it (after the contract's tests). */
  close(): void;
}

/** When the contract's trail starts. */
export const TRAIL_START = Date.parse('2026-12-03T00:00:00.000Z');

/**
 * The contract's trail: 300 decisions (and their admin events) from {@link TRAIL_START}, written by
 * replica `edge-1` through the sink `open` makes on the trail's clock, and kept in memory to compare with.
 */
export async function writeContractTrail(
  open: (clock: FakeClock) => AuditSink,
): Promise<Omit<Trail, 'search'>> {
  const clock = new FakeClock(TRAIL_START);
  const memory = memorySink(clock);
  const audit = createAuditLog([open(clock), memory.sink], clock, { chain: new AuditChain('edge-1') });
  let n = 0;
  const more = async (k: number) => {
    await writeTrail(audit, clock, n, n + k);
    n += k;
  };
  await more(300);
  return { written: memory.lines, more, start: TRAIL_START, close: () => audit.close() };
}

type R = Record<string, unknown>;

/** The test's own reading of each filter, to compare the search against. */
function expected(written: readonly string[], q: AuditQuery): string[] {
  const inV4 = (ip: unknown, prefix: string) => typeof ip === 'string' && ip.startsWith(prefix);
  return written
    .filter((text) => {
      const r = JSON.parse(text) as R;
      const t = Date.parse(r.time as string);
      if (q.from !== undefined && t < q.from) return false;
      if (q.to !== undefined && t > q.to) return false;
      if (q.identity !== undefined && ![r.sub, r.keyId, r.by].includes(q.identity)) return false;
      const ip = r.event === 'decision' ? r.clientIp : (r.clientIp ?? r.peer);
      if (q.ip === '203.0.113.0/24' && !inV4(ip, '203.0.113.')) return false;
      if (q.ip !== undefined && !q.ip.includes('/') && ip !== q.ip) return false;
      if (q.decision && !q.decision.includes(r.decision as never)) return false;
      if (q.status !== undefined && r.status !== q.status) return false;
      if (q.path !== undefined && !(typeof r.path === 'string' && r.path.startsWith(q.path))) return false;
      if (q.rule !== undefined && (r.event !== 'decision' || r.rule !== q.rule)) return false;
      return true;
    })
    .reverse();
}

const texts = (p: AuditPage) => p.lines.map((l) => l.text);

/** Every page of a query, followed by cursor. */
async function allPages(
  search: AuditSearch,
  q: AuditQuery,
  limit: number,
  maxScan?: number,
): Promise<AuditPage[]> {
  const pages: AuditPage[] = [];
  let cursor: string | null = null;
  do {
    const page = await search.search(q, cursor, { limit, ...(maxScan ? { maxScan } : {}) });
    pages.push(page);
    cursor = page.next;
  } while (cursor !== null && pages.length < 10_000);
  return pages;
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

/** The contract, for a source of `kind`; `open` writes the trail (in a beforeAll). */
export function searchContract(kind: 'redis' | 'file', open: () => Promise<Trail>): void {
  let t: Trail;
  // Closed after the tests only when it was opened.
  let close = (): void => {};
  beforeAll(async () => {
    t = await open();
    close = () => t.close();
  });
  afterAll(() => close());

  describe(`filters (${kind})`, () => {
    const filters: [string, (t: Trail) => AuditQuery][] = [
      ['none', () => ({})],
      ['identity', () => ({ identity: 'agent-7' })],
      ['identity of an admin event', () => ({ identity: 'ops-1' })],
      ['client IP', () => ({ ip: '203.0.113.7' })],
      ['client IP v6', () => ({ ip: '2001:db8::1' })],
      ['CIDR', () => ({ ip: '203.0.113.0/24' })],
      ['decision', () => ({ decision: ['forbidden'] })],
      ['decisions', () => ({ decision: ['unauthenticated', 'limited'] })],
      ['status', () => ({ status: 403 })],
      ['path prefix', () => ({ path: '/api' })],
      ['rule', () => ({ rule: 1 })],
      ['default rule', () => ({ rule: null })],
      ['time range', (t) => ({ from: t.start + 40_000, to: t.start + 90_000 })],
      ['since', (t) => ({ from: t.start + 200_000 })],
      [
        'every 403 for agent-7 since a time',
        (t) => ({ identity: 'agent-7', status: 403, decision: ['forbidden'], from: t.start + 30_000 }),
      ],
    ];
    it.each(filters)('%s: exactly the matching lines, newest first', async (_name, make) => {
      const q = make(t);
      const want = expected(t.written, q);
      const page = await t.search.search(q, null, { limit: 1000 });
      expect(page.source).toBe(kind);
      expect(texts(page)).toEqual(want);
      expect(page.next).toBeNull();
      expect(page.partial).toBe(false);
      if (Object.keys(q).length > 0) expect(want.length).toBeLessThan(t.written.length);
    });

    it('keeps HTML and quotes as data', async () => {
      const page = await t.search.search({ path: '/x/<script>' }, null, { limit: 5 });
      expect(page.lines.length).toBe(5);
      for (const l of page.lines) {
        expect(l.record.path).toBe(ODD_PATH);
        expect(JSON.parse(l.text)).toEqual(l.record);
      }
    });
  });

  describe(`pages (${kind})`, () => {
    it('follow cursors through every matching line, none twice', async () => {
      const q: AuditQuery = { decision: ['forbidden', 'allow'] };
      const pages = await allPages(t.search, q, 7);
      expect(pages.length).toBeGreaterThan(3);
      for (const p of pages) expect(p.lines.length).toBeLessThanOrEqual(7);
      expect(pages.flatMap(texts)).toEqual(expected(t.written, q));
    });

    it('stop at the scan budget, say so, and go on from there', async () => {
      const first = await t.search.search({ identity: 'nobody' }, null, { limit: 10, maxScan: 50 });
      expect(first).toMatchObject({ lines: [], scanned: 50, partial: true });
      expect(first.next).not.toBeNull();
      const pages = await allPages(t.search, { identity: 'nobody' }, 10, 50);
      expect(pages.reduce((n, p) => n + p.scanned, 0)).toBe(t.written.length);
      expect(pages.at(-1)?.next).toBeNull();
    });

    it('stop at the time budget, say so, and lose no line from one page to the next', async () => {
      // A clock that moves 1 ms each time it is read: the search reads it at the start and every
      // 64 lines, so a 2 ms budget ends a page after 128 lines whatever the machine's speed.
      let ms = 0;
      const budget = { maxMs: 2, now: () => ms++ };
      const first = await t.search.search({ identity: 'nobody' }, null, { limit: 10, ...budget });
      expect(first).toMatchObject({ lines: [], scanned: 128, partial: true });
      const q: AuditQuery = { decision: ['forbidden', 'allow'] };
      const pages: AuditPage[] = [];
      let cursor: string | null = null;
      do {
        const page = await t.search.search(q, cursor, { limit: 1000, ...budget });
        pages.push(page);
        cursor = page.next;
      } while (cursor !== null && pages.length < 100);
      expect(pages.some((p) => p.partial)).toBe(true);
      expect(pages.flatMap(texts)).toEqual(expected(t.written, q));
    });

    it('refuse a cursor they did not give out', async () => {
      await expect(t.search.search({}, 'bm90LWEtY3Vyc29y', { limit: 5 })).rejects.toThrow(CursorError);
      const other = Buffer.from(kind === 'redis' ? 'f:1:2' : 'r:1-0').toString('base64url');
      await expect(t.search.search({}, other, { limit: 5 })).rejects.toThrow();
    });
  });

  describe(`export (${kind})`, () => {
    it('JSONL is exactly the filtered set, as stored', async () => {
      const q: AuditQuery = { status: 403 };
      const body = await collect(exportAudit(t.search, q, 'jsonl'));
      expect(body).toBe(expected(t.written, q).join('\n') + '\n');
    });

    it('CSV has the fixed columns, RFC 4180 quoting and no live formula', async () => {
      const q: AuditQuery = { identity: FORMULA_IDENTITY };
      const want = expected(t.written, q);
      expect(want.length).toBeGreaterThan(0);
      const rows = (await collect(exportAudit(t.search, q, 'csv'))).split('\r\n');
      expect(rows[0]).toBe(
        'time,decision,status,identity,client IP,method,host,path,rule,reason,replica,seq',
      );
      expect(rows.at(-1)).toBe('');
      expect(rows.length).toBe(want.length + 2);
      const r = JSON.parse(want[0]!) as R;
      expect(rows[1]).toContain(`,"'=HYPERLINK(""http://evil.example"",""x"")",`);
      expect(rows[1]!.startsWith(`${String(r.time)},${String(r.decision)},${String(r.status)},`)).toBe(true);
      expect(rows[1]!.endsWith(`,${String(r.replica)},${String(r.seq)}`)).toBe(true);
    });

    it('CSV quotes a path holding quotes and keeps the HTML as text', async () => {
      const rows = (await collect(exportAudit(t.search, { path: '/x/' }, 'csv'))).split('\r\n');
      expect(rows[1]).toContain(`,"/x/<script>alert(""1"")</script>",`);
    });
  });

  describe(`while lines are written (${kind})`, () => {
    it('a cursor goes on where it stopped, whatever is written in between', async () => {
      const q: AuditQuery = { identity: 'agent-7' };
      const before = expected(t.written, q);
      const first = await t.search.search(q, null, { limit: 10 });
      expect(texts(first)).toEqual(before.slice(0, 10));
      await t.more(120);
      let cursor = first.next;
      const after: string[] = [];
      while (cursor !== null) {
        const p = await t.search.search(q, cursor, { limit: 10 });
        after.push(...texts(p));
        cursor = p.next;
      }
      expect(after).toEqual(before.slice(10));
      const fresh = await t.search.search(q, null, { limit: 1000 });
      expect(texts(fresh)).toEqual(expected(t.written, q));
    });
  });
}
