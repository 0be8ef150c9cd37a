// What `warden --help`, `warden <command> --help` and `warden --version` print.
import { readFileSync } from 'node:fs';

export const USAGE = `usage: warden <command> [options]     (warden <command> --help for one command)

  serve                        run the forward-auth server (default)
  check [--strict]             validate env, policy and keys; print a summary and lint warnings
                               (--strict: exit 1 when there are warnings)
  explain --url URL [--method M] [--ip IP] [--key KEY | --jwt TOKEN | --roles r1,r2] [--header 'N: v'] [--json]
                               [--body FILE | --tool NAME] [--resource ID --scopes s1,s2]
                               [--acr V] [--amr a,b] [--auth-time WHEN]
                               the decision /verify would take for a request, and why
  test [FILES…]                run policy test cases (default rbac/policy.test.yaml); exit 1 on a failure
  keys create --id ID --roles r1,r2 [--name N] [--email E] [--expires ISO] [--networks CIDRs] [--rate-limit NAME] [--store]
                               print a new random key once, and its entry for the keys file
                               (--store: store it in Redis, REDIS_URL, for WARDEN_KEYS_STORE=redis)
  keys rotate --id ID [--grace 24h]
                               print a new key for an existing id, and its entry keeping the old key until the grace ends
  keys hash [KEY]              print the sha256 entry of an existing key (KEY or stdin)
  keys revoke ID [--type key|token|subject] [--reason R] [--expires ISO|24h]
                               revoke on every replica (Redis) or in WARDEN_STATE_DIR: a key id (default),
                               a token's jti, or a subject (X-User-ID) whose tokens issued until now stop
  keys unrevoke ID [--type key|token|subject]
                               lift a revocation
  keys revocations             list revocations in force
  audit verify [--jwks URL|FILE] [--key PEM] [--json] FILE…
                               check audit files against their hash chain and signed checkpoints, in replica
                               and seq order whatever the order of the files (.gz, - for stdin); exit 1
                               naming the first broken file:line
  recipe nginx|traefik|caddy|ingress-nginx
                               the proxy lines that name the policy's identity headers (headers.preset, .extra)
  schema [--out DIR]           write the JSON Schemas of the policy, keys, dev users and providers files (default DIR: rbac)
  --version                    print warden's version
`;

const ENV = 'Reads WARDEN_POLICY, WARDEN_API_KEYS and the rest of the environment as `warden serve` does.';

/** One command's help, by `cmd` or `keys <sub>`. */
const HELP: Record<string, string> = {
  serve: `usage: warden serve

Run the forward-auth server on HOST:PORT (default 0.0.0.0:8080) until SIGTERM or SIGINT;
SIGHUP reloads the policy and keys. Takes no arguments: it is configured by the environment
(WARDEN_POLICY, WARDEN_API_KEYS, PORT…; README: Configuration).
`,
  check: `usage: warden check [--strict]

Validate the environment, the policy and the keys like \`warden serve\` does, without serving; print
the rules, roles, limits, keys and their expiry, then lint warnings (shadowed or unreachable rules,
unknown WARDEN_* variables). Exit 2 listing every problem; with --strict, exit 1 on any warning.
${ENV}
`,
  explain: `usage: warden explain --url URL [--method M] [--ip IP] [--key KEY | --jwt TOKEN | --roles r1,r2]
                      [--header 'Name: value']… [--body FILE | --tool NAME]
                      [--resource ID --scopes s1,s2] [--acr V] [--amr a,b] [--auth-time WHEN] [--json]

The decision /verify would take for one request, and the trace behind it: the canonical path, the
identity, every rule tried, the permission check and the rate limit that applies.
  --url URL        the original request's absolute URL (https://host/path)
  --method M       its method (default GET)
  --ip IP          the client IP (default: the proxy's own)
  --key KEY        an API key, looked up in the keys file
  --jwt TOKEN      a bearer JWT, verified against WARDEN_JWT_ISSUERS
  --roles r1,r2    a synthetic identity with these policy roles
  --header 'N: v'  an extra request header (repeatable)
  --body FILE      the JSON-RPC body the proxy forwards (- for stdin), judged by mcp sub-rules
  --tool NAME      a tools/call of this tool as the body (and POST unless --method is given)
  --resource ID    with --roles: the identity is a bearer token issued for this resource…
  --scopes s1,s2   …carrying these scopes
  --acr V          with --roles: the identity is a signed-in person whose sign-in has this acr…
  --amr a,b        …these amr values…
  --auth-time WHEN …and happened at WHEN (epoch seconds, ISO time, or a duration ago: 15m);
                   judged by rules with authn (step-up); without them --roles stands for an API key
  --json           print the outcome and the trace as JSON
${ENV}
`,
  test: `usage: warden test [FILES…]

Run policy test cases (default rbac/policy.test.yaml) against WARDEN_POLICY and the keys file; print
✓/✗ per case. Exit 1 on a failed case, 2 for an invalid test file.
`,
  recipe: `usage: warden recipe nginx|traefik|caddy|ingress-nginx

Print the proxy configuration lines that name the policy's identity headers (headers.preset, headers.extra).
`,
  schema: `usage: warden schema [--out DIR]

Write the JSON Schemas of the policy, keys, dev users and providers files into DIR (default rbac).
`,
  keys: `usage: warden keys create|rotate|hash|revoke|unrevoke|revocations …   (warden keys <sub> --help)
`,
  audit: `usage: warden audit verify [--jwks URL|FILE] [--key PEM] [--json] FILE…   (warden audit verify --help)
`,
  'audit verify': `usage: warden audit verify [--jwks URL|FILE] [--key PEM]… [--json] FILE…|-

Check audit files against their hash chain (docs/audit.md): every line's hash, and each replica's seq
from its first line given, without gap, repeat or reordering. Lines are taken per replica in seq
order whatever the order of the files (rotated files, several replicas, one file or many; .gz
files are gunzipped), and named as file:line (1-based). Prints each replica's first break (edited,
missing, reordered, duplicate, bad signature, unknown key) and every file's first malformed line,
then "N lines, M checkpoints, R replicas: intact" or "…: broken". With keys, every checkpoint's
signature is checked, a replica no checkpoint signs is broken (unsigned), and lines after a
replica's last checkpoint are reported as an unsigned tail (a note, not a break). With no FILE
and lines piped in, or FILE "-", standard input is read (each replica's lines in seq order).
  --jwks URL|FILE   the public keys: warden's /.well-known/jwks.json, or a saved copy
  --key PEM         a public (or private) key PEM file; may be repeated
  --json            print the report as JSON
Exit 0 intact, 1 broken, 2 for a usage error or a file or key that cannot be read.
`,
  'keys create': `usage: warden keys create --id ID --roles r1,r2 [--name N] [--email E] [--expires ISO]
                         [--networks CIDRs] [--rate-limit NAME] [--store]

Print a new random key once, and the entry to paste below "keys:" in the keys file. The roles and the
rate limit must exist in the policy, and the id must not be in the keys file yet (exit 2 otherwise).
  --store    store the entry (hashed) in Redis (REDIS_URL) instead of printing it: replicas running
             with WARDEN_KEYS_STORE=redis accept the key within 100 ms; the id must not be stored yet
`,
  'keys rotate': `usage: warden keys rotate --id ID [--grace 24h]

Print a new random key for an existing id once, and the entry that replaces the old one: the new
sha256, and the old one under "previous:" until the grace period (default 24h) ends, so clients move
over without a new identity. The audit line's keyVersion (current, previous) says which key was used.
`,
  'keys hash': `usage: warden keys hash [KEY]    (or the key on stdin; warden keys hash -- KEY for a key starting with -)

Print the sha256 entry of an existing key.
`,
  'keys revoke': `usage: warden keys revoke ID [--type key|token|subject] [--reason R] [--expires ISO|24h]

Revoke on every replica (Redis, REDIS_URL) or in WARDEN_STATE_DIR: a key id (default), a token's jti,
or a subject (X-User-ID) whose tokens issued until now stop working.
`,
  'keys unrevoke': `usage: warden keys unrevoke ID [--type key|token|subject]

Lift a revocation.
`,
  'keys revocations': `usage: warden keys revocations

List the revocations in force (Redis, REDIS_URL, or WARDEN_STATE_DIR).
`,
};

/** The help of the command `argv` names (`keys` takes its subcommand), or the general usage. */
export function helpFor(argv: string[]): string {
  const [cmd = '', sub = ''] = argv;
  return HELP[`${cmd} ${sub}`] ?? HELP[cmd] ?? USAGE;
}

/** Whether `argv` asks for help: `--help` or `-h` anywhere before a `--`. */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  const before = end === -1 ? argv : argv.slice(0, end);
  return before.includes('--help') || before.includes('-h');
}

/** warden's version, from the package.json beside dist/ (or src/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
