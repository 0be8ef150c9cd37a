// A set of addresses and CIDR ranges, checked without allocating: the trusted proxies, a rule's or
// a key's `networks`. Node's BlockList allocates a SocketAddress per check, which with a million
// distinct client addresses (no memo helps there) cost more than the rule lookup.
import type { Address } from './address.js';

/** IPv4 ranges as sorted, merged [start, end] pairs of unsigned 32-bit numbers; IPv6 as 32-hex-digit strings. */
export class CidrSet {
  private constructor(
    private readonly v4: Float64Array,
    private readonly v6: readonly string[],
  ) {}

  static of(ranges: readonly { family: 'ipv4' | 'ipv6'; ip: string; prefix: number }[]): CidrSet {
    const v4: [number, number][] = [];
    const v6: [string, string][] = [];
    for (const r of ranges) {
      if (r.family === 'ipv4') {
        const size = 2 ** (32 - r.prefix);
        const start = Math.floor(ipv4Number(r.ip) / size) * size;
        v4.push([start, start + size - 1]);
      } else {
        const hex = ipv6Hex(r.ip);
        const bits = hexBits(hex);
        const keep = bits.slice(0, r.prefix);
        const range: [string, string] = [bitsHex(keep.padEnd(128, '0')), bitsHex(keep.padEnd(128, '1'))];
        v6.push(range);
        // As BlockList does, an IPv4 address lies in an IPv6 range that holds its mapped form (::ffff:a.b.c.d).
        const mapped = mappedPart(range);
        if (mapped) v4.push(mapped);
      }
    }
    return new CidrSet(
      new Float64Array(merge(v4, (a, b) => b === a + 1).flat()),
      merge(v6, adjacentHex).flat(),
    );
  }

  get size(): number {
    return (this.v4.length + this.v6.length) / 2;
  }

  /** True when the address lies in one of the ranges. O(log n), no allocation for IPv4. */
  has(addr: Address): boolean {
    if (addr.family === 'ipv4') return this.v4.length > 0 && within(this.v4, ipv4Number(addr.ip));
    return this.v6.length > 0 && within(this.v6, ipv6Hex(addr.ip));
  }
}

const MAPPED_LOW = `${'0'.repeat(20)}ffff00000000`;
const MAPPED_HIGH = `${'0'.repeat(20)}ffffffffffff`;

/** The IPv4 addresses whose IPv4-mapped form lies in an IPv6 range, or null. */
function mappedPart([start, end]: [string, string]): [number, number] | null {
  const lo = start > MAPPED_LOW ? start : MAPPED_LOW;
  const hi = end < MAPPED_HIGH ? end : MAPPED_HIGH;
  return lo > hi ? null : [parseInt(lo.slice(24), 16), parseInt(hi.slice(24), 16)];
}

/** Binary search of sorted [start, end] pairs. */
function within<T extends number | string>(pairs: ArrayLike<T>, x: T): boolean {
  let lo = 0;
  let hi = pairs.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (x < (pairs[2 * mid] as T)) hi = mid - 1;
    else if (x > (pairs[2 * mid + 1] as T)) lo = mid + 1;
    else return true;
  }
  return false;
}

function merge<T>(ranges: [T, T][], adjacent: (end: T, start: T) => boolean): [T, T][] {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [T, T][] = [];
  for (const [s, e] of ranges) {
    const last = out[out.length - 1];
    if (last && (s <= last[1] || adjacent(last[1], s))) {
      if (e > last[1]) last[1] = e;
    } else out.push([s, e]);
  }
  return out;
}

/** A dotted quad (already validated) as an unsigned number, read without splitting. */
export function ipv4Number(ip: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return n * 256 + octet;
}

/** An IPv6 address (validated, lower case, no zone, not IPv4-mapped) as 32 hex digits. */
export function ipv6Hex(ip: string): string {
  let text = ip;
  if (text.indexOf('.') !== -1) {
    // An embedded dotted quad (`::1.2.3.4`, `64:ff9b::1.2.3.4`) is the last two groups.
    const at = text.lastIndexOf(':');
    const n = ipv4Number(text.slice(at + 1));
    text = `${text.slice(0, at + 1)}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = new Array<string>(Math.max(8 - left.length - right.length, 0)).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join('');
}

const hexBits = (hex: string) =>
  Array.from(hex, (d) => d)
    .map((d) => parseInt(d, 16).toString(2).padStart(4, '0'))
    .join('');
const bitsHex = (bits: string) =>
  Array.from({ length: 32 }, (_, i) => parseInt(bits.slice(i * 4, i * 4 + 4), 2).toString(16)).join('');

/** `end` + 1 === `start` for 32-hex-digit numbers. */
function adjacentHex(end: string, start: string): boolean {
  const i = end.search(/f*$/);
  if (i === 0) return false;
  const digit = parseInt(end[i - 1] ?? '0', 16) + 1;
  return start === end.slice(0, i - 1) + digit.toString(16) + '0'.repeat(32 - i);
}
