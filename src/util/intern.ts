// One instance per string value in a parsed document: 10 000 rules that say `path: /**` and
// `require: [api:read]`, or 100 000 keys of role `developer`, hold one string each, not one per
// entry. Every object the process holds is one more for each garbage collection to walk.

/** Replace, in place, every string in plain objects and arrays by the first instance of its value. */
export function internStrings<T>(doc: T): T {
  const seen = new Map<string, string>();
  const visit = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const s = seen.get(v);
      if (s !== undefined) return s;
      seen.set(v, v);
      return v;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = visit(v[i]);
    } else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = visit(o[k]);
    }
    return v;
  };
  return visit(doc) as T;
}
