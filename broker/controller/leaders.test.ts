import { describe, expect, it } from 'vitest';
import { MetadataDelta, MetadataImage } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';
import { electOfflineLeaders, moveLeadershipsOff } from './leaders.js';

function image(records: MetadataRecord[]): MetadataImage {
  const img = new MetadataImage();
  for (const r of records) img.apply(r, new MetadataDelta());
  return img;
}

const broker = (id: number, fenced = false): MetadataRecord => ({
  type: 'RegisterBrokerRecord',
  brokerId: id,
  isMigratingZkBroker: false,
  incarnationId: 'AAAAAAAAAAAAAAAAAAAAAA',
  brokerEpoch: id,
  endPoints: [],
  features: [],
  rack: null,
  fenced,
  inControlledShutdown: false,
  logDirs: [],
});

const partition = (partitionId: number, leader: number, isr: number[]): MetadataRecord => ({
  type: 'PartitionRecord',
  partitionId,
  topicId: 'AAAAAAAAAAAAAAAAAAAAAg',
  replicas: [1, 2, 3],
  isr,
  removingReplicas: [],
  addingReplicas: [],
  leader,
  leaderRecoveryState: 0,
  leaderEpoch: 0,
  partitionEpoch: 0,
  directories: [],
});

const topic: MetadataRecord = { type: 'TopicRecord', name: 't', topicId: 'AAAAAAAAAAAAAAAAAAAAAg' };

describe('leader elections', () => {
  it('moves a leadership to the next in-sync replica that can lead, or offline when none can', () => {
    const img = image([broker(1), broker(2), broker(3, true), topic, partition(0, 1, [1, 3, 2]), partition(1, 1, [1])]);
    const moves = moveLeadershipsOff(img, 1);
    expect(moves.map((r) => r.type === 'PartitionChangeRecord' && [r.partitionId, r.leader])).toEqual([
      [0, 2],
      [1, -1],
    ]);
  });

  it('brings offline partitions back on a broker of their ISR as it is unfenced, leaving led ones alone', () => {
    const img = image([broker(1, true), broker(2), topic, partition(0, -1, [1]), partition(1, 2, [2, 1])]);
    expect(electOfflineLeaders(img)).toEqual([]);
    const elected = electOfflineLeaders(img, 1);
    expect(elected.map((r) => r.type === 'PartitionChangeRecord' && [r.partitionId, r.leader])).toEqual([[0, 1]]);
  });

  it('bumps the leader epoch when the image applies a leader change', () => {
    const img = image([broker(1), broker(2), topic, partition(0, 1, [1, 2])]);
    for (const r of moveLeadershipsOff(img, 1)) img.apply(r, new MetadataDelta());
    expect(img.topic('t')!.partitions[0]).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  });
});
