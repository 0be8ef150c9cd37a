// Bans an admin makes (POST /admin/bans): an IP, a CIDR or an identity, refused on every replica until it ends.
import { randomBytes } from 'node:crypto';
import type { Identity } from '../auth/identity.js';
import type { LimitedDecision } from '../policy/decide.js';
import { parseAddress, type Address } from '../request/client-ip.js';
import type { BatchedCounts } from '../store/batched-counts.js';
import type { MirroredSet } from '../store/mirror.js';
import type { SetEntry } from '../store/store.js';
import { addressNetwork, familyWidth, formatBase, overlaps, PrefixIndex, type Network } from './ban-index.js';

/** What a ban refuses: a client address, a network of them, or an identity (`X-User-ID`). */
export type BanType = 'ip' | 'cidr' | 'identity';

/** Every ban type, for argument checking. */
export const BAN_TYPES: readonly BanType[] = ['ip', 'cidr', 'identity'];

/** A ban in force. */
export interface Ban {
  id: string;
  type: BanType;
  /** The address, the network (its base address and prefix) or the identity, as enforced. */
  value: string;
  reason: string;
  /** The admin who made it. */
  createdBy: string;
  createdAt: number;
  expiresAt: number;
}

/** The shortest prefix a CIDR ban may have: wider ones would refuse a good part of the Internet. */
export const MIN_PREFIX = { ipv4: 8, ipv6: 16 } as const;

/** The target checked and normalized, or why it is refused. */
export type BanTarget = { ok: true; value: string; network: Network | null } | { ok: false; message: string };

/** The networks of the trusted proxies (`WARDEN_TRUSTED_PROXIES`), which no ban may cover. */
export function trustedNetworks(list: readonly string[]): Network[] {
  return list.flatMap((text) => {
    const t = parseNetwork(text, true);
    return t ? [t] : [];
  });
}

/** `10.0.0.0/8` or an address (as a full-width network when `bare` allows it); null if unparsable. */
function parseNetwork(text: string, bare: boolean): Network | null {
  const slash = text.indexOf('/');
  if (slash === -1) {
    const a = bare ? parseAddress(text) : null;
    return a && addressNetwork(a);
  }
  const a = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > familyWidth(a.family)) return null;
  return { ...addressNetwork(a), prefix };
}

/** Check a ban's target: a valid address or network that covers none of warden's trusted proxies. */
export function checkTarget(type: BanType, value: string, trusted: readonly Network[]): BanTarget {
  if (type === 'identity') return { ok: true, value, network: null };
  const network =
    type === 'ip' ? parseNetwork(value, true) : value.includes('/') ? parseNetwork(value, false) : null;
  if (!network || (type === 'ip' && value.includes('/')))
    return {
      ok: false,
      message: type === 'ip' ? 'not an IP address' : 'not a CIDR like 203.0.113.0/24 or 2001:db8::/48',
    };
  if (network.prefix < MIN_PREFIX[network.family])
    return {
      ok: false,
      message: `a prefix shorter than /${MIN_PREFIX[network.family]} would refuse a good part of the Internet; ban narrower ranges`,
    };
  const proxy = trusted.find((t) => overlaps(t, network));
  if (proxy)
    return {
      ok: false,
      message: `covers a trusted proxy (${formatBase(proxy)}/${proxy.prefix}, WARDEN_TRUSTED_PROXIES): banning it would refuse every client behind it`,
    };
  const base = formatBase(network);
  return { ok: true, value: type === 'ip' ? base : `${base}/${network.prefix}`, network };
}

function fromEntry(e: SetEntry): Ban | null {
  const d = e.detail;
  const type = d?.type as BanType | undefined;
  if (!d || !type || !BAN_TYPES.includes(type) || e.expiresAt === undefined || d.value === undefined)
    return null;
  return {
    id: e.id,
    type,
    value: d.value,
    reason: e.reason ?? '',
    createdBy: d.by ?? '',
    createdAt: e.createdAt,
    expiresAt: e.expiresAt,
  };
}

/** The lookups built over the set: rebuilt when the mirror has changed, read with no I/O. */
interface Index {
  version: number;
  networks: PrefixIndex<Ban>;
  identities: Map<string, Ban>;
}

/**
 * The admin ban set, mirrored in memory on every replica (as revocations are), indexed so that a
 * check costs one Map read per prefix length in use and one for the identity.
 */
export class AdminBans {
  private index: Index = { version: -1, networks: new PrefixIndex(), identities: new Map() };

  constructor(
    readonly mirror: MirroredSet,
    /** Requests refused, per ban, across replicas; null counts nothing. */
    private readonly refused: BatchedCounts | null = null,
  ) {}

  private current(): Index {
    if (this.index.version === this.mirror.version) return this.index;
    const next: Index = { version: this.mirror.version, networks: new PrefixIndex(), identities: new Map() };
    // Of two bans on one target, the one that lasts longer is indexed (added last).
    const bans = this.mirror
      .list(-Infinity)
      .map(fromEntry)
      .filter((b): b is Ban => b !== null)
      .sort((a, b) => a.expiresAt - b.expiresAt);
    for (const b of bans) {
      if (b.type === 'identity') next.identities.set(b.value, b);
      else {
        const n = parseNetwork(b.value, true);
        if (n) next.networks.add(n, b);
      }
    }
    this.index = next;
    return next;
  }

  /** The ban in force on this client address, if any. No I/O. */
  ipBan(a: Address, now: number): Ban | null {
    if (this.mirror.size === 0) return null;
    const idx = this.current();
    if (idx.networks.emptyFor(a.family)) return null;
    return idx.networks.find(a, (b) => b.expiresAt > now) ?? null;
  }

  /** The ban in force on this identity (its `X-User-ID`), if any. No I/O. */
  identityBan(sub: string, now: number): Ban | null {
    if (this.mirror.size === 0) return null;
    const b = this.current().identities.get(sub);
    return b !== undefined && b.expiresAt > now ? b : null;
  }

  /** Count one request refused by `ban` (batched to the store). */
  countRefusal(id: string): void {
    this.refused?.count(`ban:${id}`);
  }

  /**
   * Ban; every replica hears it through the store. Rejects when the store does not take it: a ban
   * that held on one replica only would look in force while the others let the client through.
   */
  async add(b: Omit<Ban, 'id'>): Promise<Ban> {
    const ban: Ban = { id: `ban_${randomBytes(9).toString('base64url')}`, ...b };
    await this.mirror.add({
      id: ban.id,
      reason: ban.reason,
      createdAt: ban.createdAt,
      expiresAt: ban.expiresAt,
      detail: { type: ban.type, value: ban.value, by: ban.createdBy },
    });
    return ban;
  }

  /** The ban `id` if it is in force. */
  get(id: string, now: number): Ban | null {
    const e = this.mirror.get(id, now);
    return e ? fromEntry(e) : null;
  }

  /** Lift a ban (every replica hears it); false when there was none. */
  async remove(id: string): Promise<boolean> {
    const had = await this.mirror.remove(id);
    await this.refused?.forget([`ban:${id}`]);
    return had;
  }

  /** Every ban in force, newest first, with the requests each has refused so far. */
  async list(now: number): Promise<{ bans: (Ban & { refused: number })[]; countsShared: boolean }> {
    const bans = this.mirror
      .list(now)
      .map(fromEntry)
      .filter((b): b is Ban => b !== null)
      .sort((a, b) => b.createdAt - a.createdAt);
    const counts = this.refused
      ? await this.refused.read(bans.map((b) => `ban:${b.id}`))
      : { counts: [], shared: false };
    return {
      bans: bans.map((b, i) => ({ ...b, refused: counts.counts[i] ?? 0 })),
      countsShared: counts.shared,
    };
  }
}

/** The 429 decision of a request an admin ban refuses: Retry-After until the ban ends, no rule consulted. */
export function bannedDecision(ban: Ban, identity: Identity | null, now: number): LimitedDecision {
  return {
    kind: 'limited',
    rule: null,
    reason: 'banned',
    refusal: {
      name: 'ban',
      limit: 0,
      windowSec: Math.max(1, Math.round((ban.expiresAt - ban.createdAt) / 1000)),
      retryAfterSec: Math.max(1, Math.ceil((ban.expiresAt - now) / 1000)),
    },
    identity,
    rateLimit: null,
    ban: { id: ban.id, type: ban.type },
  };
}
