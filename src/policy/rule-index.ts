// The rule index: which rules a request (or, for lint, a later rule) can possibly match, found by
// lookups instead of a walk, so that 10 000 rules cost what 20 do. First match stays first match:
// every list holds rules in policy order, and the lists a query returns are merged by that order.

/** What the index needs of a rule: its position, its host pattern and its path pattern's segments. */
export interface IndexedEntry {
  index: number;
  /** An exact host, `*.example.com`, or null for any host; as the rule's own matcher compares it. */
  host: string | null;
  /** Canonical path pattern segments: literals, `*`, `**`. */
  path: readonly string[];
}

/** The rules of one host key, by what their path needs. */
interface PathGroup<T> {
  /**
   * Path pattern led by literal segments: a path must start with all of them. Keyed by those
   * segments joined with `/` (a segment holds no `/`): a segment trie, flattened.
   */
  byPrefix: Map<string, T[]> | null;
  /** The most leading literal segments of a rule in `byPrefix`: how deep a query looks. */
  depth: number;
  /** Led by `*` or `**`, with a literal segment somewhere (the last one): a path must contain it. */
  byLiteral: Map<string, T[]> | null;
  /** No literal segment at all (`/**`, `/*`, `/`): any path may match. */
  any: T[];
}

/**
 * Rules by host: an exact host, a `*.suffix` (keyed `.suffix`), or none; then by path. Every list
 * is in policy order. Queries push the non-empty lists that hold every rule that can match.
 */
export interface RuleIndex<T extends IndexedEntry> {
  exact: Map<string, PathGroup<T>>;
  suffix: Map<string, PathGroup<T>>;
  anyHost: PathGroup<T>;
}

// The maps of a group are made when a rule needs one: a policy of 10 000 host rules of `/**` each
// holds 10 000 groups, and every object it holds is one more for each garbage collection to walk.
function group<T>(): PathGroup<T> {
  return { byPrefix: null, depth: 0, byLiteral: null, any: [] };
}

function push<T>(map: Map<string, T[]> | null, key: string, entry: T): Map<string, T[]> {
  const m = map ?? new Map<string, T[]>();
  const list = m.get(key);
  if (list) list.push(entry);
  else m.set(key, [entry]);
  return m;
}

const wild = (seg: string) => seg === '*' || seg === '**';

/** Index entries given in policy order. */
export function buildRuleIndex<T extends IndexedEntry>(entries: readonly T[]): RuleIndex<T> {
  const index: RuleIndex<T> = { exact: new Map(), suffix: new Map(), anyHost: group() };
  for (const e of entries) {
    let g = index.anyHost;
    if (e.host !== null) {
      const wildcard = e.host.startsWith('*.');
      const map = wildcard ? index.suffix : index.exact;
      const key = wildcard ? e.host.slice(1) : e.host;
      let found = map.get(key);
      if (!found) map.set(key, (found = group()));
      g = found;
    }
    const first = e.path[0];
    if (first !== undefined && !wild(first)) {
      let n = 1;
      while (n < e.path.length && !wild(e.path[n] ?? '*')) n++;
      g.byPrefix = push(g.byPrefix, e.path.slice(0, n).join('/'), e);
      g.depth = Math.max(g.depth, n);
    } else {
      let literal: string | undefined;
      for (let i = e.path.length - 1; i >= 0 && literal === undefined; i--) {
        const seg = e.path[i];
        if (seg !== undefined && !wild(seg)) literal = seg;
      }
      if (literal === undefined) g.any.push(e);
      else g.byLiteral = push(g.byLiteral, literal, e);
    }
  }
  return index;
}

/** The lists of one host group that hold every rule a path of these segments can match. */
function fromGroup<T>(g: PathGroup<T>, segments: readonly string[], out: T[][]): void {
  const byPrefix = g.byPrefix;
  if (byPrefix !== null) {
    // Each leading run of literal segments, up to the deepest rule's: `api`, `api/v1`, …
    let key = '';
    const depth = Math.min(g.depth, segments.length);
    for (let i = 0; i < depth; i++) {
      const seg = segments[i] ?? '*';
      if (wild(seg)) break;
      key = i === 0 ? seg : `${key}/${seg}`;
      const l = byPrefix.get(key);
      if (l) out.push(l);
    }
  }
  const byLiteral = g.byLiteral;
  if (byLiteral !== null)
    for (const seg of segments) {
      const l = byLiteral.get(seg);
      if (l) out.push(l);
    }
  if (g.any.length > 0) out.push(g.any);
}

/**
 * Push to `out` the lists holding every rule that can match a request for `host` (as the matchers
 * compare it; null asks for rules of any host only) with these path segments. For lint, the
 * segments may be a pattern's: a wildcard ends the literal prefix, and matches no literal. A list
 * may come twice (a literal repeated in the path): {@link forEachInOrder} skips the repeats.
 */
export function candidates<T extends IndexedEntry>(
  index: RuleIndex<T>,
  host: string | null,
  segments: readonly string[],
  out: T[][],
): void {
  if (host !== null) {
    if (index.exact.size > 0) {
      const g = index.exact.get(host);
      if (g) fromGroup(g, segments, out);
    }
    // `*.example.com` matches a host strictly below example.com: each suffix from a dot after the first character.
    if (index.suffix.size > 0)
      for (let i = host.indexOf('.', 1); i !== -1; i = host.indexOf('.', i + 1)) {
        const g = index.suffix.get(host.slice(i));
        if (g) fromGroup(g, segments, out);
      }
  }
  fromGroup(index.anyHost, segments, out);
}

/**
 * Visit the rules of `lists` (each in policy order) in policy order, each once, until `visit`
 * returns true; returns the entry it stopped at, or undefined. One list (the usual case) is walked
 * as it is; several are merged by always taking the lowest index next.
 */
export function forEachInOrder<T extends IndexedEntry>(
  lists: readonly (readonly T[])[],
  visit: (entry: T) => boolean,
): T | undefined {
  if (lists.length === 1) {
    for (const e of lists[0] ?? []) if (visit(e)) return e;
    return undefined;
  }
  const at = new Array<number>(lists.length).fill(0);
  let last = -1;
  for (;;) {
    let best = -1;
    let bestIndex = Infinity;
    for (let k = 0; k < lists.length; k++) {
      const e = lists[k]?.[at[k] ?? 0];
      if (e !== undefined && e.index < bestIndex) {
        best = k;
        bestIndex = e.index;
      }
    }
    if (best === -1) return undefined;
    const e = lists[best]?.[at[best] ?? 0];
    at[best] = (at[best] ?? 0) + 1;
    if (e === undefined || e.index === last) continue;
    last = e.index;
    if (visit(e)) return e;
  }
}
