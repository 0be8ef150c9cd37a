// Hot reload: watched files, SIGHUP and URL polling (ETag) rebuild the runtime; a bad version is refused.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AuditLog } from './audit/audit-log.js';
import type { Env } from './config/env-schema.js';
import { diffDocuments } from './config/documents-diff.js';
import { ConfigError, formatProblem } from './config/errors.js';
import {
  loadDocuments,
  policyLabel,
  policySourceOf,
  resourceIssuerProblems,
  type LoadDeps,
} from './config/load.js';
import { buildRuntime, type RuntimeState, type Shared } from './runtime.js';

/** Result of one reload attempt. */
export type ReloadResult =
  { ok: true; version: number; changed: boolean } | { ok: false; problems: string[] };

/** A running reloader; `reload()` can also be called directly (SIGHUP). */
export interface Reloader {
  reload(trigger: string): Promise<ReloadResult>;
  stop(): void;
}

/** What a reloader reads, rebuilds and reports to. */
export interface ReloaderDeps {
  env: Env;
  state: RuntimeState;
  shared: Shared;
  log: Logger;
  /** How documents are fetched (a policy URL). */
  load: LoadDeps;
  audit: Pick<AuditLog, 'admin'>;
  /** Told the outcome of every attempt (the reloads metric). */
  counted?: (result: 'changed' | 'unchanged' | 'rejected') => void;
}

/**
 * Start watching policy and keys; returns the reloader. Each reload that changes something is
 * audited (`policy_reloaded`, with what changed); each refused one too (`config_rejected`).
 */
export function startReloader(deps: ReloaderDeps): Reloader {
  const { env, log, counted = () => {} } = deps;
  let chain: Promise<unknown> = Promise.resolve();

  async function attempt(trigger: string): Promise<ReloadResult> {
    const r = await reloadOnce(deps, trigger);
    counted(r.ok ? (r.changed ? 'changed' : 'unchanged') : 'rejected');
    return r;
  }

  function reload(trigger: string): Promise<ReloadResult> {
    const run = chain.then(() => attempt(trigger));
    chain = run.catch(() => undefined);
    return run;
  }

  const src = policySourceOf(env.WARDEN_POLICY);
  const files = [env.WARDEN_API_KEYS];
  if (src.kind === 'file') files.push(src.path);
  const watching = watchFiles(files, log, reload);
  const poll =
    src.kind === 'url' ? setInterval(() => void reload('poll'), env.WARDEN_POLICY_REFRESH * 1000) : null;
  poll?.unref();

  return {
    reload,
    stop() {
      watching.stop();
      if (poll) clearInterval(poll);
    },
  };
}

/** One reload: load the documents, and swap in a runtime built from them when they changed; audited. */
async function reloadOnce(deps: ReloaderDeps, trigger: string): Promise<ReloadResult> {
  const { env, state, shared, log, audit } = deps;
  const previous = state.current;
  try {
    const docs = await loadDocuments(env, deps.load, previous.docs);
    // The issuers are read once, at start: a reloaded resource may only name one of them.
    const issuers = shared.jwt ? [...shared.jwt.issuers.keys()] : [];
    const label = policyLabel(policySourceOf(env.WARDEN_POLICY));
    const unknownServers = resourceIssuerProblems(docs.policy, issuers, label);
    if (unknownServers.length > 0) throw new ConfigError(unknownServers);
    if (
      JSON.stringify(docs.policy) === JSON.stringify(previous.docs.policy) &&
      JSON.stringify(docs.keys) === JSON.stringify(previous.docs.keys)
    ) {
      // Said for a save or SIGHUP, so "did it take my edit?" has an answer; a URL poll stays quiet.
      if (trigger !== 'poll')
        log.info(
          { event: 'policy_unchanged', trigger, version: previous.version },
          'policy and keys reloaded: nothing changed',
        );
      return { ok: true, version: previous.version, changed: false };
    }
    const next = buildRuntime(docs, shared, previous);
    state.swap(next);
    const { summary, ...changes } = diffDocuments(previous.docs, docs);
    log.info(
      {
        event: 'policy_reloaded',
        trigger,
        version: next.version,
        rules: next.policy.rules.length,
        keys: next.keys.entries.length,
        changes: summary,
      },
      'policy and keys reloaded',
    );
    audit.admin({
      event: 'policy_reloaded',
      trigger,
      version: next.version,
      previousVersion: previous.version,
      summary,
      ...changes,
    });
    // A key appearing in the keys file is when it becomes usable: its own event, as a revocation has.
    for (const id of changes.keys.added)
      audit.admin({ event: 'key_created', id, trigger, version: next.version });
    for (const id of changes.keys.removed)
      audit.admin({ event: 'key_removed', id, trigger, version: next.version });
    return { ok: true, version: next.version, changed: true };
  } catch (e) {
    const problems = e instanceof ConfigError ? e.problems.map(formatProblem) : [(e as Error).message];
    log.error(
      { event: 'config_rejected', trigger, problems, version: previous.version },
      'reload rejected; the previous policy stays in force',
    );
    audit.admin({ event: 'config_rejected', trigger, version: previous.version, problems });
    return { ok: false, problems };
  }
}

/**
 * Watch the directories of `files` (not the files: editors and Kubernetes ConfigMaps replace files by
 * rename) and reload 100 ms after the last change to one of them.
 */
function watchFiles(
  files: readonly string[],
  log: Logger,
  reload: (trigger: string) => Promise<ReloadResult>,
): { stop(): void } {
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const dir = dirname(resolve(f));
    let names = byDir.get(dir);
    if (!names) byDir.set(dir, (names = new Set()));
    names.add(basename(f));
  }
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | null = null;
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, (_event, name) => {
        if (name !== null && !names.has(name) && name !== '..data') return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => void reload(`watch:${String(name)}`), 100);
      });
      w.on('error', (err) => log.warn({ dir, err: err.message }, 'file watch failed; SIGHUP still reloads'));
      watchers.push(w);
    } catch (e) {
      log.warn({ dir, err: (e as Error).message }, 'cannot watch directory; SIGHUP still reloads');
    }
  }
  return {
    stop() {
      for (const w of watchers) w.close();
      if (debounce) clearTimeout(debounce);
    },
  };
}
