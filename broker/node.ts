// The composition root: builds one node from its config — log dirs, the metadata quorum and its
// log, the controller (on controller nodes), partition logs, groups, then the request handlers
// with direct references to those services, then the listeners — and takes them down again in
// order on shutdown. Nothing else constructs services; everything below receives what it uses.
//
// Start-up follows Kafka's KRaft order: the controller listener and the quorum first (the other
// voters need them), then, on a broker, metadata catch-up, the logs of the partitions placed
// here, registration with the active controller, and the client listeners only once the
// controller has unfenced this broker.

import type { Logger } from 'pino';
import type { BrokerConfig, Listener } from './config/broker-config.js';
import { claimLogDir } from './metadata/meta-properties.js';
import { KafkaServer } from './server/server.js';
import { Dispatcher } from './api/dispatch.js';
import { createControllerHandlers, createHandlers } from './api/handlers.js';
import { ReadBufferPool } from './log/read-buffers.js';
import { systemClock, type Clock } from './clock.js';
import type { BrokerEndpoint, BrokerServices, ClusterView } from './api/services.js';
import type { MetadataImage } from './metadata/image.js';
import { ReplicaManager } from './replication/replica-manager.js';
import { FetchWaiters } from './replication/fetch-waiters.js';
import { IsrUpdates } from './replication/isr-updates.js';
import { ReplicaFetchers } from './replication/replica-fetcher.js';
import { ReplicationQuotas } from './replication/quotas.js';
import { NodeClients } from './net/node-client.js';
import { LogManager } from './log/log-manager.js';
import { ProducerIdManager } from './controller/producer-ids.js';
import { QuorumController } from './controller/quorum-controller.js';
import { GroupCoordinator } from './groups/coordinator.js';
import type { Server as HttpServer } from 'node:http';
import { startHttpEndpoint } from './observability/http.js';
import { BrokerMetrics } from './observability/metrics.js';
import { MetadataPublisher } from './metadata/publisher.js';
import { encodeMetadataRecord, type MetadataRecord } from './metadata/records.js';
import { decodeSnapshot, encodeSnapshot, imageRecords } from './metadata/snapshot.js';
import { TopicConfigs } from './metadata/topic-configs.js';
import { DiskRaftLog } from './raft/disk-log.js';
import { RaftNode } from './raft/raft-node.js';
import { KAFKA_QUORUM_DEFAULTS, type RaftConfig } from './raft/types.js';
import { ControllerChannel } from './cluster/controller-channel.js';
import { BrokerLifecycle } from './cluster/lifecycle.js';
import { RaftPeers, metadataEntryCodec, raftWireContext } from './cluster/raft-peers.js';
import { NODE_CLIENT_ID_PREFIX } from './cluster/controller-channel.js';
import { AllocateProducerIds, AlterPartition } from './protocol/messages/index.js';
import { ErrorCode, errorName } from './protocol/errors.js';

/**
 * Pooled read buffers: each fits one partition's read at the default max.partition.fetch.bytes
 * (1 MiB) plus the index interval before it; enough for a few consumers' fetches in flight.
 */
const READ_BUFFER_BYTES = 1024 * 1024 + 64 * 1024;
const MAX_READ_BUFFERS = 8;

/** The cluster as clients see it: unfenced brokers at the endpoints they registered. */
class RegisteredCluster implements ClusterView {
  constructor(
    private readonly image: MetadataImage,
    readonly clusterId: string,
    readonly nodeId: number,
    private readonly raft: RaftNode,
  ) {}

  brokers(): BrokerEndpoint[] {
    return this.image.unfencedBrokers().flatMap((b) => {
      const e = b.endpoints[0];
      return e ? [{ nodeId: b.id, host: e.host, port: e.port, rack: b.rack }] : [];
    });
  }

  /** The active controller when it is also a broker (combined mode), else the first live broker, as Kafka names one. */
  controllerId(): number {
    const brokers = this.image.unfencedBrokers();
    const leader = this.raft.view().leaderId;
    return brokers.some((b) => b.id === leader) ? leader : (brokers[0]?.id ?? -1);
  }
}

/** Where this broker's client listeners are reached, with the ports actually bound when 0 was asked. */
function registeredEndpoints(
  config: BrokerConfig,
  bound: Map<string, number>,
): { name: string; host: string; port: number }[] {
  return config.advertisedListeners.map((l) => ({
    name: l.name,
    host: l.host,
    port: l.port === 0 ? (bound.get(l.name) ?? 0) : l.port,
  }));
}

export class BrokerNode {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly config: BrokerConfig,
    private readonly parts: {
      services: BrokerServices & { logs: LogManager; waiters: FetchWaiters };
      raft: RaftNode;
      raftLog: DiskRaftLog;
      peers: RaftPeers;
      controller: QuorumController | undefined;
      lifecycle: BrokerLifecycle | undefined;
      servers: KafkaServer[];
      http: HttpServer | undefined;
      fetchers: ReplicaFetchers;
      replicaClients: NodeClients;
    },
    readonly ports: number[],
    private readonly logger: Logger,
  ) {}

  get groups(): GroupCoordinator {
    return this.parts.services.groups;
  }

  static async start(config: BrokerConfig, logger: Logger, clock: Clock = systemClock): Promise<BrokerNode> {
    const startedAt = performance.now();
    // eslint-disable-next-line prefer-const -- assigned once at the end, but metrics and /readyz read it during start-up, when a const would be in its TDZ
    let node: BrokerNode | undefined;
    let serving = false;
    const publisher = new MetadataPublisher();
    const image = publisher.image;
    const hosted = (which: (p: { leader: number; replicas: number[]; isr: number[] }) => boolean) => {
      let n = 0;
      for (const t of image.topics())
        for (const p of t.partitions) if (p.replicas.includes(config.nodeId) && which(p)) n++;
      return n;
    };
    const metrics = new BrokerMetrics({
      partitions: () => hosted(() => true),
      underReplicatedPartitions: () => hosted((p) => p.leader === config.nodeId && p.isr.length < p.replicas.length),
      connections: () => node?.parts.servers.reduce((n, s) => n + s.connectionCount, 0) ?? 0,
      skippedInternalRecords: () => node?.parts.services.groups.skippedRecords ?? 0,
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
    for (const dir of new Set([...config.logDirs, config.metadataLogDir]))
      clusterId = (await claimLogDir(dir, config.nodeId, clusterId)).clusterId;

    // The quorum.
    const raftLog = await DiskRaftLog.open(
      config.metadataLogDir,
      config.metadataLog.segmentBytes,
      logger.child({ component: 'metadata-log' }),
      clock,
      config.metadataLog.segmentMs,
    );
    // The image starts from the snapshot the metadata log starts at; the quorum replays the rest.
    const snapshotRecords = raftLog.snapshotRecords();
    if (snapshotRecords) {
      publisher.loadSnapshot(snapshotRecords, raftLog.startOffset());
      logger.info({ offset: raftLog.startOffset(), records: snapshotRecords.length }, 'loaded the metadata snapshot');
    }
    const raftConfig: RaftConfig = {
      ...KAFKA_QUORUM_DEFAULTS,
      nodeId: config.nodeId,
      voters: [...config.quorum.voters.keys()],
      clusterId: clusterId!,
      electionTimeoutMs: config.quorum.electionTimeoutMs,
      fetchTimeoutMs: config.quorum.fetchTimeoutMs,
      electionBackoffMaxMs: config.quorum.electionBackoffMaxMs,
      requestTimeoutMs: config.quorum.requestTimeoutMs,
      retryBackoffMs: config.quorum.retryBackoffMs,
    };
    let controller: QuorumController | undefined;
    const quorumWire = raftWireContext(clusterId!, config.controllerListenerNames[0] ?? '', config.quorum.voters);
    const peers = new RaftPeers(config.quorum.voters, quorumWire, config.nodeId, config.quorum.requestTimeoutMs, clock);
    const raft = await RaftNode.start(
      raftConfig,
      raftLog,
      peers,
      {
        apply: (entries, highWatermark) => publisher.apply(entries, highWatermark),
        stateChanged: (state, epoch) => controller?.stateChanged(state, epoch),
        snapshot: (epoch) => encodeSnapshot(imageRecords(image), epoch, clock.nowMs()),
        loadSnapshot: (data, snapshotId) => publisher.loadSnapshot(decodeSnapshot(data), snapshotId.offset),
      },
      clock,
      logger.child({ component: 'raft' }),
      {
        maxRecordBytesBetweenSnapshots: config.metadataLog.maxRecordBytesBetweenSnapshots,
        maxSnapshotIntervalMs: config.metadataLog.maxSnapshotIntervalMs,
        entryBytes: (e) =>
          e.record.type === 'data' ? encodeMetadataRecord(e.record.value as MetadataRecord).length : 0,
      },
    );
    const configs = new TopicConfigs(image, config);
    if (config.roles.controller)
      controller = new QuorumController(
        raft,
        publisher,
        configs,
        clusterId!,
        config,
        clock,
        logger.child({ component: 'controller' }),
      );
    let applying = Promise.resolve();
    const channel = new ControllerChannel(
      raft,
      controller,
      config.quorum.voters,
      clock,
      config.quorum.requestTimeoutMs,
      // Long enough for the voters to notice a crashed leader and elect another.
      config.quorum.fetchTimeoutMs + 2 * config.quorum.electionTimeoutMs + config.quorum.requestTimeoutMs,
      () => applying,
    );

    const logs = new LogManager(config.logDirs, logger.child({ component: 'log' }), clock);
    const waiters = new FetchWaiters(clock);
    const brokerEpoch = () => lifecycle?.epoch ?? -1;
    const replicaClients = new NodeClients([], { clock, clientId: `${NODE_CLIENT_ID_PREFIX}${config.nodeId}` });
    const quotas = new ReplicationQuotas(configs, config.nodeId, clock);
    const fetchers = new ReplicaFetchers({
      nodeId: config.nodeId,
      config: config.replication,
      clients: replicaClients,
      // Brokers replicate over the first listener they advertise, as clients reach them.
      address: (id) => image.broker(id)?.endpoints[0],
      brokerEpoch,
      quotas,
      clock,
      logger: logger.child({ component: 'replica-fetcher' }),
    });
    const replicasLogger = logger.child({ component: 'replicas' });
    const isrUpdates = new IsrUpdates(
      config.nodeId,
      brokerEpoch,
      image,
      (body) => channel.call(AlterPartition, 'latest', body, (c) => c.alterPartition(body)),
      (p) => partitions.advanceHighWatermark(p),
      replicasLogger,
    );
    const partitions = new ReplicaManager(
      configs,
      logs,
      config.nodeId,
      waiters,
      { fetchers, isrUpdates, clock, lagTimeMaxMs: config.replication.lagTimeMaxMs, quotas },
      replicasLogger,
    );
    const groups = new GroupCoordinator(
      image,
      config.nodeId,
      partitions,
      (spec) => channel.createTopic(spec, true),
      config.groups,
      clock,
      logger.child({ component: 'groups' }),
    );
    const lifecycle = config.roles.broker
      ? new BrokerLifecycle(
          config,
          clusterId!,
          () => registeredEndpoints(config, boundPorts),
          channel,
          publisher,
          clock,
          logger.child({ component: 'lifecycle' }),
        )
      : undefined;
    const producerIds = new ProducerIdManager(
      async () => {
        const body = { brokerId: config.nodeId, brokerEpoch: lifecycle?.epoch ?? -1 };
        const res = await channel.call(AllocateProducerIds, 'latest', body, async (c) => {
          const r = await c.allocateProducerIds(body.brokerId, body.brokerEpoch);
          return { throttleTimeMs: 0, errorCode: r.errorCode, producerIdStart: r.start, producerIdLen: r.length };
        });
        if (res.errorCode !== ErrorCode.NONE)
          throw new Error(`AllocateProducerIds failed: ${errorName(res.errorCode)}`);
        return { start: res.producerIdStart, length: res.producerIdLen };
      },
      logs,
      logger.child({ component: 'producer-ids' }),
    );
    const services = {
      config,
      clock,
      cluster: new RegisteredCluster(image, clusterId!, config.nodeId, raft),
      topics: configs,
      controller: channel,
      raft,
      metadataSettled: () => applying,
      quorumWire,
      metadataEntries: metadataEntryCodec(clock),
      partitions,
      groups,
      producerIds,
      readBuffers: new ReadBufferPool(READ_BUFFER_BYTES, MAX_READ_BUFFERS),
      logs,
      waiters,
    };
    const observer = {
      answered(api: string, seconds: number, requestBytes: number, responseBytes: number) {
        metrics.requests.inc({ api });
        metrics.requestSeconds.observe({ api }, seconds);
        metrics.bytesIn.inc(requestBytes);
        metrics.bytesOut.inc(responseBytes);
      },
    };
    const clientDispatcher = new Dispatcher(createHandlers(services), observer);
    const controllerDispatcher = new Dispatcher(createControllerHandlers(services), observer);
    // Client requests wait until the controller has unfenced this broker (Kafka enables request
    // processing only then); quorum and controller traffic never waits.
    let unfenced: () => void = () => undefined;
    const servingClients = new Promise<void>((resolve) => (unfenced = resolve));
    const serverFor = (listeners: Listener[], dispatcher: Dispatcher, gate: Promise<void> | undefined) =>
      new KafkaServer({
        listeners,
        maxFrameBytes: config.socketRequestMaxBytes,
        maxConnections: config.maxConnections,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        maxConnectionsPerIpOverrides: config.maxConnectionsPerIpOverrides,
        idleTimeoutMs: config.connectionsMaxIdleMs,
        handle: gate
          ? (frame, connection) => gate.then(() => dispatcher.handleFrame(frame, connection))
          : (frame, connection) => dispatcher.handleFrame(frame, connection),
        logger: logger.child({ component: 'network' }),
        closedFor: (cause) => metrics.connectionsClosed.inc({ cause }),
        clock,
      });
    const isController = (l: Listener) => config.controllerListenerNames.includes(l.name);
    const servers: KafkaServer[] = [];
    const ports: number[] = [];
    const boundPorts = new Map<string, number>();
    const listen = async (listeners: Listener[], dispatcher: Dispatcher, gate?: Promise<void>) => {
      if (listeners.length === 0) return;
      const server = serverFor(listeners, dispatcher, gate);
      const bound = await server.start();
      servers.push(server);
      listeners.forEach((l, i) => boundPorts.set(l.name, bound[i]));
      for (const l of config.listeners)
        if (listeners.includes(l)) ports[config.listeners.indexOf(l)] = bound[listeners.indexOf(l)];
    };
    // The other voters reach this node's quorum here before it serves clients.
    await listen(config.listeners.filter(isController), controllerDispatcher);

    if (lifecycle) {
      await publisher.caughtUp();
      logger.info({ appliedOffset: image.appliedOffset }, 'metadata caught up');
      await partitions.loadHostedLogs(image);
      logs.startRetention(config.retentionCheckIntervalMs);
      logs.startHighWatermarkCheckpoints(config.replication.highWatermarkCheckpointIntervalMs);
      if (config.cleanerBackoffMs !== null) logs.startCleaner(config.cleanerBackoffMs);
      await groups.start();
      publisher.subscribe({
        changed: (delta) => {
          applying = applying
            .then(() => partitions.applyDelta(delta, image))
            .then(() => groups.applyDelta(delta))
            .catch((err: unknown) => logger.error({ err }, 'could not act on a metadata change'));
        },
      });
      // Bound now, so that the registration names the ports actually bound.
      await listen(
        config.listeners.filter((l) => !isController(l)),
        clientDispatcher,
        servingClients,
      );
      await lifecycle.start();
    }
    unfenced();
    node = new BrokerNode(
      config,
      { services, raft, raftLog, peers, controller, lifecycle, servers, http, fetchers, replicaClients },
      ports,
      logger,
    );
    serving = true;
    logger.info(
      {
        nodeId: config.nodeId,
        clusterId,
        roles: config.get('process.roles'),
        startupMs: Math.round(performance.now() - startedAt),
      },
      'node started',
    );
    return node;
  }

  /**
   * Controlled shutdown: leaderships move away first (a broker), the quorum leadership is handed
   * over (a voter), then stop accepting, answer what is in flight, flush and close. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('shutting down');
      const { services, raft, raftLog, peers, controller, lifecycle, servers, http, fetchers, replicaClients } =
        this.parts;
      // Fetches parked on a partition are answered first, from the partition as it still is.
      services.waiters.shutdown();
      await lifecycle?.shutDown(this.config.shutdownTimeoutMs / 2);
      await raft.leave(this.config.quorum.requestTimeoutMs);
      await Promise.all(servers.map((s) => s.stop(this.config.shutdownTimeoutMs)));
      controller?.stop();
      services.controller.close();
      peers.close();
      services.groups.shutdown();
      fetchers.close();
      replicaClients.close();
      services.partitions.stop();
      await services.logs.close();
      await raftLog.close();
      await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
      this.logger.info('shut down cleanly');
    })();
    return this.stopping;
  }
}
