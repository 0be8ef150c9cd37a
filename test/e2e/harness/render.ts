// Copy a deploy/ recipe into a temp dir, changing only its addresses, and fail loudly if one is not found.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's deploy/ directory. */
export const DEPLOY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../deploy');

/** One substitution: every match of `from` becomes `to`; the file must contain at least one. */
export interface Substitution {
  from: string | RegExp;
  to: string;
}

/** Read `deploy/<rel>`, apply the substitutions, write it to `dest`; returns the rendered text. */
export function renderRecipe(rel: string, dest: string, subs: readonly Substitution[]): string {
  let text = readFileSync(join(DEPLOY_DIR, rel), 'utf8');
  for (const { from, to } of subs) {
    const pattern =
      typeof from === 'string'
        ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g')
        : new RegExp(from.source, from.flags.includes('g') ? from.flags : from.flags + 'g');
    if (!pattern.test(text))
      throw new Error(`deploy/${rel}: expected to find ${String(from)} to substitute; the recipe changed`);
    pattern.lastIndex = 0;
    text = text.replace(pattern, to);
  }
  writeFileSync(dest, text);
  return text;
}
