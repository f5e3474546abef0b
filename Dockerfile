# syntax=docker/dockerfile:1
# One image for every Khala process: the command picks it (deploy/docker/khala-entrypoint.sh):
#   control | runtime | gateway | projector-worker | embedded | oa <args…>
# Build: docker build -t khala:0.1.0 .      Guide: docs/deploy.md

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: every dependency (the Nest CLI and TypeScript are dev dependencies), then `nest build`
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: nothing the build uses needs one (native tools come as per-platform optional
# packages), and it keeps third-party postinstall code out of the build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# --- production dependencies only, installed apart so no dev dependency reaches the image
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- the image
FROM ${NODE_IMAGE} AS app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
# package.json and migrations/ sit together: that is how the apps and `oa migrate` find the SQL files.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY migrations ./migrations
COPY --from=build /src/dist ./dist
COPY deploy/docker/khala-entrypoint.sh /usr/local/bin/khala-entrypoint
COPY deploy/docker/healthcheck.js ./deploy/docker/healthcheck.js
RUN chmod 0755 /usr/local/bin/khala-entrypoint \
    && ln -s /usr/local/bin/khala-entrypoint /usr/local/bin/oa \
    && mkdir -p /data && chown 1000:1000 /data
# The base image's unprivileged `node` user, numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 3001 3002 3003
# Probes the readiness route of whichever app this container runs; passes for the processes that
# serve no HTTP (projector-worker, oa). Kubernetes ignores it and uses the manifests' probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.js"]
ENTRYPOINT ["khala-entrypoint"]
CMD ["help"]
