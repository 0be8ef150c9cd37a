// The hash chain of the audit trail (CONTRACT.md, "Tamper-evident audit trail"): seq, replica, hash on every line.
import { createHash, hash as oneShot } from 'node:crypto';

/** `h` of a line: base64url (no padding) of SHA-256 over the UTF-8 bytes of `prev + "\n" + body`. */
export const chainHash: (prev: string, body: string) => string =
  typeof oneShot === 'function'
    ? (prev, body) => oneShot('sha256', `${prev}\n${body}`, 'base64url')
    : (prev, body) => createHash('sha256').update(`${prev}\n${body}`).digest('base64url');

/** The replica name written in every line: `WARDEN_REPLICA_ID`, else the host name and the process start time. */
export function replicaName(id: string | undefined, host: string, startMs: number): string {
  return id ?? `${host}@${new Date(startMs).toISOString()}`;
}

/** Where a replica's chain stands: the last `seq` written and its `hash`. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Seals lines into one replica's chain. A line comes in as its JSON text without the closing `}`
 * (the members of the event); `seal` appends `seq` and `replica`, hashes the body (that text plus
 * `}`) after the previous hash, and returns the line with `hash` last and a newline. One SHA-256
 * and a few string concatenations per line; the line is never parsed or re-serialised.
 */
export class AuditChain {
  private seq: number;
  private prev: string;
  /** `,"replica":"…"` as written, quoted once. */
  private readonly replicaMember: string;
  /** Whether the replica's name is 7-bit, so a plain line stays ASCII. */
  readonly asciiReplica: boolean;

  constructor(
    readonly replica: string,
    from: ChainHead = { seq: 0, hash: '' },
  ) {
    this.seq = from.seq;
    this.prev = from.hash;
    this.replicaMember = `,"replica":${JSON.stringify(replica)}`;
    // eslint-disable-next-line no-control-regex -- the test is for 7-bit text
    this.asciiReplica = /^[\x00-\x7f]*$/.test(this.replicaMember);
  }

  /** The last line sealed (seq 0 and hash "" before the first). */
  get head(): ChainHead {
    return { seq: this.seq, hash: this.prev };
  }

  /** `open` is a JSON object's text without its closing `}`; returns the chained line, newline-terminated. */
  seal(open: string): string {
    const pre = `${open},"seq":${++this.seq}${this.replicaMember}`;
    const h = chainHash(this.prev, `${pre}}`);
    this.prev = h;
    return `${pre},"hash":"${h}"}\n`;
  }
}

/** A chained line's body (the JSON text it was hashed as) and its `hash`, or null when it has no trailing hash. */
export function splitChained(line: string): { body: string; hash: string } | null {
  // `,"hash":"` + 43 characters + `"}`: looked at from the end only, whatever the line's length.
  const at = line.length - 54;
  if (at < 1 || !line.startsWith(',"hash":"', at) || !line.endsWith('"}')) return null;
  const hash = line.slice(at + 9, -2);
  if (!/^[A-Za-z0-9_-]{43}$/.test(hash)) return null;
  return { body: `${line.slice(0, at)}}`, hash };
}
