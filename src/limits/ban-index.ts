// Addresses and networks as numbers, and the index that finds the ban covering a client IP in at most 33/129 lookups.
import type { Address } from '../request/client-ip.js';
import { ipv4Number, ipv6Hex } from '../request/cidr-set.js';

/** An address or network as its family, its bits and its prefix length (32 or 128 for one address). */
export interface Network {
  family: 'ipv4' | 'ipv6';
  bits: bigint;
  prefix: number;
}

/** The 128 bits of an IPv6 address (as parseAddress gives it). */
function ipv6Bits(ip: string): bigint {
  return BigInt(`0x${ipv6Hex(ip)}`);
}

/** The width of a family's addresses. */
export function familyWidth(family: Address['family']): number {
  return family === 'ipv4' ? 32 : 128;
}

/** An address as a network of its full width. */
export function addressNetwork(a: Address): Network {
  const bits = a.family === 'ipv4' ? BigInt(ipv4Number(a.ip)) : ipv6Bits(a.ip);
  return { family: a.family, bits, prefix: familyWidth(a.family) };
}

/** The network's first address: host bits cleared. */
export function networkBase(n: Network): bigint {
  const host = BigInt(familyWidth(n.family) - n.prefix);
  return (n.bits >> host) << host;
}

/** True when two networks share an address: the shorter prefix covers the other's start. */
export function overlaps(a: Network, b: Network): boolean {
  if (a.family !== b.family) return false;
  const shift = BigInt(familyWidth(a.family) - Math.min(a.prefix, b.prefix));
  return a.bits >> shift === b.bits >> shift;
}

/** The text of a network's base address (`10.0.0.0`, `2001:db8::`). */
export function formatBase(n: Network): string {
  const base = networkBase(n);
  if (n.family === 'ipv4') return [24n, 16n, 8n, 0n].map((s) => String((base >> s) & 255n)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((base >> s) & 0xffffn).toString(16));
  // Shorten the longest run of zero groups (two or more) to `::`, as RFC 5952 writes it.
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at === -1) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/**
 * Networks by prefix length, each length a Map from the network's leading bits: a lookup tries
 * only the lengths in use, longest first, so many bans cost a few Map reads, never a scan.
 */
export class PrefixIndex<T> {
  private readonly v4 = new Map<number, Map<number, T>>();
  private readonly v6 = new Map<number, Map<bigint, T>>();
  private v4Lengths: number[] = [];
  private v6Lengths: number[] = [];

  /** Index `value` under network `n` (a later value for the same network wins). */
  add(n: Network, value: T): void {
    if (n.family === 'ipv4') {
      let m = this.v4.get(n.prefix);
      if (!m) this.v4.set(n.prefix, (m = new Map<number, T>()));
      m.set(Number(n.bits >> BigInt(32 - n.prefix)), value);
      this.v4Lengths = [...this.v4.keys()].sort((a, b) => b - a);
    } else {
      let m = this.v6.get(n.prefix);
      if (!m) this.v6.set(n.prefix, (m = new Map<bigint, T>()));
      m.set(n.bits >> BigInt(128 - n.prefix), value);
      this.v6Lengths = [...this.v6.keys()].sort((a, b) => b - a);
    }
  }

  /** True when nothing of the address's family is indexed: the caller skips parsing it. */
  emptyFor(family: Address['family']): boolean {
    return (family === 'ipv4' ? this.v4Lengths : this.v6Lengths).length === 0;
  }

  /** Every value whose network holds `a`, longest prefix first, until `accept` takes one. */
  find(a: Address, accept: (v: T) => boolean): T | undefined {
    if (a.family === 'ipv4') {
      if (this.v4Lengths.length === 0) return undefined;
      const ip = ipv4Number(a.ip);
      for (const len of this.v4Lengths) {
        const v = this.v4.get(len)?.get(Math.floor(ip / 2 ** (32 - len)));
        if (v !== undefined && accept(v)) return v;
      }
      return undefined;
    }
    if (this.v6Lengths.length === 0) return undefined;
    const bits = ipv6Bits(a.ip);
    for (const len of this.v6Lengths) {
      const v = this.v6.get(len)?.get(bits >> BigInt(128 - len));
      if (v !== undefined && accept(v)) return v;
    }
    return undefined;
  }
}
