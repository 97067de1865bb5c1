// The broker's HTTP endpoint for orchestrators and monitoring: /healthz (the process is
// alive), /readyz (it serves Kafka requests; 503 while starting or shutting down) and
// /metrics (Prometheus text format).

import http from 'node:http';
import type { Logger } from 'pino';
import type { BrokerMetrics } from './metrics.js';

export interface HealthState {
  ready(): boolean;
}

export async function startHttpEndpoint(
  host: string,
  port: number,
  metrics: BrokerMetrics,
  health: HealthState,
  logger: Logger,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = health.ready();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
        return;
      }
      case '/metrics':
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          (err: unknown) => {
            logger.error({ err }, 'metrics collection failed');
            res.writeHead(500).end();
          },
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('try /healthz, /readyz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: host === '' ? undefined : host, port }, () => resolve());
  });
  const address = server.address() as import('node:net').AddressInfo;
  logger.info({ port: address.port }, 'http endpoint listening');
  return server;
}
