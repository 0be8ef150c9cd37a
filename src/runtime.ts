// The runtime: one compiled policy version, swapped atomically on reload.
import { authenticateKey, compileKeys, type KeyTable } from './auth/apikey.js';
import type { Authenticator } from './auth/chain.js';
import type { Documents } from './config/load.js';
import { HEADER_PRESETS, type IdentityHeaderNames } from './http/respond.js';
import { RateLimits } from './limits/rate-limits.js';
import { compilePolicy, type CompiledPolicy } from './policy/compile.js';
import type { Store } from './store/store.js';

/** Everything a request reads, compiled from one version of policy and keys. Never mutated. */
export interface Runtime {
  readonly version: number;
  readonly policy: CompiledPolicy;
  readonly keys: KeyTable;
  readonly chain: readonly Authenticator[];
  readonly limits: RateLimits;
  readonly headerNames: IdentityHeaderNames;
  readonly docs: Documents;
}

/** Compile documents into a runtime; `previous` lends its unchanged rate-limit counters. */
export function buildRuntime(docs: Documents, store: Store, previous?: Runtime): Runtime {
  const policy = compilePolicy(docs.policy);
  const keys = compileKeys(docs.keys);
  return Object.freeze({
    version: (previous?.version ?? 0) + 1,
    policy,
    keys,
    chain: Object.freeze([(req, now) => authenticateKey(keys, req, now)] satisfies Authenticator[]),
    limits: new RateLimits(store, policy.rateLimits, previous?.limits),
    headerNames: HEADER_PRESETS[docs.policy.headers?.preset ?? 'warden'],
    docs,
  });
}

/** Holder of the current runtime; a request reads `current` once and uses that version throughout. */
export class RuntimeState {
  constructor(public current: Runtime) {}

  /** Install a new version in one assignment. */
  swap(next: Runtime): void {
    this.current = next;
  }
}
