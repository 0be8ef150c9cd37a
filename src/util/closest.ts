// The closest of some known names to a mistyped one, for "did you mean …?" hints.

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions) between two strings. */
export function editDistance(a: string, b: string): number {
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0);
  const at = (i: number, j: number) => d[i * w + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known name closest to `name` (case-insensitive), or undefined when none is close: within a third
 * of the name's length, or a prefix either way (`WARDEN_TRUSTED_PROXY` → `WARDEN_TRUSTED_PROXIES`).
 */
export function closest(name: string, known: Iterable<string>): string | undefined {
  const wanted = name.toUpperCase();
  let best: { name: string; distance: number } | undefined;
  for (const k of known) {
    const candidate = k.toUpperCase();
    const prefix = candidate.startsWith(wanted) || wanted.startsWith(candidate);
    const distance = editDistance(wanted, candidate) - (prefix ? 0.5 : 0);
    if (best === undefined || distance < best.distance) best = { name: k, distance };
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  const isPrefix = best.name.toUpperCase().startsWith(wanted) || wanted.startsWith(best.name.toUpperCase());
  return best.distance <= limit || (isPrefix && wanted.length >= 4) ? best.name : undefined;
}
