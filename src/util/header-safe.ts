// Header-safe text: any string made fit for an HTTP header value, reversibly.

/**
 * A value for an HTTP header: HTTP carries bytes, not Unicode, so characters outside printable
 * ASCII are percent-encoded as UTF-8 (`山田` → `%E5%B1%B1%E7%94%B0`), and so is `%` itself
 * (`%25`), so that no plain value can spell another's encoding: decodeURIComponent gives the original.
 */
export function headerSafe(value: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(value)
    ? value
    : value.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}
