// Envoy Gateway's SecurityPolicy and ClientTrafficPolicy (gateway.envoyproxy.io/v1alpha1), the
// parts the recipe uses, written from Envoy Gateway's API (api/v1alpha1, v1.7+: its kubebuilder
// markers give the limits): no models package is published for it. Objects are strict, so a
// misspelt field fails as it would against the CRD's structural schema.
import { z } from 'zod';

const name = z.string().min(1).max(253);
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .max(63);
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, 'an HTTP header name');

const backendRef = z.strictObject({
  group: z.string().optional(),
  kind: z.string().optional(),
  name,
  namespace: dnsLabel.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  weight: z.number().int().min(0).optional(),
});

const targetRef = z.strictObject({
  group: z.literal('gateway.networking.k8s.io'),
  kind: z.enum(['Gateway', 'HTTPRoute', 'GRPCRoute']),
  name,
  sectionName: z.string().optional(),
});

const httpExtAuth = z
  .strictObject({
    backendRef: backendRef.optional(),
    backendRefs: z.array(backendRef).max(16).optional(),
    path: z.string().startsWith('/').optional(),
    headersToBackend: z.array(headerName).optional(),
  })
  .refine(
    (h) => (h.backendRef ? 1 : 0) + (h.backendRefs?.length ? 1 : 0) === 1,
    'exactly one of backendRef or backendRefs',
  );

const extAuth = z
  .strictObject({
    http: httpExtAuth.optional(),
    grpc: z
      .strictObject({ backendRef: backendRef.optional(), backendRefs: z.array(backendRef).optional() })
      .optional(),
    headersToExtAuth: z.array(headerName).optional(),
    failOpen: z.boolean().optional(),
    recomputeRoute: z.boolean().optional(),
    // MaxRequestBytes uint32, kubebuilder Minimum=1: Envoy's with_request_body.max_request_bytes.
    bodyToExtAuth: z.strictObject({ maxRequestBytes: z.number().int().min(1).max(0xffffffff) }).optional(),
    timeout: z
      .string()
      .regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/)
      .optional(),
  })
  .refine((e) => (e.http ? 1 : 0) + (e.grpc ? 1 : 0) === 1, 'exactly one of http or grpc');

/** A SecurityPolicy with extAuth (other features of the CRD are not used by the recipes and refused here). */
export const securityPolicySchema = z.strictObject({
  apiVersion: z.literal('gateway.envoyproxy.io/v1alpha1'),
  kind: z.literal('SecurityPolicy'),
  metadata: z.looseObject({ name: dnsLabel, namespace: dnsLabel.optional() }),
  spec: z
    .strictObject({
      targetRefs: z.array(targetRef).min(1).optional(),
      targetRef: targetRef.optional(),
      extAuth,
    })
    .refine(
      (s) => (s.targetRef ? 1 : 0) + (s.targetRefs ? 1 : 0) === 1,
      'exactly one of targetRef or targetRefs',
    ),
});

const gatewayTargetRef = z.strictObject({
  group: z.literal('gateway.networking.k8s.io'),
  kind: z.literal('Gateway'),
  name,
  sectionName: z.string().optional(),
});

/** gwapiv1.HTTPHeader: a name and a value. */
const httpHeader = z.strictObject({ name: headerName.max(256), value: z.string().max(4096) });

/** StringMatch (shared_types.go): Type defaults to Exact; Value 1..1024 characters. */
const stringMatch = z.strictObject({
  type: z.enum(['Exact', 'Prefix', 'Suffix', 'RegularExpression']).optional(),
  value: z.string().min(1).max(1024),
});

/**
 * HTTPHeaderFilter as Envoy Gateway copies it from the Gateway API (shared_types.go), with
 * MaxItems 64 (Gateway API's own has 16), MinItems 1 on each list.
 */
const headerFilter = z.strictObject({
  set: z.array(httpHeader).min(1).max(64).optional(),
  add: z.array(httpHeader).min(1).max(64).optional(),
  addIfAbsent: z.array(httpHeader).min(1).max(64).optional(),
  remove: z.array(headerName).min(1).max(64).optional(),
  removeOnMatch: z.array(stringMatch).min(1).max(64).optional(),
});

/** A ClientTrafficPolicy's `headers` (HeaderSettings), the fields the recipe may use. */
const headerSettings = z.strictObject({
  earlyRequestHeaders: headerFilter.optional(),
  lateResponseHeaders: headerFilter.optional(),
  withUnderscoresAction: z.enum(['Allow', 'RejectRequest', 'DropHeader']).optional(),
});

/** A ClientTrafficPolicy with `headers` (its other features are not used by the recipes and refused here). */
export const clientTrafficPolicySchema = z.strictObject({
  apiVersion: z.literal('gateway.envoyproxy.io/v1alpha1'),
  kind: z.literal('ClientTrafficPolicy'),
  metadata: z.looseObject({ name: dnsLabel, namespace: dnsLabel.optional() }),
  spec: z
    .strictObject({
      targetRefs: z.array(gatewayTargetRef).min(1).optional(),
      targetRef: gatewayTargetRef.optional(),
      headers: headerSettings,
    })
    .refine(
      (s) => (s.targetRef ? 1 : 0) + (s.targetRefs ? 1 : 0) === 1,
      'exactly one of targetRef or targetRefs',
    ),
});
