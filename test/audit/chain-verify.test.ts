import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditChain } from '../../src/audit/chain.js';
import {
  auditVerify,
  copyTrail,
  lineCount,
  lines,
  sendTrailRequest,
  startTrailWarden,
  trailFiles,
  TRAIL_POLICY,
  writeLines,
} from '../helpers/audit-files.js';
import { makeDir, removeDir, testDir } from '../helpers/tmp.js';

/** `warden audit verify ARGS…` in process, no standard input. */
const verify = (...args: string[]) => auditVerify(args);

/** A real trail: 300 decisions and a reload through a warden whose file sink rotates every 16 KiB, then SIGTERM's close. */
let trail = '';
let files: string[] = [];
let total = 0;

beforeAll(async () => {
  trail = makeDir('warden-verify-trail-');
  const w = await startTrailWarden(join(trail, 'audit.jsonl'));
  for (let i = 0; i < 300; i++) {
    await sendTrailRequest(w, i);
    if (i === 150) {
      w.writePolicy({
        ...TRAIL_POLICY,
        rules: [...TRAIL_POLICY.rules, { match: { path: '/x/**' }, deny: true }],
      });
      await w.reload();
    }
  }
  await w.close();
  files = trailFiles(trail);
  total = lineCount(files);
}, 60_000);
afterAll(() => removeDir(trail));

/** A copy of the trail to tamper with; `files` renamed into it. */
const copy = () => copyTrail(trail, files);
const write = writeLines;

describe('warden audit verify', () => {
  it('passes a real trail rotated into many files, given in any order', async () => {
    expect(files.length).toBeGreaterThan(5);
    expect(total).toBeGreaterThan(300);
    const inOrder = await verify(...files);
    expect(inOrder).toEqual({
      code: 0,
      stdout: `${total} lines, 0 checkpoints, 1 replica: intact\n`,
      stderr: '',
    });
    // Newest first, and the oldest half after the newest half.
    const half = Math.floor(files.length / 2);
    expect(await verify(...[...files].reverse())).toEqual(inOrder);
    expect(await verify(...files.slice(half), ...files.slice(0, half))).toEqual(inOrder);
  });

  it('names the file:line of an edited field', async () => {
    const f = copy();
    const ls = lines(f[2]!);
    ls[4] = ls[4]!.replace('"schema":1', '"schema":2');
    write(f[2]!, ls);
    const r = await verify(...f);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${f[2]}:5: edited: replica edge-1, seq \\d+`));
    expect(r.stdout).toMatch(/: broken\n$/);
  });

  it('names a removed line, swapped lines and a repeated line', async () => {
    let f = copy();
    let ls = lines(f[1]!);
    write(f[1]!, [...ls.slice(0, 6), ...ls.slice(7)]);
    expect((await verify(...f)).stdout).toContain(`${f[1]}:7: missing: replica edge-1, seq`);

    f = copy();
    ls = lines(f[3]!);
    write(f[3]!, [...ls.slice(0, 2), ls[3]!, ls[2]!, ...ls.slice(4)]);
    const swapped = await verify(...f);
    expect(swapped.code).toBe(1);
    expect(swapped.stdout).toContain(`${f[3]}:3: reordered: replica edge-1`);
    expect(swapped.stdout).toContain(`comes later, at ${f[3]}:4`);

    f = copy();
    ls = lines(f[3]!);
    write(f[3]!, [...ls.slice(0, 4), ls[3]!, ...ls.slice(4)]);
    expect((await verify(...f)).stdout).toContain(`${f[3]}:5: duplicate: replica edge-1`);
  });

  it('names the first line after a file removed from the middle of the set', async () => {
    const f = copy();
    rmSync(f[2]!);
    const r = await verify(...f.filter((_, i) => i !== 2));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${f[3]}:1: missing: replica edge-1`);
  });

  it('reports a truncated line, a line that is not JSON and a 17 MiB line, and never says intact', async () => {
    const f = copy();
    const last = f.at(-1)!;
    const text = readFileSync(last, 'utf8');
    writeFileSync(last, text.slice(0, -40));
    let r = await verify(...f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${last}:${lines(last).length + 1}: malformed: not JSON`);

    const ls = lines(f[0]!);
    write(f[0]!, [...ls.slice(0, 2), 'hello', ...ls.slice(2)]);
    writeFileSync(f[1]!, `${'x'.repeat(17 * 1024 * 1024)}\n${readFileSync(f[1]!, 'utf8')}`);
    r = await verify(...f);
    expect(r.stdout).toContain(`${f[0]}:3: malformed: not JSON`);
    expect(r.stdout).toContain(`${f[1]}:1: malformed: longer than 16 MiB`);
    expect(r.stdout).not.toContain('intact');
  });

  it('reads replicas interleaved in one file, several files, and gzip; takes a set that starts past seq 1 as given', async () => {
    const dir = testDir('warden-verify-replicas-');
    const [a, b, c] = [new AuditChain('a'), new AuditChain('b'), new AuditChain('c')];
    const one: string[] = [];
    for (let i = 0; i < 30; i++) one.push(a.seal(`{"n":${i}`), b.seal(`{"n":${i},"ü":"€"`));
    writeFileSync(join(dir, 'ab.jsonl'), one.join(''));
    const cLines = Array.from({ length: 20 }, (_, i) => c.seal(`{"n":${i}`));
    writeFileSync(join(dir, 'c2.jsonl.gz'), gzipSync(cLines.slice(10).join('')));
    writeFileSync(join(dir, 'c1.jsonl'), cLines.slice(0, 10).join(''));
    const r = await verify(join(dir, 'c2.jsonl.gz'), join(dir, 'ab.jsonl'), join(dir, 'c1.jsonl'));
    expect(r).toEqual({ code: 0, stdout: '80 lines, 0 checkpoints, 3 replicas: intact\n', stderr: '' });
    const tail = await verify(join(dir, 'c2.jsonl.gz'));
    expect(tail.stdout).toBe(
      'note: c: starts at seq 11; the lines before are not among the files given\n10 lines, 0 checkpoints, 1 replica: intact\n',
    );
    const json = await verify('--json', join(dir, 'ab.jsonl'));
    expect(JSON.parse(json.stdout)).toMatchObject({
      intact: true,
      lines: 60,
      replicas: [
        { replica: 'a', lines: 30, firstSeq: 1, lastSeq: 30 },
        { replica: 'b', lines: 30, firstSeq: 1, lastSeq: 30 },
      ],
      breaks: [],
    });
  });

  it('exits 2 without a file, for a file that does not exist, and for an unknown option', async () => {
    expect(await verify()).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('name at least one audit file'),
    });
    expect(await verify('/nonexistent/audit.jsonl')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('cannot read /nonexistent/audit.jsonl (ENOENT)'),
    });
    await expect(verify('--jwsk', 'x')).rejects.toThrow(/Unknown option '--jwsk'/);
  });
});
