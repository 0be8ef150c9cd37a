// An audit search's filters: parsed from a query string with the field at fault, compiled into a line matcher.
import type { CidrSet } from '../request/cidr-set.js';
import type { DecisionEvent } from './audit-log.js';
import { compileCidrs, inList, parseAddress, type Address } from '../request/client-ip.js';

/** The `decision` values audit lines carry. */
export const DECISIONS = [
  'allow',
  'unauthenticated',
  'forbidden',
  'limited',
  'malformed',
  'error',
  'would-deny',
] as const satisfies readonly DecisionEvent['decision'][];
export type DecisionName = (typeof DECISIONS)[number];

/** Filters of an audit search; every one given must hold. */
export interface AuditQuery {
  /** Inclusive time range on the line's `time` (epoch ms). */
  from?: number;
  to?: number;
  /** Exact `sub`, `keyId` or admin event `by`. */
  identity?: string;
  /** Exact client IP (`clientIp`, or an admin event's `clientIp`/`peer`), or a CIDR. */
  ip?: string;
  /** Any of these `decision` values (`refused`: every one but `allow` and `would-deny`). */
  decision?: DecisionName[];
  status?: number;
  /** Canonical path prefix (`/api` matches `/api` and `/api/x`, and `/apix`: a plain prefix). */
  path?: string;
  /** Matched rule index; `null` for the policy default. */
  rule?: number | null;
}

/** A filter that cannot be used, and why. */
export interface QueryProblem {
  field: string;
  message: string;
}

const MAX_TEXT = 1024;

/** A time: ISO 8601 with a zone, or epoch milliseconds. */
function parseTime(v: string): number | null {
  if (/^\d{10,16}$/.test(v)) return Number(v);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/i.test(v)) return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

/** A text filter: non-empty, bounded, no control characters. */
function text(field: string, v: string): QueryProblem | null {
  if (v.length > MAX_TEXT) return { field, message: `at most ${MAX_TEXT} characters` };
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\x00-\x1f\x7f]/.test(v)) return { field, message: 'no control characters' };
  return null;
}

function parseDecisions(v: string): DecisionName[] | QueryProblem {
  const out = new Set<DecisionName>();
  for (const raw of v.split(',')) {
    const d = raw.trim();
    if (d === 'refused') {
      for (const x of DECISIONS) if (x !== 'allow' && x !== 'would-deny') out.add(x);
    } else if ((DECISIONS as readonly string[]).includes(d)) out.add(d as DecisionName);
    else return { field: 'decision', message: `each one of ${DECISIONS.join(', ')}, or refused` };
  }
  return [...out];
}

type Read = (name: string) => string | undefined;

function parseTimes(get: Read, q: AuditQuery): QueryProblem | null {
  for (const field of ['from', 'to'] as const) {
    const v = get(field);
    if (v === undefined) continue;
    const ms = parseTime(v);
    if (ms === null)
      return { field, message: 'an ISO 8601 time with a zone (2026-12-03T02:00:00Z) or epoch ms' };
    q[field] = ms;
  }
  if (q.from !== undefined && q.to !== undefined && q.from > q.to)
    return { field: 'from', message: 'later than to' };
  return null;
}

function parseNumbers(get: Read, q: AuditQuery): QueryProblem | null {
  const status = get('status');
  if (status !== undefined) {
    if (!/^[1-5]\d\d$/.test(status)) return { field: 'status', message: 'an HTTP status, 100 to 599' };
    q.status = Number(status);
  }
  const rule = get('rule');
  if (rule !== undefined) {
    if (rule !== 'default' && !/^\d{1,6}$/.test(rule))
      return { field: 'rule', message: 'a rule index (0, 1, …) or default' };
    q.rule = rule === 'default' ? null : Number(rule);
  }
  return null;
}

/** Parse filters from `get` (a query string's values; empty counts as absent). */
export function parseAuditQuery(read: Read): { query: AuditQuery } | { problem: QueryProblem } {
  const get: Read = (n) => {
    const v = read(n)?.trim();
    return v === '' ? undefined : v;
  };
  const q: AuditQuery = {};
  const problem = parseTimes(get, q) ?? parseNumbers(get, q);
  if (problem) return { problem };
  for (const field of ['identity', 'ip', 'path'] as const) {
    const v = get(field);
    if (v === undefined) continue;
    const bad = text(field, v);
    if (bad) return { problem: bad };
    q[field] = v;
  }
  if (q.path !== undefined && !q.path.startsWith('/'))
    return { problem: { field: 'path', message: 'a path prefix starting with /' } };
  if (q.ip !== undefined) {
    try {
      compileCidrs([q.ip]);
    } catch {
      return { problem: { field: 'ip', message: 'an IP address or a CIDR (203.0.113.0/24)' } };
    }
  }
  const decision = get('decision');
  if (decision !== undefined) {
    const d = parseDecisions(decision);
    if (!Array.isArray(d)) return { problem: d };
    q.decision = d;
  }
  return { query: q };
}

/** A parsed audit line's fields, as the matcher reads them. */
export type AuditRecord = Record<string, unknown>;

/** A compiled query: a cheap substring test every match passes, then the exact test on the parsed line. */
export interface LineMatcher {
  /** False only for lines that cannot match, judged on their UTF-8 bytes (no decoding, no JSON parse). */
  maybe(line: Buffer): boolean;
  /** The exact test. */
  matches(r: AuditRecord): boolean;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function ipTest(spec: string): (ip: string) => boolean {
  if (!spec.includes('/')) {
    const want = parseAddress(spec)?.ip ?? spec;
    return (ip) => parseAddress(ip)?.ip === want;
  }
  const list: CidrSet = compileCidrs([spec]);
  return (ip) => {
    const a: Address | null = parseAddress(ip);
    return a !== null && inList(list, a);
  };
}

/** Compile the filters. Substrings are JSON-encoded as the audit log encodes them. */
export function compileQuery(q: AuditQuery): LineMatcher {
  const needles: string[] = [];
  if (q.identity !== undefined) needles.push(JSON.stringify(q.identity));
  if (q.status !== undefined) needles.push(`"status":${q.status},`);
  if (q.path !== undefined) needles.push(`"path":${JSON.stringify(q.path).slice(0, -1)}`);
  if (q.decision?.length === 1) needles.push(`"decision":"${q.decision[0]}"`);
  const bytes = needles.map((n) => Buffer.from(n, 'utf8'));
  const decisions = q.decision ? new Set<string>(q.decision) : null;
  const ip = q.ip !== undefined ? ipTest(q.ip) : null;
  return {
    maybe: (line) => bytes.every((n) => line.includes(n)),
    matches(r) {
      if (q.from !== undefined || q.to !== undefined) {
        const t = Date.parse(str(r.time) ?? '');
        if (!(t >= (q.from ?? -Infinity) && t <= (q.to ?? Infinity))) return false;
      }
      if (q.identity !== undefined && r.sub !== q.identity && r.keyId !== q.identity && r.by !== q.identity)
        return false;
      if (ip) {
        // A decision's peer is the proxy; an admin event's is the caller.
        const addr = r.event === 'decision' ? str(r.clientIp) : (str(r.clientIp) ?? str(r.peer));
        if (addr === undefined || !ip(addr)) return false;
      }
      if (decisions && !decisions.has(str(r.decision) ?? '')) return false;
      if (q.status !== undefined && r.status !== q.status) return false;
      if (q.path !== undefined && !(str(r.path) ?? '').startsWith(q.path)) return false;
      if (q.rule !== undefined && (r.event !== 'decision' || r.rule !== q.rule)) return false;
      return true;
    },
  };
}
