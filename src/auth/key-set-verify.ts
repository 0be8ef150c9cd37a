// Verifying a JWT against an issuer's key set when more than one key fits it.
import { errors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';
import { NoMatchingKey } from './jwks.js';

/**
 * Most keys tried for one token. A token that names no `kid` (or a `kid` several keys carry) is
 * checked against each key that fits it; with more than this many, it is refused unchecked, so a
 * forged token costs a bounded number of signature checks whatever the key set holds.
 */
export const MAX_CANDIDATE_KEYS = 4;

/**
 * jose's jwtVerify against a key set. When several keys fit the token, each is tried in turn, as
 * jose's documentation does it (up to {@link MAX_CANDIDATE_KEYS}; jose skips a key it cannot
 * import): the first whose signature holds decides, its claim checks included; when none holds,
 * the signature is refused.
 */
export async function verifyWithKeySet(
  token: string,
  getKey: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTVerifyResult> {
  try {
    return await jwtVerify(token, getKey, options);
  } catch (e) {
    if (!(e instanceof errors.JWKSMultipleMatchingKeys)) throw e;
    const candidates = [];
    for await (const key of e) {
      candidates.push(key);
      if (candidates.length > MAX_CANDIDATE_KEYS)
        throw new NoMatchingKey(`more than ${MAX_CANDIDATE_KEYS} keys fit this token`);
    }
    for (const key of candidates) {
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        // Another key's signature: the next key. Anything else (its claims) decides.
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}
