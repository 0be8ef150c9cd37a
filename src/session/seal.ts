// Sealed cookie values: JWE (dir + A256GCM) under rotating secrets; the first seals, all unseal.
import { createHash } from 'node:crypto';
import { compactDecrypt, CompactEncrypt } from 'jose';

/** Longest sealed value accepted for unsealing (a cookie is at most 4 KiB). */
const MAX_SEALED = 4096;

interface SealKey {
  kid: string;
  key: Uint8Array;
}

/**
 * Seals small JSON values for cookies. Each secret becomes a 256-bit key (SHA-256 of the secret,
 * with a purpose label so the same secret seals nothing else) named by a short key id, so unsealing
 * picks its key without trying them all.
 */
export class Sealer {
  private readonly keys: SealKey[];
  /** The first secret's key: the one that seals. */
  private readonly sealing: SealKey;

  constructor(secrets: readonly string[], purpose: string) {
    this.keys = secrets.map((s) => {
      const key = createHash('sha256').update(`warden ${purpose}\0`).update(s).digest();
      return {
        key: new Uint8Array(key),
        kid: createHash('sha256').update(key).digest('base64url').slice(0, 8),
      };
    });
    const first = this.keys[0];
    if (first === undefined) throw new Error('at least one secret');
    this.sealing = first;
  }

  /** A compact JWE of the value, readable until `expiresAt` (ms). */
  async seal(value: Record<string, unknown>, expiresAt: number): Promise<string> {
    const k = this.sealing;
    const payload = new TextEncoder().encode(JSON.stringify({ ...value, exp: Math.floor(expiresAt / 1000) }));
    return new CompactEncrypt(payload)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: k.kid })
      .encrypt(k.key);
  }

  /** The value sealed by any current secret and not expired at `now`, else null (tampered, foreign, expired). */
  async unseal(sealed: string, now: number): Promise<Record<string, unknown> | null> {
    if (
      sealed.length > MAX_SEALED ||
      !/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(sealed)
    )
      return null;
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(sealed.slice(0, sealed.indexOf('.')), 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const kid = typeof header === 'object' && header !== null && 'kid' in header ? header.kid : undefined;
    const k = this.keys.find((x) => x.kid === kid);
    if (!k) return null;
    try {
      const { plaintext } = await compactDecrypt(sealed, k.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      const value: unknown = JSON.parse(new TextDecoder().decode(plaintext));
      if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
      const exp = (value as { exp?: unknown }).exp;
      if (typeof exp !== 'number' || exp * 1000 <= now) return null;
      return value as Record<string, unknown>;
    } catch {
      return null;
    }
  }
}
