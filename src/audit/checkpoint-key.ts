// The key that signs audit checkpoints (WARDEN_AUDIT_SIGNING_KEY) and the public keys published for them.
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import { writePrivateFile } from '../util/private-file.js';

/** The key file cannot be used (unreadable, not PEM, a type other than Ed25519 or P-256): names the file. */
export class SigningKeyError extends Error {}

/** A checkpoint signing key: signs synchronously, so a checkpoint is sealed right after the line it seals. */
export interface CheckpointKey {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  /** The public key as published (`kid`, `alg`, `use: "sig"`). */
  publicJwk: JWK;
  /** A compact JWS of `payload` (JSON text). */
  signCompact(payload: string): string;
}

/** The generated key and the list of every public key that signed checkpoints here, in WARDEN_STATE_DIR. */
export const GENERATED_KEY_FILE = 'audit-signing-key.pem';
export const PUBLISHED_KEYS_FILE = 'audit-signing-keys.json';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

function algorithmOf(key: KeyObject): 'EdDSA' | 'ES256' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new Error(
    `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''}; use an Ed25519 or EC P-256 private key`,
  );
}

/**
 * The key of a PKCS#8 PEM. Signing goes through node:crypto's synchronous `sign` (jose signs only
 * asynchronously, and a checkpoint must take its place in the chain at once); the signature is the
 * JWS form (raw r‖s for ES256), checked by jose's `compactVerify` in `warden audit verify`.
 */
export async function checkpointKey(pem: string): Promise<CheckpointKey> {
  const privateKey = createPrivateKey(pem);
  const alg = algorithmOf(privateKey);
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk);
  const head = `${b64(JSON.stringify({ alg, kid }))}.`;
  return {
    kid,
    alg,
    publicJwk: { ...jwk, kid, alg, use: 'sig' },
    signCompact: (payload) => {
      const input = head + b64(payload);
      const sig =
        alg === 'EdDSA'
          ? sign(null, Buffer.from(input), privateKey)
          : sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${input}.${sig.toString('base64url')}`;
    },
  };
}

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** A new Ed25519 key written to `file` (0600) before it is used. */
async function generate(file: string): Promise<string> {
  const { privateKey } = await generateKeyPair('Ed25519', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  try {
    await writePrivateFile(file, pem);
  } catch (e) {
    throw new SigningKeyError(`${file} (WARDEN_AUDIT_SIGNING_KEY=generate): cannot write: ${codeOf(e)}`);
  }
  return pem;
}

/** The PEM of `spec`: a file, or (`generate`) the key in the state dir, made now when there is none. */
async function pemOf(spec: string, stateDir: string): Promise<{ pem: string; file: string }> {
  const file = spec === 'generate' ? join(stateDir, GENERATED_KEY_FILE) : spec;
  try {
    return { pem: await readFile(file, 'utf8'), file };
  } catch (e) {
    if (spec === 'generate' && codeOf(e) === 'ENOENT') return { pem: await generate(file), file };
    throw new SigningKeyError(`${file} (WARDEN_AUDIT_SIGNING_KEY): cannot read: ${codeOf(e)}`);
  }
}

/** The public keys that signed checkpoints from this state dir, oldest first (none when the file is absent). */
async function publishedKeys(file: string): Promise<JWK[]> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as { keys?: unknown };
    return Array.isArray(v.keys) ? (v.keys as JWK[]).filter((k) => typeof k.kid === 'string') : [];
  } catch (e) {
    // No list yet (or no state dir at all): this key is the first.
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return [];
    throw new SigningKeyError(`${file} (WARDEN_STATE_DIR): not a key list: ${codeOf(e)}`);
  }
}

/** The signing key and the key set published at /.well-known/jwks.json for checkpoints. */
export interface CheckpointSigning {
  key: CheckpointKey;
  /** The current key and every earlier one (a replaced file, a lost generated key): old checkpoints stay verifiable. */
  jwks: JWK[];
  /** Why a new key could not be added to the state dir's list (it is published all the same, but not after a change). */
  unsaved?: string;
}

/**
 * Load WARDEN_AUDIT_SIGNING_KEY (a PKCS#8 PEM file, or `generate`). The public key is added to
 * `<stateDir>/audit-signing-keys.json` when it is new, so a key replaced later stays listed.
 * Throws SigningKeyError naming the file when it cannot be read or used.
 */
export async function openCheckpointSigning(spec: string, stateDir: string): Promise<CheckpointSigning> {
  const { pem, file } = await pemOf(spec, stateDir);
  let key: CheckpointKey;
  try {
    key = await checkpointKey(pem);
  } catch (e) {
    throw new SigningKeyError(
      `${file} (WARDEN_AUDIT_SIGNING_KEY): not a usable PEM private key: ${codeOf(e)}`,
    );
  }
  const listFile = join(stateDir, PUBLISHED_KEYS_FILE);
  const earlier = await publishedKeys(listFile);
  if (earlier.some((k) => k.kid === key.kid)) return { key, jwks: earlier };
  const jwks = [...earlier, key.publicJwk];
  try {
    await mkdir(stateDir, { recursive: true });
    await writeFile(`${listFile}.tmp`, `${JSON.stringify({ keys: jwks }, null, 2)}\n`);
    await rename(`${listFile}.tmp`, listFile);
  } catch (e) {
    // A read-only state dir does not stop a key file from signing: the key is published, not remembered.
    return { key, jwks, unsaved: `${listFile}: cannot write: ${codeOf(e)}` };
  }
  return { key, jwks };
}
