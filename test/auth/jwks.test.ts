// Key sets against a real JWKS server: rotation, stale keys while the endpoint is down, the refetch cooldown
// under an unknown-kid flood (fetches counted), timeouts, discovery; and the cache of verified tokens.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { claimsMapping } from '../../src/auth/claims.js';
import { AuthError } from '../../src/auth/errors.js';
import { readCredentials, type Credentials } from '../../src/auth/credentials.js';
import { IssuerKeys, type KeySetOptions } from '../../src/auth/jwks.js';
import { JwtAuthenticator, JwtVerifier } from '../../src/auth/jwt.js';
import { MAX_CANDIDATE_KEYS } from '../../src/auth/key-set-verify.js';
import { exportJWK } from 'jose';
import { issuersSchema } from '../../src/config/issuers-schema.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { HeaderMap } from '../../src/http/header-map.js';
import { parseAddress } from '../../src/request/client-ip.js';
import { send } from '../helpers/http.js';
import { makeKey, signRaw, startIssuer, type TestIssuer, type TestKey } from '../helpers/issuer.js';
import { startWarden } from '../helpers/warden.js';

const AUD = 'api';
let open: TestIssuer[] = [];
afterEach(async () => {
  await Promise.all(open.map((i) => i.close()));
  open = [];
});

/** A clock the test moves by hand. */
function clock(start = Date.now()) {
  const c = { t: start, now: () => c.t, advance: (ms: number) => (c.t += ms) };
  return c;
}

function options(now: () => number, extra: Partial<KeySetOptions> = {}): KeySetOptions {
  return { refreshMs: 600_000, cooldownMs: 30_000, timeoutMs: 1000, fetch, now, ...extra };
}

function setup(iss: TestIssuer, now: () => number, extra: Partial<KeySetOptions> = {}) {
  const config = issuersSchema.parse([{ issuer: iss.issuer, audience: AUD }])[0]!;
  const verifier = new JwtVerifier([config], options(now, extra));
  const policy = policySchema.parse({ roles: { developer: ['api:*'] } });
  const auth = new JwtAuthenticator(verifier, claimsMapping(policy), null, 100);
  return { verifier, auth };
}

/**
 * An issuer serving `keys`, a clock moved by hand, and an authenticator whose finished key-set
 * fetches (key set in place, not merely requested from the server) are counted in `fetched.n`.
 */
async function withIssuer(keys: TestKey[]) {
  const iss = await startIssuer(keys);
  open.push(iss);
  const c = clock();
  const fetched = { n: 0 };
  const { auth, verifier } = setup(iss, c.now, { onFetch: () => fetched.n++ });
  /**
   * Publish `keys`, let the key set held go stale, present `remembered` (answered from the cache,
   * as user `sub`; it starts the background refresh) and wait for that fetch to finish.
   */
  const republish = async (keys: TestKey[], remembered: string, sub: string) => {
    iss.keys = keys;
    c.advance(601_000);
    const target = fetched.n + 1;
    expect(await check(auth, remembered, c.now())).toBe(`ok:${sub}`);
    await vi.waitFor(() => expect(fetched.n).toBe(target));
  };
  return { iss, c, fetched, auth, verifier, republish };
}

const addr = parseAddress('127.0.0.1')!;
/** The credentials of a request carrying `Authorization: Bearer <token>`. */
function request(token: string): Credentials {
  return readCredentials({
    method: 'GET',
    proto: 'https',
    host: 'a',
    authority: 'a',
    path: '/',
    matchPath: '/',
    altMatchPaths: null,
    rawUri: '/',
    clientIp: addr,
    peer: addr,
    headers: HeaderMap.fromHeaders(new Headers({ authorization: `Bearer ${token}` })),
  });
}

async function check(auth: JwtAuthenticator, token: string, now: number): Promise<string> {
  const r = await auth.authenticate(request(token), now);
  if (r === null) return 'none';
  return r instanceof AuthError ? r.failure : `ok:${r.sub}`;
}

describe('key sets', () => {
  it('picks up a rotated key on the first token signed with it (after the cooldown)', async () => {
    const k1 = await makeKey('ES256');
    const { iss, c, fetched, auth } = await withIssuer([k1]);
    const t1 = await iss.mint({ aud: AUD, sub: 'u1' });
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    expect(iss.hits.jwks).toBe(1);
    const k2 = await makeKey('ES256');
    iss.keys = [k1, k2];
    c.advance(31_000);
    const t2 = await iss.mint({ aud: AUD, sub: 'u2' }, { key: k2 });
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    expect(iss.hits.jwks).toBe(2);
    // The old key is retired at the IdP: tokens it signed stop once the set is refreshed.
    iss.keys = [k2];
    c.advance(601_000);
    const t3 = await iss.mint({ aud: AUD, sub: 'u3' }, { key: k1 });
    await check(auth, t3, c.now()); // stale: answered from the keys held, refresh started in the background
    await vi.waitFor(() => expect(fetched.n).toBe(3)); // fetched and in place, not merely requested
    c.advance(31_000);
    const t4 = await iss.mint({ aud: AUD, sub: 'u4' }, { key: k1 });
    expect(await check(auth, t4, c.now())).toBe('unknown_kid');
  });

  it('keeps the keys it holds while the endpoint is down, and tries again only after the cooldown', async () => {
    const k1 = await makeKey('RS256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    const c = clock();
    const { auth, verifier } = setup(iss, c.now);
    await verifier.start();
    expect(verifier.ready().ready).toBe(true);
    iss.mode = 'down';
    c.advance(3_600_000); // an hour later the set is long past its refresh time
    const at = () => ({ iat: Math.floor(c.now() / 1000), exp: Math.floor(c.now() / 1000) + 300 });
    for (let i = 0; i < 5; i++)
      expect(await check(auth, await iss.mint({ aud: AUD, sub: `s${i}`, ...at() }), c.now())).toBe(
        `ok:s${i}`,
      );
    await vi.waitFor(() => expect(iss.hits.jwks).toBe(2)); // one background refresh, failed
    c.advance(31_000);
    expect(await check(auth, await iss.mint({ aud: AUD, sub: 'later', ...at() }), c.now())).toBe('ok:later');
    await vi.waitFor(() => expect(iss.hits.jwks).toBe(3));
    expect(verifier.ready().ready).toBe(true);
  });

  it('fetches at most once per cooldown under a flood of unknown kids, sequential or concurrent', async () => {
    const k1 = await makeKey('ES256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    const c = clock();
    const { auth, verifier } = setup(iss, c.now);
    await verifier.start();
    expect(iss.hits.jwks).toBe(1);
    const rogue = await makeKey('ES256');
    const forge = (i: number) =>
      signRaw(
        { alg: 'ES256', kid: `rogue-${i}` },
        { iss: iss.issuer, aud: AUD, sub: 'x', exp: Math.floor(c.now() / 1000) + 60 },
        rogue,
      );
    c.advance(31_000);
    for (let i = 0; i < 200; i++) expect(await check(auth, forge(i), c.now())).toBe('unknown_kid');
    expect(iss.hits.jwks).toBe(2);
    const concurrent = await Promise.all(
      Array.from({ length: 200 }, (_, i) => check(auth, forge(1000 + i), c.now())),
    );
    expect(new Set(concurrent)).toEqual(new Set(['unknown_kid']));
    expect(iss.hits.jwks).toBe(2);
    // With the endpoint down the cooldown still holds: failures do not turn the flood into fetches.
    iss.mode = 'down';
    c.advance(31_000);
    await Promise.all(Array.from({ length: 100 }, (_, i) => check(auth, forge(2000 + i), c.now())));
    for (let i = 0; i < 100; i++) await check(auth, forge(3000 + i), c.now());
    expect(iss.hits.jwks).toBe(3);
  });

  it('gives up on a hanging endpoint after the timeout: 401 keys_unavailable, not a stalled request', async () => {
    const k1 = await makeKey('ES256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    iss.mode = 'hang';
    const { auth } = setup(iss, Date.now, { timeoutMs: 300 });
    const started = Date.now();
    expect(await check(auth, await iss.mint({ aud: AUD, sub: 'u' }), Date.now())).toBe('keys_unavailable');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('finds the key set by discovery, and refuses discovery metadata naming another issuer', async () => {
    const k1 = await makeKey('ES256');
    const good = await startIssuer([k1]);
    const bad = await startIssuer([k1], { discoveryIssuer: 'https://evil.example.com' });
    open.push(good, bad);
    const c = clock();
    expect(await check(setup(good, c.now).auth, await good.mint({ aud: AUD, sub: 'u' }), c.now())).toBe(
      'ok:u',
    );
    expect(good.hits.discovery).toBe(1);
    const keys = new IssuerKeys(bad.issuer, undefined, options(c.now));
    await keys.refresh();
    expect(keys.ready).toBe(false);
    expect(keys.lastError).toMatch(/names issuer "https:\/\/evil\.example\.com"/);
    expect(bad.hits.jwks).toBe(0);
  });

  it('stops reading a key set past 512 KiB, even when it is sent chunked without a length', async () => {
    const { createServer } = await import('node:http');
    let sent = 0;
    const big = createServer((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (sent < 8 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (sent < 8 * 1024 * 1024) res.once('drain', pump);
        else res.end();
      };
      pump();
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(big.address() as { port: number }).port}`;
    const keys = new IssuerKeys(url, `${url}/jwks`, options(Date.now));
    await keys.refresh();
    expect(keys.ready).toBe(false);
    expect(keys.lastError).toMatch(/larger than 524288 bytes/);
    big.closeAllConnections();
    big.close();
  });

  it('ignores symmetric and private keys a key set carries', async () => {
    const k1 = await makeKey('ES256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    const oct = {
      kty: 'oct',
      k: Buffer.from('secret-secret-secret-secret-1234').toString('base64url'),
      kid: 'hmac',
      alg: 'HS256',
    };
    iss.keys = [k1, { ...k1, kid: 'hmac', alg: 'HS256', publicJwk: oct }];
    const { auth } = setup(iss, Date.now);
    const hs = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'hmac' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: iss.issuer, aud: AUD, sub: 'x', exp: 9e9 })).toString('base64url')}`;
    const { createHmac } = await import('node:crypto');
    const forged = `${hs}.${createHmac('sha256', 'secret-secret-secret-secret-1234').update(hs).digest('base64url')}`;
    expect(await check(auth, forged, Date.now())).toBe('alg_not_allowed');
  });
});

describe('verified-token cache', () => {
  it('verifies a repeated token once, and never past its exp', async () => {
    const k1 = await makeKey('ES256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    const c = clock();
    const { auth, verifier } = setup(iss, c.now);
    const spy = vi.spyOn(verifier, 'verify');
    const t = await iss.mint({ aud: AUD, sub: 'u', exp: Math.floor(c.now() / 1000) + 60 });
    for (let i = 0; i < 50; i++) expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(1);
    // A cache hit is answered synchronously: no promise, no signature check.
    expect(auth.authenticate(request(t), c.now())).not.toBeInstanceOf(Promise);
    c.advance(61_000);
    expect(await check(auth, t, c.now())).toBe('ok:u'); // within the 30 s clock tolerance: verified again
    expect(spy).toHaveBeenCalledTimes(2);
    c.advance(30_000);
    expect(await check(auth, t, c.now())).toBe('expired');
  });

  it('stays within its bound', async () => {
    const k1 = await makeKey('ES256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    const { auth } = setup(iss, Date.now);
    for (let i = 0; i < 150; i++) await check(auth, await iss.mint({ aud: AUD, sub: `u${i}` }), Date.now());
    expect(auth.cached).toBe(100);
  });

  it('forgets a remembered token once its key leaves the key set, noticed while only remembered tokens arrive', async () => {
    const k1 = await makeKey('ES256');
    const k2 = await makeKey('ES256');
    const { iss, c, auth, verifier, republish } = await withIssuer([k1, k2]);
    const spy = vi.spyOn(verifier, 'verify');
    const exp = Math.floor(c.now() / 1000) + 3 * 3600;
    const t1 = await iss.mint({ aud: AUD, sub: 'u1', exp }, { key: k1 });
    const t2 = await iss.mint({ aud: AUD, sub: 'u2', exp }, { key: k2 });
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    expect(spy).toHaveBeenCalledTimes(2);
    expect(iss.hits.jwks).toBe(1);

    // A refresh that only adds a key changes nothing for the tokens remembered.
    await republish([k1, k2, await makeKey('ES256')], t1, 'u1');
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    expect(spy).toHaveBeenCalledTimes(2);

    // The IdP withdraws k1: the next background refresh, started by a remembered token, sees it gone.
    await republish([k2], t2, 'u2');
    expect(await check(auth, t1, c.now())).toBe('unknown_kid');
    expect(spy).toHaveBeenCalledTimes(3);
    // k2 is still published as it was: its token stays remembered, no signature check.
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    expect(spy).toHaveBeenCalledTimes(3);
    expect(iss.hits.jwks).toBe(3);
  });

  it('a key set flapping between two versions (replicas mid-rotation) checks again only the tokens whose key comes and goes', async () => {
    const [k1, k2, k3] = await Promise.all([makeKey('ES256'), makeKey('ES256'), makeKey('ES256')]);
    const { iss, c, auth, verifier, republish } = await withIssuer([k1, k2]);
    const spy = vi.spyOn(verifier, 'verify');
    const exp = Math.floor(c.now() / 1000) + 3 * 3600;
    const t1 = await iss.mint({ aud: AUD, sub: 'u1', exp }, { key: k1 });
    const t2 = await iss.mint({ aud: AUD, sub: 'u2', exp }, { key: k2 });
    const t3 = await iss.mint({ aud: AUD, sub: 'u3', exp }, { key: k3 });
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    await republish([k2, k3], t2, 'u2');
    expect(await check(auth, t1, c.now())).toBe('unknown_kid');
    expect(await check(auth, t3, c.now())).toBe('ok:u3');
    const checks = spy.mock.calls.length;
    for (let flap = 0; flap < 3; flap++) {
      await republish([k1, k2], t2, 'u2');
      expect(await check(auth, t3, c.now())).toBe('unknown_kid');
      await republish([k2, k3], t2, 'u2');
      expect(await check(auth, t3, c.now())).toBe('ok:u3');
    }
    // t2's key was in every version: never checked again. t3's left and came back: checked each time.
    expect(spy.mock.calls.map(([t]) => t).slice(checks)).toEqual([t3, t3, t3, t3, t3, t3]);
  });

  it('a token whose key arrived with a re-fetch for its kid is checked again when a later key set lacks that kid', async () => {
    const k1 = await makeKey('ES256');
    const k2 = await makeKey('ES256');
    const { iss, c, fetched, auth, verifier, republish } = await withIssuer([k1]);
    const spy = vi.spyOn(verifier, 'verify');
    const t1 = await iss.mint(
      { aud: AUD, sub: 'u1', exp: Math.floor(c.now() / 1000) + 3 * 3600 },
      { key: k1 },
    );
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    iss.keys = [k1, k2];
    c.advance(31_000);
    const t2 = await iss.mint(
      { aud: AUD, sub: 'u2', exp: Math.floor(c.now() / 1000) + 3 * 3600 },
      { key: k2 },
    );
    expect(await check(auth, t2, c.now())).toBe('ok:u2'); // unknown kid: fetched again, verified with the new set
    expect(fetched.n).toBe(2);
    // Remembered with the set its key came from (the one fetched for it), so a hit needs no check.
    expect(await check(auth, t2, c.now())).toBe('ok:u2');
    expect(spy).toHaveBeenCalledTimes(2);
    // The key set goes back to the version without k2 (a replica behind the IdP's load balancer lagging).
    await republish([k1], t1, 'u1');
    expect(await check(auth, t2, c.now())).toBe('unknown_kid');
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it('a token with a new kid arriving while a background refresh is under way waits for it instead of being refused', async () => {
    const k1 = await makeKey('ES256');
    const k2 = await makeKey('ES256');
    const { iss, c, fetched, auth } = await withIssuer([k1]);
    const exp = Math.floor(c.now() / 1000) + 3 * 3600;
    const t1 = await iss.mint({ aud: AUD, sub: 'u1', exp }, { key: k1 });
    const t2 = await iss.mint({ aud: AUD, sub: 'u2', exp }, { key: k2 });
    expect(await check(auth, t1, c.now())).toBe('ok:u1');
    iss.keys = [k1, k2];
    let open = () => {};
    iss.gate = new Promise<void>((r) => (open = r));
    c.advance(601_000);
    expect(await check(auth, t1, c.now())).toBe('ok:u1'); // stale: starts the background refresh, held by the gate
    await vi.waitFor(() => expect(iss.hits.jwks).toBe(2));
    let answer: string | null = null;
    const pending = check(auth, t2, c.now()).then((a) => (answer = a));
    await new Promise((r) => setTimeout(r, 50));
    expect(answer).toBeNull(); // waiting for the fetch under way, not refused by the cooldown
    open();
    await pending;
    expect(answer).toBe('ok:u2');
    expect(fetched.n).toBe(2);
    expect(iss.hits.jwks).toBe(2);
  });

  it('an unknown-kid flood while the key set endpoint hangs: one fetch, every request answered within the timeout', async () => {
    const { iss, c, fetched, auth } = await withIssuer([await makeKey('ES256')]);
    const exp = Math.floor(c.now() / 1000) + 3 * 3600;
    expect(await check(auth, await iss.mint({ aud: AUD, sub: 'u', exp }), c.now())).toBe('ok:u');
    iss.mode = 'hang';
    c.advance(31_000);
    const strangers = await Promise.all(Array.from({ length: 50 }, () => makeKey('ES256')));
    const tokens = await Promise.all(
      strangers.map((k, i) => iss.mint({ aud: AUD, sub: `x${i}`, exp }, { key: k })),
    );
    const started = performance.now();
    const answers = await Promise.all(tokens.map((t) => check(auth, t, c.now())));
    const took = performance.now() - started;
    expect(new Set(answers)).toEqual(new Set(['unknown_kid']));
    expect(iss.hits.jwks).toBe(2);
    expect(fetched.n).toBe(2); // the one fetch, timed out
    expect(took).toBeLessThan(1000 + 500); // timeoutMs 1000 in these tests, plus slack
  });

  it('a token without a kid whose key arrived with a re-fetch is refused once that key is withdrawn', async () => {
    const k256 = await makeKey('ES256');
    const k384 = await makeKey('ES384');
    const { iss, c, fetched, auth, verifier, republish } = await withIssuer([k256]);
    const spy = vi.spyOn(verifier, 'verify');
    const t = await iss.mint(
      { aud: AUD, sub: 'u', exp: Math.floor(c.now() / 1000) + 3 * 3600 },
      { key: k384, header: { kid: undefined } },
    );
    await verifier.start();
    expect(fetched.n).toBe(1);
    iss.keys = [k256, k384];
    c.advance(31_000);
    expect(await check(auth, t, c.now())).toBe('ok:u'); // no P-384 key held: fetched again, verified with the new set
    expect(fetched.n).toBe(2);
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(1);
    // The P-384 key is withdrawn; the P-256 key, the only one of the first set, stays.
    await republish([k256], t, 'u');
    expect(await check(auth, t, c.now())).toBe('unknown_kid');
  });

  it('a kid carried by two keys: both are tried, and withdrawing an unrelated key keeps the token', async () => {
    const [a, b, other] = await Promise.all([
      makeKey('ES256', 'dup'),
      makeKey('ES256', 'dup'),
      makeKey('ES256'),
    ]);
    const { iss, c, auth, verifier, republish } = await withIssuer([a, b, other]);
    const spy = vi.spyOn(verifier, 'verify');
    const t = await iss.mint({ aud: AUD, sub: 'u', exp: Math.floor(c.now() / 1000) + 3 * 3600 }, { key: b });
    expect(await check(auth, t, c.now())).toBe('ok:u');
    await republish([a, b], t, 'u');
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(1);
    // Withdrawing the other key with that kid checks it again (jose could have chosen either); it still holds.
    await republish([b], t, 'u');
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('a token without a kid: its claims are judged by the key whose signature holds; too many fitting keys refuse it unchecked', async () => {
    const keys = await Promise.all(Array.from({ length: MAX_CANDIDATE_KEYS + 1 }, () => makeKey('ES256')));
    const { iss, c, fetched, auth } = await withIssuer(keys.slice(0, 2));
    const exp = Math.floor(c.now() / 1000) + 3 * 3600;
    const noKid = { kid: undefined };
    // The second key's signature holds: a wrong audience is refused as such, not as a bad signature.
    expect(
      await check(
        auth,
        await iss.mint({ aud: 'someone-else', sub: 'u', exp }, { key: keys[1], header: noKid }),
        c.now(),
      ),
    ).toBe('wrong_audience');
    const t = await iss.mint({ aud: AUD, sub: 'u', exp }, { key: keys[0], header: noKid });
    expect(await check(auth, t, c.now())).toBe('ok:u');
    // One key more than MAX_CANDIDATE_KEYS fits: a token without a kid is refused before any signature check.
    iss.keys = keys;
    c.advance(601_000);
    expect(await check(auth, t, c.now())).toBe('ok:u'); // remembered; starts the refresh
    await vi.waitFor(() => expect(fetched.n).toBe(2));
    const signatureChecks = vi.spyOn(crypto.subtle, 'verify');
    try {
      expect(
        await check(
          auth,
          await iss.mint({ aud: AUD, sub: 'v', exp }, { key: keys[0], header: noKid }),
          c.now(),
        ),
      ).toBe('unknown_kid');
      expect(signatureChecks).not.toHaveBeenCalled();
      // A token naming its kid is unaffected by the set's size.
      expect(await check(auth, await iss.mint({ aud: AUD, sub: 'k', exp }, { key: keys[4] }), c.now())).toBe(
        'ok:k',
      );
      expect(signatureChecks).toHaveBeenCalledTimes(1);
    } finally {
      signatureChecks.mockRestore();
    }
  });

  it('a token without a kid is tried against up to MAX_CANDIDATE_KEYS keys, the signing key last', async () => {
    const keys = await Promise.all(Array.from({ length: MAX_CANDIDATE_KEYS }, () => makeKey('ES256')));
    const { iss, c, auth } = await withIssuer(keys);
    const t = await iss.mint(
      { aud: AUD, sub: 'u', exp: Math.floor(c.now() / 1000) + 3600 },
      { key: keys[MAX_CANDIDATE_KEYS - 1], header: { kid: undefined } },
    );
    const signatureChecks = vi.spyOn(crypto.subtle, 'verify');
    try {
      expect(await check(auth, t, c.now())).toBe('ok:u');
      expect(signatureChecks).toHaveBeenCalledTimes(MAX_CANDIDATE_KEYS);
    } finally {
      signatureChecks.mockRestore();
    }
  });

  it('ignores an RSA key below 2048 bits in a key set: a token naming it is refused as unknown_kid, not an error', async () => {
    const strong = await makeKey('RS256');
    const pair = await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    );
    const weak: TestKey = {
      kid: 'weak',
      alg: 'RS256',
      privateKey: pair.privateKey,
      publicJwk: { ...(await exportJWK(pair.publicKey)), kid: 'weak', alg: 'RS256', use: 'sig' },
    };
    const { iss, c, auth } = await withIssuer([weak, strong]);
    const exp = Math.floor(c.now() / 1000) + 3600;
    const now = Math.floor(c.now() / 1000);
    expect(
      await check(
        auth,
        signRaw(
          { alg: 'RS256', kid: 'weak', typ: 'at+jwt' },
          { iss: iss.issuer, aud: AUD, sub: 'w', iat: now, exp },
          weak,
        ),
        c.now(),
      ),
    ).toBe('unknown_kid');
    expect(
      await check(
        auth,
        await iss.mint({ aud: AUD, sub: 's', exp }, { key: strong, header: { kid: undefined } }),
        c.now(),
      ),
    ).toBe('ok:s');
  });

  it('verifies a token without a kid against each key that fits; any withdrawal checks it again', async () => {
    const [k1, k2, k3, other] = await Promise.all([
      makeKey('ES256'),
      makeKey('ES256'),
      makeKey('ES256'),
      makeKey('ES256'),
    ]);
    const { iss, c, auth, verifier, republish } = await withIssuer([k1, k2]);
    const spy = vi.spyOn(verifier, 'verify');
    const exp = Math.floor(c.now() / 1000) + 3 * 3600;
    const noKid = { kid: undefined };
    const t = await iss.mint({ aud: AUD, sub: 'u', exp }, { key: k2, header: noKid });
    expect(JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString())).not.toHaveProperty('kid');
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(
      await check(auth, await iss.mint({ aud: AUD, sub: 'x', exp }, { key: other, header: noKid }), c.now()),
    ).toBe('bad_signature');
    expect(spy).toHaveBeenCalledTimes(2);
    // Adding a key keeps it remembered; withdrawing any key checks it again (jose might have chosen that one).
    await republish([k1, k2, k3], t, 'u');
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(2);
    await republish([k2, k3], t, 'u');
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(await check(auth, t, c.now())).toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(3);
    await republish([k1, k3], t, 'u');
    expect(await check(auth, t, c.now())).toBe('bad_signature');
  });

  it('checks a remembered token again when its key is republished with other members (alg, key_ops)', async () => {
    const k1 = await makeKey('ES256');
    const { iss, c, auth, verifier, republish } = await withIssuer([k1]);
    const spy = vi.spyOn(verifier, 'verify');
    const t = await iss.mint({ aud: AUD, sub: 'u', exp: Math.floor(c.now() / 1000) + 3 * 3600 }, { key: k1 });
    expect(await check(auth, t, c.now())).toBe('ok:u');
    // The same key material, now published for encryption-style use only: jose will not verify with it.
    await republish([{ ...k1, publicJwk: { ...k1.publicJwk, key_ops: ['encrypt'] } }], t, 'u');
    expect(await check(auth, t, c.now())).not.toBe('ok:u');
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('while the endpoint is down, remembered tokens keep working and cause one fetch per cooldown', async () => {
    const { iss, c, fetched, auth } = await withIssuer([await makeKey('ES256')]);
    const t = await iss.mint({ aud: AUD, sub: 'u', exp: Math.floor(c.now() / 1000) + 3 * 3600 });
    expect(await check(auth, t, c.now())).toBe('ok:u');
    iss.mode = 'down';
    c.advance(601_000);
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 300; i++) expect(await check(auth, t, c.now())).toBe('ok:u');
      await vi.waitFor(() => expect(fetched.n).toBe(1 + round));
      for (let i = 0; i < 300; i++) expect(await check(auth, t, c.now())).toBe('ok:u');
      c.advance(31_000);
    }
    expect(iss.hits.jwks).toBe(4);
  });
});

describe('readiness', () => {
  it('/readyz is 503 naming the issuer until its keys are fetched', async () => {
    const k1 = await makeKey('ES256');
    const iss = await startIssuer([k1]);
    open.push(iss);
    iss.mode = 'down';
    const w = await startWarden({
      policy: {},
      env: {
        WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: iss.issuer, audience: AUD }]),
        WARDEN_JWKS_COOLDOWN: '0.2s',
      },
    });
    try {
      const r = await send(`${w.url}/readyz`);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toMatchObject({
        ready: false,
        notReady: ['jwks'],
        parts: { jwks: false },
        details: { jwks: `waiting for the keys of ${iss.issuer}` },
      });
      expect(w.ops.some((l) => l.event === 'jwks_fetch_failed' && l.issuer === iss.issuer)).toBe(true);
      iss.mode = 'up';
      // Retried in the background after each cooldown: ready without any token arriving.
      await vi.waitFor(async () => expect((await send(`${w.url}/readyz`)).status).toBe(200), {
        timeout: 3000,
        interval: 100,
      });
      const t = await iss.mint({ aud: AUD, sub: 'u' });
      const v = await send(`${w.url}/verify/traefik`, {
        headers: {
          'X-Forwarded-Method': 'GET',
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'a',
          'X-Forwarded-Uri': '/',
          Authorization: `Bearer ${t}`,
        },
      });
      expect(v.status).toBe(403); // authenticated, and the empty policy's default deny
    } finally {
      await w.close();
    }
  });
});
