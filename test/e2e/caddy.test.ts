// deploy/caddy/Caddyfile through real Caddy: forward_auth to warden in front of an echo upstream.
import { CADDY_BIN, startCaddy } from './harness/caddy.js';
import { defineProxySuite } from './harness/suite.js';

defineProxySuite({ kind: 'caddy', bin: CADDY_BIN, start: startCaddy, traits: { relaysDenyBody: true } });
