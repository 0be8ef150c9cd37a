// Request headers in one pass: lower-case names, single values, duplicates remembered.
import type { HeaderView } from '../request/description.js';

/** Node's parsed `req.headers`: lower-case names, duplicates joined or dropped (so they cannot be told apart). */
type NodeHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Headers of the auth request, with duplicate detection the Fetch `Headers` class cannot give. */
export class HeaderMap implements HeaderView {
  private dups: Set<string> | null = null;

  /** The first value of each name, or Node's own parse of the same headers when no name repeats. */
  private constructor(private readonly values: Map<string, string> | NodeHeaders) {}

  /** From Node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderMap {
    const values = new Map<string, string>();
    const m = new HeaderMap(values);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i];
      const value = raw[i + 1];
      if (name === undefined || value === undefined) break;
      m.add(values, name.toLowerCase(), value);
    }
    return m;
  }

  /**
   * From a node:http request: its `headers` object (which Node has already built for every HTTP/1.1
   * request) when it holds one string per raw header, i.e. no name repeats; else from `rawHeaders`,
   * which keeps the repeats Node joins or drops.
   */
  static fromIncoming(raw: readonly string[], parsed: NodeHeaders): HeaderMap {
    let n = 0;
    for (const name in parsed) {
      if (!Object.hasOwn(parsed, name) || typeof parsed[name] !== 'string') return HeaderMap.fromRaw(raw);
      n++;
    }
    return n * 2 === raw.length ? new HeaderMap(parsed) : HeaderMap.fromRaw(raw);
  }

  /** From a Fetch `Headers` (in-process requests; duplicates arrive already joined). */
  static fromHeaders(headers: Headers): HeaderMap {
    const values = new Map<string, string>();
    const m = new HeaderMap(values);
    headers.forEach((value, name) => m.add(values, name, value));
    return m;
  }

  private add(values: Map<string, string>, name: string, value: string): void {
    if (values.has(name)) (this.dups ??= new Set()).add(name);
    else values.set(name, value);
  }

  get(name: string): string | undefined {
    const values = this.values;
    if (values instanceof Map) return values.get(name);
    const v = Object.hasOwn(values, name) ? values[name] : undefined;
    return typeof v === 'string' ? v : undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** True when the header appeared more than once. */
  duplicated(name: string): boolean {
    return this.dups !== null && this.dups.has(name);
  }
}
