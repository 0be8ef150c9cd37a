// zod value types shared by environment variables: absolute http(s) URLs, header lines, port numbers.
import { z } from 'zod';

/** An absolute `http://` or `https://` URL with a host. */
export const absoluteHttpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.host !== '';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

/** One HTTP header line, `Name: value`, no CR, LF or NUL. */
export const headerLine = z
  .string()
  // eslint-disable-next-line no-control-regex -- NUL is one of the characters it refuses
  .regex(/^[A-Za-z0-9-]+:[^\r\n\x00]*$/, 'must be one header line like "Authorization: Bearer x"');

/** Split a validated header line into name and value (value trimmed). */
export function splitHeaderLine(line: string): [string, string] {
  const colon = line.indexOf(':');
  return [line.slice(0, colon), line.slice(colon + 1).trim()];
}

/** A TCP port number from `min` to 65535, said so when it is anything else (not "received NaN"). */
export function portNumber(min = 0) {
  return z
    .string()
    .trim()
    .refine((v) => /^\d{1,5}$/.test(v) && Number(v) >= min && Number(v) <= 65535, {
      error: (issue) => `must be a port number (${min}–65535), got "${String(issue.input)}"`,
    })
    .transform(Number);
}
