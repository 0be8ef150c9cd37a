// Policy lint: warnings about a valid policy that probably does not do what its author meant.
import type { KeysFile } from '../config/keys-schema.js';
import type { PolicyFile, PolicyRule } from '../config/policy-schema.js';
import { normalizeHost, pathPatternSegments } from './matchers.js';
import { compileGrants, grants } from './permissions.js';
import { buildRuleIndex, candidates, forEachInOrder, type IndexedEntry } from './rule-index.js';

/** What a warning is about. */
export type LintCode =
  | 'shadowed'
  | 'public_overlap'
  | 'unused_role'
  | 'ungranted_permission'
  | 'authenticated_without_rules'
  | 'mcp_needs_body';

/** One lint warning; `path` is where in the policy file it points, e.g. `rules[3]`. */
export interface LintWarning {
  code: LintCode;
  path: string;
  message: string;
}

/** A rule's match reduced to what matching compares: lower-case host, method set, canonical path segments. */
interface MatchShape {
  host: string | null;
  methods: ReadonlySet<string> | null;
  path: readonly string[];
}

function shapeOf(rule: PolicyRule): MatchShape {
  return {
    host: rule.match.host === undefined ? null : normalizeHost(rule.match.host),
    methods: rule.match.methods === undefined ? null : new Set(rule.match.methods),
    path: pathPatternSegments(rule.match.path),
  };
}

/** True when every host `b` matches is matched by `a` (null = any host). */
export function hostCovers(a: string | null, b: string | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  if (!a.startsWith('*.')) return a === b;
  const suffix = a.slice(1); // `.example.com`
  // `*.example.com` matches names strictly below example.com: `x.example.com`, `*.x.example.com`, `*.example.com`.
  return b.endsWith(suffix) && b.length > suffix.length;
}

function methodsCover(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  for (const m of b) if (!a.has(m)) return false;
  return true;
}

/**
 * True when every path that pattern `b` matches is matched by pattern `a` (segment globs: `*` one
 * segment, `**` any number). Sound: a true answer is a proof; it may say false for exotic
 * combinations of several `**` that happen to be covered, so lint stays silent rather than wrong.
 */
export function pathCovers(a: readonly string[], b: readonly string[]): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    let r: boolean;
    if (j === b.length) r = a.slice(i).every((s) => s === '**');
    else if (i === a.length) r = false;
    else if (a[i] === '**')
      r = go(i + 1, j) || go(i, j + 1); // a's ** matches nothing more, or absorbs whatever b[j] produces
    else if (a[i] === '*') r = b[j] !== '**' && go(i + 1, j + 1);
    else r = a[i] === b[j] && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

function covers(a: MatchShape, b: MatchShape): boolean {
  return hostCovers(a.host, b.host) && methodsCover(a.methods, b.methods) && pathCovers(a.path, b.path);
}

/** The permissions a `require` asks for, and the list's path in it (`require`, `require.all`, `require.any`). */
function requiredOf(require: PolicyRule['require']): { list: string; permissions: readonly string[] } {
  if (require === undefined) return { list: 'require', permissions: [] };
  if (Array.isArray(require)) return { list: 'require', permissions: require };
  return 'all' in require
    ? { list: 'require.all', permissions: require.all }
    : { list: 'require.any', permissions: require.any };
}

/** Every `require` of a rule, its `mcp` sub-rules' included, with its path under the rule. */
function requirementsOf(rule: PolicyRule): { list: string; permissions: readonly string[] }[] {
  const own = requiredOf(rule.require);
  const subs = (rule.mcp ?? []).map((sub, j) => {
    const r = requiredOf(sub.require);
    return { list: `mcp[${j}].${r.list}`, permissions: r.permissions };
  });
  return [own, ...subs];
}

/** A rule with what lint compares: its index, match shape and whether it is public. */
interface LintedRule {
  index: number;
  rule: PolicyRule;
  shape: MatchShape;
  isPublic: boolean;
}

/** A rule that only observes (per-rule shadow mode) does not stop later rules from matching. */
function isObserveOnly(rule: PolicyRule): boolean {
  return (rule as { shadow?: unknown }).shadow === true;
}

/**
 * Shadowed rules (an earlier rule matches every request they would) and public rules covering a
 * later protected one. Earlier rules that could cover a rule are found with the rule index (by
 * host, literal prefix and literals), not by comparing every pair: a policy of 10 000 rules is
 * checked in about the time of its lookups.
 */
function coverWarnings(rules: readonly LintedRule[]): LintWarning[] {
  const index = buildRuleIndex(
    rules.map((r) => ({ index: r.index, host: r.shape.host, path: r.shape.path, rule: r })),
  );
  const shadowed: LintWarning[] = [];
  const overlaps: { a: number; b: number; warning: LintWarning }[] = [];
  const lists: (IndexedEntry & { rule: LintedRule })[][] = [];
  for (const b of rules) {
    lists.length = 0;
    candidates(index, b.shape.host, b.shape.path, lists);
    const first: { a: LintedRule | null } = { a: null };
    forEachInOrder(lists, ({ rule: a }) => {
      if (a.index >= b.index) return true;
      if (isObserveOnly(a.rule) || !covers(a.shape, b.shape)) return false;
      first.a ??= a;
      // Only whole cover is reported: a public rule that merely intersects a protected one
      // (`/health` on every host, before a host-wide admin rule) is the usual, intended shape.
      if (a.isPublic && !b.isPublic) overlaps.push({ a: a.index, b: b.index, warning: overlap(a, b) });
      return b.isPublic;
    });
    const a = first.a;
    if (a !== null) {
      shadowed.push({
        code: 'shadowed',
        path: `rules[${b.index}]`,
        message: `never matches: shadowed by rules[${a.index}]${a.isPublic ? ' (public)' : ''} (same or wider host, methods and path)`,
      });
    }
  }
  overlaps.sort((x, y) => x.a - y.a || x.b - y.b);
  return [...shadowed, ...overlaps.map((o) => o.warning)];
}

function overlap(a: LintedRule, b: LintedRule): LintWarning {
  const what = b.rule.deny ? 'deny' : b.rule.require ? 'protected' : 'authenticated';
  return {
    code: 'public_overlap',
    path: `rules[${a.index}]`,
    message: `public rule covers later ${what} rules[${b.index}]: every request rules[${b.index}] matches is public (first match wins)`,
  };
}

/**
 * Lint a validated policy (and the keys, to say who holds an unused role). Pure. Checks:
 * rules that can never match because an earlier rule matches every request they would;
 * public rules that take every request of a later non-public rule; roles that grant
 * none of the permissions any rule requires; required permissions that no role grants;
 * `default: authenticated` with no rules.
 */
export function lintPolicy(policy: PolicyFile, keys?: KeysFile): LintWarning[] {
  const out: LintWarning[] = [];
  const rules = policy.rules.map((rule, index): LintedRule => ({
    index,
    rule,
    shape: shapeOf(rule),
    isPublic: rule.public === true,
  }));

  out.push(...coverWarnings(rules));

  const compiled = new Map(Object.entries(policy.roles).map(([name, perms]) => [name, compileGrants(perms)]));
  const required = new Set(
    policy.rules.flatMap((rule) => requirementsOf(rule).flatMap((r) => r.permissions)),
  );
  for (const [name, g] of compiled) {
    if ([...required].some((p) => grants(g, p))) continue;
    const holders = (keys?.keys ?? []).filter((k) => k.roles.includes(name)).map((k) => k.id);
    const held = holders.length > 0 ? `; held by keys ${holders.join(', ')}` : '';
    out.push({
      code: 'unused_role',
      path: `roles.${name}`,
      message: `grants none of the permissions any rule requires, so holding it changes no decision${held}`,
    });
  }

  policy.rules.forEach((rule, i) => {
    for (const { list, permissions } of requirementsOf(rule))
      permissions.forEach((p, k) => {
        if ([...compiled.values()].some((g) => grants(g, p))) return;
        out.push({
          code: 'ungranted_permission',
          path: `rules[${i}].${list}[${k}]`,
          message: `permission "${p}" is granted by no role`,
        });
      });
  });

  if (policy.default === 'authenticated' && policy.rules.length === 0) {
    out.push({
      code: 'authenticated_without_rules',
      path: 'default',
      message:
        'default: authenticated with no rules lets any valid identity through everywhere, with no permission checked',
    });
  }
  return out;
}

/**
 * Sub-rules judge the body, which only Traefik (`forwardBody: true`) and Envoy (`with_request_body`)
 * forward to an auth service: with nginx or Caddy answered on bare /verify, every MCP POST on such a
 * rule would be refused `mcp_body_required`.
 */
export function proxyWarnings(policy: PolicyFile, proxy: string): LintWarning[] {
  if (proxy !== 'nginx' && proxy !== 'caddy') return [];
  return policy.rules.flatMap((rule, i) =>
    rule.mcp === undefined
      ? []
      : [
          {
            code: 'mcp_needs_body' as const,
            path: `rules[${i}].mcp`,
            message: `per-tool sub-rules need the request body, which ${proxy} does not forward to warden (WARDEN_PROXY=${proxy}): its MCP POSTs get 403 mcp_body_required. Put Traefik (forwardBody) or Envoy (with_request_body) in front of this MCP server, or split its tools across servers (docs/mcp.md)`,
          },
        ],
  );
}
