// The keys `warden audit verify` checks checkpoints with: --jwks (a URL or a file) and --key (PEM files).
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { CheckpointKeys } from '../audit/chain-verify.js';

/** A key source that cannot be used: the message names it (exit 2). */
export class VerifyKeyError extends Error {}

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** The `keys` of a JWKS document, or why not. */
function keysOf(text: string, from: string): JWK[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new VerifyKeyError(`${from}: not JSON`);
  }
  const keys = (v as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new VerifyKeyError(`${from}: not a JWK set (no "keys" array)`);
  return keys as JWK[];
}

async function jwksFrom(src: string, fetchFn: typeof fetch): Promise<JWK[]> {
  if (/^https?:\/\//i.test(src)) {
    let res: Response;
    try {
      res = await fetchFn(src, {
        signal: AbortSignal.timeout(10_000),
        headers: { accept: 'application/json' },
      });
    } catch (e) {
      throw new VerifyKeyError(`${src}: ${(e as { cause?: { code?: string } }).cause?.code ?? codeOf(e)}`);
    }
    if (!res.ok) throw new VerifyKeyError(`${src}: HTTP ${res.status}`);
    return keysOf(await res.text(), src);
  }
  try {
    return keysOf(await readFile(src, 'utf8'), src);
  } catch (e) {
    if (e instanceof VerifyKeyError) throw e;
    throw new VerifyKeyError(`${src}: cannot read: ${codeOf(e)}`);
  }
}

/** A PEM key's public JWK, named by its thumbprint as warden names the signing key. */
async function pemKey(file: string): Promise<JWK> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    throw new VerifyKeyError(`${file}: cannot read: ${codeOf(e)}`);
  }
  try {
    const key = createPublicKey(pem);
    const ed = key.asymmetricKeyType === 'ed25519';
    if (!ed && !(key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'))
      throw new Error(
        `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}; checkpoints are Ed25519 or P-256`,
      );
    const jwk = await exportJWK(key);
    return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ed ? 'EdDSA' : 'ES256' };
  } catch (e) {
    throw new VerifyKeyError(`${file}: not a usable PEM key: ${(e as Error).message}`);
  }
}

/** The keys given, or null when none was. Throws VerifyKeyError naming a source that cannot be used. */
export async function verifyKeys(
  jwks: string | undefined,
  pems: readonly string[],
  fetchFn: typeof fetch = fetch,
): Promise<CheckpointKeys | null> {
  if (jwks === undefined && pems.length === 0) return null;
  const keys = [...(jwks === undefined ? [] : await jwksFrom(jwks, fetchFn))];
  for (const p of pems) keys.push(await pemKey(p));
  return new CheckpointKeys(keys);
}
