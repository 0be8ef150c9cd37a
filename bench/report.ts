// The report: medians per configuration, the ratios (with their targets), paired per-round ratios
// against a baseline build, and the Markdown tables printed and recorded.
import type { Config, ConfigId } from './configs.js';
import { FIRST_VERIFY_ALGS, type Alg } from './jwt.js';
import { median, pairedRatios } from './stats.js';
import type { WrkResult } from './wrk.js';

export interface Medians {
  rps: number;
  p50ms: number;
  p99ms: number;
}

interface RatioSpec {
  label: string;
  num: ConfigId;
  den: ConfigId;
  bold: boolean;
  target?: { text: string; met: (ratio: number) => boolean };
}

/** The ratios of medians reported, each when both its configurations were measured. */
const RATIOS: readonly RatioSpec[] = [
  {
    label: 'warden / nginx static auth',
    num: 'warden',
    den: 'static',
    bold: true,
    target: { text: 'target ≥ 0.85', met: (r) => r >= 0.85 },
  },
  { label: 'warden / no auth', num: 'warden', den: 'noauth', bold: true },
  {
    label: 'warden / warden, audit+metrics off',
    num: 'warden',
    den: 'wardenbare',
    bold: true,
    target: { text: 'audit and metrics cost ≤ 10 %, target ≥ 0.90', met: (r) => r >= 0.9 },
  },
  {
    label: 'warden + Redis / nginx static auth',
    num: 'wardenredis',
    den: 'static',
    bold: true,
    target: { text: 'target ≥ 0.75', met: (r) => r >= 0.75 },
  },
  { label: 'warden + Redis / warden', num: 'wardenredis', den: 'warden', bold: false },
  {
    label: 'warden JWT (ES256, repeated token) / nginx static auth, bearer request',
    num: 'wardenjwt',
    den: 'staticjwt',
    bold: true,
    target: { text: 'target ≥ 0.85', met: (r) => r >= 0.85 },
  },
  { label: 'warden JWT / nginx static auth (API key request)', num: 'wardenjwt', den: 'static', bold: false },
  {
    label: 'warden MCP (resource-bound JWT) / warden JWT',
    num: 'wardenmcp',
    den: 'wardenjwt',
    bold: true,
    target: { text: 'target ≥ 0.90', met: (r) => r >= 0.9 },
  },
  {
    label: 'warden MCP / nginx static auth, bearer request',
    num: 'wardenmcp',
    den: 'staticjwt',
    bold: false,
  },
  {
    label: 'nginx static auth, bearer request / nginx static auth',
    num: 'staticjwt',
    den: 'static',
    bold: false,
  },
  {
    label: 'warden, decision cache (repeated requests) / nginx static auth',
    num: 'wardencache',
    den: 'static',
    bold: true,
    target: { text: 'target > 1.0', met: (r) => r > 1 },
  },
  { label: 'nginx static auth / no auth', num: 'static', den: 'noauth', bold: false },
  { label: 'trivial node auth / nginx static auth', num: 'nodefloor', den: 'static', bold: false },
  { label: 'warden / trivial node auth', num: 'warden', den: 'nodefloor', bold: false },
];

/** This build against the baseline build, round by round (both measured in each round). */
const PAIRS: readonly { label: string; num: ConfigId; den: ConfigId }[] = [
  { label: 'warden / warden (baseline)', num: 'warden', den: 'wardenbaseline' },
  { label: 'warden JWT / warden JWT (baseline)', num: 'wardenjwt', den: 'wardenjwtbaseline' },
];

export interface Ratio {
  label: string;
  num: ConfigId;
  den: ConfigId;
  value: number;
  bold: boolean;
  target: string | null;
  met: boolean | null;
}

export interface Paired {
  label: string;
  num: ConfigId;
  den: ConfigId;
  /** num / den of each round's req/s. */
  perRound: number[];
  /** Their median: the figure to quote. */
  median: number;
  ratioOfMedians: number;
}

export interface Report {
  configs: readonly Config[];
  rounds: Partial<Record<ConfigId, WrkResult[]>>;
  medians: Partial<Record<ConfigId, Medians>>;
  ratios: Ratio[];
  paired: Paired[];
}

const mediansOf = (rs: readonly WrkResult[]): Medians => ({
  rps: median(rs.map((r) => r.rps)),
  p50ms: median(rs.map((r) => r.p50ms)),
  p99ms: median(rs.map((r) => r.p99ms)),
});

/** Medians, ratios and paired ratios of the measured rounds. */
export function analyse(configs: readonly Config[], rounds: Partial<Record<ConfigId, WrkResult[]>>): Report {
  const medians: Partial<Record<ConfigId, Medians>> = {};
  for (const c of configs) medians[c.id] = mediansOf(rounds[c.id] ?? []);
  const ratios: Ratio[] = [];
  for (const s of RATIOS) {
    const num = medians[s.num];
    const den = medians[s.den];
    if (!num || !den) continue;
    const value = num.rps / den.rps;
    const met = s.target ? s.target.met(value) : null;
    ratios.push({
      label: s.label,
      num: s.num,
      den: s.den,
      value,
      bold: s.bold,
      target: s.target?.text ?? null,
      met,
    });
  }
  const paired: Paired[] = [];
  for (const p of PAIRS) {
    const num = medians[p.num];
    const den = medians[p.den];
    if (!num || !den) continue;
    const rps = (id: ConfigId) => (rounds[id] ?? []).map((r) => r.rps);
    const perRound = pairedRatios(rps(p.num), rps(p.den));
    const ratioOfMedians = num.rps / den.rps;
    paired.push({ ...p, perRound, median: median(perRound), ratioOfMedians });
  }
  return { configs, rounds, medians, ratios, paired };
}

/** Median req/s, p50 and p99 per configuration; with `perRound`, each round's req/s too. */
export function configTable(r: Report, perRound: boolean): string {
  const n = perRound ? Math.max(0, ...Object.values(r.rounds).map((rs) => rs.length)) : 0;
  const roundCols = Array.from({ length: n }, (_, i) => `round ${i + 1}`);
  const cols = (xs: readonly string[]) => xs.map((x) => ` ${x} |`).join('');
  const row = (c: Config): string => {
    const m = r.medians[c.id];
    if (!m) throw new Error(`no medians for configuration ${c.id}`);
    const rounds = perRound ? (r.rounds[c.id] ?? []).map((x) => x.rps.toFixed(0)) : [];
    return `| ${c.label} | **${m.rps.toFixed(0)}** |${cols(rounds)} ${m.p50ms.toFixed(2)} | ${m.p99ms.toFixed(2)} |`;
  };
  return [
    `| configuration | median req/s |${cols(roundCols)} p50 ms | p99 ms |`,
    `|---|--:|${roundCols.map(() => '--:|').join('')}--:|--:|`,
    ...r.configs.map(row),
  ].join('\n');
}

export function ratioTable(r: Report): string {
  const row = (x: Ratio): string => {
    const v = x.value.toFixed(3);
    const target = x.target ? ` (${x.target}: ${x.met ? 'met' : 'NOT met'})` : '';
    return `| ${x.label} | ${x.bold ? `**${v}**` : v}${target} |`;
  };
  return [`| ratio (medians) | value |`, `|---|--:|`, ...r.ratios.map(row)].join('\n');
}

/** The paired per-round ratios against the baseline build; '' without a baseline. */
export function pairedTable(r: Report): string {
  const first = r.paired[0];
  if (!first) return '';
  const n = first.perRound.length;
  const roundCols = Array.from({ length: n }, (_, i) => ` round ${i + 1} |`).join('');
  return [
    `| paired ratio (req/s, this build / baseline) | median of per-round ratios | ratio of medians |${roundCols}`,
    `|---|--:|--:|${'--:|'.repeat(n)}`,
    ...r.paired.map(
      (p) =>
        `| ${p.label} | **${p.median.toFixed(3)}** | ${p.ratioOfMedians.toFixed(3)} |${p.perRound.map((x) => ` ${x.toFixed(3)} |`).join('')}`,
    ),
  ].join('\n');
}

export function firstVerifyTable(cost: Record<Alg, number>): string {
  return [
    `First-time verification of a JWT (no cache: structural checks, routing by \`iss\`, jose signature and claim checks), in-process, median of 3 batches of 300 distinct tokens:`,
    '',
    `| algorithm | µs per token |`,
    `|---|--:|`,
    ...FIRST_VERIFY_ALGS.map((a) => `| ${a} | ${cost[a].toFixed(0)} |`),
  ].join('\n');
}
