// The audit stream over Redis: a capped stream of audit lines (XADD MAXLEN ~) and per-minute overview hashes.
import type { Cluster, Redis } from 'ioredis';

/** One stored line (its UTF-8 bytes) and its stream id. */
export interface RedisStreamEntry {
  id: string;
  line: Buffer;
}

/** One replica's minute snapshot (JSON text). */
export interface RedisSnapshot {
  minute: number;
  replica: string;
  json: string;
}

/**
 * Append ARGV[2..] (pairs of line time in ms, line) to KEYS[1] capped near ARGV[1] entries. Each id
 * is `<ms>-*` with ms the line's time, or the stream's latest ms when that is later (another replica's
 * clock ahead, or a lagging batch): ids never go back, and an id is never earlier than its line's
 * time, so a time range maps onto ids. Should an explicit id be refused, Redis picks one (`*`).
 */
const APPEND_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local lastMs = 0
if #last > 0 then lastMs = tonumber(string.match(last[1][1], '^(%d+)')) end
for i = 2, #ARGV - 1, 2 do
  local ms = tonumber(ARGV[i])
  if ms < lastMs then ms = lastMs end
  local ok = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ms .. '-*', 'l', ARGV[i + 1])
  if type(ok) == 'table' and ok.err then
    ok = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'l', ARGV[i + 1])
    ms = tonumber(string.match(ok, '^(%d+)'))
  end
  lastMs = ms
end
return #ARGV
`;

type Client = Redis | Cluster;

/** The entry field holding the line: `l`. */
const FIELD = 0x6c;
type AuditClient = Client & {
  wardenAuditAppend(key: string, maxLen: number, ...pairs: (string | number)[]): Promise<number>;
};

/** The stream's key and the overview hashes share one hash tag: one Cluster slot, one pipeline. */
export function auditKeys(prefix: string): { stream: string; minute: (m: number) => string } {
  return {
    stream: `${prefix}audit:{audit}:stream`,
    minute: (m) => `${prefix}audit:{audit}:overview:${m}`,
  };
}

/** Entries of XREVRANGE: `[id, [field, value, …]]`, as bytes. */
type RawEntry = [Buffer, Buffer[]];

/** The audit stream over Redis: what `redisAuditStream` returns. */
export type RedisAuditStream = ReturnType<typeof redisAuditStream>;

/**
 * The audit stream on `client`. The redis sink and the search want a connection of their own (big
 * batches never delay the store's commands); the overview's minutes may share the store's.
 */
export function redisAuditStream(client: Client, prefix: string, maxLen: number) {
  const keys = auditKeys(prefix);
  client.defineCommand('wardenAuditAppend', { numberOfKeys: 1, lua: APPEND_SCRIPT });
  const c = client as AuditClient;
  return {
    async append(lines: readonly { ms: number; line: string }[]): Promise<void> {
      if (lines.length === 0) return;
      const argv: (string | number)[] = [];
      for (const l of lines) argv.push(l.ms, l.line);
      await c.wardenAuditAppend(keys.stream, maxLen, ...argv);
    },
    async newest(end: string, start: string, count: number): Promise<RedisStreamEntry[]> {
      // Bytes, not strings: a search decodes only the lines its filters may match (half the cost).
      const raw = (await client.xrevrangeBuffer(keys.stream, end, start, 'COUNT', count)) as RawEntry[];
      const out: RedisStreamEntry[] = [];
      for (const [id, fields] of raw) {
        const at = fields.findIndex((f) => f.length === 1 && f[0] === FIELD);
        const line = at !== -1 ? fields[at + 1] : undefined;
        if (line !== undefined) out.push({ id: id.toString('latin1'), line });
      }
      return out;
    },
    length: (): Promise<number> => client.xlen(keys.stream),
    async putSnapshots(snapshots: readonly RedisSnapshot[], ttlSec: number): Promise<void> {
      if (snapshots.length === 0) return;
      const p = client.pipeline();
      for (const s of snapshots) {
        p.hset(keys.minute(s.minute), s.replica, s.json);
        p.expire(keys.minute(s.minute), ttlSec);
      }
      const results = (await p.exec()) ?? [];
      const failed = results.find(([err]) => err !== null);
      if (failed?.[0]) throw failed[0];
    },
    async snapshots(minutes: readonly number[]): Promise<RedisSnapshot[][]> {
      const p = client.pipeline();
      for (const m of minutes) p.hgetall(keys.minute(m));
      const results = (await p.exec()) ?? [];
      return minutes.map((minute, i) => {
        const [err, value] = results[i] ?? [null, {}];
        if (err) throw err;
        return Object.entries(value as Record<string, string>).map(([replica, json]) => ({
          minute,
          replica,
          json,
        }));
      });
    },
  };
}
