// deploy/nginx/ through real nginx: auth_request to warden in front of an echo upstream.
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { defineProxySuite } from './harness/suite.js';

defineProxySuite({ kind: 'nginx', bin: NGINX_BIN, start: startNginx, traits: { relaysDenyBody: false } });
