// Client IP from the peer and X-Forwarded-For, read right to left past trusted proxies only.
import { isIP } from 'node:net';
import type { Address } from './address.js';
import { CidrSet } from './cidr-set.js';

export type { Address };

/** Parse one address as it appears in a socket or an X-Forwarded-For element; null if not an IP. */
export function parseAddress(text: string): Address | null {
  let s = text.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) return null;
    s = s.slice(1, end);
  } else if (s.indexOf(':') !== -1 && s.indexOf(':') === s.lastIndexOf(':') && s.indexOf('.') !== -1) {
    s = s.slice(0, s.indexOf(':')); // ipv4:port
  }
  const pct = s.indexOf('%');
  if (pct !== -1) s = s.slice(0, pct);
  const v = isIP(s);
  if (v === 4) return { ip: s, family: 'ipv4' };
  if (v === 6) {
    const lower = s.toLowerCase();
    const v4 = unmapIpv4(lower);
    if (v4) return { ip: v4, family: 'ipv4' };
    return { ip: lower, family: 'ipv6' };
  }
  return null;
}

/** `::ffff:a.b.c.d` (any spelling) → `a.b.c.d`; null for every other IPv6 address. */
function unmapIpv4(v6: string): string | null {
  let text = v6;
  const tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  const quad = dotted?.[1];
  if (dotted && quad !== undefined) {
    const o = quad.split('.').map(Number);
    const a = o[0];
    const b = o[1];
    const c = o[2];
    const d = o[3];
    if (a === undefined || b === undefined || c === undefined || d === undefined) return null;
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, dotted.index + 1) + (text.endsWith('::' + quad) ? '' : '0');
    if (text.endsWith(':0')) text = text.slice(0, -2);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':').map((h) => parseInt(h, 16));
  const right = rest === undefined || rest === '' ? [] : rest.split(':').map((h) => parseInt(h, 16));
  right.push(...tail);
  const fill = 8 - left.length - right.length;
  if (rest === undefined && fill !== 0) return null;
  const groups = [...left, ...new Array<number>(Math.max(fill, 0)).fill(0), ...right];
  if (groups.length !== 8 || groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return null;
  const hi = groups[6];
  const lo = groups[7];
  if (hi === undefined || lo === undefined) return null;
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Problems found while parsing a CIDR list, each naming the bad element. */
export class CidrError extends Error {}

/** Compile `10.0.0.0/8,::1,192.0.2.7` into a CidrSet; throws CidrError naming the bad entry. */
export function compileCidrs(list: readonly string[]): CidrSet {
  const ranges: { family: 'ipv4' | 'ipv6'; ip: string; prefix: number }[] = [];
  for (const raw of list) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    const addr = parseAddress(slash === -1 ? entry : entry.slice(0, slash));
    if (!addr) throw new CidrError(`"${entry}" is not an IP address or CIDR`);
    const max = addr.family === 'ipv4' ? 32 : 128;
    if (slash === -1) {
      ranges.push({ ...addr, prefix: max });
      continue;
    }
    const prefixText = entry.slice(slash + 1);
    const prefix = Number(prefixText);
    if (!/^\d{1,3}$/.test(prefixText) || prefix > max)
      throw new CidrError(`"${entry}" has a bad prefix length`);
    ranges.push({ ...addr, prefix });
  }
  return CidrSet.of(ranges);
}

/** True when the address lies in the set. */
export function inList(list: CidrSet, addr: Address): boolean {
  return list.has(addr);
}

/** The socket's peer when it is one of the trusted proxies, else null (absent, unparsable or untrusted). */
export function trustedPeer(trusted: CidrSet, remote: string | undefined): Address | null {
  const peer = remote === undefined ? null : parseAddress(remote);
  return peer && inList(trusted, peer) ? peer : null;
}

/**
 * The key a client is counted under for IP limits and bans: the address for IPv4, the /64 for
 * IPv6, since one host commonly holds a whole /64 and could otherwise rotate through it.
 */
export function clientKey(addr: Address): string {
  if (addr.family === 'ipv4') return addr.ip;
  const [head, tail] = addr.ip.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return (
    groups
      .slice(0, 4)
      .map((g) => parseInt(g, 16).toString(16))
      .join(':') + '::/64'
  );
}

/** Outcome of client-IP derivation: the client's address, or why the chain is unusable. */
export type ClientIp = { ok: true; ip: Address } | { ok: false; detail: string };

/**
 * Walk X-Forwarded-For from the right, starting after the (trusted) peer: each hop that is a
 * trusted proxy is skipped; the first untrusted hop is the client. If every hop is trusted,
 * the leftmost is the client. A malformed hop before the client is found is an error.
 */
export function deriveClientIp(peer: Address, forwardedFor: string | undefined, trusted: CidrSet): ClientIp {
  if (forwardedFor === undefined || !inList(trusted, peer)) return { ok: true, ip: peer };
  const hops = forwardedFor.split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]?.trim();
    if (hop === undefined) break;
    if (hop === '' && hops.length === 1) return { ok: false, detail: 'empty X-Forwarded-For' };
    const addr = parseAddress(hop);
    if (!addr) return { ok: false, detail: 'malformed X-Forwarded-For element' };
    client = addr;
    if (!inList(trusted, addr)) break;
  }
  return { ok: true, ip: client };
}
