// Prometheus metrics of one broker. Request metrics are recorded by the dispatcher; gauges
// are computed from the broker's state when scraped.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'runnel_requests_total',
    help: 'Requests handled, by API',
    labelNames: ['api'],
    registers: [this.registry],
  });
  readonly requestErrors = new Counter({
    name: 'runnel_request_failures_total',
    help: 'Requests that closed their connection instead of being answered, by API',
    labelNames: ['api'],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'runnel_request_duration_seconds',
    help: 'Time from a request being read to its response being ready, by API (includes long-poll waits)',
    labelNames: ['api'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'runnel_request_bytes_total',
    help: 'Request bytes received',
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'runnel_response_bytes_total',
    help: 'Response bytes sent',
    registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: 'runnel_connections_closed_total',
    help: 'Connections the broker closed or refused, by cause: invalid_frame, malformed_request, request_failed, idle, max_connections, max_connections_per_ip',
    labelNames: ['cause'],
    registers: [this.registry],
  });

  constructor(state: {
    partitions(): number;
    underReplicatedPartitions(): number;
    connections(): number;
    skippedInternalRecords(): number;
  }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'runnel_' });
    new Gauge({
      name: 'runnel_partitions',
      help: 'Partitions hosted by this broker',
      registers: [this.registry],
      collect() {
        this.set(state.partitions());
      },
    });
    new Gauge({
      name: 'runnel_under_replicated_partitions',
      help: 'Partitions whose ISR is smaller than their replica set',
      registers: [this.registry],
      collect() {
        this.set(state.underReplicatedPartitions());
      },
    });
    new Gauge({
      name: 'runnel_internal_records_skipped',
      help: 'Records of internal topics passed over at load because they did not decode (see the error log for their offsets)',
      registers: [this.registry],
      collect() {
        this.set(state.skippedInternalRecords());
      },
    });
    new Gauge({
      name: 'runnel_connections',
      help: 'Open client connections',
      registers: [this.registry],
      collect() {
        this.set(state.connections());
      },
    });
  }
}
