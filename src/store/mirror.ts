// An in-memory mirror of a replicated set: requests read the mirror, never the backend.
import { systemClock, type Clock } from '../util/clock.js';
import type { SetBackend, SetChange, SetEntry } from './store.js';

/** Second look after a reconnect, for changes published while this replica was resubscribing. */
const RESYNC_AFTER_RECONNECT_MS = 1500;

/** Mirror options. */
export interface MirrorOptions {
  /** Full reload interval, a backstop for missed notifications. */
  resyncMs: number;
  /** Tells which entries have expired when writing back a lost set (default: the system clock). */
  clock?: Clock;
  onError?(err: Error): void;
  onChange?(c: SetChange): void;
  /** The store had lost the set and this mirror wrote back `count` entries. */
  onRestore?(count: number): void;
}

/**
 * Holds the whole set in memory: loaded at start, updated by change notifications, reloaded
 * periodically and after reconnects. Changes that arrive during a reload are re-applied on top
 * of the reloaded snapshot so none is lost.
 */
export class MirroredSet {
  private entries = new Map<string, SetEntry>();
  private duringResync: SetChange[] | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  /** Added here while the backend was unavailable; written to it by the next resync. */
  private readonly pending = new Map<string, SetEntry>();
  /** True once a full load succeeded. */
  loaded = false;
  /** Bumped by every change and reload: what an index built over the entries compares to rebuild. */
  version = 0;

  constructor(
    private readonly backend: SetBackend,
    private readonly opts: MirrorOptions,
  ) {}

  /** Load, subscribe and start the periodic resync. Never throws: a failed load is retried. */
  async start(): Promise<void> {
    this.backend.watch(
      (c) => this.apply(c),
      () => {
        void this.resync();
        // Other replicas write back what they held during an outage as they reconnect, possibly
        // before this one has resubscribed: look again a little later.
        setTimeout(() => void this.resync(), RESYNC_AFTER_RECONNECT_MS).unref();
      },
    );
    await this.resync();
    this.timer = setInterval(() => void this.resync(), this.opts.resyncMs);
    this.timer.unref();
  }

  private apply(c: SetChange): void {
    this.duringResync?.push(c);
    this.version++;
    if (c.op === 'add') this.entries.set(c.entry.id, c.entry);
    else this.entries.delete(c.id);
    this.opts.onChange?.(c);
  }

  /**
   * Replace the mirror with the backend's current contents. Runs one at a time (a call during a
   * run schedules one more), so an older snapshot never lands after a newer one.
   */
  resync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.resyncOnce();
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- resync() calls during the await set it
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async resyncOnce(): Promise<void> {
    const log: SetChange[] = [];
    this.duringResync = log;
    try {
      // Entries the store could not take earlier go first.
      for (const [id, e] of this.pending) {
        await this.backend.add(e);
        this.pending.delete(id);
      }
      const { entries, lost } = await this.backend.all();
      if (lost && this.entries.size > 0) {
        // The store forgot the set (restarted without persistence): write back what this replica knows.
        const now = (this.opts.clock ?? systemClock).now();
        for (const e of this.entries.values())
          if (e.expiresAt === undefined || e.expiresAt > now) await this.backend.add(e);
        this.opts.onRestore?.(this.entries.size);
        this.loaded = true;
        return;
      }
      const next = new Map(entries.map((e) => [e.id, e]));
      for (const c of log) {
        if (c.op === 'add') next.set(c.entry.id, c.entry);
        else next.delete(c.id);
      }
      for (const [id, e] of this.pending) next.set(id, e);
      this.entries = next;
      this.version++;
      this.loaded = true;
    } catch (e) {
      this.opts.onError?.(e as Error);
    } finally {
      if (this.duringResync === log) this.duringResync = null;
    }
  }

  /** Entries held (expired ones included until they are next read). */
  get size(): number {
    return this.entries.size;
  }

  /** The live entry for `id`, if any. O(1), no I/O. */
  get(id: string, now: number): SetEntry | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= now) {
      this.entries.delete(id);
      return undefined;
    }
    return e;
  }

  /** Add through the backend (every replica hears it) and to this mirror at once. */
  async add(entry: SetEntry): Promise<void> {
    await this.backend.add(entry);
    this.apply({ op: 'add', entry });
  }

  /** Add to this mirror now and to the backend as soon as it answers (it is unavailable now). */
  addLocal(entry: SetEntry): void {
    this.pending.set(entry.id, entry);
    this.apply({ op: 'add', entry });
  }

  /** Remove through the backend and from this mirror. */
  async remove(id: string): Promise<boolean> {
    const had = await this.backend.remove(id);
    this.apply({ op: 'remove', id });
    return had;
  }

  /** Every live entry. */
  list(now: number): SetEntry[] {
    return [...this.entries.values()].filter((e) => e.expiresAt === undefined || e.expiresAt > now);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
