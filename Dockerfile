# syntax=docker/dockerfile:1
# warden: build with dev dependencies, ship dist/ and production dependencies only.
# Node 24, the current LTS (Node 20 reached its end of life in April 2026); every stage the same.

# 1. Compile TypeScript (dev dependencies: typescript, types).
FROM node:24-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies alone, from the same lock file.
FROM node:24-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. The image: node, dist/, production node_modules, the example policy; nothing else.
FROM node:24-alpine
LABEL org.opencontainers.image.title="warden" \
      org.opencontainers.image.description="Forward-auth for nginx, Traefik, Caddy and Envoy: API keys, RBAC policy, rate limits, audit" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.source="https://github.com/warden-auth/warden" \
      org.opencontainers.image.documentation="https://github.com/warden-auth/warden/blob/main/docs/deploy.md"
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 \
    WARDEN_POLICY=/etc/warden/policy.yaml WARDEN_API_KEYS=/etc/warden/keys.yaml \
    WARDEN_STATE_DIR=/var/lib/warden
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY deploy/nginx/warden-protect.conf ./deploy/nginx/
COPY rbac/policy.yaml rbac/keys.yaml /etc/warden/
# Revocations survive restarts here when no Redis is configured: mount a volume. Nothing else
# is written, so the root filesystem can be mounted read-only.
RUN mkdir -p /var/lib/warden && chown node:node /var/lib/warden
VOLUME /var/lib/warden
# The image's unprivileged "node" user (uid 1000).
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# warden drains in-flight requests on SIGTERM (WARDEN_SHUTDOWN_TIMEOUT), then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
