// The composition root: builds one broker from its config — log dirs, metadata, partition logs,
// topics, partitions, groups, then the request handlers with direct references to those
// services, then the listeners — and takes them down again in order on shutdown. Nothing else
// constructs services; everything below receives what it uses.

import type { Logger } from 'pino';
import type { BrokerConfig } from './config/broker-config.js';
import { claimLogDir } from './metadata/store.js';
import { MetadataStore } from './metadata/store.js';
import { KafkaServer } from './server/server.js';
import { Dispatcher } from './api/dispatch.js';
import { createHandlers } from './api/handlers.js';
import { ReadBufferPool } from './log/read-buffers.js';
import { systemClock, type Clock } from './clock.js';
import type { BrokerEndpoint, BrokerServices, ClusterView } from './api/services.js';
import type { PartitionState } from './metadata/image.js';
import { ReplicaManager } from './replication/replica-manager.js';
import { FetchWaiters } from './replication/fetch-waiters.js';
import { isOutOfFiles, outOfFilesMessage, refuseNewPartitions } from './log/open-files.js';
import { LogManager } from './log/log-manager.js';
import { ProducerIdManager } from './controller/producer-ids.js';
import { TopicManager } from './controller/topics.js';
import { GroupCoordinator } from './groups/coordinator.js';
import type { Server as HttpServer } from 'node:http';
import { startHttpEndpoint } from './observability/http.js';
import { BrokerMetrics } from './observability/metrics.js';

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

/** Where clients reach this broker: the advertised listener, with the port actually bound when it was 0. */
class AdvertisedCluster implements ClusterView {
  private boundPorts: number[] = [];

  constructor(
    private readonly config: BrokerConfig,
    readonly clusterId: string,
  ) {}

  get nodeId(): number {
    return this.config.nodeId;
  }

  /** Called once the listeners are bound. */
  listening(ports: number[]): void {
    this.boundPorts = ports;
  }

  brokers(): BrokerEndpoint[] {
    const advertised = this.config.advertisedListeners[0];
    const listenerIndex = this.config.listeners.findIndex((l) => l.name === advertised.name);
    const port = advertised.port === 0 && listenerIndex >= 0 ? (this.boundPorts[listenerIndex] ?? 0) : advertised.port;
    return [{ nodeId: this.nodeId, host: advertised.host, port, rack: this.config.rack }];
  }

  controllerId(): number {
    return this.nodeId;
  }
}

export class BrokerNode {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly config: BrokerConfig,
    private readonly services: BrokerServices & { logs: LogManager; waiters: FetchWaiters },
    private readonly server: KafkaServer,
    private readonly http: HttpServer | undefined,
    readonly ports: number[],
    private readonly logger: Logger,
  ) {}

  get groups(): GroupCoordinator {
    return this.services.groups;
  }

  static async start(config: BrokerConfig, logger: Logger, clock: Clock = systemClock): Promise<BrokerNode> {
    const startedAt = performance.now();
    // eslint-disable-next-line prefer-const -- assigned once at the end, but metrics and /readyz read it during start-up, when a const would be in its TDZ
    let node: BrokerNode | undefined;
    let serving = false;
    const metrics = new BrokerMetrics({
      partitions: () => (node ? countPartitions(node.services.topics, () => true) : 0),
      underReplicatedPartitions: () =>
        node ? countPartitions(node.services.topics, (p) => p.isr.length < p.replicas.length) : 0,
      connections: () => node?.server.connectionCount ?? 0,
      skippedInternalRecords: () => node?.services.groups.skippedRecords ?? 0,
    });
    // Up before recovery, so orchestrators see a live (if not yet ready) broker while logs load.
    const http = config.httpListener
      ? await startHttpEndpoint(
          config.httpListener.host,
          config.httpListener.port,
          metrics,
          { ready: () => serving && !node?.stopping },
          logger.child({ component: 'http' }),
        )
      : undefined;
    let clusterId = config.clusterId ?? undefined;
    for (const dir of config.logDirs) clusterId = (await claimLogDir(dir, config.nodeId, clusterId)).clusterId;
    const cluster = new AdvertisedCluster(config, clusterId!);
    const store = await MetadataStore.open(config.logDirs[0], logger.child({ component: 'metadata' }));
    const logs = new LogManager(config.logDirs, logger.child({ component: 'log' }), clock);
    const topics = new TopicManager(store, logs, config, () => 1, logger.child({ component: 'topics' }));
    await loadLogsWithinFileLimit(topics);
    logs.startRetention(config.retentionCheckIntervalMs);
    if (config.cleanerBackoffMs !== null) logs.startCleaner(config.cleanerBackoffMs);
    const waiters = new FetchWaiters(clock);
    const partitions = new ReplicaManager(topics, logs, config.nodeId, waiters);
    const groups = new GroupCoordinator(
      topics,
      partitions,
      config.groups,
      clock,
      logger.child({ component: 'groups' }),
    );
    await groups.start();
    const producerIds = new ProducerIdManager(store, config.nodeId, logs, logger.child({ component: 'producer-ids' }));
    const services = {
      config,
      clock,
      cluster,
      topics,
      partitions,
      groups,
      producerIds,
      readBuffers: new ReadBufferPool(READ_BUFFER_BYTES, MAX_READ_BUFFERS),
      logs,
      waiters,
    };

    const dispatcher = new Dispatcher(createHandlers(services), {
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
      clock,
    });
    const ports = await server.start();
    cluster.listening(ports);
    node = new BrokerNode(config, services, server, http, ports, logger);
    serving = true;
    logger.info(
      { nodeId: config.nodeId, clusterId, startupMs: Math.round(performance.now() - startedAt) },
      'broker started',
    );
    return node;
  }

  /** Stop accepting, answer what is in flight, flush and close the logs. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('shutting down');
      this.services.waiters.shutdown();
      await this.server.stop(this.config.shutdownTimeoutMs);
      this.services.groups.shutdown();
      await this.services.logs.close();
      await new Promise((resolve) => (this.http ? this.http.close(resolve) : resolve(undefined)));
      this.logger.info('shut down cleanly');
    })();
    return this.stopping;
  }
}

function countPartitions(topics: TopicManager, which: (p: PartitionState) => boolean): number {
  let n = 0;
  for (const t of topics.image.topics()) for (const p of t.partitions) if (which(p)) n++;
  return n;
}
