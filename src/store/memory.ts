// The in-process store: one replica's counters in memory; persistent sets in a state-dir file.
import { randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../util/clock.js';
import { MemoryLimiter } from './memory-limiter.js';
import {
  live,
  type CountBackend,
  type RecordBackend,
  type LimiterOptions,
  type SetBackend,
  type SetChange,
  type SetEntry,
  type Store,
} from './store.js';

/** Most entries a process-local set holds (bans from a flood of addresses); oldest go first. */
export const MEMORY_SET_LIMIT = 100_000;

/** Drop the oldest entry of a map (Map keeps insertion order). */
function dropOldest(map: Map<string, unknown>): void {
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}

/** A set that lives only in this process: expired entries pruned, size bounded. */
function memorySet(clock: Clock): SetBackend {
  const entries = new Map<string, SetEntry>();
  let listener: ((c: SetChange) => void) | null = null;
  const prune = (now: number) => {
    for (const [id, e] of entries) if (e.expiresAt !== undefined && e.expiresAt <= now) entries.delete(id);
  };
  return {
    all: () => {
      prune(clock.now());
      return Promise.resolve({ entries: [...entries.values()], lost: false });
    },
    add: (e) => {
      if (entries.size >= MEMORY_SET_LIMIT) {
        prune(clock.now());
        // Still full: drop the oldest (Map keeps insertion order).
        if (entries.size >= MEMORY_SET_LIMIT) dropOldest(entries);
      }
      entries.delete(e.id);
      entries.set(e.id, e);
      listener?.({ op: 'add', entry: e });
      return Promise.resolve();
    },
    remove: (id) => {
      const had = entries.delete(id);
      if (had) listener?.({ op: 'remove', id });
      return Promise.resolve(had);
    },
    watch: (onChange) => {
      listener = onChange;
    },
  };
}

/** Records in this process: expired ones dropped when read or when the map is full; size bounded. */
function memoryRecords(clock: Clock): RecordBackend {
  const records = new Map<string, { value: string; expiresAt: number }>();
  const read = (id: string, now: number) => {
    const r = records.get(id);
    if (r && r.expiresAt <= now) records.delete(id);
    return r && r.expiresAt > now ? r : undefined;
  };
  const write = (id: string, value: string, ttlMs: number) => {
    const now = clock.now();
    if (records.size >= MEMORY_SET_LIMIT) {
      for (const [k, r] of records) if (r.expiresAt <= now) records.delete(k);
      if (records.size >= MEMORY_SET_LIMIT) dropOldest(records);
    }
    records.delete(id);
    records.set(id, { value, expiresAt: now + ttlMs });
  };
  return {
    get: (id) => Promise.resolve(read(id, clock.now())?.value ?? null),
    put: (id, value, ttlMs) => {
      write(id, value, ttlMs);
      return Promise.resolve();
    },
    update: (id, value, ttlMs) => {
      if (!read(id, clock.now())) return Promise.resolve(false);
      write(id, value, ttlMs);
      return Promise.resolve(true);
    },
    claim: (id, ttlMs, value = '1') => {
      if (read(id, clock.now())) return Promise.resolve(false);
      write(id, value, ttlMs);
      return Promise.resolve(true);
    },
    delete: (id) => Promise.resolve(records.delete(id)),
  };
}

/** Counters of this process alone; ids beyond the bound are not counted. */
function memoryCounts(): CountBackend {
  const counts = new Map<string, number>();
  return {
    add: (batch) => {
      for (const [id, n] of batch) {
        const had = counts.get(id);
        if (had === undefined && counts.size >= MEMORY_SET_LIMIT) continue;
        counts.set(id, (had ?? 0) + n);
      }
      return Promise.resolve();
    },
    get: (ids) => Promise.resolve(ids.map((id) => counts.get(id) ?? 0)),
    remove: (ids) => {
      for (const id of ids) counts.delete(id);
      return Promise.resolve();
    },
  };
}

/**
 * A set kept in `<stateDir>/<name>.json`, written atomically (temp file + rename) and watched,
 * so a `warden keys revoke` run from a shell reaches the running server.
 */
function fileSet(stateDir: string, name: string, watchers: Watchers, clock: Clock): SetBackend {
  const file = join(stateDir, `${name}.json`);
  let queue: Promise<unknown> = Promise.resolve();
  async function read(): Promise<SetEntry[]> {
    try {
      const data = JSON.parse(await readFile(file, 'utf8')) as { entries?: SetEntry[] };
      return Array.isArray(data.entries) ? data.entries : [];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
  }
  async function write(entries: SetEntry[]): Promise<void> {
    await mkdir(stateDir, { recursive: true });
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify({ entries }, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, file);
  }
  function update(fn: (entries: SetEntry[]) => SetEntry[]): Promise<void> {
    const run = queue.then(async () => write(fn(live(await read(), clock.now()))));
    queue = run.catch(() => undefined);
    return run;
  }
  return {
    all: async () => ({ entries: live(await read(), clock.now()), lost: false }),
    add: (e) => update((list) => [...list.filter((x) => x.id !== e.id), e]),
    remove: async (id) => {
      let had = false;
      await update((list) => {
        had = list.some((x) => x.id === id);
        return list.filter((x) => x.id !== id);
      });
      return had;
    },
    watch: (_onChange, resync) => {
      mkdir(stateDir, { recursive: true })
        .then(() => {
          if (watchers.closed) return;
          const w = watch(stateDir, (_ev, f) => {
            if (f === null || f === `${name}.json`) resync();
          });
          w.on('error', () => undefined);
          watchers.list.push(w);
        })
        // A state dir that cannot be made or is gone (unwritable, removed): nothing to watch, and a
        // change made by another process is not seen until the next write here. Never a crash.
        .catch(() => undefined);
    },
  };
}

/** The state dir's watchers; none is started once the store is closed. */
interface Watchers {
  list: FSWatcher[];
  closed: boolean;
}

/** Memory store options. */
export interface MemoryStoreOptions {
  /** Where persistent sets are kept; without it they live in memory too. */
  stateDir?: string;
  clock?: Clock;
}

/** Create the memory store (no Redis configured). */
export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  const clock = opts.clock ?? systemClock;
  const watchers: Watchers = { list: [], closed: false };
  const recordFamilies: Record<string, RecordBackend> = {};
  const countFamilies: Record<string, CountBackend> = {};
  return {
    kind: 'memory',
    limiter: (o: LimiterOptions) => new MemoryLimiter(o.points, o.duration * 1000, clock),
    set: (name, { persistent }) =>
      persistent && opts.stateDir ? fileSet(opts.stateDir, name, watchers, clock) : memorySet(clock),
    records: (name) => (recordFamilies[name] ??= memoryRecords(clock)),
    counts: (name) => (countFamilies[name] ??= memoryCounts()),
    status: () => ({ ready: true, detail: 'in-process' }),
    waitReady: () => Promise.resolve(true),
    close: () => {
      watchers.closed = true;
      for (const w of watchers.list) w.close();
      return Promise.resolve();
    },
  };
}
