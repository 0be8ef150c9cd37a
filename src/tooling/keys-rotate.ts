// `warden keys rotate`: a new key for an existing id, the old one accepted until a grace period ends.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateKey, hashKey } from '../auth/apikey.js';
import type { KeyEntry } from '../config/keys-schema.js';
import type { Clock } from '../util/clock.js';
import { duration } from '../util/duration.js';
import type { Out } from './cli-io.js';
import { loadForTooling } from './explain-command.js';

/** The entry as the keys file writes it, with a new hash and the old one kept until `graceEnd`. */
function rotatedEntry(entry: KeyEntry, sha256: string, graceEnd: Date, now: number): Record<string, unknown> {
  const { id, name, email, roles, expires, networks, rateLimit } = entry;
  // Previous keys whose grace has already ended are dropped; the one being replaced joins them.
  const previous = [
    ...(entry.sha256 !== undefined ? [{ sha256: entry.sha256, expires: graceEnd.toISOString() }] : []),
    ...(entry.previous ?? [])
      .filter((p) => p.expires.getTime() > now)
      .map((p) => ({ sha256: p.sha256, expires: p.expires.toISOString() })),
  ];
  return {
    id,
    ...(name !== undefined ? { name } : {}),
    ...(email !== undefined ? { email } : {}),
    sha256,
    previous,
    roles: [...roles],
    ...(expires ? { expires: expires.toISOString() } : {}),
    ...(networks ? { networks: [...networks] } : {}),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
  };
}

/** `keys rotate --id ID [--grace 24h]`: print the new key once and the entry that replaces the old one. */
export async function keysRotate(args: string[], io: Out, clock: Clock): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { id: { type: 'string' }, grace: { type: 'string', default: '24h' } },
    strict: true,
  });
  if (!values.id) {
    io.err('warden keys rotate: --id is required\n');
    return 2;
  }
  const grace = duration.safeParse(values.grace);
  if (!grace.success || grace.data <= 0) {
    io.err('warden keys rotate: --grace must be a duration such as 24h or 7d\n');
    return 2;
  }
  const loaded = await loadForTooling(io);
  if (typeof loaded === 'number') return loaded;
  const file = loaded.config.env.WARDEN_API_KEYS;
  const entry = loaded.config.keys.keys.find((k) => k.id === values.id);
  if (entry?.sha256 === undefined) {
    io.err(
      entry
        ? `warden keys rotate: "${values.id}" is a client certificate entry, not an API key\n`
        : `warden keys rotate: no key "${values.id}" in ${file}; \`warden keys create\` makes a new one\n`,
    );
    return 2;
  }
  const now = clock.now();
  const graceEnd = new Date(now + grace.data * 1000);
  const key = generateKey();
  const replacement = rotatedEntry(entry, hashKey(key), graceEnd, now);
  io.out(
    `key (shown once, store it now): ${key}\n\n` +
      `# replace the entry of ${values.id} in ${file} with this one: the old key works until ${graceEnd.toISOString()}\n` +
      stringify([replacement]),
  );
  return 0;
}
