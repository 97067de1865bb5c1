// A stock Apache Kafka 4.1 node in combined mode, as the peer that tests of Runnel's KRaft wire
// code talk to: formatted in a temporary directory, launched, and reached with a NodeClient on its
// controller listener once it answers DescribeQuorum.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatKafkaNode, launchKafka, prepareKafka } from '../bench/kafka.js';
import { systemClock } from '../clock.js';
import { NodeClient } from '../net/node-client.js';
import { DescribeQuorum } from '../protocol/messages/index.js';
import { METADATA_TOPIC } from '../raft/wire.js';

export const KAFKA_START_TIMEOUT_MS = 180_000;
const POLL_MS = 200;

export interface KafkaController {
  client: NodeClient;
  clusterId: string;
  /** The node's data directory (its log dirs). */
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startKafkaController(settings: Record<string, string> = {}): Promise<KafkaController> {
  const install = await prepareKafka(() => undefined);
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-kafka-controller-'));
  const node = await formatKafkaNode(install, { dataDir: path.join(runDir, 'data'), runDir, settings });
  const props = await readFile(node.propertiesFile, 'utf8');
  const controllerPort = Number(/controller\.quorum\.voters=1@127\.0\.0\.1:(\d+)/.exec(props)![1]);
  const meta = await readFile(path.join(node.dataDir, 'meta.properties'), 'utf8');
  const clusterId = /cluster\.id=(\S+)/.exec(meta)![1];
  const kafka = launchKafka(install, node);
  const client = new NodeClient({ host: '127.0.0.1', port: controllerPort, clock: systemClock });
  const stop = async () => {
    client.close();
    await kafka.stop();
    await rm(runDir, { recursive: true, force: true });
  };
  const describe = { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }] };
  const deadline = Date.now() + KAFKA_START_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await client.request(DescribeQuorum, 'latest', describe, { timeoutMs: 10_000 });
      if (res.topics[0]?.partitions[0]?.errorCode === 0) break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`Kafka's controller did not answer: ${String(err)}\n${kafka.output()}`);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return { client, clusterId, dataDir: node.dataDir, output: () => kafka.output(), stop };
}
