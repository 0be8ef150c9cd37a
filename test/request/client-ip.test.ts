import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCidrs, deriveClientIp, parseAddress } from '../../src/request/client-ip.js';

const trusted = compileCidrs(['127.0.0.0/8', '10.0.0.0/8', '::1']);
const peer = parseAddress('127.0.0.1')!;
const ip = (xff: string | undefined, p = peer) => {
  const r = deriveClientIp(p, xff, trusted);
  return r.ok ? r.ip.ip : `ERR ${r.detail}`;
};

describe('client IP', () => {
  it('takes the rightmost untrusted hop', () => {
    expect(ip('203.0.113.9')).toBe('203.0.113.9');
    expect(ip('6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
    expect(ip('6.6.6.6, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
  });

  it('ignores a spoofed left part, whatever it says', () => {
    expect(ip('10.0.0.1, 198.51.100.7')).toBe('198.51.100.7');
    expect(ip('garbage, 198.51.100.7')).toBe('198.51.100.7');
  });

  it('uses the leftmost hop when every hop is trusted', () => {
    expect(ip('10.0.0.5, 127.0.0.1')).toBe('10.0.0.5');
  });

  it('uses the peer when there is no X-Forwarded-For', () => {
    expect(ip(undefined)).toBe('127.0.0.1');
  });

  it('never reads X-Forwarded-For from an untrusted peer', () => {
    expect(ip('1.1.1.1', parseAddress('192.0.2.1')!)).toBe('192.0.2.1');
  });

  it('refuses a malformed hop before the client is found', () => {
    expect(ip('203.0.113.9, nonsense')).toMatch(/^ERR/);
    expect(ip('')).toMatch(/^ERR/);
  });

  it('unmaps IPv4-mapped IPv6 and strips ports and brackets', () => {
    expect(ip('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(ip('[2001:db8::1]:4711')).toBe('2001:db8::1');
    expect(ip('203.0.113.9:5555')).toBe('203.0.113.9');
    expect(ip('10.0.0.1, ::ffff:10.0.0.2')).toBe('10.0.0.1');
    expect(parseAddress('::ffff:7f00:1')).toEqual({ ip: '127.0.0.1', family: 'ipv4' });
    expect(parseAddress('0:0:0:0:0:ffff:127.0.0.1')).toEqual({ ip: '127.0.0.1', family: 'ipv4' });
    expect(parseAddress('2001:db8::ffff:1.2.3.4')?.family).toBe('ipv6');
  });

  it('compiles CIDRs and names bad entries', () => {
    expect(() => compileCidrs(['10.0.0.0/33'])).toThrow(/10.0.0.0\/33/);
    expect(() => compileCidrs(['nope'])).toThrow(/nope/);
    const bl = compileCidrs(['2001:db8::/32', '192.0.2.7']);
    expect(bl.has({ ip: '2001:db8::5', family: 'ipv6' })).toBe(true);
    expect(bl.has({ ip: '2001:db9::5', family: 'ipv6' })).toBe(false);
    expect(bl.has({ ip: '192.0.2.7', family: 'ipv4' })).toBe(true);
    expect(bl.has({ ip: '192.0.2.8', family: 'ipv4' })).toBe(false);
  });

  it("matches what Node's BlockList matches, for any addresses and ranges", () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }));
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }));
    const range = fc.oneof(
      v4,
      v6,
      v4.map(([ip]) => [ip, 32] as const),
    );
    fc.assert(
      fc.property(
        fc.array(range, { maxLength: 8 }),
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 20 }),
        (ranges, probes) => {
          const parsed = ranges.flatMap(([ip, prefix]) => {
            const a = parseAddress(ip);
            // An IPv4-mapped IPv6 range is read as IPv4; keep only prefixes valid for what it became.
            return a && prefix <= (a.family === 'ipv4' ? 32 : 128) ? [{ a, prefix }] : [];
          });
          const ours = compileCidrs(parsed.map(({ a, prefix }) => `${a.ip}/${prefix}`));
          const node = new BlockList();
          for (const { a, prefix } of parsed) node.addSubnet(a.ip, prefix, a.family);
          // Probes inside the ranges too, not only random ones.
          const inside = parsed.map(({ a }) => a.ip);
          for (const p of [...probes, ...inside]) {
            const a = parseAddress(p);
            if (a)
              expect(ours.has(a), `${a.ip} in ${parsed.map((x) => `${x.a.ip}/${x.prefix}`).join(',')}`).toBe(
                node.check(a.ip, a.family),
              );
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
