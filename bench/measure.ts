// Measuring: an unmeasured warm-up per configuration, then interleaved rounds of wrk runs.
import type { Config, ConfigId } from './configs.js';
import { wrk, type WrkResult, type WrkSettings } from './wrk.js';

export interface MeasureSettings {
  wrk: WrkSettings;
  duration: number;
  rounds: number;
  warmup: number;
  /** In measuring order. */
  configs: readonly Config[];
  url: (c: Config) => string;
  /** The credential header wrk sends. */
  header: (c: Config) => string;
  /** Redis's total_commands_processed, read around each warden + Redis run; null without Redis. */
  redisCommands: (() => number) | null;
}

export interface Measurement {
  /** Per configuration, one result per round. */
  rounds: Partial<Record<ConfigId, WrkResult[]>>;
  /** Commands Redis processed during the measured warden + Redis runs. */
  redisCommands: number;
  /** Non-2xx responses and socket errors: any makes the run invalid. */
  problems: string[];
}

/** Round r's order: the configurations starting (r - 1) further along, so none always runs at the same place. */
export function roundOrder<T>(configs: readonly T[], round: number): T[] {
  const shift = (round - 1) % configs.length;
  return [...configs.slice(shift), ...configs.slice(0, shift)];
}

function roundLine(round: number, rounds: number, c: Config, r: WrkResult): string {
  return `round ${round}/${rounds} ${c.label.padEnd(18)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms${r.non2xx ? `  NON-2xx ${r.non2xx}` : ''}${r.socketErrors ? `  socket errors ${r.socketErrors}` : ''}\n`;
}

async function warmUp(s: MeasureSettings): Promise<void> {
  if (s.warmup <= 0) return;
  process.stdout.write(`warm-up: ${s.warmup}s per configuration\n`);
  for (const c of s.configs) await wrk(s.wrk, s.url(c), s.warmup, s.header(c));
}

/** Warm up, then s.rounds rounds of every configuration, interleaved; prints one line per run. */
export async function measure(s: MeasureSettings): Promise<Measurement> {
  await warmUp(s);
  const m: Measurement = {
    rounds: Object.fromEntries(s.configs.map((c) => [c.id, []])),
    redisCommands: 0,
    problems: [],
  };
  for (let round = 1; round <= s.rounds; round++) {
    // Each round starts one configuration further along, so that none always runs at the same
    // place (first, or right after the heaviest load, no auth): a position effect spreads over all.
    for (const c of roundOrder(s.configs, round)) {
      const counted = c.id === 'wardenredis' && s.redisCommands !== null ? s.redisCommands : null;
      const before = counted ? counted() : 0;
      const r = await wrk(s.wrk, s.url(c), s.duration, s.header(c));
      if (counted) m.redisCommands += counted() - before;
      (m.rounds[c.id] ??= []).push(r);
      process.stdout.write(roundLine(round, s.rounds, c, r));
      if (r.non2xx) m.problems.push(`round ${round} ${c.label}: ${r.non2xx} non-2xx responses`);
      if (r.socketErrors) m.problems.push(`round ${round} ${c.label}: ${r.socketErrors} socket errors`);
    }
  }
  return m;
}
