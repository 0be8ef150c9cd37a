// The web console over HTTP: who gets in (302 / 401 / 403), headers and CSP on every page, CSRF, escaping, audit
// search and export, the live feed's permission and contents.
import { appendFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { within } from '../helpers/redis.js';
import { formTokens, KEYS, page, post, signIn, startConsole, through, type ConsoleSetup } from './helpers.js';

let s: ConsoleSetup;
beforeAll(async () => {
  s = await startConsole();
});
afterAll(() => s.close());

const PAGES = [
  '/console/',
  '/console/audit',
  '/console/keys',
  '/console/revocations',
  '/console/bans',
  '/console/alerts',
];

/** Every security header a console answer carries, and a CSP that allows no other origin and no inline script. */
function expectLockedDown(headers: Record<string, string | string[] | undefined>): void {
  const csp = String(headers['content-security-policy']);
  expect(csp).toMatch(/(^|; )default-src 'self'(;|$)/);
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*|wss?:/);
  for (const directive of csp.split(';').map((d) => d.trim())) {
    const sources = directive.split(/\s+/).slice(1);
    const allowed = directive.startsWith('img-src') ? ["'self'", 'data:'] : ["'self'", "'none'"];
    expect(
      sources.every((x) => allowed.includes(x)),
      directive,
    ).toBe(true);
  }
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['referrer-policy']).toBe('same-origin');
  expect(headers['cache-control']).toBe('no-store');
}

/** No inline script (a JSON data block is no script), no event-handler attribute, no javascript: URL. */
function expectNoInlineScript(html: string): void {
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
    const attrs = m[1]!;
    if (/type="application\/json"/.test(attrs)) continue;
    expect(attrs).toMatch(/src="\/console\/assets\//);
    expect(m[2]).toBe('');
  }
  expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  expect(html).not.toMatch(/javascript:/i);
  expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
}

/** A signed-in viewer (warden:console) posting an action form. */
async function viewerPosts(path: string, form: Record<string, string>) {
  // A viewer's page has no form to take a token from; whatever it sends, the permission refuses first.
  const watcher = await signIn(s, 'watcher');
  return post(s, path, watcher.cookie, { csrf: 'x'.repeat(43), ...form });
}

describe('access', () => {
  it('a browser without a session goes to sign-in; JSON gets 401; the policy making /** public changes nothing', async () => {
    // The policy has `public: true` for /**: /verify allows /console/… to anyone, the console itself does not.
    expect((await through(s, '/console/keys')).status).toBe(200);
    const nav = await page(s, '/console/keys?x=1');
    expect(nav.status).toBe(302);
    expect(nav.headers.location).toBe(`${s.url}/oauth2/login?rd=${encodeURIComponent('/console/keys?x=1')}`);
    expectLockedDown(nav.headers);
    const json = await send(`${s.url}/console/keys`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(401);
    const wrongKey = await send(`${s.url}/console/`, {
      headers: { 'x-api-key': 'wdn_test_nobody_xxxxxxxxxxxxxxxxxxxx' },
    });
    expect(wrongKey.status).toBe(302);
  });

  it('after signing in with a dev user the browser is back on the page it asked for', async () => {
    const nav = await page(s, '/console/audit?decision=refused');
    const rd = new URL(String(nav.headers.location)).searchParams.get('rd')!;
    const signedIn = await signIn(s, 'watcher', rd);
    expect(signedIn.location).toBe(`${s.url}/console/audit?decision=refused`);
    const back = await page(s, '/console/audit?decision=refused', signedIn.cookie);
    expect(back.status).toBe(200);
    expect(back.body).toContain('<label for="q-identity">Identity</label>');
  });

  it('warden:console reads, warden:admin acts, anything else is 403 (page or JSON)', async () => {
    expect((await page(s, '/console/', undefined, { 'x-api-key': KEYS.dev.key })).status).toBe(403);
    const json = await send(`${s.url}/console/`, {
      headers: { 'x-api-key': KEYS.dev.key, accept: 'application/json' },
    });
    expect(json.status).toBe(403);
    expect(JSON.parse(json.body)).toMatchObject({ error: 'forbidden' });
    const viewer = await page(s, '/console/revocations', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(viewer.status).toBe(200);
    expect(viewer.body).not.toContain('<button type="submit">Revoke</button>');
    const admin = await page(s, '/console/revocations', undefined, { 'x-api-key': KEYS.ops.key });
    expect(admin.body).toContain('<button type="submit">Revoke</button>');
    // The viewer trying an action: 403, nothing changes.
    const tried = await viewerPosts('/console/revocations', {
      type: 'key',
      id: 'dev-1',
      reason: 'x',
    });
    expect(tried.status).toBe(403);
    expect(tried.body).toContain('Acting needs the warden:admin permission');
    expect((await through(s, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(200);
  });
});

describe('every page', () => {
  it.each(PAGES)('%s: security headers, CSP, no inline script, no secret', async (path) => {
    const { cookie, session } = await signIn(s, 'admin');
    const res = await page(s, path, cookie);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expectLockedDown(res.headers);
    expectNoInlineScript(res.body);
    for (const secret of [session, ...Object.values(KEYS).map((k) => k.key), String(KEYS.dev.entry.sha256)])
      expect(res.body).not.toContain(secret);
    // The console's cookie: SameSite=Strict, HttpOnly, only for /console/.
    const set = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('warden_console='));
    expect(set).toMatch(/; Path=\/console\/; HttpOnly; SameSite=Strict/);
  });

  it('assets, refusals and unknown pages carry the same headers', async () => {
    for (const path of [
      '/console/assets/console.css',
      '/console/assets/console.js',
      '/console/assets/uPlot.iife.min.js',
      '/console/nope',
      '/console/keys',
    ]) {
      const res = await page(s, path);
      expectLockedDown(res.headers);
    }
    const css = await page(s, '/console/assets/uPlot.min.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toContain('text/css');
  });
});

describe('actions', () => {
  it('a POST without or with a stale CSRF token is refused (403) and changes nothing; with it, it revokes', async () => {
    const { cookie } = await signIn(s, 'admin');
    const first = await page(s, '/console/revocations', cookie);
    const tokens = formTokens(first);
    const both = `${cookie}; ${tokens.cookie}`;
    const form = { type: 'key', id: 'dev-1', reason: 'leaked in a build log' };

    expect((await post(s, '/console/revocations', both, form)).status).toBe(403);
    expect((await post(s, '/console/revocations', both, { ...form, csrf: 'x'.repeat(43) })).status).toBe(403);
    // A token issued for another sign-in (another session) is stale for this one.
    const other = await signIn(s, 'admin');
    const otherTokens = formTokens(await page(s, '/console/revocations', other.cookie));
    expect(
      (
        await post(s, '/console/revocations', `${cookie}; ${otherTokens.cookie}`, {
          ...form,
          csrf: otherTokens.csrf,
        })
      ).status,
    ).toBe(403);
    expect((await through(s, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(200);
    expect(s.w.audit.some((l) => l.event === 'cross_site_refused' && l.endpoint === 'console')).toBe(true);

    const done = await post(s, '/console/revocations', both, { ...form, csrf: tokens.csrf });
    expect(done.status).toBe(200);
    expect(done.body).toContain('role="status"');
    expect(done.body).toContain('key dev-1 revoked: refused on every replica from now on.');
    expect((await through(s, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(401);
    // Audited by the admin API with the acting identity and the target.
    expect(s.w.audit.find((l) => l.event === 'revocation_added')).toMatchObject({
      type: 'key',
      id: 'dev-1',
      by: 'admin',
      reason: 'leaked in a build log',
    });
    // The list shows it, with the requests it refused here.
    await within(1000, async () =>
      /<td class="num">1<\/td>/.test((await page(s, '/console/revocations', cookie)).body),
    );

    const lifted = await post(s, '/console/revocations/remove', both, {
      csrf: tokens.csrf,
      type: 'key',
      id: 'dev-1',
      reason: 'rotated',
    });
    expect(lifted.status).toBe(200);
    expect(lifted.body).toContain('key dev-1 is no longer revoked');
    expect((await through(s, '/api/a', { 'x-api-key': KEYS.dev.key })).status).toBe(200);
  });

  it('a revocation without a reason is refused with the field named', async () => {
    const first = await page(s, '/console/revocations', undefined, { 'x-api-key': KEYS.ops.key });
    const t = formTokens(first);
    const res = await send(`${s.url}/console/revocations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: t.cookie,
        'x-api-key': KEYS.ops.key,
      },
      body: new URLSearchParams({ csrf: t.csrf, type: 'key', id: 'dev-1', reason: '' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('reason: say why it is revoked');
  });
});

describe('bans and alerts', () => {
  const banForm = { type: 'ip', value: '198.51.100.77', duration: '1h', reason: 'scanning' };
  const admin = (method: string, path: string) =>
    send(`${s.url}/admin${path}`, { method, headers: { 'x-api-key': KEYS.ops.key } });

  it('a viewer (warden:console) sees bans and alerts, without the forms, and cannot ban', async () => {
    const bans = await page(s, '/console/bans', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(bans.status).toBe(200);
    expect(bans.body).toContain('Active bans');
    expect(bans.body).not.toContain('<button type="submit">Ban</button>');
    const alerts = await page(s, '/console/alerts', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(alerts.status).toBe(200);
    expect(alerts.body).toContain('No alerts configured');
    const tried = await viewerPosts('/console/bans', banForm);
    expect(tried.status).toBe(403);
    expect(tried.body).toContain('Acting needs the warden:admin permission');
    expect(JSON.parse((await admin('GET', '/bans')).body).bans).toEqual([]);
  });

  it('a ban made on the page is the admin API ban: listed on GET /admin/bans, audited, lifted with a reason', async () => {
    const { cookie } = await signIn(s, 'admin');
    const t = formTokens(await page(s, '/console/bans', cookie));
    const both = `${cookie}; ${t.cookie}`;
    // The API's own validation, its field and message.
    const bad = await post(s, '/console/bans', both, { ...banForm, csrf: t.csrf, duration: '10s' });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('duration: a ban lasts between 1 minute and 30 days');

    const done = await post(s, '/console/bans', both, { ...banForm, csrf: t.csrf });
    expect(done.status).toBe(200);
    expect(done.body).toMatch(/role="status">ip 198\.51\.100\.77 banned until /);
    const listed = JSON.parse((await admin('GET', '/bans')).body).bans as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({ type: 'ip', value: '198.51.100.77', reason: 'scanning', createdBy: 'admin' }),
    ]);
    expect(s.w.audit.find((l) => l.event === 'ban')).toMatchObject({ value: '198.51.100.77', by: 'admin' });
    expect((await through(s, '/api/a', { 'x-forwarded-for': '198.51.100.77' })).status).toBe(429);
    const seen = await page(s, '/console/bans', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(seen.body).toContain('<td class="mono">198.51.100.77</td><td>scanning</td><td>admin</td>');

    const lifted = await post(s, '/console/bans/remove', both, {
      csrf: t.csrf,
      id: String(listed[0]!.id),
      reason: 'a partner scanner',
    });
    expect(lifted.status).toBe(200);
    expect(lifted.body).toContain('Ban of ip 198.51.100.77 lifted on every replica');
    expect(JSON.parse((await admin('GET', '/bans')).body).bans).toEqual([]);
    expect(s.w.audit.find((l) => l.event === 'unban')).toMatchObject({
      reason: 'a partner scanner',
      by: 'admin',
    });
  });
});

describe('audit search', () => {
  it('filters, newest first, the path as text even when it holds <script>, exports the same set', async () => {
    await through(s, '/api/one', { 'x-api-key': KEYS.dev.key });
    await through(s, '/api/two');
    await through(s, '/api/three');
    // A line another writer left with markup in its path: shown as text, never as markup.
    const line = {
      level: 'info',
      time: new Date().toISOString(),
      event: 'decision',
      decision: 'forbidden',
      reason: 'x',
      status: 403,
      method: 'GET',
      path: '/evil/<script>alert(1)</script>',
      clientIp: '198.51.100.9',
      sub: '<b>mallory</b>',
      rule: 0,
    };
    await within(1000, async () =>
      (
        await page(s, '/console/audit?path=/api/three', undefined, { 'x-api-key': KEYS.watcher.key })
      ).body.includes('path">/api/three<'),
    );
    appendFileSync(s.auditFile, JSON.stringify(line) + '\n');

    const all = await page(s, '/console/audit?decision=refused', undefined, {
      'x-api-key': KEYS.watcher.key,
    });
    expect(all.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(all.body).toContain('&lt;b&gt;mallory&lt;/b&gt;');
    expect(all.body).not.toContain('<script>alert');
    const order = ['/evil/', '/api/three', '/api/two'].map((p) => all.body.indexOf(p));
    expect(order.every((i, n) => i !== -1 && (n === 0 || i > order[n - 1]!))).toBe(true);
    expect(all.body).not.toContain('/api/one');
    expect(all.body).toContain('Searching this replica&#39;s audit file');

    const q = 'decision=refused&path=%2Fapi%2Ft';
    const filtered = await page(s, `/console/audit?${q}`, undefined, { 'x-api-key': KEYS.watcher.key });
    expect(filtered.body).toMatch(
      /<a href="\/console\/audit\/export\?format=jsonl&amp;decision=refused&amp;path=%2Fapi%2Ft">JSONL<\/a>/,
    );
    const csv = await send(`${s.url}/console/audit/export?format=csv&${q}`, {
      headers: { 'x-api-key': KEYS.watcher.key },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const rows = csv.body.trim().split('\r\n');
    // The audit search's exporter: its columns, the same as GET /admin/audit/export.
    expect(rows[0]).toBe('time,decision,status,identity,client IP,method,host,path,rule,reason,replica,seq');
    expect(rows.slice(1).map((r) => r.split(',')[7])).toEqual(['/api/three', '/api/two']);
    const jsonl = await send(`${s.url}/console/audit/export?format=jsonl&${q}`, {
      headers: { 'x-api-key': KEYS.watcher.key },
    });
    expect(
      jsonl.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).path),
    ).toEqual(['/api/three', '/api/two']);
    // Audited as the admin API's export is, with who asked.
    expect(s.w.audit.find((l) => l.event === 'audit_exported' && l.format === 'csv')).toMatchObject({
      by: 'watch-1',
    });
    // Exports need the permission too.
    expect(
      (await send(`${s.url}/console/audit/export?format=csv`, { headers: { 'x-api-key': KEYS.dev.key } }))
        .status,
    ).toBe(403);
  });

  it('a malformed filter is a 400 naming the field', async () => {
    const date = await page(s, '/console/audit?from=yesterday', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(date.status).toBe(400);
    expect(date.body).toMatch(/role="alert">from: /);
    const long = await page(s, `/console/audit?identity=${'a'.repeat(10_000)}`, undefined, {
      'x-api-key': KEYS.watcher.key,
    });
    expect(long.status).toBe(400);
    expect(long.body).toContain('identity: at most 1024 characters');
    const cursor = await page(s, '/console/audit?cursor=nope', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(cursor.status).toBe(400);
    expect(cursor.body).toMatch(/role="alert">cursor: /);
  });
});

/** Open the live feed; resolves with the status and a reader of its events. */
function openEvents(headers: Record<string, string>, on: ConsoleSetup = s) {
  return new Promise<{ status: number; events: string[]; close: () => void; closed: Promise<void> }>(
    (resolve, reject) => {
      const u = new URL(`${on.url}/console/events`);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          headers: { accept: 'text/event-stream', ...headers },
        },
        (res) => {
          const events: string[] = [];
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            buf += c;
            let i;
            while ((i = buf.indexOf('\n\n')) !== -1) {
              events.push(buf.slice(0, i));
              buf = buf.slice(i + 2);
            }
          });
          const closed = new Promise<void>((done) => res.on('close', () => done()));
          resolve({ status: res.statusCode ?? 0, events, close: () => req.destroy(), closed });
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

describe('live feed', () => {
  it('needs the permission', async () => {
    expect((await send(`${s.url}/console/events`, { headers: { accept: 'text/event-stream' } })).status).toBe(
      401,
    );
    expect(
      (
        await send(`${s.url}/console/events`, {
          headers: { accept: 'text/event-stream', 'x-api-key': KEYS.dev.key },
        })
      ).status,
    ).toBe(403);
  });

  it('streams each decision with its path, status, identity and time, and closes cleanly', async () => {
    const live = await openEvents({ 'x-api-key': KEYS.watcher.key });
    expect(live.status).toBe(200);
    await within(1000, () => live.events.some((e) => e.startsWith('event: hello')));
    await through(s, '/api/live', { 'x-api-key': KEYS.ops.key });
    await within(1000, () => live.events.some((e) => e.includes('/api/live')));
    const ev = live.events.find((e) => e.includes('/api/live'))!;
    expect(ev).toMatch(/^event: decision\n/);
    const data = JSON.parse(ev.slice(ev.indexOf('data: ') + 6));
    expect(data).toMatchObject({
      path: '/api/live',
      status: 403,
      identity: 'ops-1',
      decision: 'forbidden',
      sample: 1,
    });
    expect(Date.parse(data.time)).not.toBeNaN();
    live.close();
    await live.closed;
  });

  it('ends when warden shuts down, so shutdown does not wait for open consoles', async () => {
    const other = await startConsole();
    const live = await openEvents({ 'x-api-key': KEYS.watcher.key }, other);
    await within(1000, () => live.events.some((e) => e.startsWith('event: hello')));
    const started = performance.now();
    await other.close();
    await live.closed;
    // WARDEN_SHUTDOWN_TIMEOUT is 10 s: a feed left open would hold the shutdown that long.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
