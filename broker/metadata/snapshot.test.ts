import { describe, expect, it } from 'vitest';
import { MetadataDelta, MetadataImage } from './image.js';
import { METADATA_VERSION_LEVEL, MetadataRecordError, type MetadataRecord } from './records.js';
import { decodeSnapshot, encodeSnapshot, imageRecords, parseSnapshotFileName, snapshotFileName } from './snapshot.js';

const topicId = Buffer.alloc(16, 3).toString('base64url');

/** A history with changes a snapshot must fold: fencing, a leader change, a config set then removed, a deleted topic. */
const HISTORY: MetadataRecord[] = [
  { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION_LEVEL },
  {
    type: 'RegisterBrokerRecord',
    brokerId: 2,
    isMigratingZkBroker: false,
    incarnationId: Buffer.alloc(16, 9).toString('base64url'),
    brokerEpoch: 5,
    endPoints: [{ name: 'PLAINTEXT', host: 'b2', port: 9092, securityProtocol: 0 }],
    features: [{ name: 'metadata.version', minSupportedVersion: 1, maxSupportedVersion: METADATA_VERSION_LEVEL }],
    rack: 'r1',
    fenced: true,
    inControlledShutdown: false,
    logDirs: [],
  },
  { type: 'UnfenceBrokerRecord', id: 2, epoch: 5 },
  { type: 'TopicRecord', name: 'orders', topicId },
  ...[0, 1].map((partitionId): MetadataRecord => ({
    type: 'PartitionRecord',
    partitionId,
    topicId,
    replicas: [2],
    isr: [2],
    removingReplicas: [],
    addingReplicas: [],
    leader: 2,
    leaderRecoveryState: 0,
    leaderEpoch: 0,
    partitionEpoch: 0,
    directories: [],
  })),
  {
    type: 'PartitionChangeRecord',
    partitionId: 1,
    topicId,
    isr: null,
    leader: -1,
    replicas: null,
    removingReplicas: null,
    addingReplicas: null,
    leaderRecoveryState: -1,
    directories: null,
  },
  { type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'retention.ms', value: '1000' },
  { type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'cleanup.policy', value: 'compact' },
  { type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'retention.ms', value: null },
  { type: 'TopicRecord', name: 'gone', topicId: Buffer.alloc(16, 4).toString('base64url') },
  { type: 'RemoveTopicRecord', topicId: Buffer.alloc(16, 4).toString('base64url') },
  { type: 'ProducerIdsRecord', brokerId: 2, brokerEpoch: 5, nextProducerId: 2000 },
];

function imageOf(records: readonly MetadataRecord[]): MetadataImage {
  const image = new MetadataImage();
  for (const r of records) image.apply(r, new MetadataDelta());
  return image;
}

/** The image as plain data, to compare two images. */
function plain(image: MetadataImage) {
  return {
    topics: [...image.topics()].map((t) => ({ ...t, configs: [...t.configs] })),
    // The registration record is kept as registered; its fence state is the broker's.
    brokers: [...image.brokers()].map((b) => ({ ...b, record: { ...b.record, fenced: b.fenced } })),
    nextProducerId: image.nextProducerId,
    metadataVersion: image.metadataVersion,
  };
}

describe('metadata snapshots', () => {
  it('an image written as records and read back is the same image', () => {
    const image = imageOf(HISTORY);
    const bytes = encodeSnapshot(imageRecords(image), 7, 1_700_000_000_000);
    const records = decodeSnapshot(bytes);
    expect(records[0]).toEqual({ type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: 27 });
    expect(records.map((r) => r.type)).not.toContain('RemoveTopicRecord');
    const rebuilt = new MetadataImage();
    rebuilt.loadSnapshot(records, 15);
    expect(plain(rebuilt)).toEqual(plain(image));
    expect(rebuilt.appliedOffset).toBe(15);
    expect(rebuilt.topic('orders')!.partitions[1]).toMatchObject({ leader: -1, leaderEpoch: 1, partitionEpoch: 1 });
    expect(rebuilt.broker(2)).toMatchObject({ fenced: false, epoch: 5, rack: 'r1' });
  });

  it('loading a snapshot over an image reports the topics it no longer has and every partition it has', () => {
    const image = imageOf([
      ...HISTORY,
      { type: 'TopicRecord', name: 'extra', topicId: Buffer.alloc(16, 5).toString('base64url') },
    ]);
    const delta = image.loadSnapshot(imageRecords(imageOf(HISTORY)), 20);
    expect(delta.removedTopics.map((t) => t.name)).toEqual(['extra']);
    expect([...delta.changedPartitions.get('orders')!]).toEqual([0, 1]);
    expect(delta.brokersChanged).toBe(true);
    expect(image.topic('extra')).toBeUndefined();
  });

  it('a snapshot cut short or without its footer is refused', () => {
    const bytes = encodeSnapshot(imageRecords(imageOf(HISTORY)), 7, 0);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3))).toThrow(MetadataRecordError);
    const withoutFooter = encodeSnapshot([], 7, 0).subarray(0, 0);
    expect(() => decodeSnapshot(withoutFooter)).toThrow(MetadataRecordError);
  });

  it("names files as Kafka does: 20-digit end offset, 10-digit epoch, '.checkpoint'", () => {
    expect(snapshotFileName({ offset: 1234, epoch: 5 })).toBe('00000000000000001234-0000000005.checkpoint');
    expect(parseSnapshotFileName('00000000000000001234-0000000005.checkpoint')).toEqual({ offset: 1234, epoch: 5 });
    expect(parseSnapshotFileName('00000000000000001234-0000000005.checkpoint.part')).toBeUndefined();
    expect(parseSnapshotFileName('00000000000000000000.log')).toBeUndefined();
  });
});
