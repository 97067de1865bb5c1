// Wires one broker together: log dirs, metadata, partition logs, topics, the request
// handlers and the listeners; and takes them down again in order on shutdown.

import type { Logger } from 'pino';
import type { BrokerConfig } from './config/broker-config.js';
import { claimLogDir } from './metadata/store.js';
import { MetadataStore } from './metadata/store.js';
import { KafkaServer } from './server/server.js';
import { Dispatcher } from './api/dispatch.js';
import { createHandlers } from './api/handlers.js';
import { ReadBufferPool } from './log/read-buffers.js';
import { systemClock } from './clock.js';
import { FetchWaiters } from './replication/fetch-waiters.js';
import { isOutOfFiles, outOfFilesMessage, refuseNewPartitions } from './log/open-files.js';
import { LogManager } from './log/log-manager.js';
import { ProducerIdManager } from './controller/producer-ids.js';
import { TopicManager } from './controller/topics.js';
import { GroupCoordinator } from './groups/coordinator.js';
import type { Server as HttpServer } from 'node:http';
import { startHttpEndpoint } from './observability/http.js';
import { BrokerMetrics } from './observability/metrics.js';

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** What request handlers may use. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly topics: TopicManager;
  readonly logs: LogManager;
  readonly waiters: FetchWaiters;
  /** What Fetch reads records into. */
  readonly readBuffers: ReadBufferPool;
  readonly groups: GroupCoordinator;
  readonly producerIds: ProducerIdManager;
  readonly logger: Logger;
  /** Live brokers as clients should reach them (advertised listener). */
  brokers(): BrokerEndpoint[];
  /** The broker the admin clients send controller requests to. */
  controllerId(): number;
  supportedApis(): Array<{ apiKey: number; minVersion: number; maxVersion: number }>;
}

/**
 * Pooled read buffers: each fits one partition's read at the default max.partition.fetch.bytes
 * (1 MiB) plus the index interval before it; enough for a few consumers' fetches in flight.
 */
const READ_BUFFER_BYTES = 1024 * 1024 + 64 * 1024;
const MAX_READ_BUFFERS = 8;

/** Opens every partition's log, or explains which limit keeps them from fitting. */
async function loadLogsWithinFileLimit(topics: TopicManager): Promise<void> {
  let partitions = 0;
  for (const t of topics.image.topics()) partitions += t.partitions.length;
  const refused = await refuseNewPartitions(partitions);
  if (refused) throw new Error(`this broker hosts ${partitions} partitions and cannot open them all: ${refused}`);
  try {
    await topics.loadLogs();
  } catch (err) {
    if (isOutOfFiles(err)) throw new Error(await outOfFilesMessage(`loading ${partitions} partitions`));
    throw err;
  }
}

export class Broker implements BrokerContext {
  readonly readBuffers = new ReadBufferPool(READ_BUFFER_BYTES, MAX_READ_BUFFERS);
  private boundPorts: number[] = [];
  private stopping: Promise<void> | undefined;

  private partitionCount(): number {
    let n = 0;
    for (const t of this.topics.image.topics()) n += t.partitions.length;
    return n;
  }

  private underReplicatedCount(): number {
    let n = 0;
    for (const t of this.topics.image.topics()) for (const p of t.partitions) if (p.isr.length < p.replicas.length) n++;
    return n;
  }

  private constructor(
    readonly config: BrokerConfig,
    readonly clusterId: string,
    readonly topics: TopicManager,
    readonly logs: LogManager,
    readonly waiters: FetchWaiters,
    readonly groups: GroupCoordinator,
    readonly producerIds: ProducerIdManager,
    private readonly server: KafkaServer,
    private readonly dispatcher: Dispatcher,
    private readonly http: HttpServer | undefined,
    readonly logger: Logger,
  ) {}

  static async start(config: BrokerConfig, logger: Logger): Promise<Broker> {
    const startedAt = performance.now();
    let broker: Broker | undefined;
    let serving = false;
    const metrics = new BrokerMetrics({
      partitions: () => broker?.partitionCount() ?? 0,
      underReplicatedPartitions: () => broker?.underReplicatedCount() ?? 0,
      connections: () => broker?.server.connectionCount ?? 0,
      skippedInternalRecords: () => broker?.groups.skippedRecords ?? 0,
    });
    // Up before recovery, so orchestrators see a live (if not yet ready) broker while logs load.
    const http = config.httpListener
      ? await startHttpEndpoint(config.httpListener.host, config.httpListener.port, metrics, { ready: () => serving && !broker?.stopping }, logger.child({ component: 'http' }))
      : undefined;
    let clusterId = config.clusterId ?? undefined;
    for (const dir of config.logDirs) clusterId = (await claimLogDir(dir, config.nodeId, clusterId)).clusterId;
    const store = await MetadataStore.open(config.logDirs[0]!, logger.child({ component: 'metadata' }));
    const logs = new LogManager(config.logDirs, logger.child({ component: 'log' }));
    const topics = new TopicManager(store, logs, config, () => 1, logger.child({ component: 'topics' }));
    await loadLogsWithinFileLimit(topics);
    logs.startRetention(config.retentionCheckIntervalMs);
    if (config.cleanerBackoffMs !== null) logs.startCleaner(config.cleanerBackoffMs);
    const groups = new GroupCoordinator(topics, logs, config.groups, systemClock, logger.child({ component: 'groups' }));
    await groups.start();
    const producerIds = new ProducerIdManager(store, config.nodeId, logs, logger.child({ component: 'producer-ids' }));

    const waiters = new FetchWaiters();
    const dispatcher = new Dispatcher(createHandlers(() => broker!), {
      answered(api, seconds, requestBytes, responseBytes) {
        metrics.requests.inc({ api });
        metrics.requestSeconds.observe({ api }, seconds);
        metrics.bytesIn.inc(requestBytes);
        metrics.bytesOut.inc(responseBytes);
      },
    });
    const server = new KafkaServer({
      listeners: config.listeners,
      maxFrameBytes: config.socketRequestMaxBytes,
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      maxConnectionsPerIpOverrides: config.maxConnectionsPerIpOverrides,
      idleTimeoutMs: config.connectionsMaxIdleMs,
      handle: (frame, connection) => dispatcher.handleFrame(frame, connection),
      logger: logger.child({ component: 'network' }),
      closedFor: (cause) => metrics.connectionsClosed.inc({ cause }),
    });
    broker = new Broker(config, clusterId!, topics, logs, waiters, groups, producerIds, server, dispatcher, http, logger);
    broker.boundPorts = await server.start();
    serving = true;
    logger.info({ nodeId: config.nodeId, clusterId, startupMs: Math.round(performance.now() - startedAt) }, 'broker started');
    return broker;
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  get ports(): number[] {
    return this.boundPorts;
  }

  brokers(): BrokerEndpoint[] {
    const advertised = this.config.advertisedListeners[0]!;
    const listenerIndex = this.config.listeners.findIndex((l) => l.name === advertised.name);
    // A listener on port 0 is advertised with the port it actually got.
    const port = advertised.port === 0 && listenerIndex >= 0 ? this.boundPorts[listenerIndex]! : advertised.port;
    return [{ nodeId: this.nodeId, host: advertised.host, port, rack: this.config.rack }];
  }

  controllerId(): number {
    return this.nodeId;
  }

  supportedApis() {
    return this.dispatcher.supportedApis();
  }

  /** Stop accepting, answer what is in flight, flush and close the logs. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('shutting down');
      this.waiters.shutdown();
      await this.server.stop(this.config.shutdownTimeoutMs);
      this.groups.shutdown();
      await this.logs.close();
      await new Promise((resolve) => (this.http ? this.http.close(resolve) : resolve(undefined)));
      this.logger.info('shut down cleanly');
    })();
    return this.stopping;
  }
}
