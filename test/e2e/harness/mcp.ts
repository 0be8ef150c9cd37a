// Both ends of MCP with the official SDK: an McpServer on Streamable HTTP (the app behind the proxy) and an in-memory OAuth client.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { z } from 'zod';

/** What the MCP server saw of one HTTP request. */
export interface McpRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A running MCP server. */
export interface McpApp {
  port: number;
  /** Every HTTP request received, oldest first. */
  seen: McpRequest[];
  close(): Promise<void>;
}

/** The MCP server: one tool, `remember`, which answers with the note and the X-User-ID it was called with. */
function memoryServer(): McpServer {
  const server = new McpServer({ name: 'memory', version: '1.0.0' });
  server.registerTool(
    'remember',
    { description: 'Remember a note', inputSchema: { note: z.string() } },
    ({ note }, extra) => ({
      content: [
        { type: 'text', text: `remembered "${note}" for ${String(extra.requestInfo?.headers['x-user-id'])}` },
      ],
    }),
  );
  return server;
}

/**
 * Start the MCP server on 127.0.0.1, ephemeral port, serving Streamable HTTP on every path (the proxy
 * sends it /mcp). Stateless, as the SDK does it: a server and a transport per request.
 */
export async function startMcpServer(): Promise<McpApp> {
  const seen: McpRequest[] = [];
  const http: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const server = memoryServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`mcp server failed: ${(e as Error).message}`);
      });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}

/** The metadata an MCP client registers with (RFC 7591): a public client using PKCE. */
export function clientMetadata(redirectUrl: string, scope?: string): OAuthClientMetadata {
  return {
    client_name: 'warden e2e MCP client',
    redirect_uris: [redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...(scope ? { scope } : {}),
  };
}

/**
 * An MCP client's OAuth state, kept in memory. `signIn` plays the user agent: given the authorization
 * URL, it signs the user in and returns the URL the authorization server redirected to; the code
 * found there (with the state checked) is kept for `transport.finishAuth()`.
 */
export class MemoryOAuthClient implements OAuthClientProvider {
  /** The authorization code of the last sign-in. */
  code: string | undefined;
  /** Every authorization URL the SDK sent the user to. */
  readonly authorizationUrls: URL[] = [];
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  private lastState = '';

  constructor(
    readonly redirectUrl: string,
    private readonly signIn: (authorizationUrl: URL) => Promise<string>,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return clientMetadata(this.redirectUrl);
  }
  state(): string {
    this.lastState = randomUUID();
    return this.lastState;
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizationUrls.push(authorizationUrl);
    const callback = new URL(await this.signIn(authorizationUrl));
    if (callback.searchParams.get('state') !== this.lastState)
      throw new Error(`the callback's state is not the one sent: ${callback.href}`);
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`no code in the callback: ${callback.href}`);
    this.code = code;
  }
}
