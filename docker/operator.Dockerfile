# The Runnel operator image. Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t runnel/operator:0.1.0 .
# Runs as the non-root `node` user (uid 1000) with a read-only root filesystem.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY broker broker
COPY operator operator
COPY e2e e2e
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/operator dist/operator
USER 1000:1000
# /healthz, /readyz and /metrics.
EXPOSE 8080
ENTRYPOINT ["node", "dist/operator/main.js"]
