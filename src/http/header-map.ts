// Request headers in one pass: lower-case names, single values, duplicates remembered.
import type { HeaderView } from '../request/description.js';

/** Node's parsed `req.headers`: lower-case names, duplicates joined or dropped (so they cannot be told apart). */
type NodeHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Headers of the auth request, with duplicate detection the Fetch `Headers` class cannot give. */
export class HeaderMap implements HeaderView {
  private values: Map<string, string> | null = null;
  private dups: Set<string> | null = null;
  /** Node's own parse of the same headers, used as is when no name repeats. */
  private parsed: NodeHeaders | null = null;

  /** From Node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderMap {
    const m = new HeaderMap();
    const values = (m.values = new Map());
    for (let i = 0; i + 1 < raw.length; i += 2) m.add(values, raw[i]!.toLowerCase(), raw[i + 1]!);
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
    if (n * 2 !== raw.length) return HeaderMap.fromRaw(raw);
    const m = new HeaderMap();
    m.parsed = parsed;
    return m;
  }

  /** From a Fetch `Headers` (in-process requests; duplicates arrive already joined). */
  static fromHeaders(headers: Headers): HeaderMap {
    const m = new HeaderMap();
    const values = (m.values = new Map());
    headers.forEach((value, name) => m.add(values, name, value));
    return m;
  }

  private add(values: Map<string, string>, name: string, value: string): void {
    if (values.has(name)) (this.dups ??= new Set()).add(name);
    else values.set(name, value);
  }

  get(name: string): string | undefined {
    if (this.values !== null) return this.values.get(name);
    const v = Object.hasOwn(this.parsed!, name) ? this.parsed![name] : undefined;
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
