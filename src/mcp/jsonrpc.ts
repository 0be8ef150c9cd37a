// The JSON-RPC body of an MCP request (Streamable HTTP POST), read only as far as per-tool rules need.

/** A JSON-RPC id as MCP allows it: a string or a number (never null). */
export type JsonRpcId = string | number;

/** One message of the body: a request or notification (`method`), or a response (`method` null). */
export interface McpCall {
  /** The JSON-RPC method; null for a response to a server's request. */
  method: string | null;
  /** The call's id; null for a notification. */
  id: JsonRpcId | null;
  /** `params.name` of a `tools/call`; null for any other method. */
  tool: string | null;
}

/** The body as judged: its messages in order, or why it is no MCP request (an audit-only detail). */
export type McpBody = { ok: true; batch: boolean; calls: readonly McpCall[] } | { ok: false; detail: string };

/** Bounds on what warden reads: beyond them the request is refused, never partly judged. */
export const MCP_LIMITS = {
  /** Nesting of arrays and objects (a call is 3-4 deep; its arguments a few more). */
  depth: 64,
  /** Messages in one batch. */
  batch: 100,
  /** Characters of a method or tool name (the MCP spec's tool name limit). */
  name: 128,
  /** Characters of a string id. */
  id: 256,
} as const;

// C0 and C1 controls, and the invisible format characters that make two names look alike in a log.
// eslint-disable-next-line no-control-regex -- finding control characters is its purpose
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Nesting deeper than `max`, found in one pass over the bytes (strings skipped) before anything is parsed. */
function tooDeep(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

/** A method or tool name warden can judge and log: a string of 1–128 characters, no control characters. */
function nameProblem(v: unknown, what: string): string | null {
  if (typeof v !== 'string') return `${what} is not a string`;
  if (v.length === 0 || v.length > MCP_LIMITS.name)
    return `${what} is empty or over ${MCP_LIMITS.name} characters`;
  return UNSAFE.test(v) ? `${what} has control characters` : null;
}

function idProblem(v: unknown): string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : 'id is not a finite number';
  if (typeof v !== 'string') return 'id is neither a string nor a number';
  if (v.length > MCP_LIMITS.id) return `id is over ${MCP_LIMITS.id} characters`;
  return UNSAFE.test(v) ? 'id has control characters' : null;
}

/** One message, or why it is not JSON-RPC 2.0 as MCP speaks it. */
function readMessage(m: unknown): McpCall | string {
  if (!isRecord(m)) return 'a message is not a JSON object';
  if (m.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  const hasId = Object.hasOwn(m, 'id');
  if (hasId) {
    const bad = idProblem(m.id);
    if (bad) return bad;
  }
  const id = hasId ? (m.id as JsonRpcId) : null;
  if (!Object.hasOwn(m, 'method')) {
    // A response to the server's own request (sampling, elicitation, roots): nothing to judge.
    if (id === null || (!Object.hasOwn(m, 'result') && !Object.hasOwn(m, 'error')))
      return 'a message has neither a method nor a result or error';
    return { method: null, id, tool: null };
  }
  const badMethod = nameProblem(m.method, 'method');
  if (badMethod) return badMethod;
  const method = m.method as string;
  if (method !== 'tools/call') return { method, id, tool: null };
  if (!isRecord(m.params)) return 'tools/call has no params object';
  const badTool = nameProblem(m.params.name, 'tool name');
  return badTool ?? { method, id, tool: m.params.name as string };
}

/** The messages of a batch or single message, refusing repeated request ids (which call would an answer be for?). */
function readMessages(doc: unknown): McpBody {
  const batch = Array.isArray(doc);
  const list: readonly unknown[] = batch ? doc : [doc];
  if (list.length === 0) return { ok: false, detail: 'empty batch' };
  if (list.length > MCP_LIMITS.batch) return { ok: false, detail: `batch over ${MCP_LIMITS.batch} messages` };
  const calls: McpCall[] = [];
  const ids = new Set<JsonRpcId>();
  for (const m of list) {
    const call = readMessage(m);
    if (typeof call === 'string') return { ok: false, detail: call };
    if (call.method !== null && call.id !== null) {
      if (ids.has(call.id)) return { ok: false, detail: 'repeated id in a batch' };
      ids.add(call.id);
    }
    calls.push(call);
  }
  return { ok: true, batch, calls };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Read an MCP request body: JSON-RPC 2.0, one message or a batch, within {@link MCP_LIMITS}. Never throws. */
export function readMcpBody(bytes: Uint8Array): McpBody {
  if (tooDeep(bytes, MCP_LIMITS.depth))
    return { ok: false, detail: `nested deeper than ${MCP_LIMITS.depth}` };
  let doc: unknown;
  try {
    doc = JSON.parse(UTF8.decode(bytes));
  } catch {
    return { ok: false, detail: 'not JSON (or not UTF-8)' };
  }
  return readMessages(doc);
}
