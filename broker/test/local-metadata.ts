// For unit tests that need a broker's metadata without a quorum: the real TopicController and
// ReplicaManager over an image whose records are applied as soon as they are committed, on one
// registered, unfenced broker. The quorum path itself is tested with broker processes.

import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { BrokerConfig } from '../config/broker-config.js';
import { TopicController } from '../controller/topics.js';
import type { LogManager } from '../log/log-manager.js';
import type { MetadataDelta } from '../metadata/image.js';
import { MetadataPublisher } from '../metadata/publisher.js';
import type { MetadataRecord } from '../metadata/records.js';
import { TopicConfigs } from '../metadata/topic-configs.js';
import { FetchWaiters } from '../replication/fetch-waiters.js';
import { ReplicaManager } from '../replication/replica-manager.js';
import { ReplicaFetchers } from '../replication/replica-fetcher.js';
import { IsrUpdates } from '../replication/isr-updates.js';
import { ReplicationQuotas } from '../replication/quotas.js';
import { NodeClients } from '../net/node-client.js';

export function localMetadata(config: BrokerConfig, logs: LogManager, clock: Clock, logger: Logger) {
  const publisher = new MetadataPublisher();
  const configs = new TopicConfigs(publisher.image, config);
  const quotas = new ReplicationQuotas(configs, config.nodeId, clock);
  // One broker leads everything: nothing is fetched and the ISR never changes.
  const fetchers = new ReplicaFetchers({
    nodeId: config.nodeId,
    config: config.replication,
    clients: new NodeClients([], { clock }),
    address: () => undefined,
    brokerEpoch: () => 1,
    quotas,
    clock,
    logger,
  });
  const isrUpdates = new IsrUpdates(
    config.nodeId,
    () => 1,
    publisher.image,
    () => Promise.reject(new Error('a single local broker has no controller to ask for ISR changes')),
    () => undefined,
    logger,
  );
  const partitions = new ReplicaManager(
    configs,
    logs,
    config.nodeId,
    new FetchWaiters(clock),
    { fetchers, isrUpdates, clock, lagTimeMaxMs: config.replication.lagTimeMaxMs, quotas },
    logger,
  );
  let applying = Promise.resolve();
  /** Also told of each change, after the partitions (the group coordinator, say). */
  const followers: ((delta: MetadataDelta) => Promise<void>)[] = [];
  publisher.subscribe({
    changed: (delta, image) => {
      applying = applying.then(async () => {
        await partitions.applyDelta(delta, image);
        for (const f of followers) await f(delta);
      });
    },
  });
  const commit = async (records: MetadataRecord[]) => {
    const base = publisher.image.appliedOffset;
    const entries = records.map((value, i) => ({
      offset: base + i,
      epoch: 1,
      record: { type: 'data' as const, value },
    }));
    publisher.apply(entries, base + records.length);
    await applying;
  };
  const topics = new TopicController(publisher.image, configs, config, commit, (fn) => fn(), logger);
  const ready = commit([
    { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: 27 },
    {
      type: 'RegisterBrokerRecord',
      brokerId: config.nodeId,
      isMigratingZkBroker: false,
      incarnationId: 'AAAAAAAAAAAAAAAAAAAAAA',
      brokerEpoch: 1,
      endPoints: [],
      features: [],
      rack: null,
      fenced: false,
      inControlledShutdown: false,
      logDirs: [],
    },
  ]);
  return { ready, image: publisher.image, configs, partitions, topics, followers };
}
