// The audit stream: one JSON line per decision and per admin event (docs/audit.md). Never a secret.
import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { AuditChain, replicaName } from './chain.js';
import type { CheckpointKey } from './checkpoint-key.js';
import type { AuditSink } from './sink.js';

/** The fields of one decision event. */
export interface DecisionEvent {
  reqId: string;
  decision: 'allow' | 'unauthenticated' | 'forbidden' | 'limited' | 'malformed' | 'error' | 'would-deny';
  reason: string;
  /** Audit-only detail of a refused credential (`unknown`, `expired`, …) or a malformed context. */
  cause?: string;
  status: number;
  dialect: string;
  method: string | null;
  host: string | null;
  path: string | null;
  clientIp: string | null;
  peer: string | null;
  sub: string | null;
  authMethod: string | null;
  keyId: string | null;
  /** An API key in rotation: `current` or `previous` (the key `warden keys rotate` replaced). */
  keyVersion?: 'current' | 'previous';
  rule: number | null;
  rateLimit?: string;
  /** A refused bearer token: the `kid` of its header and jose's error code. Never the token. */
  kid?: string;
  joseCode?: string;
  /** Extra claim headers sent empty on this allow, and why. */
  headerProblems?: string[];
  /** Set on `would-deny`: allowed because of `WARDEN_MODE=shadow` (`mode`) or a `shadow: true` rule (`rule`). */
  shadow?: 'mode' | 'rule';
  /** A request judged by `mcp` sub-rules: its JSON-RPC method(s), tools called, ids, and the sub-rule that refused it. */
  mcp?: { method: string | null; tools: string[]; ids: (string | number)[]; rule?: number };
  /** `step_up_required`: what the rule asks of the sign-in (maxAge in seconds); `cause` names what was missing. */
  authn?: { acr?: string[]; amr?: string[]; maxAge?: number };
  /** `banned` by an admin ban: its id (GET /admin/bans). */
  ban?: string;
  durationMs: number;
}

/** An administrative event: keys, revocations, sessions, bans, reloads. Never sampled. */
export interface AdminEvent {
  event:
    | 'key_created'
    | 'key_removed'
    | 'key_rotated'
    | 'revocation_added'
    | 'revocation_removed'
    | 'session_ended'
    | 'ban_started'
    | 'ban'
    | 'unban'
    | 'admin_denied'
    | 'policy_reloaded'
    | 'config_rejected'
    | 'audit_file_removed'
    | 'audit_lines_dropped'
    | 'audit_exported'
    | SignInEvent;
  [field: string]: unknown;
}

/** Version of the audit line's shape (`schema` in every line); bumped when a field changes meaning or goes away. */
export const AUDIT_SCHEMA = 1;

/** Browser sign-in events (src/oauth2/): never carry a cookie, token, code, state or password. */
export type SignInEvent =
  | 'sign_in'
  | 'session_upgraded'
  | 'sign_in_failed'
  | 'sign_out'
  | 'redirect_refused'
  | 'backchannel_logout'
  | 'cross_site_refused';

/** Told of each decision in-process (the console); must not throw or block. */
export type DecisionListener = (e: DecisionEvent, timeMs: number) => void;

/** Where audit events go. */
export interface AuditLog {
  decision(e: DecisionEvent): void;
  admin(e: AdminEvent): void;
  /** The sinks, for their queue depth and drop counts. */
  readonly sinks: readonly AuditSink[];
  /** The hash chain every line is sealed into (its replica and head). */
  readonly chain: AuditChain;
  /**
   * Hear every decision as it is taken (before sampling, whatever the sinks), stamped with its time
   * (epoch ms): the console's live view. Returns the function that stops listening.
   */
  onDecision(listener: DecisionListener): () => void;
  /** Deliver everything written so far, on every sink, by `deadline` (epoch ms); default: 10 s from now. */
  flush(deadline?: number): Promise<void>;
  /** Release the sinks' files and timers (after flush). */
  close(): void;
}

// Printable ASCII but `"` and `\`: written between quotes as is; anything else goes through JSON.stringify.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function str(v: string | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
}

/** A value already known to be plain. */
function plain(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : `"${v}"`;
}

/** One check over every string field of an event (the common case: all plain) instead of one per field. */
function plainEvent(e: DecisionEvent): boolean {
  return PLAIN.test(
    `${e.reqId}${e.decision}${e.reason}${e.cause ?? ''}${e.dialect}${e.method ?? ''}${e.host ?? ''}${e.path ?? ''}${e.clientIp ?? ''}${e.peer ?? ''}${e.sub ?? ''}${e.authMethod ?? ''}${e.keyId ?? ''}${e.rateLimit ?? ''}${e.kid ?? ''}${e.joseCode ?? ''}${e.shadow ?? ''}`,
  );
}

/** The decision fields as JSON members, built directly (this runs on every /verify); `q` quotes a string. */
function fieldsOf(e: DecisionEvent, q: (v: string | null | undefined) => string): string {
  return (
    `,"reqId":${q(e.reqId)},"decision":${q(e.decision)},"reason":${q(e.reason)}` +
    (e.cause !== undefined ? `,"cause":${q(e.cause)}` : '') +
    `,"status":${e.status},"dialect":${q(e.dialect)},"method":${q(e.method)},"host":${q(e.host)},"path":${q(e.path)}` +
    `,"clientIp":${q(e.clientIp)},"peer":${q(e.peer)},"sub":${q(e.sub)},"authMethod":${q(e.authMethod)},"keyId":${q(e.keyId)}` +
    // keyVersion is one of two fixed words: nothing to escape.
    (e.keyVersion !== undefined ? `,"keyVersion":"${e.keyVersion}"` : '') +
    `,"rule":${e.rule === null ? 'null' : e.rule}` +
    (e.rateLimit !== undefined ? `,"rateLimit":${q(e.rateLimit)}` : '') +
    // A ban id is base64url: nothing to escape.
    (e.ban !== undefined ? `,"ban":"${e.ban}"` : '') +
    (e.kid !== undefined ? `,"kid":${q(e.kid)}` : '') +
    (e.joseCode !== undefined ? `,"joseCode":${q(e.joseCode)}` : '') +
    (e.headerProblems !== undefined ? `,"headerProblems":${JSON.stringify(e.headerProblems)}` : '') +
    (e.shadow !== undefined ? `,"shadow":${q(e.shadow)}` : '') +
    (e.mcp !== undefined ? `,"mcp":${JSON.stringify(e.mcp)}` : '') +
    // Policy values of printable ASCII (validated): JSON.stringify escapes any quote, and the line stays ASCII.
    (e.authn !== undefined ? `,"authn":${JSON.stringify(e.authn)}` : '') +
    `,"durationMs":${e.durationMs}`
  );
}

/** The members the chain appends: an admin event's own field of these names is left out, never written twice. */
const CHAIN_MEMBERS = new Set(['seq', 'replica', 'hash']);

/** An admin event's fields as JSON members after a comma (`''` for none); `rest` is the caller's own copy. */
function adminMembers(rest: Record<string, unknown>): string {
  for (const k of CHAIN_MEMBERS) if (k in rest) Reflect.deleteProperty(rest, k);
  const body = JSON.stringify(rest);
  return body === '{}' ? '' : ',' + body.slice(1, -1);
}

/** Hand a line to every sink (one sink, the common case, without a loop). */
function emitter(sinks: readonly AuditSink[]): (line: string, ascii?: boolean) => void {
  const only = sinks.length === 1 ? (sinks[0] ?? null) : null;
  return only
    ? (line, ascii = false) => only.write(line, ascii)
    : (line, ascii = false) => {
        for (const s of sinks) s.write(line, ascii);
      };
}

/** `put` seals one event's text into the chain and hands it to the sinks (and the checkpointer, `cp`). */
function sealer(
  sinks: readonly AuditSink[],
  chain: AuditChain,
  clock: Clock,
  checkpoints?: CheckpointOptions,
) {
  const emitOut = emitter(sinks);
  const cp = checkpoints && sinks.length > 0 ? checkpointer(checkpoints, chain, emitOut, clock) : null;
  const put = cp
    ? (open: string, ascii = false) => {
        emitOut(chain.seal(open), ascii);
        cp.wrote(open);
      }
    : (open: string, ascii = false) => emitOut(chain.seal(open), ascii);
  return { put, cp };
}

/** The in-process decision listeners (`observe` the first): telling them costs one size check while there are none. */
function decisionListeners(
  clock: Clock,
  observe?: (e: DecisionEvent) => void,
): {
  add: (l: DecisionListener) => () => void;
  tell: (e: DecisionEvent) => void;
} {
  const listeners = new Set<DecisionListener>();
  if (observe) listeners.add((e) => observe(e));
  return {
    add: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    tell: (e) => {
      if (listeners.size === 0) return;
      const now = clock.now();
      for (const l of listeners) l(e, now);
    },
  };
}

/** Audit settings. */
export interface AuditOptions {
  /** Share of allow decisions written (0–1, `WARDEN_AUDIT_ALLOW_SAMPLE`); 1 writes all. */
  allowSample?: number;
  random?: () => number;
  /** The chain lines are sealed into; default: a new one named for this host and the log's creation time. */
  chain?: AuditChain;
  /** Signed checkpoints (WARDEN_AUDIT_SIGNING_KEY, WARDEN_AUDIT_CHECKPOINT); none when absent. */
  checkpoints?: CheckpointOptions;
  /** Told of every decision, sampled out or not, before the line is built (the overview's counts). */
  observe?: (e: DecisionEvent) => void;
}

/** When and with what key checkpoint lines are written. */
export interface CheckpointOptions {
  key: CheckpointKey;
  /** A checkpoint once this many lines were written since the last (null: not by count). */
  everyLines: number | null;
  /** A checkpoint once lines wait unsealed this long (ms; null: not by time). */
  everyMs: number | null;
  /** Runs `check` every `ms` until the returned function is called; default an unref'd setInterval. */
  every?: (ms: number, check: () => void) => () => void;
}

/** `{"level":"info","time":"` : a line's `time` is the 24 characters after it (toISOString). */
const TIME_AT = 24;

const defaultEvery = (ms: number, check: () => void) => {
  const t = setInterval(check, ms);
  t.unref();
  return () => clearInterval(t);
};

/**
 * Checkpoint lines: each seals the line written just before it with a compact JWS of its
 * `{replica, seq, hash, time}`, and is itself a chained line. Returns what to call after each
 * line is written, the checkpoint to write now (shutdown), and the timer's stop.
 */
function checkpointer(
  opts: CheckpointOptions,
  chain: AuditChain,
  emit: (line: string, ascii?: boolean) => void,
  clock: Clock,
) {
  const { key, everyLines, everyMs } = opts;
  const kid = JSON.stringify(key.kid);
  const replica = JSON.stringify(chain.replica);
  let since = 0;
  let lastOpen = '';
  let lastAt = clock.now();
  const seal = () => {
    if (since === 0) return;
    const { seq, hash } = chain.head;
    const time = lastOpen.slice(TIME_AT, TIME_AT + 24);
    const sig = key.signCompact(`{"replica":${replica},"seq":${seq},"hash":"${hash}","time":"${time}"}`);
    emit(
      chain.seal(`{"type":"checkpoint","seals":{"seq":${seq},"hash":"${hash}"},"sig":"${sig}","kid":${kid}`),
      chain.asciiReplica,
    );
    since = 0;
    lastAt = clock.now();
  };
  const stop =
    everyMs === null
      ? () => {}
      : (opts.every ?? defaultEvery)(Math.max(100, Math.min(everyMs / 10, 5000)), () => {
          if (clock.now() - lastAt >= everyMs) seal();
        });
  return {
    wrote: (open: string) => {
      lastOpen = open;
      if (since++ === 0 && everyMs !== null) lastAt = clock.now();
      if (everyLines !== null && since >= everyLines) seal();
    },
    seal,
    stop,
  };
}

/**
 * Audit log writing one JSON line per event to every sink. Lines are built directly rather than
 * through a pino logger: the decision line is on every /verify, and this costs a third of pino's
 * serialisation. Each line is built once, whatever the number of sinks; with no sink nothing is built.
 * Decision lines are built at the end of the event-loop turn (setImmediate), all of that turn's at once.
 * `clock` stamps each line's `time`. Every line is sealed into the hash chain (chain.ts) as it is
 * built, so every sink gets the same bytes, `seq`, `replica` and `hash` last.
 */
export function createAuditLog(sinks: readonly AuditSink[], clock: Clock, opts: AuditOptions = {}): AuditLog {
  const sample = opts.allowSample ?? 1;
  const random = opts.random ?? Math.random;
  const chain = opts.chain ?? new AuditChain(replicaName(undefined, hostname(), clock.now()));
  const asciiReplica = chain.asciiReplica;
  // The line head changes once a millisecond at most: built then, not per event.
  let lastMs = 0;
  let lastIso = '';
  let decisionHead = '';
  const tick = () => {
    const now = clock.now();
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
      decisionHead = `{"level":"info","time":"${lastIso}","schema":${AUDIT_SCHEMA},"event":"decision"`;
    }
  };
  const head = (event: string) => {
    tick();
    return `{"level":"info","time":"${lastIso}","schema":${AUDIT_SCHEMA},"event":${JSON.stringify(event)}`;
  };
  const { put, cp } = sealer(sinks, chain, clock, opts.checkpoints);
  const hear = decisionListeners(clock, opts.observe);
  // Decisions of one event-loop turn are serialised together, after the turn's answers are written:
  // the line-building code then runs hot in a loop instead of between every request's HTTP work.
  const [events, heads]: [DecisionEvent[], string[]] = [[], []];
  let scheduled = false;
  const writeOut = () => {
    scheduled = false;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const h = heads[i];
      // Pushed together (decision below): both are there.
      if (e === undefined || h === undefined) continue;
      // A line of plain fields is ASCII (but for the lists JSON.stringify may leave non-ASCII): sinks may encode it byte for byte.
      const ascii = plainEvent(e);
      put(h + fieldsOf(e, ascii ? plain : str), ascii && asciiReplica && !e.headerProblems && !e.mcp);
    }
    events.length = 0;
    heads.length = 0;
  };
  return {
    sinks,
    chain,
    onDecision: hear.add,
    decision:
      sinks.length === 0
        ? hear.tell
        : (e) => {
            hear.tell(e);
            // Only allows are sampled: a deny, a would-deny and an error are always written.
            if (sample < 1 && e.decision === 'allow' && random() >= sample) return;
            tick();
            events.push(e);
            heads.push(decisionHead);
            if (!scheduled) {
              scheduled = true;
              setImmediate(writeOut);
            }
          },
    admin:
      sinks.length === 0
        ? () => undefined
        : ({ event, ...rest }) => {
            writeOut();
            put(head(event) + adminMembers(rest));
          },
    flush: async (deadline = clock.now() + 10_000) => {
      writeOut();
      // The last lines written are sealed before they are delivered: a trail ends on a checkpoint.
      cp?.seal();
      await Promise.all(sinks.map((s) => s.flush(deadline)));
    },
    close: () => {
      writeOut();
      cp?.stop();
      for (const s of sinks) s.close();
    },
  };
}

/** The operational log (startup, reloads, errors): stderr, separate from the audit stream. */
export function createOpsLog(
  level: string,
  destination: DestinationStream = pino.destination({ dest: 2, sync: true }),
): Logger {
  return pino({ level, base: { service: 'warden' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
