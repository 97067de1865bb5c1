# The Runnel broker image. Build from the repository root:
#   docker build -f docker/broker.Dockerfile -t runnel/broker:0.1.0 .
# Runs as the non-root `node` user (uid 1000); the data directory is a mounted volume.

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
COPY --from=build /src/dist/broker dist/broker
USER 1000:1000
# Kafka clients, the controller quorum, and /healthz /readyz /metrics.
EXPOSE 9092 9093 9644
ENTRYPOINT ["node", "dist/broker/main.js"]
CMD ["--config", "/etc/runnel/server.properties"]
