// JWT: a local issuer for the "warden JWT" configurations, and the first-verification cost per algorithm.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import { fail } from './proc.js';
import { median } from './stats.js';

export const FIRST_VERIFY_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
export type Alg = (typeof FIRST_VERIFY_ALGS)[number];

interface SigningKey<A extends string = string> {
  alg: A;
  privateKey: CryptoKey;
  jwk: JWK & { kid: string };
}

/** Serve a JWKS (and OpenID discovery) on 127.0.0.1 for the given public JWKs; resolves to its issuer URL. */
async function startJwksServer(jwks: readonly JWK[]): Promise<string> {
  let issuer = '';
  const server = createServer((req, res) => {
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/jwks` }
        : req.url === '/jwks'
          ? { keys: jwks }
          : null;
    res
      .writeHead(body ? 200 : 404, { 'content-type': 'application/json' })
      .end(body ? JSON.stringify(body) : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return issuer;
}

async function signingKey<A extends string>(alg: A): Promise<SigningKey<A>> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `bench-${alg}`, alg, use: 'sig' } };
}

const mintToken = (key: SigningKey, issuer: string, claims: Record<string, unknown>): Promise<string> =>
  new SignJWT({ aud: 'bench', groups: ['developer'], ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.jwk.kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime('3h')
    .sign(key.privateKey);

/** The local issuer of the JWT configurations. */
export interface BenchIssuer {
  issuer: string;
  /** The benchmark client's token (sub "bench", aud "bench", groups [developer]). */
  token: string;
  /** Another token of the same client, with `claims` replacing or adding to those. */
  mint(claims: Record<string, unknown>): Promise<string>;
}

/** An ES256 issuer for the warden JWT configurations and one token for the benchmark client (sub "bench"). */
export async function startBenchIssuer(): Promise<BenchIssuer> {
  const key = await signingKey('ES256');
  const issuer = await startJwksServer([key.jwk]);
  const mint = (claims: Record<string, unknown>) => mintToken(key, issuer, { sub: 'bench', ...claims });
  return { issuer, token: await mint({ jti: 'bench-token' }), mint };
}

/** The part of warden's JwtVerifier (dist/auth/jwt.js of the build measured) used here. */
interface Verifier {
  start(): Promise<void>;
  route(token: string): { issuer?: unknown; failure?: unknown };
  verify(token: string, routed: unknown, now: number): Promise<unknown>;
}
type VerifierClass = new (
  configs: { issuer: string; audience: string; clockToleranceSec: number; subjectPrefix: string }[],
  opts: { refreshMs: number; cooldownMs: number; timeoutMs: number; fetch: typeof fetch; now: () => number },
) => Verifier;

/** µs per verification of `n` distinct fresh tokens. */
async function batch(verifier: Verifier, key: SigningKey, issuer: string, n: number, tag: string) {
  const tokens = await Promise.all(
    Array.from({ length: n }, (_, i) => mintToken(key, issuer, { sub: `u${i}`, jti: `${tag}-${i}` })),
  );
  const started = process.hrtime.bigint();
  for (const t of tokens) {
    const routed = verifier.route(t);
    if (!routed.issuer)
      fail(`first-verification ${key.alg}: refused before verification (${String(routed.failure)})`);
    await verifier.verify(t, routed, Date.now());
  }
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

/**
 * µs per first-time verification (no cache) per algorithm, in this process with warden's own JwtVerifier
 * (structural checks, routing by iss, jose signature and claim checks): the median of 3 batches of
 * 300 distinct tokens each, after a warm-up batch.
 */
export async function firstVerificationCost(wardenCli: string): Promise<Record<Alg, number>> {
  const url = pathToFileURL(join(dirname(wardenCli), 'auth', 'jwt.js')).href;
  const { JwtVerifier } = (await import(url)) as { JwtVerifier: VerifierClass };
  const keys = await Promise.all(FIRST_VERIFY_ALGS.map(signingKey));
  const issuer = await startJwksServer(keys.map((k) => k.jwk));
  const verifier = new JwtVerifier(
    [{ issuer, audience: 'bench', clockToleranceSec: 30, subjectPrefix: '' }],
    {
      refreshMs: 3_600_000,
      cooldownMs: 30_000,
      timeoutMs: 5000,
      fetch,
      now: Date.now,
    },
  );
  await verifier.start();
  const out = {} as Record<Alg, number>;
  for (const key of keys) {
    await batch(verifier, key, issuer, 100, 'warm');
    const a = await batch(verifier, key, issuer, 300, 'a');
    const b = await batch(verifier, key, issuer, 300, 'b');
    const c = await batch(verifier, key, issuer, 300, 'c');
    out[key.alg] = median([a, b, c]);
  }
  return out;
}
