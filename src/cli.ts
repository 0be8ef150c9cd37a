#!/usr/bin/env node
// `warden` commands: serve, check, explain, test, keys, audit, recipe, schema; --help and --version.
import { recipeCommand } from './tooling/recipe-command.js';
import { auditVerifyCommand } from './tooling/audit-verify-command.js';
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, policyLabel, type Config } from './config/load.js';
import { metadataUrl } from './http/resource-metadata.js';
import { lintPolicy, proxyWarnings } from './policy/lint.js';
import { schemaFiles } from './config/json-schema.js';
import { unknownVariables } from './config/unknown-env.js';
import { ListenError, start } from './main.js';
import { configFailure, type Out } from './tooling/cli-io.js';
import { keysCreate, keysHash, revocationCommand } from './tooling/keys-command.js';
import { explainCommand } from './tooling/explain-command.js';
import { describeEffect, describeMatch, describeSubRule } from './tooling/explain-format.js';
import { keysRotate } from './tooling/keys-rotate.js';
import { storedKeyWarnings } from './tooling/keys-store-command.js';
import { policyTestCommand } from './tooling/policy-test-command.js';
import { systemClock, type Clock } from './util/clock.js';
import { helpFor, version, wantsHelp } from './tooling/usage.js';

/** The rules as `check` lists them: index, match and effect as `explain` writes them, then networks and rate limit. */
function ruleLines(p: Config['policy']): string[] {
  return p.rules.flatMap((r, i) => {
    const bound = `${r.resource ? ` resource ${r.resource}` : ''}${r.scopes ? ` scopes ${r.scopes.join(' ')}` : ''}`;
    const subs = (r.mcp ?? []).map((_, j) => `      mcp[${j}] ${describeSubRule(p, i, j)}`);
    return [
      `  [${i}] ${describeMatch(p, i)} → ${describeEffect(p, i)}${bound}${r.networks ? ` networks ${r.networks.join(',')}` : ''}${r.rateLimit ? ` limit ${r.rateLimit}` : ''}`,
      ...subs,
    ];
  });
}

/** The protected resources (MCP servers) as `check` lists them, with the metadata URL clients discover. */
function resourceLines(p: Config['policy']): string[] {
  if (p.resources.length === 0) return [];
  return [
    `resources (${p.resources.length}):`,
    ...p.resources.map(
      (r) =>
        `  ${r.id} ${r.url}${r.name ? ` (${r.name})` : ''} authorization servers ${r.authorizationServers.join(', ')} scopes ${r.scopes.join(' ') || 'none'} metadata ${metadataUrl(r.url)}`,
    ),
  ];
}

/** The JWT issuers as `check` lists them, with where roles come from. */
function issuerLines(config: Config): string[] {
  const p = config.policy;
  const claimMap = p.claims?.map ?? {};
  return [
    `JWT issuers (${config.issuers.length})${
      config.issuers.length > 0
        ? `, roles from claim ${p.claims?.roles ?? 'groups'}${
            Object.keys(claimMap).length
              ? ` mapped ${Object.entries(claimMap)
                  .map(([g, r]) => `${g}→${r}`)
                  .join(', ')}`
              : ''
          }:`
        : ''
    }`,
    ...config.issuers.map(
      (i) =>
        `  ${i.issuer} audience ${[i.audience].flat().join(',')} keys ${i.jwksUri ?? 'by discovery'} algorithms ${(i.algorithms ?? ['any asymmetric']).join(',')}${i.rolesClaim ? ` roles from ${i.rolesClaim}` : ''}${i.subjectClaim ? ` subject from ${i.subjectClaim}` : ''}${i.subjectPrefix ? ` subjects prefixed ${i.subjectPrefix}` : ''} tolerance ${i.clockToleranceSec}s`,
    ),
  ];
}

/** What `check` prints about a valid configuration, before the lint warnings; `now` tells expired keys. */
function summaryLines(config: Config, now: number): string[] {
  const p = config.policy;
  return [
    `policy: ${policyLabel(config.policySource)}`,
    `keys:   ${config.env.WARDEN_API_KEYS}`,
    `dialect on /verify: ${config.env.WARDEN_PROXY}; trusted proxies: ${config.env.WARDEN_TRUSTED_PROXIES.join(', ')}`,
    `roles (${Object.keys(p.roles).length}): ${
      Object.entries(p.roles)
        .map(([r, perms]) => `${r} [${perms.join(' ')}]`)
        .join('; ') || 'none'
    }`,
    `rate limits (${Object.keys(p.rateLimits).length}): ${
      Object.entries(p.rateLimits)
        .map(([n, l]) => `${n} ${l.limit}/${l.window}s by ${l.by}${l.burst ? ` burst ${l.burst}` : ''}`)
        .join('; ') || 'none'
    }`,
    `rules (${p.rules.length}), first match wins; default: ${p.default}`,
    ...ruleLines(p),
    ...resourceLines(p),
    `keys (${config.keys.keys.length}):`,
    ...config.keys.keys.map((k) => {
      const exp = k.expires
        ? k.expires.getTime() <= now
          ? `EXPIRED ${k.expires.toISOString()}`
          : `expires ${k.expires.toISOString()}`
        : 'no expiry';
      const previous = (k.previous ?? []).map(
        (p) =>
          ` previous key until ${p.expires.toISOString()}${p.expires.getTime() <= now ? ' (ended)' : ''}`,
      );
      return `  ${k.id} roles [${k.roles.join(', ')}] ${exp}${k.networks ? ` networks ${k.networks.join(',')}` : ''}${previous.join('')}`;
    }),
    ...issuerLines(config),
    ...signInSummary(config),
  ];
}

async function check(args: string[], io: Out, clock: Clock): Promise<number> {
  const { values: opts } = parseArgs({ args, options: { strict: { type: 'boolean' } }, strict: true });
  let config;
  try {
    config = await loadConfig(process.env, { fetch });
  } catch (e) {
    return configFailure(e, io);
  }
  const lines = summaryLines(config, clock.now());
  const warnings = [
    ...unknownVariables(process.env).map((u) => ({ path: `env ${u.variable}`, message: u.message })),
    ...lintPolicy(config.policy, config.keys),
    ...proxyWarnings(config.policy, config.env.WARDEN_PROXY),
    ...(await storedKeyWarnings(config, clock)),
  ];
  if (warnings.length > 0)
    lines.push(
      `warnings (${warnings.length}):`,
      ...warnings.map((w) => `  warning: ${w.path}: ${w.message}`),
    );
  if (warnings.length > 0 && opts.strict) {
    io.out(lines.join('\n') + '\n');
    io.err(`warden: ${warnings.length} lint warning${warnings.length === 1 ? '' : 's'} (--strict)\n`);
    return 1;
  }
  lines.push(
    warnings.length > 0
      ? `configuration OK, with ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`
      : 'configuration OK',
  );
  io.out(lines.join('\n') + '\n');
  return 0;
}

async function serveCommand(args: string[], io: Out, clock: Clock): Promise<number> {
  // serve is configured by the environment alone: any argument is a mistake worth stopping on.
  parseArgs({ args, options: {}, strict: true });
  let running;
  try {
    running = await start(process.env, { clock });
  } catch (e) {
    if (e instanceof ListenError) {
      io.err(`warden: ${e.message}\n`);
      return 1;
    }
    return configFailure(e, io);
  }
  await new Promise<void>((resolve) => {
    const hangup = () => void running.hangup();
    const stop = () => {
      process.off('SIGHUP', hangup);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void running.close().then(resolve);
    };
    // SIGHUP: reload policy and keys, re-read the assertion key file. SIGTERM, SIGINT: drain and stop.
    process.on('SIGHUP', hangup);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

/** Write the JSON Schemas generated from the zod schemas (npm run schema). */
function schemaCommand(args: string[], io: Out): number {
  const { values } = parseArgs({ args, options: { out: { type: 'string', default: 'rbac' } }, strict: true });
  for (const [name, text] of Object.entries(schemaFiles())) {
    writeFileSync(join(values.out, name), text);
    io.out(`wrote ${join(values.out, name)}\n`);
  }
  return 0;
}

/** Run a command line at `clock`'s time; returns the exit code. */
export async function run(argv: string[], io: Out, clock: Clock): Promise<number> {
  const [cmd = 'serve', sub, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    io.out(`warden ${version()}\n`);
    return 0;
  }
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
    io.out(helpFor(argv.slice(1)));
    return 0;
  }
  if (wantsHelp(argv)) {
    io.out(helpFor(argv));
    return 0;
  }
  try {
    if (cmd === 'serve') return await serveCommand(argv.slice(1), io, clock);
    if (cmd === 'check') return await check(argv.slice(1), io, clock);
    if (cmd === 'schema') return schemaCommand(argv.slice(1), io);
    if (cmd === 'explain') return await explainCommand(argv.slice(1), io, clock);
    if (cmd === 'recipe') return await recipeCommand(argv.slice(1), io);
    if (cmd === 'test') return await policyTestCommand(argv.slice(1), io, clock);
    if (cmd === 'keys' && sub === 'create') return await keysCreate(rest, io, clock);
    if (cmd === 'keys' && sub === 'hash') return keysHash(rest, io);
    if (cmd === 'keys' && sub === 'rotate') return await keysRotate(rest, io, clock);
    if (cmd === 'audit' && sub === 'verify') return await auditVerifyCommand(rest, io);
    if (cmd === 'keys' && (sub === 'revoke' || sub === 'unrevoke' || sub === 'revocations'))
      return await revocationCommand(sub, rest, io, clock);
  } catch (e) {
    if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`warden: ${e.message}\n${helpFor(argv)}`);
      return 2;
    }
    throw e;
  }
  io.err(
    `warden: unknown command "${[cmd, ...((cmd === 'keys' || cmd === 'audit') && sub ? [sub] : [])].join(' ')}"\n${helpFor(argv)}`,
  );
  return 2;
}

const io: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
run(process.argv.slice(2), io, systemClock).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`warden: ${(e as Error).message}\n`);
    process.exit(1);
  },
);

/** `warden check` lines for browser sign-in: where, which providers, which dev users (never secrets). */
function signInSummary(config: Config): string[] {
  const { providers, devUsers } = config.signIn;
  if (providers.length === 0 && devUsers.length === 0) return ['sign-in: off'];
  const env = config.env;
  const roles = new Set(Object.keys(config.policy.roles));
  return [
    `sign-in at ${env.WARDEN_LOGIN_URL ?? `${env.WARDEN_PUBLIC_URL}/oauth2/login`}, sessions ${env.WARDEN_SESSION_LIFETIME}s (idle ${env.WARDEN_SESSION_IDLE}s)${env.WARDEN_COOKIE_DOMAIN ? `, cookie domain ${env.WARDEN_COOKIE_DOMAIN}` : ''}, rd hosts ${env.WARDEN_REDIRECT_DOMAINS.join(',') || '(own host only)'}`,
    ...providers.map(
      (p) =>
        `  provider ${p.id}: ${p.issuer} client ${p.clientId} scopes ${p.scopes.join(' ')}${p.rolesClaim ? ` roles from ${p.rolesClaim}` : ''}`,
    ),
    ...devUsers.map(
      (u) =>
        `  dev user ${u.username} [${u.roles.map((r) => (roles.has(r) ? r : `${r} (not a policy role: ignored)`)).join(', ')}]`,
    ),
  ];
}
