// One replica's chain walked in seq order: the first break (edited, missing, reordered, duplicate, bad or unknown signature).
import { compactVerify, importJWK, type CryptoKey, type JWK } from 'jose';
import { chainHash } from './chain.js';

/** What is wrong at a line. `unsigned`: keys were given but none of the replica's lines is sealed by a checkpoint. */
export type BreakKind =
  | 'edited'
  | 'missing'
  | 'reordered'
  | 'duplicate'
  | 'malformed'
  | 'bad_signature'
  | 'unknown_key'
  | 'unsigned';

/** The first break of a replica's chain (or a malformed line), at a physical line (1-based) of a file. */
export interface ChainBreak {
  file: string;
  line: number;
  kind: BreakKind;
  replica: string | null;
  seq: number | null;
  detail: string;
}

/** A chained line as the walk needs it. */
export interface Link {
  seq: number;
  replica: string;
  hash: string;
  body: string;
  /** The line's `time`, when it has one (checkpoints have none). */
  time: string | null;
  checkpoint: { sealsSeq: number; sealsHash: string; sig: string; kid: string } | null;
}

/** The public keys checkpoints are checked against, by `kid` (from --jwks or --key). */
export class CheckpointKeys {
  private readonly imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
  constructor(private readonly jwks: readonly JWK[]) {}

  get size(): number {
    return this.jwks.length;
  }

  /** The key of `kid` for `alg`, or null when no key of that id (and algorithm) was given. */
  key(kid: string, alg: string): Promise<CryptoKey | Uint8Array> | null {
    const jwk = this.jwks.find((k) => k.kid === kid && (k.alg === undefined || k.alg === alg));
    if (!jwk) return null;
    let k = this.imported.get(`${kid} ${alg}`);
    if (!k) this.imported.set(`${kid} ${alg}`, (k = importJWK(jwk, alg) as Promise<CryptoKey | Uint8Array>));
    return k;
  }
}

const ALGS = ['EdDSA', 'ES256'];

/** The signature of a checkpoint against its sealed line: null when it is good, else the break's kind and why. */
async function checkSignature(
  c: NonNullable<Link['checkpoint']>,
  replica: string,
  sealedTime: string | null,
  keys: CheckpointKeys,
): Promise<{ kind: BreakKind; detail: string } | null> {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = JSON.parse(
      Buffer.from(c.sig.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as typeof header;
  } catch {
    return { kind: 'bad_signature', detail: 'sig is not a compact JWS' };
  }
  const alg = typeof header.alg === 'string' && ALGS.includes(header.alg) ? header.alg : null;
  if (alg === null || header.kid !== c.kid)
    return { kind: 'bad_signature', detail: 'the JWS header is not EdDSA or ES256 with the line’s kid' };
  const key = keys.key(c.kid, alg);
  if (!key) return { kind: 'unknown_key', detail: `signed by kid ${c.kid}, not among the keys given` };
  let payload: Record<string, unknown>;
  try {
    const r = await compactVerify(c.sig, await key, { algorithms: ALGS });
    payload = JSON.parse(new TextDecoder().decode(r.payload)) as Record<string, unknown>;
  } catch {
    return { kind: 'bad_signature', detail: `the signature does not verify with kid ${c.kid}` };
  }
  const same =
    payload.replica === replica &&
    payload.seq === c.sealsSeq &&
    payload.hash === c.sealsHash &&
    (sealedTime === null || payload.time === sealedTime);
  return same ? null : { kind: 'bad_signature', detail: 'the signed payload is not the sealed line’s' };
}

/** Where one replica's walk stands, fed its lines in seq order (file by file, or one stream). */
export class ReplicaWalk {
  private expected = 1;
  private prev = '';
  private prevTime: string | null = null;
  private started = false;
  /** A gap waiting to be told apart: `missing`, or `reordered` if the expected seq turns up later. */
  private gap: ChainBreak | null = null;
  broken: ChainBreak | null = null;
  /** The seq of the last checkpoint whose signature was good (0: none). */
  sealedThrough = 0;
  /** Where the replica's first line was (for an `unsigned` break). */
  first: { file: string; line: number; seq: number } | null = null;
  checkpointsChecked = 0;

  constructor(
    readonly replica: string,
    private readonly keys: CheckpointKeys | null,
    private readonly notes: string[],
  ) {}

  /** Take the next line of this replica; returns once it is checked (a checkpoint's signature included). */
  async feed(link: Link, file: string, n: number): Promise<void> {
    if (this.broken) return;
    const at = { file, line: n, replica: this.replica, seq: link.seq };
    this.first ??= { file, line: n, seq: link.seq };
    if (this.gap) {
      if (link.seq === this.expected)
        this.broken = {
          ...this.gap,
          kind: 'reordered',
          detail: `${this.gap.detail}; seq ${this.expected} comes later, at ${file}:${n}`,
        };
      return;
    }
    if (!this.started && link.seq > 1) {
      this.notes.push(
        `${this.replica}: starts at seq ${link.seq}; the lines before are not among the files given`,
      );
      this.expected = link.seq;
    }
    const anchor = !this.started && link.seq > 1;
    this.started = true;
    if (link.seq > this.expected) {
      this.gap = {
        ...at,
        kind: 'missing',
        detail: `seq ${this.expected}–${link.seq - 1} missing before seq ${link.seq}`,
      };
      return;
    }
    if (link.seq < this.expected) {
      this.broken =
        link.seq === this.expected - 1 && link.hash === this.prev
          ? { ...at, kind: 'duplicate', detail: `seq ${link.seq} appears again` }
          : { ...at, kind: 'reordered', detail: `seq ${link.seq} after seq ${this.expected - 1}` };
      return;
    }
    // The first line of a set that starts past seq 1 is taken as given: its prev is not among the files.
    if (!anchor && chainHash(this.prev, link.body) !== link.hash) {
      this.broken = {
        ...at,
        kind: 'edited',
        detail: `seq ${link.seq}: the line is not the one that was chained`,
      };
      return;
    }
    if (link.checkpoint) await this.checkpoint(link.checkpoint, at, anchor);
    this.prev = link.hash;
    this.prevTime = link.time;
    this.expected = link.seq + 1;
  }

  private async checkpoint(
    c: NonNullable<Link['checkpoint']>,
    at: Omit<ChainBreak, 'kind' | 'detail'>,
    anchor: boolean,
  ) {
    // warden seals the line just before a checkpoint; an anchor's sealed line is not among the files.
    const sealsPrev = !anchor && c.sealsSeq === this.expected - 1;
    if (!anchor && (!sealsPrev || c.sealsHash !== this.prev)) {
      this.broken = {
        ...at,
        kind: 'edited',
        detail: `the checkpoint seals seq ${c.sealsSeq}, not the line before it`,
      };
      return;
    }
    if (!this.keys) return;
    const bad = await checkSignature(c, this.replica, anchor ? null : this.prevTime, this.keys);
    if (bad) this.broken = { ...at, ...bad };
    else {
      this.sealedThrough = at.seq ?? c.sealsSeq + 1;
      this.checkpointsChecked++;
    }
  }

  /** The walk's end: the pending gap, or (keys given) a replica no checkpoint signs. */
  finish(lastSeq: number): ChainBreak | null {
    this.broken ??= this.gap;
    if (this.broken || !this.keys || !this.first) return this.broken;
    if (this.sealedThrough === 0)
      return (this.broken = {
        ...this.first,
        replica: this.replica,
        kind: 'unsigned',
        detail: `no checkpoint signs any of seq ${this.first.seq}–${lastSeq}`,
      });
    if (lastSeq > this.sealedThrough)
      this.notes.push(
        `${this.replica}: seq ${this.sealedThrough + 1}–${lastSeq} (${lastSeq - this.sealedThrough} lines) come after the last checkpoint: unsigned`,
      );
    return null;
  }
}
