// Issue 17 end to end with the official MCP TypeScript SDK on both sides: an McpServer behind the nginx
// recipe and warden, oidc-provider as the authorization server, the SDK client's own OAuth flow.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  exchangeAuthorization,
  extractWWWAuthenticateParams,
  registerClient,
  startAuthorization,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ifStarted } from '../helpers/hooks.js';
import { signInWithoutBrowser, startProvider, type TestProvider } from '../helpers/oidc.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';
import { clientMetadata, MemoryOAuthClient, startMcpServer, type McpApp } from './harness/mcp.js';
import { freePort } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';

const ADA = {
  id: 'ada',
  password: 'correct horse battery staple',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  groups: ['mcp-users'],
};
/** Another MCP server the same authorization server issues tokens for. */
const OTHER_RESOURCE = 'https://other.example.com/mcp';
/** The MCP client's redirect URI: never served, the sign-in stops at the redirect there. */
const REDIRECT = 'http://127.0.0.1/mcp-client/callback';

/** The policy once nginx's port, and so the resource url the client connects to, is known. */
function mcpPolicy(resource: string, issuer: string): Record<string, unknown> {
  return {
    claims: { roles: 'groups' },
    roles: { 'mcp-users': ['mcp:use'] },
    resources: [
      { id: 'memory', url: resource, authorizationServers: [issuer], scopes: ['mcp:tools'], name: 'Memory' },
    ],
    rules: [{ match: { path: '/mcp/**' }, resource: 'memory', require: ['mcp:use'], scopes: ['mcp:tools'] }],
    default: 'deny',
  };
}

describeNeeding(
  'an MCP SDK client signs in through nginx and warden and calls an MCP SDK server (e2e)',
  NGINX_BIN ? null : 'nginx is not installed: the MCP SDK e2e tests cannot run (apt-get install nginx)',
  () => {
    let idp: TestProvider;
    let w: TestWarden;
    let app: McpApp;
    let proxy: Proxy;
    let resource: string;

    beforeAll(async () => {
      // The resource url is what the client connects to: nginx on a loopback port, chosen first, since
      // the authorization server and warden's policy name it and nginx needs warden's port.
      const nginxPort = await freePort();
      resource = `http://127.0.0.1:${nginxPort}/mcp`;
      idp = await startProvider([], 'https://api.example.com', {
        users: [ADA],
        webClients: [],
        resources: [
          { url: resource, scopes: ['mcp:tools', 'mcp:read'] },
          { url: OTHER_RESOURCE, scopes: ['mcp:tools', 'mcp:read'] },
        ],
      });
      w = await startWarden({
        policy: mcpPolicy(resource, idp.issuer),
        env: {
          WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
          WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: 'https://api.example.com' }]),
        },
      });
      app = await startMcpServer();
      // The recipe's site, served under the loopback name the client uses.
      proxy = await startNginx({
        wardenPort: w.port,
        upstreamPort: app.port,
        serverName: '127.0.0.1',
        port: nginxPort,
      });
    });
    afterAll(async () => {
      await ifStarted(proxy)?.stop();
      await ifStarted(app)?.close();
      await ifStarted(w)?.close();
      await ifStarted(idp)?.close();
    });

    it('signs in with the SDK client OAuth flow and calls a tool as the signed-in user', async () => {
      const oauth = new MemoryOAuthClient(REDIRECT, async (url) =>
        signInWithoutBrowser(url.href, REDIRECT, ADA),
      );
      const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: oauth });
      // The first connect meets warden's 401, discovers, registers, and sends the user to sign in.
      await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(transport)).rejects.toThrow(
        UnauthorizedError,
      );
      expect(app.seen).toEqual([]);
      const asked = oauth.authorizationUrls[0]!;
      expect(asked.origin).toBe(idp.issuer);
      expect(Object.fromEntries(asked.searchParams)).toMatchObject({
        response_type: 'code',
        client_id: oauth.clientInformation()!.client_id,
        code_challenge_method: 'S256',
        redirect_uri: REDIRECT,
        resource,
        scope: 'mcp:tools',
      });
      await transport.finishAuth(oauth.code!);
      const claims = decodeJwt(oauth.tokens()!.access_token);
      expect(claims).toMatchObject({
        iss: idp.issuer,
        aud: resource,
        sub: 'ada',
        scope: 'mcp:tools',
        groups: ['mcp-users'],
      });

      const client = new Client({ name: 'e2e', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: oauth }));
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toEqual(['remember']);
        const seen = app.seen.length;
        const result = await client.callTool({ name: 'remember', arguments: { note: 'milk' } });
        expect(result.content).toEqual([{ type: 'text', text: 'remembered "milk" for ada' }]);
        // The identity reached the app on the call (the client may open its GET stream meanwhile).
        const calls = app.seen.slice(seen).filter((r) => r.method === 'POST');
        expect(calls.map((r) => r.headers['x-user-id'])).toEqual(['ada']);
      } finally {
        await client.close();
      }
    });

    it("discovers the resource's metadata from warden through nginx, as the SDK client does", async () => {
      expect(await discoverOAuthProtectedResourceMetadata(resource)).toEqual({
        resource,
        authorization_servers: [idp.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'Memory',
      });
    });

    /**
     * An access token from the same authorization server, asked for with the SDK's OAuth functions
     * by a client of its own (registered dynamically), for `resourceUrl` and `scope`.
     */
    async function signInFor(resourceUrl: string, scope: string) {
      const metadata = await discoverAuthorizationServerMetadata(idp.issuer);
      const clientInformation = await registerClient(idp.issuer, {
        metadata,
        clientMetadata: clientMetadata(REDIRECT, 'mcp:tools mcp:read'),
      });
      const { authorizationUrl, codeVerifier } = await startAuthorization(idp.issuer, {
        metadata,
        clientInformation,
        redirectUrl: REDIRECT,
        scope,
        resource: resourceUrl,
      });
      const callback = new URL(await signInWithoutBrowser(authorizationUrl.href, REDIRECT, ADA));
      const tokens = await exchangeAuthorization(idp.issuer, {
        metadata,
        clientInformation,
        authorizationCode: callback.searchParams.get('code')!,
        codeVerifier,
        redirectUri: REDIRECT,
        resource: resourceUrl,
      });
      return { clientInformation, tokens };
    }
    const tokenFor = async (resourceUrl: string, scope: string) =>
      (await signInFor(resourceUrl, scope)).tokens.access_token;
    /** A tools/call through nginx, as the SDK client sends it. */
    const callTool = (token: string) =>
      fetch(resource, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'remember', arguments: { note: 'not for you' } },
        }),
      });
    const metadataUrl = () => `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`;

    it('refuses a token the same authorization server issued for another resource', async () => {
      const token = await tokenFor(OTHER_RESOURCE, 'mcp:tools');
      expect(decodeJwt(token)).toMatchObject({ aud: OTHER_RESOURCE, sub: 'ada', scope: 'mcp:tools' });
      const seen = app.seen.length;
      const res = await callTool(token);
      expect(res.status, await res.text()).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer resource_metadata="${metadataUrl()}", scope="mcp:tools", error="invalid_token", ` +
          'error_description="the token is not meant for this audience"',
      );
      // As the SDK client reads it: sign in again, for this resource.
      expect(extractWWWAuthenticateParams(res)).toEqual({
        resourceMetadataUrl: new URL(metadataUrl()),
        scope: 'mcp:tools',
        error: 'invalid_token',
      });
      expect(app.seen.length).toBe(seen);
    });

    it('answers a token without the scope with the 403 insufficient_scope challenge', async () => {
      const token = await tokenFor(resource, 'mcp:read');
      expect(decodeJwt(token)).toMatchObject({ aud: resource, sub: 'ada', scope: 'mcp:read' });
      const seen = app.seen.length;
      const res = await callTool(token);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="${metadataUrl()}"`,
      );
      expect(await res.json()).toEqual({
        error: 'forbidden',
        reason: 'insufficient_scope',
        required: ['mcp:tools'],
      });
      // What the SDK client re-scopes from.
      expect(extractWWWAuthenticateParams(res)).toEqual({
        resourceMetadataUrl: new URL(metadataUrl()),
        scope: 'mcp:tools',
        error: 'insufficient_scope',
      });
      expect(app.seen.length).toBe(seen);
    });

    it('the SDK client steps up from the 403: it signs in again for the scope and calls the tool', async () => {
      // A client that holds a token without the scope (and no refresh token).
      const { clientInformation, tokens } = await signInFor(resource, 'mcp:read');
      const oauth = new MemoryOAuthClient(REDIRECT, async (url) =>
        signInWithoutBrowser(url.href, REDIRECT, ADA),
      );
      oauth.saveClientInformation(clientInformation);
      oauth.saveTokens({ access_token: tokens.access_token, token_type: tokens.token_type });
      const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: oauth });
      await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(transport)).rejects.toThrow(
        UnauthorizedError,
      );
      // Sent to sign in for the scope the 403 named, nginx having passed its challenge on.
      expect(Object.fromEntries(oauth.authorizationUrls[0]!.searchParams)).toMatchObject({
        client_id: clientInformation.client_id,
        resource,
        scope: 'mcp:tools',
      });
      await transport.finishAuth(oauth.code!);
      expect(decodeJwt(oauth.tokens()!.access_token)).toMatchObject({ aud: resource, scope: 'mcp:tools' });
      const client = new Client({ name: 'e2e', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: oauth }));
      try {
        const result = await client.callTool({ name: 'remember', arguments: { note: 'eggs' } });
        expect(result.content).toEqual([{ type: 'text', text: 'remembered "eggs" for ada' }]);
      } finally {
        await client.close();
      }
    });
  },
);
