import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { send } from '../helpers/http.js';
import { scrape, value } from '../helpers/prometheus.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { within } from '../helpers/redis.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { freePort } from '../e2e/harness/net.js';

const policy = {
  roles: { developer: ['api:*'] },
  rules: [
    { match: { path: '/api/**' }, require: ['api:read'] },
    { match: { path: '/internal/**' }, deny: true },
  ],
};
const dev = testKey('dev', ['developer']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let w: TestWarden | null = null;
afterEach(async () => {
  await w?.close();
  w = null;
});

const ask = (t: TestWarden, uri: string, extra: Record<string, string> = {}) =>
  send(`${t.url}/verify/traefik`, { headers: { ...traefikHeaders(uri, '203.0.113.5'), ...extra } });

describe('request ids', () => {
  it('keeps a valid X-Request-ID, returns it to the proxy and writes it in the audit line', async () => {
    w = await startWarden({ policy, keys: [dev.entry] });
    const r = await ask(w, '/api/x', { 'X-API-Key': dev.key, 'X-Request-ID': 'nginx-3f2a:01.b_c' });
    expect(r.status).toBe(200);
    expect(r.headers['x-request-id']).toBe('nginx-3f2a:01.b_c');
    expect(w.audit.at(-1)).toMatchObject({ reqId: 'nginx-3f2a:01.b_c', decision: 'allow' });
    const denied = await ask(w, '/internal/x', { 'X-API-Key': dev.key, 'X-Request-ID': 'deny-1' });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-request-id']).toBe('deny-1');
  });

  it('makes one when none is sent', async () => {
    w = await startWarden({ policy, keys: [dev.entry] });
    const r = await ask(w, '/api/x', { 'X-API-Key': dev.key });
    expect(r.headers['x-request-id']).toMatch(UUID);
    expect(w.audit.at(-1)!.reqId).toBe(r.headers['x-request-id']);
  });

  it('replaces a hostile one (10 KB, spaces, quotes, tabs) with a generated id', async () => {
    w = await startWarden({ policy, keys: [dev.entry] });
    for (const hostile of ['a'.repeat(10 * 1024), 'x y', 'id"},{"decision":"allow', 'a\tb', 'ü'.repeat(4)]) {
      const r = await ask(w, '/api/x', { 'X-API-Key': dev.key, 'X-Request-ID': hostile });
      expect(r.status).toBe(200);
      expect(r.headers['x-request-id']).toMatch(UUID);
      expect(w.audit.at(-1)!.reqId).toBe(r.headers['x-request-id']);
    }
  });

  it('a CR/LF in X-Request-ID never reaches the audit line or the answer', async () => {
    w = await startWarden({ policy, keys: [dev.entry] });
    const before = w.audit.length;
    // A raw request: Node's client refuses to send a CR in a header value; a hostile client does not.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(w!.port, '127.0.0.1', () => {
        s.write(
          `GET /verify/traefik HTTP/1.1\r\nHost: x\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example.com\r\nX-Forwarded-Uri: /api/x\r\nX-Forwarded-For: 203.0.113.5\r\nX-API-Key: ${dev.key}\r\nX-Request-ID: abc\rInjected: yes\r\nConnection: close\r\n\r\n`,
        );
      });
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    // Node's parser refuses the request outright (400), before warden sees it: nothing to log.
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(raw).not.toContain('Injected');
    expect(w.audit.slice(before).some((l) => String(l.reqId).includes('abc'))).toBe(false);
  });
});

describe('sampling', () => {
  it('WARDEN_AUDIT_ALLOW_SAMPLE=0 writes no allow, every deny', async () => {
    w = await startWarden({ policy, keys: [dev.entry], env: { WARDEN_AUDIT_ALLOW_SAMPLE: '0' } });
    for (let i = 0; i < 5; i++) expect((await ask(w, '/api/x', { 'X-API-Key': dev.key })).status).toBe(200);
    for (let i = 0; i < 3; i++)
      expect((await ask(w, '/internal/x', { 'X-API-Key': dev.key })).status).toBe(403);
    for (let i = 0; i < 2; i++)
      expect((await ask(w, '/api/x', { 'X-API-Key': 'wdn_nope' })).status).toBe(401);
    const decisions = w.audit.filter((l) => l.event === 'decision');
    expect(decisions.map((l) => l.decision)).toEqual([
      'forbidden',
      'forbidden',
      'forbidden',
      'unauthenticated',
      'unauthenticated',
    ]);
    // Metrics still count every decision.
    expect(value(await scrape(`${w.url}/metrics`), 'warden_decisions_total', { decision: 'allow' })).toBe(5);
  });
});

describe('file sink', () => {
  it('appends one JSON line per event and rotates by size, keeping WARDEN_AUDIT_FILE_KEEP files', async () => {
    const dir = testDir('warden-audit-');
    const file = join(dir, 'audit.jsonl');
    w = await startWarden({
      policy,
      keys: [dev.entry],
      env: {
        WARDEN_AUDIT_SINKS: 'file',
        WARDEN_AUDIT_FILE: file,
        WARDEN_AUDIT_FILE_MAX_SIZE: '2KiB',
        WARDEN_AUDIT_FILE_KEEP: '2',
      },
    });
    for (let i = 0; i < 40; i++)
      await ask(w, '/api/x', { 'X-API-Key': dev.key, 'X-Request-ID': `file-${i}` });
    await w.close();
    const files = [file, `${file}.1`, `${file}.2`];
    for (const f of files) expect(existsSync(f), f).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    for (const f of files) expect(statSync(f).size, f).toBeLessThanOrEqual(2048);
    // The newest lines are in the live file, older ones in .1 then .2, in order; the oldest rotated away,
    // each removal audited with the removed file's last seq and hash.
    const all = [...files].reverse().flatMap((f) =>
      readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
    const removals = all.filter((l) => l.event === 'audit_file_removed');
    expect(removals.length).toBeGreaterThan(0);
    for (const r of removals)
      expect(r).toMatchObject({
        // A rotation may come before the removal of the file the last one pushed past the count.
        file: expect.stringMatching(/audit\.jsonl\.[3-9]$/),
        cause: 'count',
        lastSeq: expect.any(Number),
        lastHash: expect.any(String),
      });
    const ids = all.filter((l) => l.event === 'decision').map((l) => l.reqId as string);
    expect(ids.at(-1)).toBe('file-39');
    const n = ids.map((id) => Number(id.slice(5)));
    expect(n).toEqual([...Array(n.length).keys()].map((i) => 40 - n.length + i));
    // Nothing went to the stdout capture: only the file sink is on.
    expect(w.audit).toHaveLength(0);
  });

  it('refuses to start when the file cannot be opened, naming the variable and the path', async () => {
    const bad = '/nonexistent-warden-dir/audit.jsonl';
    const e = await startWarden({
      policy,
      env: { WARDEN_AUDIT_SINKS: 'stdout,file', WARDEN_AUDIT_FILE: bad },
    }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toContain(
      `env WARDEN_AUDIT_FILE: cannot open ${bad} for appending (ENOENT)`,
    );
  });
});

describe('webhook sink through warden', () => {
  it('a receiver that is down: /verify answers, the bounded queue fills, drops are counted on /metrics', async () => {
    const port = await freePort();
    w = await startWarden({
      policy,
      keys: [dev.entry],
      env: {
        WARDEN_AUDIT_SINKS: 'webhook',
        WARDEN_AUDIT_WEBHOOK_URL: `http://127.0.0.1:${port}/audit`,
        WARDEN_AUDIT_WEBHOOK_BATCH: '5',
        WARDEN_AUDIT_WEBHOOK_QUEUE: '20',
        WARDEN_AUDIT_WEBHOOK_INTERVAL: '50ms',
        WARDEN_SHUTDOWN_TIMEOUT: '1s',
      },
    });
    for (let i = 0; i < 50; i++) expect((await ask(w, '/api/x', { 'X-API-Key': dev.key })).status).toBe(200);
    const m = await scrape(`${w.url}/metrics`);
    expect(value(m, 'warden_audit_queue_depth', { sink: 'webhook' })).toBe(20);
    expect(value(m, 'warden_audit_dropped_total', { sink: 'webhook' })).toBe(30);
    await within(3000, () => w!.ops.some((l) => l.event === 'audit_webhook_failed'));
    const warning = w.ops.find((l) => l.event === 'audit_webhook_failed')!;
    expect(warning.detail).toBe('ECONNREFUSED');
  });
});

describe('readiness', () => {
  it('names every check; a registered check that is not ready makes /readyz 503, and shutdown turns it false', async () => {
    w = await startWarden({ policy, keys: [dev.entry] });
    const ok = await send(`${w.url}/readyz`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({
      ready: true,
      notReady: [],
      parts: { policy: true, keys: true, store: true, bans: true, accepting: true },
    });
    let jwksLoaded = false;
    const unregister = w.readiness.register('jwks', () => ({
      ready: jwksLoaded,
      detail: jwksLoaded ? '1 issuer' : 'fetching https://idp.example.com/jwks',
    }));
    const waiting = await send(`${w.url}/readyz`);
    expect(waiting.status).toBe(503);
    expect(JSON.parse(waiting.body)).toMatchObject({
      ready: false,
      notReady: ['jwks'],
      parts: { jwks: false },
      details: { jwks: 'fetching https://idp.example.com/jwks' },
    });
    jwksLoaded = true;
    expect((await send(`${w.url}/readyz`)).status).toBe(200);
    unregister();
    const closing = w.close();
    expect(w.readiness.report()).toMatchObject({
      ready: false,
      notReady: ['accepting'],
      details: { accepting: 'shutting down' },
    });
    await closing;
    w = null;
  });
});

describe('metrics port', () => {
  it('WARDEN_METRICS_PORT serves /metrics there and not on the main port', async () => {
    const port = await freePort();
    w = await startWarden({ policy, keys: [dev.entry], env: { WARDEN_METRICS_PORT: String(port) } });
    expect(w.metricsPort).toBe(port);
    await ask(w, '/api/x', { 'X-API-Key': dev.key });
    expect(value(await scrape(`http://127.0.0.1:${port}/metrics`), 'warden_decisions_total')).toBe(1);
    expect((await send(`${w.url}/metrics`)).status).toBe(404);
  });
});

describe('admin events', () => {
  it('a key added to or removed from the keys file is audited as key_created / key_removed, with a schema version', async () => {
    w = await startWarden({ policy, keys: [dev.entry] });
    const added = testKey('new-1', ['developer']);
    const { writeFileSync } = await import('node:fs');
    const { stringify } = await import('yaml');
    writeFileSync(w.keysPath, stringify({ keys: [added.entry] }));
    await w.reload();
    const admin = w.audit.filter((l) => l.event !== 'decision');
    expect(admin.map((l) => l.event)).toEqual(['policy_reloaded', 'key_created', 'key_removed']);
    expect(admin[1]).toMatchObject({ schema: 1, event: 'key_created', id: 'new-1', trigger: 'api' });
    expect(admin[2]).toMatchObject({ schema: 1, event: 'key_removed', id: 'dev' });
    expect(JSON.stringify(admin)).not.toContain(added.entry.sha256 as string);
  });
});
