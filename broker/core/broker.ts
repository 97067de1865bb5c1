// Wires one broker together: log dirs, metadata, partition logs, topics, the request
// handlers and the listeners; and takes them down again in order on shutdown.

import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import { claimLogDir } from '../metadata/store.js';
import { MetadataStore } from '../metadata/store.js';
import { KafkaServer } from '../server/server.js';
import { Dispatcher } from '../api/dispatch.js';
import { createHandlers } from '../api/handlers.js';
import { FetchWaiters } from './fetch-waiters.js';
import { LogManager } from './log-manager.js';
import { TopicManager } from './topics.js';
import { GroupCoordinator } from '../groups/coordinator.js';

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
  readonly groups: GroupCoordinator;
  readonly logger: Logger;
  /** Live brokers as clients should reach them (advertised listener). */
  brokers(): BrokerEndpoint[];
  /** The broker the admin clients send controller requests to. */
  controllerId(): number;
  supportedApis(): Array<{ apiKey: number; minVersion: number; maxVersion: number }>;
}

export class Broker implements BrokerContext {
  private boundPorts: number[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly config: BrokerConfig,
    readonly clusterId: string,
    readonly topics: TopicManager,
    readonly logs: LogManager,
    readonly waiters: FetchWaiters,
    readonly groups: GroupCoordinator,
    private readonly server: KafkaServer,
    private readonly dispatcher: Dispatcher,
    readonly logger: Logger,
  ) {}

  static async start(config: BrokerConfig, logger: Logger): Promise<Broker> {
    const startedAt = performance.now();
    let clusterId: string | undefined;
    for (const dir of config.logDirs) clusterId = (await claimLogDir(dir, config.nodeId, clusterId)).clusterId;
    const store = await MetadataStore.open(config.logDirs[0]!, logger.child({ component: 'metadata' }));
    const logs = new LogManager(config.logDirs, logger.child({ component: 'log' }));
    const topics = new TopicManager(store, logs, config, () => 1, logger.child({ component: 'topics' }));
    await topics.loadLogs();
    logs.startRetention(config.retentionCheckIntervalMs);
    const groups = new GroupCoordinator(topics, logs, config, logger.child({ component: 'groups' }));
    await groups.start();

    const waiters = new FetchWaiters();
    let broker: Broker | undefined;
    const dispatcher = new Dispatcher(createHandlers(() => broker!));
    const server = new KafkaServer({
      listeners: config.listeners,
      maxFrameBytes: config.socketRequestMaxBytes,
      maxConnections: config.maxConnections,
      handle: (frame, connection) => dispatcher.handleFrame(frame, connection),
      logger: logger.child({ component: 'network' }),
    });
    broker = new Broker(config, clusterId!, topics, logs, waiters, groups, server, dispatcher, logger);
    broker.boundPorts = await server.start();
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
      this.logger.info('shut down cleanly');
    })();
    return this.stopping;
  }
}
