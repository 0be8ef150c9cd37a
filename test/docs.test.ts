// Documentation that drifts from itself: a contents list that does not match its sections.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** GitHub's anchor for a heading: lower-case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

describe('docs/deploy.md', () => {
  it('lists its numbered sections, in order, each linked to its heading', () => {
    const text = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const sections = [...text.matchAll(/^## (\d+\. .+)$/gm)].map((m) => m[1]!);
    const listed = [...text.matchAll(/^(\d+)\. \[([^\]]+)\]\(#([^)]+)\)/gm)].map((m) => ({
      n: m[1],
      title: m[2],
      anchor: m[3],
    }));
    expect(sections.length).toBeGreaterThan(0);
    expect(listed).toEqual(
      sections.map((s) => ({ n: s.split('.')[0], title: s.replace(/^\d+\. /, ''), anchor: slug(s) })),
    );
  });
});
