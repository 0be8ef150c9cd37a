# syntax=docker/dockerfile:1
# warden: build with dev dependencies, ship dist/ and production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
LABEL org.opencontainers.image.title="warden" \
      org.opencontainers.image.description="Forward-auth for nginx, Traefik, Caddy and Envoy: API keys, RBAC policy, rate limits, audit" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/warden-auth/warden"
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 \
    WARDEN_POLICY=/etc/warden/policy.yaml WARDEN_API_KEYS=/etc/warden/keys.yaml \
    WARDEN_STATE_DIR=/var/lib/warden
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY rbac/policy.yaml rbac/keys.yaml /etc/warden/
# Revocations survive restarts here when no Redis is configured: mount a volume.
RUN mkdir -p /var/lib/warden && chown node:node /var/lib/warden
VOLUME /var/lib/warden
# Runs as the image's unprivileged "node" user; the root filesystem can be mounted read-only.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
