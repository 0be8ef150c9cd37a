// What a reload changed: rules, roles, rate limits, keys (by id, never hashes) and other settings.
import type { Documents } from './load.js';
import type { PolicyRule } from './policy-schema.js';

/** Names added, removed and changed in a named table (roles, rate limits). */
export interface NamedDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** A rule named by its position and a readable form of its match. */
export interface RuleRef {
  index: number;
  match: string;
}

/** Rules diffed as a list: unchanged rules found in order, the rest added, removed, or changed in place. */
export interface RulesDiff {
  added: RuleRef[];
  removed: RuleRef[];
  /** Same match at `from` (old index) and `to` (new index), different effect, networks or limit. */
  changed: { from: number; to: number; match: string }[];
}

/** A key changed in place: its id and the names of the fields that differ (never their values). */
export interface KeyChange {
  id: string;
  fields: string[];
}

/** Everything a reload changed. */
export interface DocumentsDiff {
  rules: RulesDiff;
  roles: NamedDiff;
  rateLimits: NamedDiff;
  keys: { added: string[]; removed: string[]; changed: KeyChange[] };
  /** Other top-level policy settings that differ: `default`, `networks`, `claims`, `bans`, `headers`. */
  settings: string[];
  /** One line, e.g. `rules: 1 added, 1 changed; keys: 1 removed`. */
  summary: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** `GET,HEAD admin.example.com/api/**` — how a rule's match reads in audit lines. */
export function describeMatch(rule: PolicyRule): string {
  return `${rule.match.methods ? rule.match.methods.join(',') + ' ' : ''}${rule.match.host ?? '*'}${rule.match.path}`;
}

function diffNamed(a: Record<string, unknown>, b: Record<string, unknown>): NamedDiff {
  const added = Object.keys(b).filter((k) => !Object.hasOwn(a, k));
  const removed = Object.keys(a).filter((k) => !Object.hasOwn(b, k));
  const changed = Object.keys(b).filter((k) => Object.hasOwn(a, k) && !same(a[k], b[k]));
  return { added, removed, changed };
}

/** Longest common subsequence of identical rules: those are unchanged, whatever their new index. */
function unchangedPairs(a: readonly string[], b: readonly string[]): Set<string> {
  const n = a.length;
  const m = b.length;
  // len[i][j]: length of the longest common subsequence of a[i..] and b[j..]; 0 past either end.
  const len: number[][] = [];
  const at = (i: number, j: number): number => len[i]?.[j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    const row = new Array<number>(m + 1).fill(0);
    for (let j = m - 1; j >= 0; j--)
      row[j] = a[i] === b[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), row[j + 1] ?? 0);
    len[i] = row;
  }
  const pairs = new Set<string>();
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      pairs.add(`a${i}`).add(`b${j}`);
      i++;
      j++;
    } else if (at(i + 1, j) >= at(i, j + 1)) i++;
    else j++;
  }
  return pairs;
}

function diffRules(a: readonly PolicyRule[], b: readonly PolicyRule[]): RulesDiff {
  const keep = unchangedPairs(
    a.map((r) => JSON.stringify(r)),
    b.map((r) => JSON.stringify(r)),
  );
  const gone = a.map((r, index) => ({ index, rule: r })).filter(({ index }) => !keep.has(`a${index}`));
  const fresh = b.map((r, index) => ({ index, rule: r })).filter(({ index }) => !keep.has(`b${index}`));
  const changed: RulesDiff['changed'] = [];
  // A rule whose match is still there (first unpaired one with the same match) was edited, not replaced.
  for (const g of [...gone]) {
    const f = fresh.find((x) => same(x.rule.match, g.rule.match));
    if (!f) continue;
    changed.push({ from: g.index, to: f.index, match: describeMatch(f.rule) });
    gone.splice(gone.indexOf(g), 1);
    fresh.splice(fresh.indexOf(f), 1);
  }
  return {
    added: fresh.map(({ index, rule }) => ({ index, match: describeMatch(rule) })),
    removed: gone.map(({ index, rule }) => ({ index, match: describeMatch(rule) })),
    changed,
  };
}

function diffKeys(a: Documents['keys']['keys'], b: Documents['keys']['keys']): DocumentsDiff['keys'] {
  const before = new Map(a.map((k) => [k.id, k]));
  const after = new Map(b.map((k) => [k.id, k]));
  const changed: KeyChange[] = [];
  for (const [id, k] of after) {
    const old = before.get(id);
    if (!old) continue;
    const fields = [...new Set([...Object.keys(old), ...Object.keys(k)])].filter(
      (f) => !same((old as Record<string, unknown>)[f], (k as Record<string, unknown>)[f]),
    );
    if (fields.length > 0) changed.push({ id, fields });
  }
  return {
    added: [...after.keys()].filter((id) => !before.has(id)),
    removed: [...before.keys()].filter((id) => !after.has(id)),
    changed,
  };
}

function counts(
  name: string,
  d: { added: unknown[]; removed: unknown[]; changed: unknown[] },
): string | null {
  const parts = [
    [d.added.length, 'added'],
    [d.removed.length, 'removed'],
    [d.changed.length, 'changed'],
  ]
    .filter(([n]) => n !== 0)
    .map(([n, w]) => `${n} ${w}`);
  return parts.length === 0 ? null : `${name}: ${parts.join(', ')}`;
}

/** Diff two loaded versions of policy and keys. Pure; key hashes never appear in the result. */
export function diffDocuments(prev: Documents, next: Documents): DocumentsDiff {
  const rules = diffRules(prev.policy.rules, next.policy.rules);
  const roles = diffNamed(prev.policy.roles, next.policy.roles);
  const rateLimits = diffNamed(prev.policy.rateLimits, next.policy.rateLimits);
  const keys = diffKeys(prev.keys.keys, next.keys.keys);
  const tables = new Set(['roles', 'rateLimits', 'rules', '$schema']);
  const p = prev.policy as Record<string, unknown>;
  const n = next.policy as Record<string, unknown>;
  const settings = [...new Set([...Object.keys(p), ...Object.keys(n)])].filter(
    (k) => !tables.has(k) && !same(p[k], n[k]),
  );
  const parts = [
    counts('rules', rules),
    counts('roles', roles),
    counts('rate limits', rateLimits),
    counts('keys', keys),
    settings.length > 0 ? `settings changed: ${settings.join(', ')}` : null,
  ];
  const summary = parts.filter((x) => x !== null).join('; ') || 'no change';
  return { rules, roles, rateLimits, keys, settings, summary };
}
