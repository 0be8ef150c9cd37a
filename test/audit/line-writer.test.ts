import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineWriter } from '../../src/audit/line-writer.js';

function file() {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-lines-')), 'audit.jsonl');
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
