// Host and path patterns of policy rules, compiled to matchers once.
import { canonicalizePath, matchKey } from '../request/canonical-path.js';

/** Compile a path pattern (`/api`, `/api/*`, `/api/**`) into a regex over lower-cased canonical paths. */
export function compilePathPattern(pattern: string): RegExp {
  const canon = canonicalizePath(pattern);
  if (!canon.ok) throw new Error(`path pattern: ${canon.detail}`);
  const segments = matchKey(canon.path).split('/').slice(1);
  if (segments.length === 1 && segments[0] === '') return /^\/$/;
  let src = '^';
  const last = segments.length - 1;
  segments.forEach((seg, i) => {
    if (seg === '**') src += i === last ? '(?:/.*)?' : '(?:/[^]*)?';
    else if (seg === '*') src += '/[^/]+';
    else if (seg === '') src += i === last ? '' : '/';
    else if (seg.includes('*')) throw new Error(`path pattern: "*" must be a whole segment ("${seg}")`);
    else src += '/' + seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  // `/api` and `/api/` are one resource to most upstreams: an exact pattern matches both.
  if (!segments[last]!.startsWith('**')) src += '/?';
  if (src === '^') src = '^/';
  return new RegExp(src + '$');
}

/** A host matcher: exact, or `*.example.com` for any subdomain depth. Case-insensitive, port ignored. */
export function compileHostPattern(pattern: string): (host: string) => boolean {
  const p = stripPort(pattern.toLowerCase());
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return (host) => host.length > suffix.length && host.endsWith(suffix);
  }
  return (host) => host === p;
}

/** `Example.COM:8443.` → `example.com`; IPv6 literals keep their brackets. */
export function normalizeHost(hostHeader: string): string {
  return stripPort(hostHeader.toLowerCase()).replace(/\.$/, '');
}

function stripPort(h: string): string {
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}
