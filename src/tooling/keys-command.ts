// `warden keys …`: create and hash keys; revoke, unrevoke and list revocations through the store.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateKey, hashKey } from '../auth/apikey.js';
import { REVOCATION_TYPES, Revocations, type RevocationType } from '../auth/revocations.js';
import { cidrList } from '../config/cidr-list.js';
import { loadEnv, type Config } from '../config/load.js';
import { closest } from '../util/closest.js';
import { duration } from '../util/duration.js';
import { openStore } from '../services.js';
import { MirroredSet } from '../store/mirror.js';
import { systemClock, type Clock } from '../util/clock.js';
import { configFailure, type Out } from './cli-io.js';
import { loadForTooling } from './explain-command.js';
import { createStoredKey } from './keys-store-command.js';

/** The most roles one key may carry (as the admin API). */
const MAX_ROLES = 64;

const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** What `keys create` was asked for that the policy and keys file refuse: unknown roles or limit, a taken id. */
function createProblems(
  config: Config,
  values: { id: string; roles: string[]; networks: string[]; rateLimit?: string },
): string[] {
  const problems: string[] = [];
  const roles = Object.keys(config.policy.roles);
  const near = (name: string, known: string[]) => {
    const c = closest(name, known);
    return c ? ` (did you mean ${c}?)` : '';
  };
  if (values.roles.length > MAX_ROLES) problems.push(`--roles: at most ${MAX_ROLES} roles`);
  for (const r of values.roles.filter((r) => !roles.includes(r)))
    problems.push(
      `--roles: "${r}" is not a role of the policy${near(r, roles)}; roles: ${roles.join(', ') || 'none'}`,
    );
  const limits = Object.keys(config.policy.rateLimits);
  if (values.rateLimit !== undefined && !limits.includes(values.rateLimit))
    problems.push(
      `--rate-limit: "${values.rateLimit}" is not a rate limit of the policy${near(values.rateLimit, limits)}; limits: ${limits.join(', ') || 'none'}`,
    );
  const cidrs = cidrList.safeParse(values.networks);
  if (!cidrs.success) problems.push(`--networks: ${cidrs.error.issues.map((i) => i.message).join('; ')}`);
  if (config.keys.keys.some((k) => k.id === values.id))
    problems.push(
      `--id: "${values.id}" is already in ${config.env.WARDEN_API_KEYS}; pick another id, or \`warden keys rotate --id ${values.id}\` to give it a new key`,
    );
  return problems;
}

/**
 * `keys create`: a new random key, printed once, and its entry; checked against the policy and the
 * keys file. With `--store`, the entry goes to Redis instead of the terminal.
 */
export async function keysCreate(args: string[], io: Out, clock: Clock = systemClock): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      id: { type: 'string' },
      roles: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
      expires: { type: 'string' },
      networks: { type: 'string' },
      'rate-limit': { type: 'string' },
      store: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.id) {
    io.err('warden keys create: --id is required\n');
    return 2;
  }
  if (values.expires !== undefined && Number.isNaN(Date.parse(values.expires))) {
    io.err('warden keys create: --expires must be an ISO date-time such as 2027-06-30T00:00:00Z\n');
    return 2;
  }
  const loaded = await loadForTooling(io);
  if (typeof loaded === 'number') return loaded;
  const rateLimit = values['rate-limit'];
  const problems = createProblems(loaded.config, {
    id: values.id,
    roles: list(values.roles),
    networks: list(values.networks),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
  });
  if (problems.length > 0) {
    for (const p of problems) io.err(`warden keys create: ${p}\n`);
    return 2;
  }
  if (values.store)
    return createStoredKey(
      loaded.config,
      {
        id: values.id,
        roles: list(values.roles),
        ...(values.name ? { name: values.name } : {}),
        ...(values.email ? { email: values.email } : {}),
        ...(values.expires ? { expiresAt: Date.parse(values.expires) } : {}),
        ...(values.networks ? { networks: list(values.networks) } : {}),
        ...(rateLimit ? { rateLimit } : {}),
      },
      io,
      clock,
    );
  const key = generateKey();
  const entry: Record<string, unknown> = { id: values.id };
  if (values.name) entry.name = values.name;
  if (values.email) entry.email = values.email;
  entry.sha256 = hashKey(key);
  entry.roles = list(values.roles);
  if (values.expires) entry.expires = new Date(values.expires).toISOString();
  if (values.networks) entry.networks = list(values.networks);
  if (rateLimit) entry.rateLimit = rateLimit;
  io.out(
    `key (shown once, store it now): ${key}\n\n# add to the keys file under "keys:"\n${stringify([entry])}`,
  );
  return 0;
}

/** `keys hash`: the sha256 entry of an existing key. */
export function keysHash(args: string[], io: Out): number {
  // `--` lets a key that starts with "-" through; any option is refused, so `--help` is never hashed.
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length > 1) {
    io.err('warden keys hash: give one key (argument or stdin)\n');
    return 2;
  }
  const key = (positionals[0] ?? readFileSync(0, 'utf8')).replace(/\r?\n$/, '');
  if (key === '') {
    io.err('warden keys hash: no key given (argument or stdin)\n');
    return 2;
  }
  io.out(`sha256: ${hashKey(key)}\n`);
  return 0;
}

/**
 * Revocation commands: write through the same store the servers read (Redis, or the state dir),
 * dated by `clock`.
 */
export async function revocationCommand(sub: string, args: string[], io: Out, clock: Clock): Promise<number> {
  let env;
  try {
    env = loadEnv(process.env);
  } catch (e) {
    return configFailure(e, io);
  }
  const { values, positionals } = parseArgs({
    args,
    options: {
      reason: { type: 'string' },
      expires: { type: 'string' },
      type: { type: 'string', default: 'key' },
    },
    allowPositionals: true,
    strict: true,
  });
  const type = values.type as RevocationType;
  if (!REVOCATION_TYPES.includes(type)) {
    io.err(`warden keys ${sub}: --type is one of ${REVOCATION_TYPES.join(', ')}\n`);
    return 2;
  }
  const what = type === 'key' ? 'key' : type === 'token' ? 'token id (jti)' : 'subject';
  const store = openStore(env, { clock });
  try {
    if (!(await store.waitReady(5000))) {
      io.err('warden: the store is not reachable (Redis not ready after 5 s)\n');
      return 1;
    }
    const revocations = new Revocations(
      new MirroredSet(store.set('revocations', { persistent: true }), { resyncMs: 60_000 }),
    );
    await revocations.mirror.resync();
    const now = clock.now();
    if (sub === 'revocations') {
      if (positionals.length > 0) {
        io.err(`warden keys revocations: takes no argument (got ${positionals.join(' ')})\n`);
        return 2;
      }
      return listRevocations(revocations, now, io);
    }
    const id = positionals[0];
    if (!id || positionals.length > 1) {
      io.err(`warden keys ${sub}: give exactly one ${what}\n`);
      return 2;
    }
    if (sub === 'unrevoke') {
      const removed = await revocations.unrevoke(type, id);
      io.out(removed ? `revocation of ${what} ${id} lifted\n` : `${what} ${id} was not revoked\n`);
      return 0;
    }
    const where =
      store.kind === 'redis' ? 'every replica sharing this Redis' : `state dir ${env.WARDEN_STATE_DIR}`;
    return await revoke(revocations, { type, id, what, where, now }, values, io);
  } finally {
    await store.close();
  }
}

/** `keys revocations`: one line per live revocation. */
function listRevocations(revocations: Revocations, now: number, io: Out): number {
  const list = revocations.list(now);
  io.out(
    list.length === 0
      ? 'no revocations\n'
      : list
          .map(
            (r) =>
              `${r.type} ${r.id}${r.reason ? ` reason="${r.reason}"` : ''} since ${new Date(r.createdAt).toISOString()}${r.expiresAt ? ` until ${new Date(r.expiresAt).toISOString()}` : ''}`,
          )
          .join('\n') + '\n',
  );
  return 0;
}

/** `keys revoke`: revoke one id, with an optional reason and end (an ISO date-time or a duration). */
async function revoke(
  revocations: Revocations,
  target: { type: RevocationType; id: string; what: string; where: string; now: number },
  values: { reason?: string; expires?: string },
  io: Out,
): Promise<number> {
  const { type, id, what, where, now } = target;
  let expiresAt: number | undefined;
  if (values.expires !== undefined) {
    const d = duration.safeParse(values.expires);
    expiresAt = d.success ? now + d.data * 1000 : Date.parse(values.expires);
    if (Number.isNaN(expiresAt) || expiresAt <= now) {
      io.err('warden keys revoke: --expires must be a future ISO date-time or a duration like 24h\n');
      return 2;
    }
  }
  if (
    (await revocations.revoke(type, id, {
      now,
      ...(values.reason ? { reason: values.reason } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    })) === 'local'
  ) {
    io.err('warden: the store did not take the revocation; try again\n');
    return 1;
  }
  const scope = type === 'subject' ? ' (its tokens issued until now)' : '';
  io.out(
    `${what} ${id}${scope} revoked${expiresAt ? ` until ${new Date(expiresAt).toISOString()}` : ''} (${where})\n`,
  );
  return 0;
}
