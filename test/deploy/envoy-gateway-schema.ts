// Envoy Gateway's SecurityPolicy (gateway.envoyproxy.io/v1alpha1), the part the recipe uses,
// written from Envoy Gateway's API reference: no models package is published for it. Objects
// are strict, so a misspelt field fails as it would against the CRD's structural schema.
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
