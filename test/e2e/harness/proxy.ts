// What every proxy harness returns.

/** A running edge proxy in front of warden and the echo upstream. */
export interface Proxy {
  kind: 'nginx' | 'caddy' | 'ingress-nginx';
  /** Port on 127.0.0.1 that clients connect to. */
  port: number;
  /** Its temp directory (config, logs). */
  dir: string;
  /** The proxy's own log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}
