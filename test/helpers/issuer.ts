// A test token issuer: key pairs made by jose, a JWKS + discovery server that can rotate keys and go down,
// and a minter for good and forged tokens.
import { KeyObject, sign as nodeSign } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/** A signing key with its public JWK. */
export interface TestKey {
  kid: string;
  alg: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
}

/** Make a key pair; `kid` defaults to `<alg>-<random>`. */
export async function makeKey(
  alg: 'RS256' | 'ES256' | 'ES384' | 'PS256' | 'EdDSA',
  kid = `${alg}-${Math.random().toString(36).slice(2, 8)}`,
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

/** The issuer server: `/.well-known/openid-configuration` and `/jwks`. */
export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  /** Keys published now. */
  keys: TestKey[];
  /** 'up', 'down' (503), 'hang' (never answers). */
  mode: 'up' | 'down' | 'hang';
  /** Requests received, by path. */
  hits: { discovery: number; jwks: number; other: number };
  /** While set, key-set answers wait for this promise (a fetch the test holds under way). */
  gate: Promise<void> | null;
  /** Sign a token with `key` (default the first published key). */
  mint(
    claims: JWTPayload,
    opts?: { key?: TestKey; header?: Record<string, unknown>; expiresIn?: number },
  ): Promise<string>;
  close(): Promise<void>;
}

/** Start an issuer on 127.0.0.1 with the given keys. */
export async function startIssuer(
  keys: TestKey[],
  opts: { discoveryIssuer?: string } = {},
): Promise<TestIssuer> {
  const state: TestIssuer = {
    issuer: '',
    jwksUri: '',
    keys,
    mode: 'up',
    hits: { discovery: 0, jwks: 0, other: 0 },
    gate: null,
    async mint(claims, o = {}) {
      const key = o.key ?? state.keys[0]!;
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({
        iss: state.issuer,
        iat: now,
        exp: now + (o.expiresIn ?? 300),
        ...claims,
      }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...o.header });
      return jwt.sign(key.privateKey);
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  const respond = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/.well-known/openid-configuration') state.hits.discovery++;
    else if (path === '/jwks') state.hits.jwks++;
    else state.hits.other++;
    if (path === '/jwks' && state.gate) await state.gate;
    if (state.mode === 'hang') return;
    if (state.mode === 'down') {
      res.writeHead(503).end();
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer: opts.discoveryIssuer ?? state.issuer, jwks_uri: state.jwksUri }));
    } else if (path === '/jwks') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: state.keys.map((k) => k.publicJwk) }));
    } else res.writeHead(404).end();
  };
  const server = createServer((req, res) => void respond(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.issuer = base;
  state.jwksUri = `${base}/jwks`;
  return state;
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * Sign any header and payload as given, with no checks (jose refuses to make many of the forgeries
 * the tests need: unknown `crit`, string `exp`, …). ES* signatures use the JOSE r||s encoding.
 */
export function signRaw(header: Record<string, unknown>, payload: unknown, key: TestKey): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const keyObject = KeyObject.from(key.privateKey);
  const hashName = key.alg.endsWith('384') ? 'sha384' : key.alg.endsWith('512') ? 'sha512' : 'sha256';
  const sig = nodeSign(
    key.alg === 'EdDSA' ? null : hashName,
    Buffer.from(input),
    key.alg.startsWith('ES') ? { key: keyObject, dsaEncoding: 'ieee-p1363' } : keyObject,
  );
  return `${input}.${sig.toString('base64url')}`;
}

/** An unsigned (`alg` none or a variant) token. */
export function unsignedToken(alg: string, payload: unknown): string {
  return `${b64({ alg, typ: 'JWT' })}.${b64(payload)}.`;
}
