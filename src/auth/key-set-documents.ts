// The documents behind an issuer's keys: OpenID discovery and the JSON Web Key Set, read with a
// timeout and a size limit, reduced to the keys warden may verify with.
import type { JSONWebKeySet } from 'jose';
import { isAllowedIdpUrl } from '../config/issuers-schema.js';

/** Largest discovery document or key set warden reads. */
const MAX_DOCUMENT_BYTES = 512 * 1024;

/** How a document is fetched: the fetch function and the time allowed, in milliseconds. */
export interface DocumentFetch {
  fetch: typeof fetch;
  timeoutMs: number;
}

async function getJson(url: string, opts: DocumentFetch, accept: string): Promise<unknown> {
  const res = await opts.fetch(url, {
    headers: { accept },
    redirect: 'error',
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}`);
  const tooLarge = () => new Error(`document larger than ${MAX_DOCUMENT_BYTES} bytes at ${url}`);
  if (Number(res.headers.get('content-length') ?? 0) > MAX_DOCUMENT_BYTES) throw tooLarge();
  // Read at most the limit, whatever the server declares (or does not, when chunked).
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_DOCUMENT_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

/** OpenID discovery: the jwks_uri of an issuer whose metadata names exactly that issuer. */
export async function discoverJwksUri(issuer: string, opts: DocumentFetch): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const meta = await getJson(url, opts, 'application/json');
  if (!meta || typeof meta !== 'object') throw new Error(`discovery document at ${url} is not a JSON object`);
  const m = meta as { issuer?: unknown; jwks_uri?: unknown };
  if (m.issuer !== issuer)
    throw new Error(`discovery document at ${url} names issuer ${JSON.stringify(m.issuer)}, not ${issuer}`);
  if (typeof m.jwks_uri !== 'string' || !isAllowedIdpUrl(m.jwks_uri))
    throw new Error(`discovery document at ${url} has no usable https jwks_uri`);
  return m.jwks_uri;
}

/** The smallest RSA modulus jose verifies with. */
const MIN_RSA_BITS = 2048;

/** An RSA key below 2048 bits: jose refuses to verify with it (a TypeError, not a failed signature), so it is never offered. */
function weakRsa(k: { kty: string; n?: unknown }): boolean {
  if (k.kty !== 'RSA') return false;
  if (typeof k.n !== 'string') return true;
  const n = Buffer.from(k.n, 'base64url');
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  const lead = n[i]; // undefined when every byte is zero
  const bits = lead === undefined ? 0 : (n.length - i - 1) * 8 + (32 - Math.clz32(lead));
  return bits < MIN_RSA_BITS;
}

/** Only public signature keys: a symmetric (`oct`), encryption-only, private or weak RSA key in a key set is never used. */
function signingKeys(json: unknown): JSONWebKeySet {
  if (!json || typeof json !== 'object' || !Array.isArray((json as { keys?: unknown }).keys))
    throw new Error('not a JSON Web Key Set');
  const keys = (json as { keys: unknown[] }).keys.filter(
    (k): k is JSONWebKeySet['keys'][number] =>
      !!k &&
      typeof k === 'object' &&
      typeof (k as { kty?: unknown }).kty === 'string' &&
      (k as { kty: string }).kty !== 'oct' &&
      ((k as { use?: unknown }).use === undefined || (k as { use?: unknown }).use === 'sig') &&
      (k as { d?: unknown }).d === undefined &&
      !weakRsa(k as { kty: string; n?: unknown }),
  );
  return { keys };
}

/** Fetch a key set and keep its public signature keys. */
export async function fetchSigningKeys(jwksUri: string, opts: DocumentFetch): Promise<JSONWebKeySet> {
  return signingKeys(await getJson(jwksUri, opts, 'application/jwk-set+json, application/json'));
}
