// Host and path patterns of policy rules, compiled to matchers once.
import { canonicalizePath, matchKey } from '../request/canonical-path.js';

/** A compiled path pattern, applied to a path split by {@link splitPath}. */
export type PathMatcher = (segments: readonly string[]) => boolean;

/** `/a/b/` → `['a', 'b']`: the segments rules match (a trailing slash is the same resource). */
export function splitPath(matchPath: string): string[] {
  const segs = matchPath.split('/');
  segs.shift();
  if (segs.length > 0 && segs[segs.length - 1] === '') segs.pop();
  return segs;
}

/**
 * Segment glob: `**` is any number of segments (none included), `*` exactly one, anything else
 * equal. Greedy with backtracking to the last `**`: O(segments × pattern), never exponential.
 */
export function globMatch(pat: readonly string[], path: readonly string[]): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < path.length) {
    if (p < pat.length && pat[p] === '**') {
      starP = p++;
      starS = s;
    } else if (p < pat.length && (pat[p] === '*' || pat[p] === path[s])) {
      p++;
      s++;
    } else if (starP !== -1) {
      p = starP + 1;
      s = ++starS;
    } else return false;
  }
  while (p < pat.length && pat[p] === '**') p++;
  return p === pat.length;
}

/** A path pattern's canonical segments (`*`, `**` or literal), as matching uses them; throws on a bad pattern. */
export function pathPatternSegments(pattern: string): string[] {
  const canon = canonicalizePath(pattern);
  if (!canon.ok) throw new Error(`path pattern: ${canon.detail}`);
  if (canon.alternates) throw new Error('path pattern: no "." or ".." segments');
  const pat = splitPath(matchKey(canon.path));
  for (const seg of pat) {
    if (seg !== '*' && seg !== '**' && seg.includes('*'))
      throw new Error(`path pattern: "*" must be a whole segment ("${seg}")`);
  }
  return pat;
}

/** Compile a path pattern (`/api`, `/api/*`, `/api/**`, wildcards in the middle too), case-insensitive. */
export function compilePathPattern(pattern: string): PathMatcher {
  const pat = pathPatternSegments(pattern);
  return (segments) => globMatch(pat, segments);
}

/** A host pattern as its matcher compares it (lower-case, no port): the rule index's key. */
export function hostPatternKey(pattern: string): string {
  return stripPort(pattern.toLowerCase());
}

/**
 * Whether a normalised host matches a host pattern's {@link hostPatternKey}: equal, or for
 * `*.example.com` strictly below example.com at any depth. Compares in place, allocating nothing:
 * rules hold their key as data, not a closure each, so 10 000 host rules are 10 000 strings.
 */
export function hostMatches(key: string, host: string): boolean {
  if (key.charCodeAt(0) !== 42 /* * */ || key.charCodeAt(1) !== 46 /* . */) return host === key;
  const suffix = key.length - 1; // `.example.com`
  const from = host.length - suffix;
  if (from <= 0) return false;
  for (let i = 0; i < suffix; i++) if (host.charCodeAt(from + i) !== key.charCodeAt(i + 1)) return false;
  return true;
}

/** `Example.COM:8443.` → `example.com`; IPv6 literals keep their brackets. */
export function normalizeHost(hostHeader: string): string {
  return stripPort(hostHeader.toLowerCase()).replace(/\.$/, '');
}

function stripPort(h: string): string {
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}
