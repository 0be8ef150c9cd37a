// X-Warden-Assertion: a short-lived JWT signed by warden on every allow, so an app can tell a request
// that came through the proxy from one that bypassed it. Public keys at /.well-known/jwks.json.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createPublicKey, createPrivateKey, type KeyObject } from 'node:crypto';
import type { Identity } from '../auth/identity.js';
import { Lru } from '../util/lru.js';
import type { Clock } from '../util/clock.js';
import { writePrivateFile } from '../util/private-file.js';

/** The assertion header on every allow (empty when there is no identity). */
export const ASSERTION_HEADER = 'X-Warden-Assertion';

/** One signing key: private for signing, public JWK for the key set, and until when it must be published. */
interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicJwk: JWK;
  /** Published until this time (ms); null while it is the current key. */
  retireAt: number | null;
}

/** The key's JOSE algorithm from its type and curve. */
function algorithmOf(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'rsa') return 'RS256';
  if (type === 'rsa-pss') return 'PS256';
  throw new Error(
    `unsupported key type ${type}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}; use an EC P-256/P-384/P-521, Ed25519 or RSA private key`,
  );
}

async function signingKey(pem: string): Promise<SigningKey> {
  const privateKey = createPrivateKey(pem);
  const alg = algorithmOf(privateKey);
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  // Sign once now: a key jose refuses (an RSA key under 2048 bits, …) fails at start, not on every allow.
  await new SignJWT({}).setProtectedHeader({ alg }).sign(privateKey);
  return { kid, alg, privateKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' }, retireAt: null };
}

/** Where the key comes from: a PEM file (`WARDEN_ASSERTION_KEY=/path`) or generated in the state dir. */
export type AssertionKeySource =
  { kind: 'file'; path: string } | { kind: 'generated'; stateDir: string; rotateMs: number };

/** The assertion key file cannot be used: names the path, for the exit-2 report. */
export class AssertionKeyError extends Error {}

interface Cached {
  token: string;
  /** Re-sign after this time (half the lifetime), so a reused token always has half its life left. */
  refreshAt: number;
}

const GENERATED_FILE = 'assertion-key.pem';

/** The key of `src`: the PEM file, or the generated key in the state dir (generated now when there is none). */
async function loadKey(src: AssertionKeySource): Promise<SigningKey> {
  if (src.kind === 'file') {
    let pem: string;
    try {
      pem = await readFile(src.path, 'utf8');
    } catch (e) {
      throw new AssertionKeyError(
        `${src.path} (WARDEN_ASSERTION_KEY): cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    try {
      return await signingKey(pem);
    } catch (e) {
      throw new AssertionKeyError(
        `${src.path} (WARDEN_ASSERTION_KEY): not a usable PEM private key: ${(e as Error).message}`,
      );
    }
  }
  const file = join(src.stateDir, GENERATED_FILE);
  try {
    return await signingKey(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new AssertionKeyError(`${file} (WARDEN_ASSERTION_KEY=generate): ${(e as Error).message}`);
    return generateKey(file);
  }
}

/** A new ES256 key, written to `file` (0600) before it is used. */
async function generateKey(file: string): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  try {
    await writePrivateFile(file, pem);
  } catch (e) {
    throw new AssertionKeyError(
      `${file} (WARDEN_ASSERTION_KEY=generate): cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return signingKey(pem);
}

/** Signs assertions and publishes its public keys; rotation keeps an old key until its tokens have expired. */
export class AssertionSigner {
  /** The current key first, then the retired ones still published. */
  private keys: [SigningKey, ...SigningKey[]];
  /** Assertions by identity, roles and host; the least recently used goes first past 10 000. */
  private readonly cache = new Lru<Cached>(10_000);
  private rotateTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly source: AssertionKeySource,
    readonly ttlSec: number,
    private readonly clock: Clock,
    first: SigningKey,
  ) {
    this.keys = [first];
  }

  /**
   * Load (or generate) the key. Throws AssertionKeyError naming the file when it cannot be used.
   * `clock` dates the tokens and retires old keys.
   */
  static async open(
    source: AssertionKeySource,
    ttlSec: number,
    clock: Clock,
    onRotateError: (e: Error) => void = () => {},
  ): Promise<AssertionSigner> {
    const s = new AssertionSigner(source, ttlSec, clock, await loadKey(source));
    if (source.kind === 'generated') {
      // A failed rotation (state dir unwritable) keeps the current key; it must never take the process down.
      s.rotateTimer = setInterval(() => void s.rotate().catch(onRotateError), source.rotateMs);
      s.rotateTimer.unref();
    }
    return s;
  }

  /**
   * Make a new key current (re-read the file, or generate a new one). The previous key stays in the
   * key set until every token it signed has expired. Returns whether the key changed.
   */
  async rotate(): Promise<boolean> {
    const src = this.source;
    const next =
      src.kind === 'generated' ? await generateKey(join(src.stateDir, GENERATED_FILE)) : await loadKey(src);
    const current = this.keys[0];
    if (next.kid === current.kid) return false;
    const now = this.clock.now();
    current.retireAt = now + (this.ttlSec + 5) * 1000;
    this.keys = [next, ...this.keys.filter((k) => k.retireAt !== null && k.retireAt > now)];
    this.cache.clear();
    return true;
  }

  /** The public key set: the current key and every retired key whose tokens may still be valid. */
  jwks(): { keys: JWK[] } {
    const now = this.clock.now();
    return { keys: this.keys.filter((k) => k.retireAt === null || k.retireAt > now).map((k) => k.publicJwk) };
  }

  /**
   * The assertion for an identity at a host: reused while it has at least half its life left, so a
   * busy client costs a lookup; otherwise signed anew (asynchronously).
   */
  assertion(identity: Identity, host: string): string | Promise<string> {
    const now = this.clock.now();
    const cacheKey = `${identity.method}\n${identity.issuer ?? ''}\n${identity.sub}\n${identity.roles.join(',')}\n${host}`;
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined && now < hit.refreshAt) return hit.token;
    const key = this.keys[0];
    const iat = Math.floor(now / 1000);
    return new SignJWT({ roles: [...identity.roles], auth_method: identity.method })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer('warden')
      .setSubject(identity.sub)
      .setAudience(host)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSec)
      .setJti(randomUUID())
      .sign(key.privateKey)
      .then((token) => {
        this.cache.set(cacheKey, { token, refreshAt: now + (this.ttlSec * 1000) / 2 });
        return token;
      });
  }

  close(): void {
    if (this.rotateTimer) clearInterval(this.rotateTimer);
  }
}
