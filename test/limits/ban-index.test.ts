// The prefix index behind admin bans: the longest covering network, found without a scan, IPv4 and IPv6.
import { describe, expect, it } from 'vitest';
import {
  addressNetwork,
  formatBase,
  overlaps,
  PrefixIndex,
  type Network,
} from '../../src/limits/ban-index.js';
import { checkTarget, trustedNetworks } from '../../src/limits/admin-bans.js';
import { parseAddress } from '../../src/request/client-ip.js';

const addr = (ip: string) => parseAddress(ip)!;
function net(text: string): Network {
  const [ip, prefix] = text.split('/') as [string, string];
  return { ...addressNetwork(addr(ip)), prefix: Number(prefix) };
}

describe('PrefixIndex', () => {
  it('finds the longest network holding an address, and nothing outside', () => {
    const idx = new PrefixIndex<string>();
    idx.add(net('10.0.0.0/8'), 'wide');
    idx.add(net('10.1.2.0/24'), 'narrow');
    idx.add(net('10.1.2.3/32'), 'host');
    const find = (ip: string) => idx.find(addr(ip), () => true);
    expect(find('10.1.2.3')).toBe('host');
    expect(find('10.1.2.4')).toBe('narrow');
    expect(find('10.200.0.1')).toBe('wide');
    expect(find('11.0.0.0')).toBeUndefined();
    expect(find('9.255.255.255')).toBeUndefined();
    // A value the caller does not accept (an expired ban) gives way to a wider one.
    expect(idx.find(addr('10.1.2.3'), (v) => v !== 'host')).toBe('narrow');
    expect(idx.emptyFor('ipv6')).toBe(true);
  });

  it('handles IPv6 networks, odd prefixes and IPv4-mapped clients', () => {
    const idx = new PrefixIndex<string>();
    idx.add(net('2001:db8::/33'), 'v6');
    idx.add(net('203.0.113.128/25'), 'v4');
    expect(idx.find(addr('2001:db8:7fff::1'), () => true)).toBe('v6');
    expect(idx.find(addr('2001:db8:8000::1'), () => true)).toBeUndefined();
    expect(idx.find(addr('::ffff:203.0.113.200'), () => true)).toBe('v4');
    expect(idx.find(addr('203.0.113.127'), () => true)).toBeUndefined();
  });

  it('answers in lookups per prefix length, not per ban: 100 000 bans cost what a few do', () => {
    const idx = new PrefixIndex<number>();
    for (let i = 0; i < 100_000; i++) idx.add(net(`${10 + (i % 50)}.${(i >> 8) & 255}.${i & 255}.0/24`), i);
    const started = performance.now();
    let found = 0;
    for (let i = 0; i < 100_000; i++)
      if (idx.find(addr(`11.${(i >> 8) & 255}.${i & 255}.9`), () => true)) found++;
    const perLookupUs = ((performance.now() - started) * 1000) / 100_000;
    expect(found).toBeGreaterThan(0);
    // A scan over 100 000 bans would take milliseconds per lookup.
    expect(perLookupUs).toBeLessThan(200);
  });
});

describe('ban targets', () => {
  const trusted = trustedNetworks(['127.0.0.0/8', '::1', '10.2.0.0/16']);
  it('normalizes addresses and networks as they will be enforced', () => {
    expect(checkTarget('ip', '2001:DB8:0:0::1', trusted)).toMatchObject({ ok: true, value: '2001:db8::1' });
    expect(checkTarget('cidr', '198.51.100.77/24', trusted)).toMatchObject({
      ok: true,
      value: '198.51.100.0/24',
    });
    expect(checkTarget('identity', 'agent-7', trusted)).toMatchObject({ ok: true, value: 'agent-7' });
  });

  it('refuses what would cover a trusted proxy, in either direction', () => {
    expect(checkTarget('cidr', '10.0.0.0/8', trusted)).toMatchObject({ ok: false });
    expect(checkTarget('cidr', '10.2.3.0/24', trusted)).toMatchObject({ ok: false });
    expect(checkTarget('ip', '::1', trusted)).toMatchObject({ ok: false });
    expect(checkTarget('cidr', '10.3.0.0/16', trusted)).toMatchObject({ ok: true });
  });

  it('overlap and formatting agree with the addresses', () => {
    expect(overlaps(net('192.0.2.0/24'), net('192.0.2.128/25'))).toBe(true);
    expect(overlaps(net('192.0.2.0/25'), net('192.0.2.128/25'))).toBe(false);
    expect(formatBase(net('2001:db8:0:0:1::/80'))).toBe('2001:db8:0:0:1::');
    expect(formatBase(net('2001:0:0:1:0:0:0:1/128'))).toBe('2001:0:0:1::1');
  });
});
