// `warden explain`: one request, the decision /verify would take, and the trace behind it.
import { parseArgs } from 'node:util';
import { compileKeys, type KeyTable } from '../auth/apikey.js';
import { configFailure, type Out } from './cli-io.js';
import { loadConfig, type Config } from '../config/load.js';
import { compilePolicy, type CompiledPolicy } from '../policy/compile.js';
import { EvalInputError, evaluate } from './evaluate.js';
import { formatExplanation } from './explain-format.js';


/** The loaded policy and keys, compiled as a server would compile them. */
export interface Loaded {
  config: Config;
  policy: CompiledPolicy;
  keys: KeyTable;
}

/** Load env, policy and keys like `warden serve`; on a config error print every problem and return the exit code 2. */
export async function loadForTooling(io: Out): Promise<Loaded | number> {
  try {
    const config = await loadConfig(process.env, { fetch });
    return { config, policy: compilePolicy(config.policy), keys: compileKeys(config.keys) };
  } catch (e) {
    return configFailure(e, io);
  }
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

/** Run `warden explain`; returns the exit code (0 whatever the decision, 2 for bad input). */
export async function explainCommand(args: string[], io: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      method: { type: 'string', default: 'GET' },
      url: { type: 'string' },
      ip: { type: 'string' },
      key: { type: 'string' },
      roles: { type: 'string' },
      header: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.url) {
    io.err('warden explain: --url is required (e.g. --url https://api.example.com/api/nodes)\n');
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) {
      io.err(`warden explain: --header must be "Name: value" (got "${h}")\n`);
      return 2;
    }
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const loaded = await loadForTooling(io);
  if (typeof loaded === 'number') return loaded;
  let e;
  try {
    e = evaluate(loaded.policy, loaded.keys, {
      method: values.method.toUpperCase(),
      url: values.url,
      ...(values.ip !== undefined ? { ip: values.ip } : {}),
      headers,
      ...(values.key !== undefined ? { key: values.key } : {}),
      ...(values.roles !== undefined ? { roles: list(values.roles) } : {}),
    }, Date.now());
  } catch (err) {
    if (err instanceof EvalInputError) {
      io.err(`warden explain: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (loaded.config.env.WARDEN_MODE === 'shadow' && e.outcome.decision !== 'allow' && e.outcome.reason !== 'bad_forwarded_context') {
    e.notes.push('WARDEN_MODE=shadow: /verify allows this request and audits decision "would-deny"');
  }
  io.out(values.json ? JSON.stringify(e, null, 2) + '\n' : formatExplanation(loaded.config.policy, e));
  return 0;
}
