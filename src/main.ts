// Process edge: load config, build dependencies, serve, reload on change, shut down gracefully.
import { getRequestListener } from '@hono/node-server';
import { createServer } from 'node:http';
import type { DestinationStream } from 'pino';
import { createApp } from './app.js';
import { createAuditLog, createOpsLog } from './audit/audit-log.js';
import type { Env } from './config/env-schema.js';
import { ConfigError } from './config/errors.js';
import { loadConfig } from './config/load.js';
import { AssertionKeyError, AssertionSigner } from './identity/assertion.js';
import { createMetrics } from './metrics.js';
import { compileCidrs } from './request/client-ip.js';
import { startReloader, type ReloadResult } from './reload.js';
import { buildRuntime, RuntimeState } from './runtime.js';
import { startServices } from './services.js';
import { createVerifyListener } from './http/verify-route.js';
import { attachSignIn } from './oauth2/attach.js';

/** The listen address is unusable (in use, not permitted). */
export class ListenError extends Error {}

/** A started warden process. */
export interface Running {
  port: number;
  /** Reload policy and keys now, as SIGHUP does. */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

/** Where logs go; tests capture them. */
export interface StartOptions {
  auditDestination?: DestinationStream;
  opsDestination?: DestinationStream;
}

/** Start warden from environment variables. Throws ConfigError on bad configuration. */
export async function start(vars: Record<string, string | undefined>, opts: StartOptions = {}): Promise<Running> {
  const config = await loadConfig(vars, { fetch });
  const env = config.env;
  const assertion = await openAssertionSigner(env);
  const log = createOpsLog(env.LOG_LEVEL, opts.opsDestination);
  const audit = createAuditLog(opts.auditDestination);
  const metrics = createMetrics();
  const services = await startServices(env, log, audit, metrics, config.issuers);
  const signIn = attachSignIn(config, services, audit, log);
  const state = new RuntimeState(buildRuntime(config, services));
  signIn.setState(state);
  let accepting = true;
  const deps = {
    state,
    services,
    audit,
    metrics,
    trustedProxies: compileCidrs(env.WARDEN_TRUSTED_PROXIES),
    loginUrl: signIn.loginUrl ?? env.WARDEN_LOGIN_URL,
    defaultDialect: env.WARDEN_PROXY,
    shadowMode: env.WARDEN_MODE === 'shadow',
    assertion,
    now: Date.now,
    isReady: () => accepting,
    signIn: signIn.routes,
    clearSessionCookie: signIn.clearSessionCookie,
  };
  const app = createApp(deps);
  const hono = getRequestListener(app.fetch);
  const fastVerify = createVerifyListener(deps, env.WARDEN_PROXY);
  const reloader = startReloader(env, state, services, log, { fetch }, audit);
  const onHup = () => {
    void reloader.reload('SIGHUP');
    // A replaced assertion key file takes over; the old key stays published until its tokens expire.
    if (env.WARDEN_ASSERTION_KEY !== 'generate') void assertion?.rotate().then((changed) => changed && log.info({ event: 'assertion_key_rotated' }, 'assertion key replaced'), (e: Error) => log.error({ event: 'assertion_key_error', err: e.message }, 'cannot read the new assertion key; the current one stays'));
  };
  process.on('SIGHUP', onHup);

  // Keep-alive longer than proxies' upstream keepalive (nginx 60 s) so warden never closes a connection they are about to reuse.
  // Headers up to 96 KiB are read, so an oversized credential gets a 401 and an audit line rather than a bare 431.
  const http = createServer({ keepAliveTimeout: 75_000, headersTimeout: 20_000, requestTimeout: 30_000, maxHeaderSize: 96 * 1024 }, (req, res) => {
    if (!fastVerify(req, res)) void hono(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', (e: NodeJS.ErrnoException) => reject(new ListenError(`cannot listen on ${env.HOST}:${env.PORT}: ${e.code ?? e.message}`)));
    http.listen(env.PORT, env.HOST, () => resolve());
  }).catch(async (e: unknown) => {
    reloader.stop();
    process.off('SIGHUP', onHup);
    await services.close();
    throw e;
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : env.PORT;
  log.info({ event: 'started', host: env.HOST, port, dialect: env.WARDEN_PROXY, store: services.store.kind, rules: state.current.policy.rules.length, keys: state.current.keys.entries.length }, 'warden listening');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      accepting = false;
      reloader.stop();
      process.off('SIGHUP', onHup);
      const drained = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, env.WARDEN_SHUTDOWN_TIMEOUT * 1000).unref());
      await Promise.race([drained, timeout]);
      http.closeAllConnections();
      await audit.flush();
      await services.close();
      assertion?.close();
      log.info({ event: 'stopped' }, 'warden stopped');
    })());
  return { port, close, reload: () => reloader.reload('api') };
}

/** The assertion signer of WARDEN_ASSERTION_KEY, or null; an unusable key file is a configuration error (exit 2). */
async function openAssertionSigner(env: Env): Promise<AssertionSigner | null> {
  const spec = env.WARDEN_ASSERTION_KEY;
  if (spec === undefined) return null;
  const source = spec === 'generate' ? { kind: 'generated' as const, stateDir: env.WARDEN_STATE_DIR, rotateMs: env.WARDEN_ASSERTION_ROTATE * 1000 } : { kind: 'file' as const, path: spec };
  try {
    return await AssertionSigner.open(source, env.WARDEN_ASSERTION_TTL);
  } catch (e) {
    if (e instanceof AssertionKeyError) throw new ConfigError([{ source: 'env WARDEN_ASSERTION_KEY', path: '', message: e.message }]);
    throw e;
  }
}
