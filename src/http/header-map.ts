// Request headers in one pass: lower-case names, single values, duplicates remembered.
import type { HeaderView } from '../request/description.js';

/** Headers of the auth request, with duplicate detection the Fetch `Headers` class cannot give. */
export class HeaderMap implements HeaderView {
  private readonly values = new Map<string, string>();
  private dups: Set<string> | null = null;

  /** From Node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderMap {
    const m = new HeaderMap();
    for (let i = 0; i + 1 < raw.length; i += 2) m.add(raw[i]!.toLowerCase(), raw[i + 1]!);
    return m;
  }

  /** From a Fetch `Headers` (in-process requests; duplicates arrive already joined). */
  static fromHeaders(headers: Headers): HeaderMap {
    const m = new HeaderMap();
    headers.forEach((value, name) => m.add(name, value));
    return m;
  }

  private add(name: string, value: string): void {
    if (this.values.has(name)) (this.dups ??= new Set()).add(name);
    else this.values.set(name, value);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** True when the header appeared more than once. */
  duplicated(name: string): boolean {
    return this.dups !== null && this.dups.has(name);
  }
}
