// The echo upstream: answers 200 with the request line and headers it received, and remembers each request.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

/** What the upstream app saw of one request. */
export interface EchoedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  remoteAddress: string | undefined;
}

/** A running echo upstream. */
export interface Echo {
  port: number;
  /** Every request received, oldest first. */
  seen: EchoedRequest[];
  close(): Promise<void>;
}

/** Start the echo upstream on 127.0.0.1, ephemeral port. */
export async function startEcho(): Promise<Echo> {
  const seen: EchoedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const entry: EchoedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress,
    };
    seen.push(entry);
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify(entry);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
