// /verify/traefik against exactly what Traefik's forwardAuth sends (test/helpers/traefik-forward-auth.ts),
// in both trustForwardHeader modes, directly and behind a load balancer, with the recipe's
// warden-strip middleware from deploy/traefik/dynamic.yaml in front.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEPLOY_DIR } from '../e2e/harness/render.js';
import { KEYS, LOGIN_URL, policy, RULE, TIGHT_LIMIT } from '../e2e/harness/fixture.js';
import { send } from '../helpers/http.js';
import {
  traefikAuthRequest,
  traefikLocation,
  canonical,
  type TraefikClientRequest,
  type TraefikSettings,
} from '../helpers/traefik-forward-auth.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';

const CLIENT = '203.0.113.7';
const LB = '10.0.0.5';
const dynamic = parse(readFileSync(join(DEPLOY_DIR, 'traefik/dynamic.yaml'), 'utf8')).http;
const STRIP: Record<string, string> = dynamic.middlewares['warden-strip'].headers.customRequestHeaders;

let w: TestWarden;
let address: string;
beforeAll(async () => {
  w = await startWarden({
    policy: policy(),
    keys: Object.values(KEYS).map((k) => k.entry),
    env: { WARDEN_LOGIN_URL: LOGIN_URL, WARDEN_TRUSTED_PROXIES: '127.0.0.1/32,10.0.0.0/8' },
  });
  address = `${w.url}${new URL(dynamic.middlewares.warden.forwardAuth.address).pathname}`;
});
afterAll(() => w.close());

/** The recipe's warden-strip middleware: an empty customRequestHeaders value deletes the header. */
function strip(headers: [string, string][]): [string, string][] {
  const gone = new Set(
    Object.keys(STRIP)
      .filter((k) => STRIP[k] === '')
      .map(canonical),
  );
  return headers.filter(([k]) => !gone.has(canonical(k)));
}

async function viaTraefik(c: Partial<TraefikClientRequest> & { requestUri: string }, s: TraefikSettings) {
  const client: TraefikClientRequest = {
    method: 'GET',
    host: 'app.example.com',
    tls: true,
    remoteIp: CLIENT,
    headers: [],
    ...c,
  };
  const auth = traefikAuthRequest(address, { ...client, headers: strip(client.headers) }, s);
  const mark = w.audit.length;
  const res = await send(`${w.url}/`, {
    method: auth.method,
    rawPath: auth.rawPath,
    headers: auth.headers,
    localAddress: '127.0.0.1',
  });
  return { res, auth, last: w.audit.slice(mark).at(-1) };
}

const SPOOF: [string, string][] = [
  ['X-Forwarded-Uri', '/public/x'],
  ['X-Forwarded-Method', 'OPTIONS'],
  ['X-Forwarded-Host', 'other.example.com'],
  ['X-Forwarded-Proto', 'http'],
  ['X-Forwarded-For', '6.6.6.6'],
  ['X-Real-Ip', '6.6.6.6'],
];

for (const trustForwardHeader of [false, true]) {
  const direct: TraefikSettings = { trustForwardHeader, trustedIPs: [] };
  describe(`Traefik forwardAuth, trustForwardHeader: ${trustForwardHeader}, clients straight at Traefik`, () => {
    it('asks with GET and the five X-Forwarded-* headers, one of each; warden allows and names the identity', async () => {
      const r = await viaTraefik(
        {
          requestUri: '/nodes/n1?x=1',
          headers: [
            ['X-Api-Key', KEYS.dev.key],
            ['Accept', 'application/json'],
          ],
        },
        direct,
      );
      expect(r.auth.method).toBe('GET');
      expect(r.res.status).toBe(200);
      expect(r.res.headers['content-length']).toBe('0');
      expect(r.res.headers['x-user-id']).toBe('dev');
      expect(r.last).toMatchObject({
        dialect: 'traefik',
        method: 'GET',
        host: 'app.example.com',
        path: '/nodes/n1',
        clientIp: CLIENT,
        rule: RULE.nodes,
      });
    });

    it("a client's own X-Forwarded-* never change what is judged (the entry point drops them)", async () => {
      const r = await viaTraefik(
        { requestUri: '/admin/users', headers: [...SPOOF, ['X-Api-Key', KEYS.viewer.key]] },
        direct,
      );
      expect(r.res.status).toBe(403);
      expect(r.last).toMatchObject({
        reason: 'insufficient_permissions',
        method: 'GET',
        host: 'app.example.com',
        path: '/admin/users',
        clientIp: CLIENT,
      });
    });

    it('judges the original method of a POST although the auth request is a GET', async () => {
      const r = await viaTraefik(
        {
          method: 'POST',
          requestUri: '/nodes/n1',
          headers: [
            ['X-Api-Key', KEYS.viewer.key],
            ['Content-Length', '5'],
          ],
        },
        direct,
      );
      expect(r.auth.method).toBe('GET');
      expect(r.last).toMatchObject({ method: 'POST', decision: 'allow' });
    });

    it('still works with hop-by-hop headers stripped (Connection, Upgrade, TE, Proxy-Authorization)', async () => {
      const r = await viaTraefik(
        {
          requestUri: '/nodes/ws',
          headers: [
            ['Connection', 'Upgrade, X-Debug'],
            ['Upgrade', 'websocket'],
            ['Te', 'trailers'],
            ['Proxy-Authorization', 'Basic eDp5'],
            ['X-Debug', '1'],
            ['X-Api-Key', KEYS.viewer.key],
          ],
        },
        direct,
      );
      const sent = r.auth.headers.map(([k]) => k.toLowerCase());
      for (const hop of ['connection', 'upgrade', 'te', 'proxy-authorization', 'x-debug'])
        expect(sent).not.toContain(hop);
      expect(r.res.status).toBe(200);
    });

    it('sends a browser to sign in with a 302 whose Location is absolute, so Traefik passes it unchanged', async () => {
      const r = await viaTraefik(
        {
          requestUri: '/nodes/n4?tab=a%20b',
          headers: [
            ['Accept', 'text/html'],
            ['Sec-Fetch-Mode', 'navigate'],
          ],
        },
        direct,
      );
      expect(r.res.status).toBe(302);
      const location = String(r.res.headers.location);
      // Traefik resolves a relative Location against the auth address (warden's own host): it must be absolute.
      expect(traefikLocation(address, location)).toBe(location);
      expect(location.startsWith(LOGIN_URL + '?')).toBe(true);
      expect(new URL(location).searchParams.get('rd')).toBe('https://app.example.com/nodes/n4?tab=a%20b');
    });

    it('answers an API client without credentials 401 with WWW-Authenticate', async () => {
      const anon = await viaTraefik(
        { requestUri: '/nodes/n1', headers: [['Accept', 'application/json']] },
        direct,
      );
      expect(anon.res.status).toBe(401);
      expect(anon.res.headers['www-authenticate']).toMatch(/^Bearer realm="warden"/);
      expect(anon.res.headers['x-user-id']).toBeUndefined();
    });

    it('the recipe strips X-Original-* before forwardAuth: without it warden refuses the mixed context', async () => {
      const headers: [string, string][] = [
        ['X-Original-Url', 'https://app.example.com/public/x'],
        ['X-Api-Key', KEYS.viewer.key],
      ];
      const stripped = await viaTraefik({ requestUri: '/nodes/n1', headers }, direct);
      expect(stripped.res.status).toBe(200);
      const client: TraefikClientRequest = {
        method: 'GET',
        host: 'app.example.com',
        tls: true,
        remoteIp: CLIENT,
        requestUri: '/nodes/n1',
        headers,
      };
      const raw = traefikAuthRequest(address, client, direct);
      const r = await send(`${w.url}/`, {
        method: raw.method,
        rawPath: raw.rawPath,
        headers: raw.headers,
        localAddress: '127.0.0.1',
      });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).reason).toBe('bad_forwarded_context');
    });
  });
}

describe('Traefik forwardAuth and rate limits', () => {
  it('passes 429 with Retry-After once the limit is spent', async () => {
    const direct: TraefikSettings = { trustForwardHeader: false, trustedIPs: [] };
    const key: [string, string][] = [['X-Api-Key', KEYS.limited.key]];
    for (let i = 0; i < TIGHT_LIMIT; i++)
      expect((await viaTraefik({ requestUri: `/limited/${i}`, headers: key }, direct)).res.status).toBe(200);
    const limited = await viaTraefik({ requestUri: '/limited/over', headers: key }, direct);
    expect(limited.res.status).toBe(429);
    expect(Number(limited.res.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.res.headers['ratelimit-policy']).toBe(`"tight";q=${TIGHT_LIMIT};w=60`);
  });
});

describe('Traefik forwardAuth behind a load balancer (entry point forwardedHeaders.trustedIPs)', () => {
  const fromLb = {
    remoteIp: LB,
    tls: false,
    headers: [
      ['X-Forwarded-For', CLIENT],
      ['X-Forwarded-Proto', 'https'],
      ['X-Api-Key', KEYS.viewer.key],
    ] as [string, string][],
  };

  it("trustForwardHeader: true passes the load balancer's X-Forwarded-For and -Proto on: the client and https are judged", async () => {
    const r = await viaTraefik(
      { ...fromLb, requestUri: '/nodes/n1' },
      { trustForwardHeader: true, trustedIPs: [LB] },
    );
    expect(r.auth.headers).toContainEqual(['X-Forwarded-For', `${CLIENT}, ${LB}`]);
    expect(r.last).toMatchObject({ decision: 'allow', clientIp: CLIENT });
    const browser = await viaTraefik(
      {
        ...fromLb,
        headers: [
          ['X-Forwarded-For', CLIENT],
          ['X-Forwarded-Proto', 'https'],
          ['Accept', 'text/html'],
        ],
        requestUri: '/nodes/n1',
      },
      { trustForwardHeader: true, trustedIPs: [LB] },
    );
    expect(new URL(String(browser.res.headers.location)).searchParams.get('rd')).toBe(
      'https://app.example.com/nodes/n1',
    );
  });

  it('trustForwardHeader: false (the recipe) sees only the load balancer, which is why a load balancer needs true and trustedIPs', async () => {
    const r = await viaTraefik(
      { ...fromLb, requestUri: '/nodes/n1' },
      { trustForwardHeader: false, trustedIPs: [LB] },
    );
    expect(r.auth.headers).toContainEqual(['X-Forwarded-For', LB]);
    expect(r.last).toMatchObject({ decision: 'allow', clientIp: LB });
  });
});
