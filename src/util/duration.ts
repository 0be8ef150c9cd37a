// Durations as people write them (`60s`, `5m`, `1h`): config files, environment, request bodies, CLI flags.
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** `60s`, `5m`, `1h`, `500ms` or a number of seconds → seconds. */
export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = typeof v === 'number' ? [String(v), String(v), 's'] : DURATION.exec(v.trim());
  const unit = m ? UNIT_SECONDS[m[2] ?? 's'] : undefined;
  const seconds = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a positive duration like 60s, 5m, 1h` });
    return z.NEVER;
  }
  return seconds;
});
