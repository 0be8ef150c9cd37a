import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineWriter } from '../../src/audit/line-writer.js';
import { RotatingFile } from '../../src/audit/file-sink.js';
import { systemClock } from '../../src/util/clock.js';
import { testDir } from '../helpers/tmp.js';

function file() {
  const path = join(testDir('warden-lines-'), 'audit.jsonl');
  return { path, fd: openSync(path, 'w') };
}

describe('LineWriter', () => {
  it('writes every line, in order, and flush waits for them', async () => {
    const { path, fd } = file();
    const w = new LineWriter(fd);
    for (let i = 0; i < 5000; i++) w.write(`{"n":${i},"s":"${'é'.repeat(i % 7)}"}\n`);
    await new Promise<void>((r) => w.flush(r));
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5000);
    expect(lines.map((l) => JSON.parse(l).n)).toEqual([...Array(5000).keys()]);
    closeSync(fd);
  });

  it('drops and counts lines once the waiting buffer is over its bound', async () => {
    const { path, fd } = file();
    const w = new LineWriter(fd, 100);
    const accepted = [w.write('a'.repeat(60) + '\n'), w.write('b'.repeat(60) + '\n'), w.write('c\n')];
    expect(accepted).toEqual([true, true, false]);
    expect(w.dropped).toBe(1);
    await new Promise<void>((r) => w.flush(r));
    expect(readFileSync(path, 'utf8')).toBe('a'.repeat(60) + '\n' + 'b'.repeat(60) + '\n');
    closeSync(fd);
  });

  it('flushes immediately when nothing is pending', async () => {
    const { fd } = file();
    await new Promise<void>((r) => new LineWriter(fd).flush(r));
    closeSync(fd);
  });
});

describe('RotatingFile', () => {
  it('splits a burst of lines across rotations so no file passes its limit, losing none within the files kept', async () => {
    const path = join(testDir('warden-rotate-'), 'audit.jsonl');
    writeFileSync(path, 'x'.repeat(900) + '\n');
    const f = new RotatingFile(path, { maxBytes: 1024, keep: 20, clock: systemClock });
    // 100 lines of ~95 bytes in one turn: one pending batch, written across ~10 files.
    for (let i = 0; i < 100; i++) f.write(`{"n":${i},"pad":"${'p'.repeat(80)}"}\n`);
    await new Promise<void>((r) => f.flush(r));
    await f.settled();
    f.close();
    const files = [path, ...Array.from({ length: 20 }, (_, i) => `${path}.${i + 1}`)].filter(existsSync);
    for (const file of files) expect(statSync(file).size, file).toBeLessThanOrEqual(1024);
    const lines = files.reverse().flatMap((file) => readFileSync(file, 'utf8').trim().split('\n'));
    // The 900 bytes already there were rotated away first (the next line did not fit), then every line in order.
    expect(lines[0]).toBe('x'.repeat(900));
    expect(lines.slice(1).map((l) => JSON.parse(l).n)).toEqual([...Array(100).keys()]);
    expect(f.rotations).toBe(files.length - 1);
  });

  it('deletes instead of keeping with keep = 0, and writes a line longer than the limit alone', async () => {
    const path = join(testDir('warden-rotate-'), 'audit.jsonl');
    const f = new RotatingFile(path, { maxBytes: 1024, keep: 0, clock: systemClock });
    f.write('a'.repeat(600) + '\n');
    f.write('b'.repeat(2000) + '\n');
    f.write('c'.repeat(10) + '\n');
    await new Promise<void>((r) => f.flush(r));
    await f.settled();
    f.close();
    expect(existsSync(`${path}.1`)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('c'.repeat(10) + '\n');
  });
});
