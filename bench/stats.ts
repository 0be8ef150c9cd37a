// Medians and ratios of per-round figures.

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  // NaN for no figures at all, as the arithmetic on missing elements gave.
  const at = (i: number): number => s[i] ?? NaN;
  return s.length % 2 ? at(m) : (at(m - 1) + at(m)) / 2;
}

/** Round by round, a[i] / b[i] (the rounds of two configurations measured in the same round). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`paired ratios of ${a.length} and ${b.length} rounds`);
  return a.map((x, i) => x / (b[i] ?? NaN));
}
