// Kafka's own command-line tools (Apache Kafka 4.1 jars from Maven Central, cached under
// ~/.cache/runnel) against a Runnel cluster of three combined nodes (broker and controller in one
// process, all three voters): kafka-metadata-quorum.sh, kafka-topics.sh, kafka-cluster.sh and
// kafka-dump-log.sh --cluster-metadata-decoder see one KRaft cluster, as they would see Kafka's.
// The quorum checks run against a real Kafka 4.1 combined node too, so what is asserted of
// Runnel's answers is what Kafka's answers are.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatKafkaNode,
  kafkaTool,
  launchKafka,
  prepareKafka,
  type KafkaBroker,
  type KafkaInstall,
} from '../bench/kafka.js';
import { ApiVersions, Metadata, Produce, Vote } from '../protocol/messages/index.js';
import { newDataDir } from './broker-process.js';
import { startCluster, type TestCluster } from './cluster-processes.js';
import { until as untilWithin } from './cluster/cluster-clients.js';
import { RawConnection } from './raw-client.js';

/** Resolving Kafka's jars with Maven takes minutes the first time on a new machine. */
const FIRST_RESOLVE_TIMEOUT_MS = 15 * 60_000;
/** A new election after the leader stops takes a few election timeouts, and every poll is a JVM. */
const FAILOVER_TEST_TIMEOUT_MS = 150_000;
const WAIT_TIMEOUT_MS = 60_000;
const VOTERS = [1, 2, 3];
const TOPIC = 'tools-six';
const PARTITIONS = 6;
/** Kafka's Uuid.ZERO_UUID: a static voter set (controller.quorum.voters) names no directories. */
const ZERO_DIRECTORY_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const QUORUM_TOOL = 'org.apache.kafka.tools.MetadataQuorumCommand';
const TOPIC_TOOL = 'org.apache.kafka.tools.TopicCommand';
const CLUSTER_TOOL = 'org.apache.kafka.tools.ClusterTool';
const DUMP_TOOL = 'kafka.tools.DumpLogSegments';

let kafka: KafkaInstall;
let cluster: TestCluster;

// ---- what the tools print, parsed ---------------------------------------------------------------

/** `kafka-metadata-quorum.sh describe --status`. */
interface QuorumStatus {
  /** The field names, in the order printed. */
  keys: string[];
  clusterId: string;
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  maxFollowerLag: number;
  maxFollowerLagTimeMs: number;
  voters: { id: number; endpoints: string[] }[];
  observers: { id: number }[];
}

function parseStatus(out: string): QuorumStatus {
  const fields = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^(\w+):\s+(.*)$/.exec(line);
    if (m) fields.set(m[1], m[2].trim());
  }
  const field = (key: string): string => {
    const value = fields.get(key);
    if (value === undefined) throw new Error(`describe --status printed no ${key}:\n${out}`);
    return value;
  };
  return {
    keys: [...fields.keys()],
    clusterId: field('ClusterId'),
    leaderId: Number(field('LeaderId')),
    leaderEpoch: Number(field('LeaderEpoch')),
    highWatermark: Number(field('HighWatermark')),
    maxFollowerLag: Number(field('MaxFollowerLag')),
    maxFollowerLagTimeMs: Number(field('MaxFollowerLagTimeMs')),
    voters: JSON.parse(field('CurrentVoters')) as QuorumStatus['voters'],
    observers: JSON.parse(field('CurrentObservers')) as QuorumStatus['observers'],
  };
}

/** One row of `kafka-metadata-quorum.sh describe --replication`. */
interface ReplicaRow {
  nodeId: number;
  directoryId: string;
  logEndOffset: number;
  lag: number;
  lastFetchTimestamp: number;
  lastCaughtUpTimestamp: number;
  status: string;
}

const REPLICATION_HEADER = [
  'NodeId',
  'DirectoryId',
  'LogEndOffset',
  'Lag',
  'LastFetchTimestamp',
  'LastCaughtUpTimestamp',
  'Status',
];

function parseReplication(out: string): ReplicaRow[] {
  const lines = out.split('\n').filter((l) => l.includes('\t'));
  const cells = lines.map((l) => l.split('\t').map((c) => c.trim()));
  const header = cells.findIndex((c) => c[0] === 'NodeId');
  if (header < 0) throw new Error(`describe --replication printed no table:\n${out}`);
  expect(cells[header].slice(0, REPLICATION_HEADER.length)).toEqual(REPLICATION_HEADER);
  return cells.slice(header + 1).map((c) => ({
    nodeId: Number(c[0]),
    directoryId: c[1],
    logEndOffset: Number(c[2]),
    lag: Number(c[3]),
    lastFetchTimestamp: Number(c[4]),
    lastCaughtUpTimestamp: Number(c[5]),
    status: c[6],
  }));
}

/** One partition line of `kafka-topics.sh --describe`. */
interface PartitionLine {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

function parseTopicDescription(out: string): { topicId: string; partitionCount: number; partitions: PartitionLine[] } {
  const head = /Topic: \S+\tTopicId: (\S+)\tPartitionCount: (\d+)/.exec(out);
  if (!head) throw new Error(`kafka-topics --describe printed no topic:\n${out}`);
  const ids = (s: string) => (s === '' ? [] : s.split(',').map(Number));
  const partitions = [...out.matchAll(/Partition: (\d+)\tLeader: (-?\d+)\tReplicas: ([\d,]*)\tIsr: ([\d,]*)/g)].map(
    (m) => ({ partition: Number(m[1]), leader: Number(m[2]), replicas: ids(m[3]), isr: ids(m[4]) }),
  );
  return { topicId: head[1], partitionCount: Number(head[2]), partitions };
}

/** DumpLogSegments --cluster-metadata-decoder: its batch lines and its decoded record lines. */
interface MetadataDump {
  batches: { baseOffset: number; lastOffset: number; epoch: number; isControl: boolean; crcValid: boolean }[];
  /** Data records: `payload: {"type":…,"version":…,"data":{…}}`. */
  records: { offset: number; type: string; data: Record<string, unknown> }[];
  /** Control records decoded as LeaderChangeMessage. */
  leaderChanges: { offset: number; leaderId: number; voters: number[]; grantingVoters: number[] }[];
}

function parseDump(out: string): MetadataDump {
  const dump: MetadataDump = { batches: [], records: [], leaderChanges: [] };
  for (const line of out.split('\n')) {
    const batch =
      /^baseOffset: (\d+) lastOffset: (\d+) .*partitionLeaderEpoch: (\d+) .*isControl: (\w+) .*isvalid: (\w+)/.exec(
        line,
      );
    if (batch) {
      dump.batches.push({
        baseOffset: Number(batch[1]),
        lastOffset: Number(batch[2]),
        epoch: Number(batch[3]),
        isControl: batch[4] === 'true',
        crcValid: batch[5] === 'true',
      });
      continue;
    }
    const offset = /^\| offset: (\d+) /.exec(line);
    if (!offset) continue;
    const payload = / payload: (\{.*\})$/.exec(line);
    if (payload) {
      const p = JSON.parse(payload[1]) as { type: string; data: Record<string, unknown> };
      dump.records.push({ offset: Number(offset[1]), type: p.type, data: p.data });
    }
    const change = / LeaderChange: (\{.*\})$/.exec(line);
    if (change) {
      const c = JSON.parse(change[1]) as {
        leaderId: number;
        voters: { voterId: number }[];
        grantingVoters: { voterId: number }[];
      };
      dump.leaderChanges.push({
        offset: Number(offset[1]),
        leaderId: c.leaderId,
        voters: c.voters.map((v) => v.voterId),
        grantingVoters: c.grantingVoters.map((v) => v.voterId),
      });
    }
  }
  return dump;
}

// ---- running them -------------------------------------------------------------------------------

/** A running node's client listener (a combined node's process may have logged its controller listener first). */
function addressOf(nodeId: number): string {
  const node = cluster.node(nodeId);
  if (!node.process) throw new Error(`node ${nodeId} is not running`);
  return `127.0.0.1:${node.clientPort}`;
}

const quorumStatus = async (bootstrap: string) =>
  parseStatus(await kafkaTool(kafka, QUORUM_TOOL, ['--bootstrap-server', bootstrap, 'describe', '--status']));

const quorumReplication = async (bootstrap: string) =>
  parseReplication(await kafkaTool(kafka, QUORUM_TOOL, ['--bootstrap-server', bootstrap, 'describe', '--replication']));

async function dumpMetadataLog(nodeId: number): Promise<{ out: string; dump: MetadataDump }> {
  const segment = path.join(cluster.node(nodeId).dataDir, '__cluster_metadata-0', '00000000000000000000.log');
  const out = await kafkaTool(kafka, DUMP_TOOL, ['--cluster-metadata-decoder', '--files', segment]);
  return { out, dump: parseDump(out) };
}

/** Polls `probe` until it returns a value (failures count as "not yet") or WAIT_TIMEOUT_MS passes. */
const until = <T>(what: string, probe: () => Promise<T | undefined>) => untilWithin(what, probe, WAIT_TIMEOUT_MS);

/** The brokers a node's Metadata lists (the unfenced ones). */
async function brokersSeenBy(nodeId: number): Promise<number[]> {
  const c = await RawConnection.open(Number(addressOf(nodeId).split(':')[1]));
  try {
    const res = await c.request(Metadata, 12, { topics: [], allowAutoTopicCreation: false });
    return res.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
  } finally {
    c.close();
  }
}

/** What every static-voter quorum answers, Kafka's and Runnel's alike. */
function expectQuorumShape(status: QuorumStatus, rows: ReplicaRow[], voters: number[]): void {
  expect(status.keys).toEqual([
    'ClusterId',
    'LeaderId',
    'LeaderEpoch',
    'HighWatermark',
    'MaxFollowerLag',
    'MaxFollowerLagTimeMs',
    'CurrentVoters',
    'CurrentObservers',
  ]);
  expect(status.voters.map((v) => v.id)).toEqual(voters);
  for (const v of status.voters)
    expect(v.endpoints).toEqual([expect.stringMatching(/^CONTROLLER:\/\/127\.0\.0\.1:\d+$/)]);
  expect(status.leaderEpoch).toBeGreaterThanOrEqual(1);
  expect(status.highWatermark).toBeGreaterThan(0);
  // The leader first, then the other voters, then observers.
  expect(rows[0]).toMatchObject({ nodeId: status.leaderId, status: 'Leader', lag: 0 });
  expect(rows.map((r) => r.nodeId).sort()).toEqual(voters);
  for (const r of rows.slice(1)) expect(r.status).toBe('Follower');
  for (const r of rows) expect(r.directoryId).toBe(ZERO_DIRECTORY_ID);
  // The leader is caught up with itself whenever it answers.
  expect(rows[0].lastCaughtUpTimestamp).toBe(rows[0].lastFetchTimestamp);
  expect(rows[0].logEndOffset).toBeGreaterThanOrEqual(status.highWatermark);
}

beforeAll(async () => {
  kafka = await prepareKafka(() => undefined);
  cluster = await startCluster({ nodes: VOTERS.length });
  for (const id of VOTERS)
    await until(`broker ${id} listing every broker`, async () =>
      (await brokersSeenBy(id)).join() === VOTERS.join() ? true : undefined,
    );
}, FIRST_RESOLVE_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('kafka-metadata-quorum.sh against three combined Runnel nodes', () => {
  it('describe --status: every node answers with the quorum leader’s view (DescribeQuorum is forwarded to it)', async () => {
    const statuses = await Promise.all(VOTERS.map((id) => quorumStatus(addressOf(id))));
    const leader = statuses[0].leaderId;
    expect(VOTERS).toContain(leader);
    for (const s of statuses) {
      expect(s.clusterId).toBe(cluster.clusterId);
      expect(s.leaderId).toBe(leader);
      expect(s.leaderEpoch).toBe(statuses[0].leaderEpoch);
      expect(s.voters).toEqual(
        VOTERS.map((id) => ({ id, endpoints: [`CONTROLLER://127.0.0.1:${cluster.node(id).controllerPort}`] })),
      );
      // Every node is a voter: no observers.
      expect(s.observers).toEqual([]);
      expect(s.maxFollowerLag).toBeGreaterThanOrEqual(0);
    }
  });

  it('describe --replication: every voter with its log end offset and lag, the leader marked Leader and the others Follower', async () => {
    // The metadata log is idle once the brokers are registered: the followers catch up.
    const { status, rows } = await until('every voter caught up', async () => {
      const status = await quorumStatus(addressOf(1));
      const rows = await quorumReplication(addressOf(2));
      return rows.every((r) => r.lag === 0 && r.logEndOffset === status.highWatermark) ? { status, rows } : undefined;
    });
    expectQuorumShape(status, rows, VOTERS);
    const now = Date.now();
    for (const r of rows) {
      expect(r.lastFetchTimestamp).toBeGreaterThan(now - WAIT_TIMEOUT_MS);
      expect(r.lastFetchTimestamp).toBeLessThanOrEqual(now);
      expect(r.lastCaughtUpTimestamp).toBeGreaterThan(0);
    }
    expect(status.maxFollowerLag).toBe(0);
  });
});

describe('kafka-topics.sh and kafka-cluster.sh', () => {
  it('kafka-topics.sh --describe of a 6-partition topic created through another broker: leaders spread evenly, Replicas and Isr the leader', async () => {
    const created = await kafkaTool(kafka, TOPIC_TOOL, [
      '--bootstrap-server',
      addressOf(2),
      '--create',
      '--topic',
      TOPIC,
      '--partitions',
      String(PARTITIONS),
      '--replication-factor',
      '1',
    ]);
    expect(created).toContain(`Created topic ${TOPIC}.`);
    for (const id of VOTERS) {
      const out = await kafkaTool(kafka, TOPIC_TOOL, [
        '--bootstrap-server',
        addressOf(id),
        '--describe',
        '--topic',
        TOPIC,
      ]);
      const topic = parseTopicDescription(out);
      expect(topic.partitionCount).toBe(PARTITIONS);
      expect(topic.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4, 5]);
      for (const p of topic.partitions) {
        expect(p.replicas).toEqual([p.leader]);
        expect(p.isr).toEqual([p.leader]);
      }
      const led = VOTERS.map((b) => topic.partitions.filter((p) => p.leader === b).length);
      expect(led).toEqual([2, 2, 2]);
    }
  });

  it('a controller listener serves the controller’s APIs only, as Kafka’s does (kafka-topics.sh there cannot produce or consume)', async () => {
    const c = await RawConnection.open(cluster.node(1).controllerPort!);
    try {
      const res = await c.request(ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '0' });
      const keys = res.apiKeys.map((k) => k.apiKey);
      expect(keys).toContain(Vote.key);
      expect(keys).not.toContain(Produce.key);
      expect(keys).not.toContain(Metadata.key);
    } finally {
      c.close();
    }
  });

  it('kafka-cluster.sh cluster-id prints the cluster id', async () => {
    const out = await kafkaTool(kafka, CLUSTER_TOOL, ['cluster-id', '--bootstrap-server', addressOf(3)]);
    expect(out.trim()).toBe(`Cluster ID: ${cluster.clusterId}`);
  });
});

describe('kafka-dump-log.sh --cluster-metadata-decoder on a node’s __cluster_metadata-0', () => {
  it('decodes a running node’s segment: the feature level, every broker registered and unfenced, the topic and its partitions, the leader change; every CRC valid', async () => {
    const status = await quorumStatus(addressOf(1));
    const topic = parseTopicDescription(
      await kafkaTool(kafka, TOPIC_TOOL, ['--bootstrap-server', addressOf(1), '--describe', '--topic', TOPIC]),
    );
    // Node 1 may be a follower a fetch behind the topic's records.
    const { out, dump } = await until('the topic’s records in node 1’s log', async () => {
      const d = await dumpMetadataLog(1);
      return d.dump.records.filter((r) => r.type === 'PARTITION_RECORD').length >= PARTITIONS ? d : undefined;
    });
    expect(out).not.toMatch(/Exception|error|corrupt/i);
    expect(dump.batches.length).toBeGreaterThan(0);
    expect(dump.batches.every((b) => b.crcValid)).toBe(true);
    // Offsets are contiguous from 0, batch after batch.
    dump.batches.forEach((b, i) => expect(b.baseOffset).toBe(i === 0 ? 0 : dump.batches[i - 1].lastOffset + 1));

    const ofType = (type: string) => dump.records.filter((r) => r.type === type).map((r) => r.data);
    expect(ofType('FEATURE_LEVEL_RECORD')).toContainEqual(
      expect.objectContaining({ name: 'metadata.version', featureLevel: expect.any(Number) as number }),
    );
    expect(ofType('REGISTER_BROKER_RECORD').map((d) => d.brokerId)).toEqual(expect.arrayContaining(VOTERS));
    for (const registration of ofType('REGISTER_BROKER_RECORD')) {
      expect(registration.fenced).toBe(true);
      expect(registration.endPoints).toEqual([
        expect.objectContaining({
          name: 'PLAINTEXT',
          host: '127.0.0.1',
          port: Number(addressOf(registration.brokerId as number).split(':')[1]),
        }),
      ]);
    }
    // Runnel unfences with UnfenceBrokerRecord; Kafka 4.1 writes BrokerRegistrationChangeRecord
    // with fenced -1 for the same change. Both replay alike.
    const unfenced = [
      ...ofType('UNFENCE_BROKER_RECORD').map((d) => d.id),
      ...ofType('BROKER_REGISTRATION_CHANGE_RECORD')
        .filter((d) => d.fenced === -1)
        .map((d) => d.brokerId),
    ];
    expect(unfenced).toEqual(expect.arrayContaining(VOTERS));

    expect(ofType('TOPIC_RECORD')).toContainEqual({ name: TOPIC, topicId: topic.topicId });
    const partitions = ofType('PARTITION_RECORD').filter((d) => d.topicId === topic.topicId);
    expect(partitions.map((d) => d.partitionId)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const p of partitions) {
      const described = topic.partitions[p.partitionId as number];
      expect(p).toMatchObject({ leader: described.leader, replicas: described.replicas, isr: described.isr });
    }

    // The current leader's LeaderChange control record, in a control batch of its epoch.
    const change = dump.leaderChanges.find((c) => c.leaderId === status.leaderId);
    expect(change).toBeDefined();
    expect(change!.voters).toEqual(VOTERS);
    expect(change!.grantingVoters).toContain(status.leaderId);
    expect(change!.grantingVoters.length).toBeGreaterThanOrEqual(2);
    const batch = dump.batches.find((b) => b.baseOffset <= change!.offset && change!.offset <= b.lastOffset);
    expect(batch).toMatchObject({ isControl: true, epoch: status.leaderEpoch });
  });

  it(
    'after the leader stops: a new leader at a higher epoch, its LeaderChange in the survivors’ logs, and the stopped node’s log still decodes',
    async () => {
      const before = await quorumStatus(addressOf(1));
      const old = before.leaderId;
      expect(await cluster.stop(old)).toBe(0);
      const survivor = VOTERS.find((id) => id !== old)!;
      // The stopped broker leaves Metadata first: an admin client that still sees it keeps sending
      // DescribeQuorum there (its least loaded node) until its own timeout.
      const rest = VOTERS.filter((id) => id !== old).join();
      await until('the stopped broker gone from Metadata', async () =>
        (await brokersSeenBy(survivor)).join() === rest ? true : undefined,
      );
      const after = await until('a new quorum leader', async () => {
        const s = await quorumStatus(addressOf(survivor));
        return s.leaderId !== old && s.leaderId !== -1 ? s : undefined;
      });
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);

      // The stopped voter is still a voter, lagging behind the new leader.
      const rows = await quorumReplication(addressOf(survivor));
      expect(rows[0]).toMatchObject({ nodeId: after.leaderId, status: 'Leader' });
      expect(rows.map((r) => r.nodeId).sort()).toEqual(VOTERS);
      const stopped = rows.find((r) => r.nodeId === old)!;
      expect(stopped.status).toBe('Follower');
      expect(stopped.logEndOffset).toBeLessThan(rows[0].logEndOffset);

      for (const id of VOTERS) {
        const { out, dump } = await until(`node ${id}’s log`, async () => {
          const d = await dumpMetadataLog(id);
          return id === old || d.dump.leaderChanges.some((c) => c.leaderId === after.leaderId) ? d : undefined;
        });
        expect(out).not.toMatch(/Exception|error|corrupt/i);
        expect(dump.batches.every((b) => b.crcValid)).toBe(true);
        expect(dump.leaderChanges.map((c) => c.leaderId)).toContain(old);
        if (id !== old) {
          const change = dump.leaderChanges.find((c) => c.leaderId === after.leaderId)!;
          const batch = dump.batches.find((b) => b.baseOffset === change.offset);
          expect(batch).toMatchObject({ isControl: true, epoch: after.leaderEpoch });
        }
      }
    },
    FAILOVER_TEST_TIMEOUT_MS,
  );

  it('kafka-cluster.sh unregister refuses a stopped broker that still holds replicas, then removes its registration once it holds none; a second time it is not registered', async () => {
    const stopped = VOTERS.find((id) => cluster.node(id).process === null)!;
    const survivor = VOTERS.find((id) => id !== stopped)!;
    const unregister = () =>
      kafkaTool(kafka, CLUSTER_TOOL, [
        'unregister',
        '--bootstrap-server',
        addressOf(survivor),
        '--id',
        String(stopped),
      ]);
    await expect(unregister()).rejects.toThrow(`Broker ${stopped} still holds replicas of 2 partition(s)`);
    await kafkaTool(kafka, TOPIC_TOOL, ['--bootstrap-server', addressOf(survivor), '--delete', '--topic', TOPIC]);
    expect(await unregister()).toContain(`Broker ${stopped} is no longer registered.`);
    await expect(unregister()).rejects.toThrow(`Broker ID ${stopped} is not currently registered`);
  });
});

describe('the same quorum checks against a Kafka 4.1 combined node', () => {
  let node: KafkaBroker;

  beforeAll(async () => {
    const dir = await newDataDir();
    const formatted = await formatKafkaNode(kafka, { dataDir: path.join(dir, 'data'), runDir: dir, settings: {} });
    node = launchKafka(kafka, formatted);
  }, FIRST_RESOLVE_TIMEOUT_MS);

  afterAll(async () => {
    await node?.stop();
  });

  it('describe --status and --replication have the shape asserted of Runnel', async () => {
    const status = await until('Kafka answering DescribeQuorum', () => quorumStatus(node.bootstrap));
    const rows = await quorumReplication(node.bootstrap);
    expectQuorumShape(status, rows, [1]);
    expect(status.observers).toEqual([]);
    expect(status.maxFollowerLagTimeMs).toBe(0);
  });
});
