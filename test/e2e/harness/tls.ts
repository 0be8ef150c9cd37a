// A self-signed certificate for one host, made with the openssl CLI: what the TLS recipes' tests serve.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Write `<name>.key` and `<name>.crt` (EC P-256, one day, CN and subjectAltName `host`) into `dir`
 * and return the certificate, for a client to trust. Throws with openssl's stderr when it fails.
 */
export function selfSignedCert(openssl: string, dir: string, host: string, name = 'app'): Buffer {
  const [key, crt] = [join(dir, `${name}.key`), join(dir, `${name}.crt`)];
  execFileSync(
    openssl,
    [
      ...[
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ],
      ...['-keyout', key, '-out', crt, '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`],
    ],
    { stdio: 'pipe' },
  );
  return readFileSync(crt);
}
