// One check for "this field must not repeat" across a raw list (keys, JWT issuers, sign-in providers).

/** A problem inside a document, as zod reports it: a path and a message. */
export interface DocumentIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Entries of a raw list whose string `field` repeats an earlier entry's — compared after `key`
 * (lower-cased hashes, normalized DNs; null skips the entry) — one issue per repeat at
 * `[...prefix, index, field]`. It reads the raw document, so it runs even when the schema fails and
 * its problems are reported with every other one.
 */
export function repeatedField(
  list: unknown,
  field: string,
  message: (value: string, first: number) => string,
  opts: { prefix?: (string | number)[]; key?: (value: string) => string | null } = {},
): DocumentIssue[] {
  if (!Array.isArray(list)) return [];
  const first = new Map<string, number>();
  const out: DocumentIssue[] = [];
  list.forEach((entry: unknown, i) => {
    const value = entry && typeof entry === 'object' ? (entry as Record<string, unknown>)[field] : undefined;
    if (typeof value !== 'string') return;
    const k = opts.key ? opts.key(value) : value;
    if (k === null) return;
    const seen = first.get(k);
    if (seen !== undefined)
      out.push({ path: [...(opts.prefix ?? []), i, field], message: message(value, seen) });
    else first.set(k, i);
  });
  return out;
}
