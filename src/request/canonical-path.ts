// Canonical path: the one form of a request path that every decision is taken on (docs/policy.md, "Canonical path").

/** Result of canonicalising a raw request target. */
export type CanonicalPath = { ok: true; path: string; alternates?: string[] } | { ok: false; detail: string };

/** Longest raw path (bytes before the query) warden will judge; longer is `bad_path`. */
export const MAX_PATH_LENGTH = 8192;

// Bytes written literally in the canonical form: RFC 3986 unreserved, sub-delims but `;`, and `:` `@`.
// Every other byte (space, `%`, `?`, `#`, `;`, quotes, non-ASCII…) is written as %XX, upper-case.
const LITERAL = new Uint8Array(256);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") {
  LITERAL[ch.charCodeAt(0)] = 1;
}
const HEX = '0123456789ABCDEF';
// Segments of literal characters (no `%`), none made only of dots, optional trailing slash.
const ALREADY_CANONICAL = /^(?:\/(?!\.+(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)*\/?$/;
// Dots and white space only, at least one dot: what trimming turns into `.`, `..` or nothing.
const ONLY_DOTS_AND_SPACES = /^[\s.]*\.[\s.]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

function isHexByte(b: number | undefined): boolean {
  return b !== undefined && hexValue(b) >= 0;
}

/**
 * Decode one segment's raw text into bytes, rejecting what docs/policy.md ("Canonical path") denies:
 * encoded `/` `\` NUL, control characters, `;`, malformed escapes, double encoding, bad UTF-8.
 */
function decodeSegment(raw: string): Uint8Array | string {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return 'malformed percent-encoding';
      const b = hi * 16 + lo;
      if (b === 0x2f || b === 0x5c) return 'encoded slash or backslash';
      if (b < 0x20 || b === 0x7f) return 'encoded control character';
      out.push(b);
      i += 2;
      continue;
    }
    if (c < 0x20 || c === 0x7f) return 'control character';
    if (c === 0x5c) return 'backslash';
    if (c === 0x3b) return 'path parameter';
    if (c === 0x23) return 'fragment';
    if (c > 0xff) return 'non-byte character';
    // A header value arrives as latin1: a raw byte >= 0x80 is one byte of a UTF-8 sequence.
    out.push(c);
  }
  const bytes = Uint8Array.from(out);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x25 && isHexByte(bytes[i + 1]) && isHexByte(bytes[i + 2])) return 'double encoding';
    if (b !== undefined && b >= 0x80) {
      try {
        utf8.decode(bytes);
      } catch {
        return 'malformed UTF-8';
      }
      break;
    }
  }
  return bytes;
}

/**
 * Why a decoded segment is ambiguous, or null: another server's reading of it (Unicode NFKC
 * normalisation, trimming of spaces and dots, cutting at `;`) is a dot segment or holds a slash,
 * so it could reach a path warden did not judge (`..%20`, `..%3B`, `%E2%80%A5`, fullwidth `／`).
 */
function ambiguity(bytes: Uint8Array): string | null {
  let ascii = true;
  let dot = false;
  for (const b of bytes) {
    if (b >= 0x80) ascii = false;
    else if (b === 0x2e) dot = true;
  }
  // Plain ASCII without a dot reads the same everywhere: NFKC is the identity on ASCII.
  if (ascii && !dot) return null;
  const text = ascii ? String.fromCharCode(...bytes) : utf8.decode(bytes);
  if (text === '.' || text === '..') return null; // a dot segment, resolved by removeDots
  const normal = ascii ? text : text.normalize('NFKC');
  if (normal.includes('/') || normal.includes('\\')) return 'segment with a slash after NFKC';
  const semi = normal.indexOf(';');
  const cut = semi === -1 ? normal : normal.slice(0, semi);
  return ONLY_DOTS_AND_SPACES.test(cut) ? 'ambiguous dot segment' : null;
}

function encodeSegment(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    s += LITERAL[b] ? String.fromCharCode(b) : '%' + HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return s;
}

/** Join segments into a path: empty segments merged, a final empty segment kept as a trailing slash. */
function joinSegments(segs: readonly string[]): string {
  const kept = segs.filter((x) => x !== '');
  const trailing = kept.length > 0 && segs.length > 0 && segs[segs.length - 1] === '';
  return '/' + kept.join('/') + (trailing ? '/' : '');
}

/** RFC 3986 §5.2.4 dot-segment removal, with empty segments kept (so `..` can remove one). */
function removeDots(segs: readonly string[], mergeFirst: boolean): string[] {
  const out: string[] = [];
  const input = mergeFirst ? segs.filter((x, i) => x !== '' || i === segs.length - 1) : segs;
  input.forEach((seg, i) => {
    const last = i === input.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (last) out.push('');
      return;
    }
    out.push(seg);
  });
  return out;
}

/**
 * Canonicalise a raw request target (`/a/b?q`): drop the query, decode escapes into the
 * canonical byte form, merge repeated slashes, remove dot segments. Case is preserved;
 * matching lower-cases (see {@link matchKey}).
 *
 * A path with dot segments means different things to different servers: an upstream may
 * resolve them in RFC order (`/a//../b` is `/a/b`) or route on them literally (`/admin/../x`
 * reaching an `/admin` handler). Such a path also returns those readings as `alternates`;
 * a request is allowed only if every reading is.
 */
export function canonicalizePath(target: string): CanonicalPath {
  const q = target.indexOf('?');
  const raw = q === -1 ? target : target.slice(0, q);
  if (raw.length === 0 || raw.charCodeAt(0) !== 0x2f)
    return { ok: false, detail: 'path does not start with /' };
  if (raw.length > MAX_PATH_LENGTH) return { ok: false, detail: 'path too long' };
  // Most paths are already canonical: only literal characters, no empty, `.` or `..` segment.
  if (ALREADY_CANONICAL.test(raw)) return { ok: true, path: raw };
  const parts = raw.split('/');
  const segs: string[] = [];
  let dots = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (part === undefined) break;
    const decoded = decodeSegment(part);
    if (typeof decoded === 'string') return { ok: false, detail: decoded };
    const ambiguous = ambiguity(decoded);
    if (ambiguous !== null) return { ok: false, detail: ambiguous };
    const seg = encodeSegment(decoded);
    if (seg === '.' || seg === '..') dots = true;
    segs.push(seg);
  }
  const path = joinSegments(removeDots(segs, true));
  if (!dots) return { ok: true, path };
  const alternates = [joinSegments(removeDots(segs, false)), joinSegments(segs)].filter(
    (p, i, all) => p !== path && all.indexOf(p) === i,
  );
  return alternates.length > 0 ? { ok: true, path, alternates } : { ok: true, path };
}

/** The form rules are matched against: canonical path, ASCII lower-cased. */
export function matchKey(canonical: string): string {
  return canonical.toLowerCase();
}
