// The address type shared by client-IP derivation and CIDR sets.

/** An address normalised for matching: IPv4-mapped IPv6 unmapped, zone and brackets removed. */
export interface Address {
  ip: string;
  family: 'ipv4' | 'ipv6';
}
