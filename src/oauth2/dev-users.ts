// Dev users (WARDEN_DEV_USERS): local accounts with scrypt password hashes, for development and demos.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { SCRYPT_HASH, type DevUsersFile } from '../config/sign-in-schema.js';
import type { BanSpec } from '../limits/bans.js';
import type { Limiter, RecordBackend, Store } from '../store/store.js';

type DevUser = DevUsersFile['users'][number];

/** scrypt's inputs besides the password: the cost parameters, the salt and the key length. */
interface ScryptParams {
  salt: Buffer;
  n: number;
  r: number;
  p: number;
  length: number;
}

function derive(password: string, { salt, n, r, p, length }: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFC'),
      salt,
      length,
      { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** A new `scrypt$N$r$p$salt$hash` for a password (what the dev users file stores). */
export async function hashPassword(password: string, n = 16384, r = 8, p = 1): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, { salt, n, r, p, length: 32 });
  return `scrypt$${n}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks passwords; an unknown user costs the same scrypt work as a known one. */
export class DevUsers {
  private readonly byName: ReadonlyMap<string, DevUser>;
  private readonly decoy: string;

  constructor(readonly users: readonly DevUser[]) {
    this.byName = new Map(users.map((u) => [u.username, u]));
    this.decoy =
      users[0]?.scrypt ??
      'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  }

  get enabled(): boolean {
    return this.byName.size > 0;
  }

  /** The user when the password is theirs, else null. */
  async check(username: string, password: string): Promise<DevUser | null> {
    if (username.length > 64 || password.length > 1024) return null;
    const user = this.byName.get(username);
    const ok = await verifyPassword(password, user?.scrypt ?? this.decoy);
    return user && ok ? user : null;
  }
}

async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = SCRYPT_HASH.exec(stored);
  if (!m) return false;
  // Every group of SCRYPT_HASH takes part in a match.
  const [, n, r, p, salt, hash] = m;
  if (n === undefined || r === undefined || p === undefined || salt === undefined || hash === undefined)
    return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, {
    salt: Buffer.from(salt, 'base64url'),
    n: Number(n),
    r: Number(r),
    p: Number(p),
    length: expected.length,
  });
  return timingSafeEqual(key, expected);
}

/**
 * Per-user failure bans for the dev form, beside the per-IP bans of the policy's `bans`: the same
 * thresholds, counted in the store (so shared by replicas), the ban a record that expires.
 */
export class UserBans {
  private readonly limiters = new Map<string, Limiter>();

  constructor(
    private readonly store: Store,
    private readonly records: RecordBackend,
  ) {}

  /** Seconds from `now` until a banned user may try again, or 0. */
  async banned(username: string, now: number): Promise<number> {
    const until = await this.records.get(`dev-user-ban:${username}`);
    return until === null ? 0 : Math.max(1, Math.ceil((Number(until) - now) / 1000));
  }

  /** Count a failure; the one that reaches the threshold bans the user for `spec.ban` seconds. */
  async recordFailure(username: string, spec: BanSpec, now: number): Promise<void> {
    if (!spec.enabled) return;
    const id = `${spec.failures}/${spec.window}`;
    let limiter = this.limiters.get(id);
    if (!limiter)
      this.limiters.set(
        id,
        (limiter = this.store.limiter({
          keyPrefix: `dev-user-failures:${id}`,
          points: spec.failures - 1,
          duration: spec.window,
        })),
      );
    const counted = await limiter.consume(username).catch(() => null);
    if (counted === null || counted.allowed) return;
    await this.records.put(`dev-user-ban:${username}`, String(now + spec.ban * 1000), spec.ban * 1000);
    await limiter.delete(username).catch(() => undefined);
  }
}
