// The policy test file (`rbac/policy.test.yaml`): a list of requests and the decision each must get.
import { z } from 'zod';
import { parseAddress } from '../request/client-ip.js';
import { signInFields } from './sign-in-facts.js';

/** What a case may expect: the proxy-visible outcome, or the malformed-request reason. */
export const EXPECTATIONS = ['allow', 'deny-401', 'deny-403', 'bad_path', 'bad_forwarded_context'] as const;
export type Expectation = (typeof EXPECTATIONS)[number];

const expectation = z.string().transform((v, ctx): Expectation => {
  if ((EXPECTATIONS as readonly string[]).includes(v)) return v as Expectation;
  ctx.addIssue({
    code: 'custom',
    message:
      v === 'deny-429'
        ? 'deny-429 is not supported: tests do not consume rate limits; assert the limit that applies with `rateLimit: <name>`'
        : `"${v}" is not one of ${EXPECTATIONS.join(', ')}`,
  });
  return z.NEVER;
});

const request = z
  .strictObject({
    method: z.string().regex(/^[A-Z][A-Z-]{0,31}$/, 'an upper-case HTTP method such as GET'),
    url: z
      .string()
      .regex(
        /^https?:\/\/[^/?#\s]+\/\S*$/i,
        'an absolute http(s) URL with a path, e.g. https://api.example.com/api/nodes',
      ),
    ip: z
      .string()
      .refine((s) => parseAddress(s) !== null, 'an IPv4 or IPv6 address')
      .optional(),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name'), z.string())
      .optional(),
    /** The body the proxy forwards, judged by `mcp` sub-rules: JSON-RPC as YAML/JSON, or the raw text. */
    body: z.unknown().optional(),
    /** Shorthand for a body holding one `tools/call` of this tool (id 1). */
    tool: z.string().min(1).optional(),
  })
  .refine((r) => !(r.body !== undefined && r.tool !== undefined), 'give body or tool, not both');

const identity = z
  .strictObject({
    key: z.string().min(1).optional(),
    roles: z.array(z.string().min(1)).optional(),
    /** With roles: a bearer token issued for this resource, carrying these scopes. */
    token: z
      .strictObject({ resource: z.string().min(1), scopes: z.array(z.string().min(1)).default([]) })
      .optional(),
    /** A person who signed in this way (a session, or with token a bearer token): what step-up rules judge. */
    ...signInFields,
  })
  .refine(
    (i) => !(i.key !== undefined && (i.acr ?? i.amr ?? i.authTime) !== undefined),
    'an API key has no sign-in: give roles with acr, amr or authTime',
  )
  .refine((i) => !(i.key !== undefined && i.token !== undefined), 'give key or token, not both')
  .refine((i) => !(i.key !== undefined && i.roles !== undefined), 'give key or roles, not both');

/** One test case. */
export const policyTestCase = z.strictObject({
  name: z.string().min(1),
  request,
  identity: identity.optional(),
  expect: expectation,
  /** The matched rule's index; null for the policy default. */
  rule: z.union([z.number().int().min(0), z.null()]).optional(),
  /** The exact reason code (`rule_deny`, `insufficient_permissions`, `permitted`…). */
  reason: z.string().min(1).optional(),
  /** The rate limit that applies to an allowed request; null for none. */
  rateLimit: z.union([z.string().min(1), z.null()]).optional(),
});
export type PolicyTestCase = z.infer<typeof policyTestCase>;

/** A test file: a non-empty list of cases with unique names. */
export const policyTestFile = z
  .array(policyTestCase)
  .min(1, 'a test file lists at least one case')
  .superRefine((cases, ctx) => {
    const seen = new Set<string>();
    cases.forEach((c, i) => {
      if (seen.has(c.name))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate case name "${c.name}"` });
      seen.add(c.name);
    });
  });

/** The JSON-RPC body of one `tools/call` of `tool` (id 1, no arguments): `explain --tool`, a test case's `tool`. */
export function toolCallBody(tool: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: tool, arguments: {} },
  });
}

/** The body a case sends: its `body` (text as is, anything else as JSON), a `tools/call` of its `tool`, or none. */
export function caseBody(r: { body?: unknown; tool?: string | undefined }): string | undefined {
  if (r.tool !== undefined) return toolCallBody(r.tool);
  if (r.body === undefined) return undefined;
  return typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
}
