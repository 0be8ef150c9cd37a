// Sign-in facts (`acr`, `amr`, `auth_time`) of verified claims: what step-up rules judge (policy/step-up.ts).

/**
 * What a credential says about its sign-in, read once when it is verified. A claim of the wrong
 * type is kept as a problem, never as a value: it satisfies nothing.
 */
export interface AuthnFacts {
  /** `acr`, and the elements of Entra ID's `acrs` (authentication contexts); null when neither is present. */
  acr: readonly string[] | null;
  amr: readonly string[] | null;
  /** `auth_time`, seconds since the epoch. */
  authTime: number | null;
  /** Claims present but not as OIDC defines them. */
  bad: readonly ('bad_acr' | 'bad_amr' | 'bad_auth_time')[];
}

const VALUE = /^[\x21-\x7e]{1,256}$/;
const MAX_VALUES = 64;

/** A list of short printable values (each at most 256 characters, at most 64), or null when it is not one. */
function values(v: unknown): string[] | null {
  if (!Array.isArray(v) || v.length > MAX_VALUES) return null;
  return v.every((x) => typeof x === 'string' && VALUE.test(x)) ? (v as string[]) : null;
}

/** The sign-in facts of verified claims (an ID token's, a bearer token's); undefined when they have none. */
export function authnFacts(claims: Readonly<Record<string, unknown>>): AuthnFacts | undefined {
  const { acr, acrs, amr, auth_time: authTime } = claims;
  if (acr === undefined && acrs === undefined && amr === undefined && authTime === undefined)
    return undefined;
  const bad: AuthnFacts['bad'][number][] = [];
  const acrList: string[] = [];
  if (acr !== undefined) {
    if (typeof acr === 'string' && VALUE.test(acr)) acrList.push(acr);
    else bad.push('bad_acr');
  }
  if (acrs !== undefined) {
    const list = values(acrs);
    if (list) acrList.push(...list);
    else bad.push('bad_acr');
  }
  const amrList = amr === undefined ? null : values(amr);
  if (amr !== undefined && amrList === null) bad.push('bad_amr');
  const time =
    typeof authTime === 'number' && Number.isSafeInteger(authTime) && authTime > 0 ? authTime : null;
  if (authTime !== undefined && time === null) bad.push('bad_auth_time');
  return Object.freeze({
    acr: acrList.length > 0 ? Object.freeze(acrList) : null,
    amr: amrList ? Object.freeze([...amrList]) : null,
    authTime: time,
    bad: Object.freeze(bad),
  });
}
