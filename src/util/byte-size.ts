// Sizes as people write them (`64KiB`, `1MiB`, `512KB`, `4096`): environment variables and flags.
import { z } from 'zod';

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i;
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** `64KiB`, `1MiB`, `512KB` or a number of bytes → a whole number of bytes; undefined when it is not a size. */
export function parseByteSize(v: string | number): number | undefined {
  const m = typeof v === 'number' ? [String(v), String(v), 'b'] : SIZE.exec(v.trim());
  const unit = m ? UNIT_BYTES[(m[2] ?? 'b').toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** A positive size in bytes, with or without a unit (`1MiB`). */
export const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = parseByteSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a positive size like 65536, 64KiB, 1MiB` });
    return z.NEVER;
  }
  return bytes;
});

/** A size as people read it: `64 MiB`, `512 KiB`, `100 bytes`. */
export function formatByteSize(bytes: number): string {
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
