// MCP method names and the globs of per-tool rules (`delete_*`, `resources/*`), matched without case.

/**
 * The JSON-RPC methods of the MCP specification (revision 2025-11-25) a client may send to a
 * server, notifications included: what a sub-rule's `methods` may name.
 */
export const MCP_METHODS: readonly string[] = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
  'notifications/tasks/status',
];

/** A compiled glob: `*` is any run of characters (`/` included); anything else equal, without case. */
export type NameMatcher = (name: string) => boolean;

/**
 * `*` matches greedily with backtracking to the last star: O(name × pattern), never exponential, no
 * regular expression built from policy text.
 */
function globMatch(pat: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    if (p < pat.length && pat[p] === '*') {
      star = p++;
      mark = i;
    } else if (p < pat.length && pat[p] === s[i]) {
      p++;
      i++;
    } else if (star !== -1) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (p < pat.length && pat[p] === '*') p++;
  return p === pat.length;
}

/**
 * One matcher for a list of globs. Names are compared without case, as paths are: a sub-rule on
 * `delete_*` also holds `Delete_node`, in case a server resolves names loosely.
 */
export function compileNameGlobs(globs: readonly string[]): NameMatcher {
  const exact = new Set<string>();
  const wild: string[] = [];
  for (const g of globs) {
    const lower = g.toLowerCase();
    if (lower.includes('*')) wild.push(lower);
    else exact.add(lower);
  }
  return (name) => {
    const lower = name.toLowerCase();
    return exact.has(lower) || wild.some((w) => globMatch(w, lower));
  };
}

/** The known MCP methods a method glob matches (none: a typo, refused at load). */
export function methodsMatching(glob: string): string[] {
  const m = compileNameGlobs([glob]);
  return MCP_METHODS.filter(m);
}
