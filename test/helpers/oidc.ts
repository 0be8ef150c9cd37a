// A real OpenID provider (the `oidc-provider` package) on 127.0.0.1, issuing RFC 9068 JWT access tokens.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** A machine client: its access tokens carry `groups` and are signed with `alg`. */
export interface MachineClient {
  id: string;
  alg: 'RS256' | 'ES256';
  groups: string[];
}

/** A running provider. */
export interface TestProvider {
  issuer: string;
  /** The resource (and `aud`) its access tokens are for. */
  audience: string;
  /** A client-credentials access token for a client. */
  token(clientId: string): Promise<string>;
  close(): Promise<void>;
}

const secretOf = (id: string) => `secret-of-${id}-${'s'.repeat(24)}`;

/** Start a provider with RS256 and ES256 signing keys and the given machine clients. */
export async function startProvider(clients: MachineClient[], audience = 'https://api.example.com'): Promise<TestProvider> {
  const keys = await Promise.all(
    (['RS256', 'ES256'] as const).map(async (alg) => {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-1` };
    }),
  );
  const byId = new Map(clients.map((c) => [c.id, c]));
  let server: Server;
  await new Promise<void>((resolve) => {
    server = createServer();
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    jwks: { keys },
    clients: clients.map((c) => ({ client_id: c.id, client_secret: secretOf(c.id), grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })),
    scopes: ['api:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, client) => {
          if (resource !== audience) throw new Error(`unknown resource ${resource}`);
          return { scope: 'api:read', audience, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: byId.get(client.clientId)!.alg } } };
        },
      },
    },
    extraTokenClaims: (_ctx, token) => ({ groups: byId.get(String(token.clientId))?.groups ?? [] }),
  });
  server!.on('request', provider.callback());
  return {
    issuer,
    audience,
    async token(clientId) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secretOf(clientId)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api:read', resource: audience }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token request for ${clientId} failed: ${res.status} ${body.error}: ${body.error_description}`);
      return body.access_token;
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
