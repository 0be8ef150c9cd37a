// Retry delays that grow: doubled per failure up to a ceiling, jittered so that replicas do not retry in step.

/** The delay before retry `attempt` (1 for the first): `firstMs` doubled per failure up to `maxMs`, with ±20 % jitter. */
export function jitteredBackoff(attempt: number, firstMs: number, maxMs: number): number {
  return Math.round(Math.min(maxMs, firstMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4));
}
