// Reads a whole topic back with raw Fetch requests through @platformatic/kafka, which can
// fetch without joining a consumer group; tests compare what they produced with this.

import { Consumer } from '@platformatic/kafka';
import { byPartitionAndOffset, type ExpectedRecord } from './scenario.js';

/** Reads a topic from offset 0 to the high watermark with raw Fetch requests (no group needed). */
export async function readAll(bootstrap: string, topic: string, partitions: number): Promise<ExpectedRecord[]> {
  const consumer = new Consumer({ clientId: 'runnel-test-reader', groupId: 'unused', bootstrapBrokers: [bootstrap] });
  try {
    const metadata = await consumer.metadata({ topics: [topic] });
    const topicId = metadata.topics.get(topic)!.id;
    const nextOffset = new Map<number, bigint>();
    const out: ExpectedRecord[] = [];
    for (let partition = 0; partition < partitions; partition++) nextOffset.set(partition, 0n);
    const ends = await consumer.listOffsets({ topics: [topic] });
    const endOf = (p: number) => BigInt(ends.get(topic)![p]);
    while ([...nextOffset].some(([p, o]) => o < endOf(p))) {
      const response = await consumer.fetch({
        node: metadata.controllerId,
        maxWaitTime: 100,
        topics: [
          {
            topicId,
            partitions: [...nextOffset].map(([partition, fetchOffset]) => ({
              partition,
              fetchOffset,
              partitionMaxBytes: 1 << 20,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            })),
          },
        ],
      });
      for (const p of response.responses[0].partitions) {
        if (p.errorCode !== 0)
          throw new Error(`fetch of ${topic}-${p.partitionIndex} failed with error ${p.errorCode}`);
        for (const batch of p.records ?? []) {
          for (const r of batch.records) {
            const offset = batch.firstOffset + BigInt(r.offsetDelta);
            if (offset < nextOffset.get(p.partitionIndex)!) continue;
            out.push({
              partition: p.partitionIndex,
              offset: Number(offset),
              key: r.key!.toString(),
              value: r.value!.toString(),
              headers: r.headers.map(([k, v]) => [k!.toString(), v!.toString()]),
              timestamp: Number(batch.firstTimestamp + r.timestampDelta),
            });
            nextOffset.set(p.partitionIndex, offset + 1n);
          }
        }
      }
    }
    return byPartitionAndOffset(out);
  } finally {
    await consumer.close();
  }
}
