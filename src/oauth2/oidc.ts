// OIDC providers through openid-client v6: discovery (retried), authorization URLs, the code exchange.
import * as client from 'openid-client';
import type { ProviderConfig } from '../config/sign-in-schema.js';
import type { Clock } from '../util/clock.js';

/** Least time between two discovery attempts of one provider after a failure. */
const RETRY_MS = 10_000;

/** A discovery that failed: the sign-in page says the provider is unavailable. */
export class ProviderUnavailable extends Error {}

/** One provider and its discovered configuration. */
export class OidcProvider {
  private config: Promise<client.Configuration> | null = null;
  private failedAt = 0;
  /** True once discovery succeeded (readiness detail). */
  discovered = false;

  constructor(
    readonly settings: ProviderConfig,
    private readonly deps: {
      /** One request's time limit. */
      timeoutMs: number;
      /** Paces discovery retries. */
      clock: Clock;
      /** Every request to the provider: discovery, then the token endpoint through the configuration. */
      fetch: typeof fetch;
      /** Told about each failed discovery (operational log). */
      onError?: (issuer: string, message: string) => void;
    },
  ) {}

  get name(): string {
    return this.settings.name ?? this.settings.id;
  }

  /** The discovered configuration (cached; a failed discovery is retried after a pause). */
  discover(): Promise<client.Configuration> {
    if (this.config) return this.config;
    if (this.deps.clock.now() - this.failedAt < RETRY_MS)
      return Promise.reject(new ProviderUnavailable(`discovery of ${this.settings.issuer} failed recently`));
    const s = this.settings;
    const auth =
      s.tokenEndpointAuthMethod === 'client_secret_post'
        ? client.ClientSecretPost(s.clientSecret)
        : client.ClientSecretBasic(s.clientSecret);
    const insecure = new URL(s.issuer).protocol === 'http:';
    const p = client
      .discovery(new URL(s.issuer), s.clientId, { client_secret: s.clientSecret }, auth, {
        timeout: this.deps.timeoutMs / 1000,
        [client.customFetch]: this.deps.fetch,
        // Configuration validation allows plain http only on loopback hosts (local development and tests).
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- marked only to stand out; loopback http is its use
        ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .then((c) => {
        this.discovered = true;
        return c;
      })
      .catch((e: unknown) => {
        this.config = null;
        this.failedAt = this.deps.clock.now();
        this.deps.onError?.(s.issuer, (e as Error).message);
        throw new ProviderUnavailable(`discovery of ${s.issuer} failed: ${(e as Error).message}`);
      });
    this.config = p;
    return p;
  }

  /**
   * Where to send the browser: code flow with PKCE S256, state and nonce; for a step-up, the acr
   * values (as `acr_values`, or for a provider set to `acrRequest: claims` as an essential `acrs`
   * claim request, Entra ID's authentication contexts) and `max_age` with `prompt=login`.
   */
  async authorizationUrl(
    redirectUri: string,
    checks: { state: string; nonce: string; verifier: string },
    stepUp: StepUpRequest | null = null,
  ): Promise<URL> {
    const config = await this.discover();
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: this.settings.scopes.join(' '),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(checks.verifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
    };
    if (stepUp?.acr) {
      if (this.settings.acrRequest === 'claims')
        // Entra ID's form: authentication contexts in the ID token's `acrs` (it reads no acr_values).
        params.claims = JSON.stringify({ id_token: { acrs: { essential: true, values: stepUp.acr } } });
      else params.acr_values = stepUp.acr.join(' ');
    }
    if (stepUp?.maxAge !== undefined) {
      params.max_age = String(stepUp.maxAge);
      params.prompt = 'login';
    }
    return client.buildAuthorizationUrl(config, params);
  }

  /**
   * Exchange the code: openid-client checks state, the `iss` response parameter (RFC 9207) when the
   * provider sends it, PKCE, and the ID token's signature, `iss`, `aud`, `exp`, `iat` and nonce.
   */
  async exchange(callbackUrl: URL, checks: { state: string; nonce: string; verifier: string }) {
    const config = await this.discover();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: checks.verifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token');
    return {
      claims: { ...claims } as Record<string, unknown>,
      idToken: tokens.id_token,
      refreshToken: tokens.refresh_token,
    };
  }

  /** Refresh: new claims when the IdP sends a new ID token, and the (possibly rotated) refresh token. */
  async refresh(refreshToken: string) {
    const config = await this.discover();
    const tokens = await client.refreshTokenGrant(config, refreshToken);
    const claims = tokens.claims();
    return {
      claims: claims ? ({ ...claims } as Record<string, unknown>) : undefined,
      idToken: tokens.id_token,
      refreshToken: tokens.refresh_token ?? refreshToken,
    };
  }

  /** The provider's end-session URL (RP-initiated logout), when it has one and it is enabled. */
  async endSessionUrl(postLogoutRedirect: string, idToken: string | undefined): Promise<string | null> {
    if (!this.settings.endSession) return null;
    const config = await this.discover().catch(() => null);
    if (!config?.serverMetadata().end_session_endpoint) return null;
    const params: Record<string, string> = {
      client_id: this.settings.clientId,
      post_logout_redirect_uri: postLogoutRedirect,
    };
    if (idToken) params.id_token_hint = idToken;
    return client.buildEndSessionUrl(config, params).toString();
  }

  /** The provider's key set URL (back-channel logout tokens are verified against it). */
  async jwksUri(): Promise<string | undefined> {
    return (await this.discover()).serverMetadata().jwks_uri;
  }
}

/** What a step-up sign-in asks of the IdP (and checks it delivered): acr values, amr values, max_age (seconds). */
export interface StepUpRequest {
  acr?: string[];
  amr?: string[];
  maxAge?: number;
}

/** Random values for one sign-in attempt. */
export function newChecks(): { state: string; nonce: string; verifier: string } {
  return {
    state: client.randomState(),
    nonce: client.randomNonce(),
    verifier: client.randomPKCECodeVerifier(),
  };
}

/** The error classes callers translate into pages and audit causes. */
export const OidcErrors = {
  ClientError: client.ClientError,
  AuthorizationResponseError: client.AuthorizationResponseError,
  ResponseBodyError: client.ResponseBodyError,
};
