// The data a fuzz run must not change: topics with records and a group with committed
// offsets, written before the run through the ordinary APIs and read back after it (and
// after a restart) byte for byte. Also creates and fills the topics the fuzz inputs use.

import { ErrorCode } from '../../protocol/errors.js';
import {
  CreateTopics,
  Fetch,
  FindCoordinator,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  Produce,
} from '../../protocol/messages/index.js';
import { buildCompressedBatch, buildRecordBatch } from '../../protocol/record-batch.js';
import { RawConnection } from '../raw-client.js';
import { FUZZ, KEPT } from './corpus.js';

/** What was stored: each kept partition's record bytes from offset 0, and the kept group's offsets. */
export interface Snapshot {
  partitions: Array<{
    topic: string;
    partition: number;
    logStartOffset: number;
    highWatermark: number;
    records: string;
  }>;
  committed: Array<{ topic: string; partition: number; offset: number; metadata: string | null }>;
}

const REQUEST_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)),
        REQUEST_TIMEOUT_MS,
      );
    }),
  ]);
}

async function createTopics(
  c: RawConnection,
  topics: ReadonlyArray<{ name: string; partitions: number; configs?: ReadonlyArray<{ name: string; value: string }> }>,
): Promise<void> {
  const res = await withTimeout(
    c.request(CreateTopics, 7, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions,
        replicationFactor: 1,
        assignments: [],
        configs: [...(t.configs ?? [])],
      })),
      timeoutMs: 10_000,
      validateOnly: false,
    }),
    'CreateTopics',
  );
  for (const t of res.topics) {
    if (t.errorCode !== ErrorCode.NONE && t.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS)
      throw new Error(`cannot create ${t.name}: error ${t.errorCode} ${t.errorMessage}`);
  }
}

async function produce(c: RawConnection, topic: string, partition: number, batch: Buffer): Promise<void> {
  const res = await withTimeout(
    c.request(Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
    }),
    'Produce',
  );
  const p = res.responses[0].partitionResponses[0];
  if (p.errorCode !== ErrorCode.NONE)
    throw new Error(`produce to ${topic}-${partition} failed: error ${p.errorCode} ${p.errorMessage}`);
}

/** Coordinator errors a fresh broker answers while __consumer_offsets is being created or loaded. */
const RETRIABLE_COORDINATOR_ERRORS: readonly number[] = [
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
];
const COORDINATOR_WAIT_MS = 15_000;

async function commit(
  c: RawConnection,
  group: string,
  offsets: Array<{ topic: string; partition: number; offset: number }>,
): Promise<void> {
  const deadline = Date.now() + COORDINATOR_WAIT_MS;
  // The first FindCoordinator creates __consumer_offsets.
  for (;;) {
    const found = await withTimeout(c.request(FindCoordinator, 3, { key: group, keyType: 0 }), 'FindCoordinator');
    if (found.errorCode === ErrorCode.NONE) break;
    if (Date.now() > deadline) throw new Error(`FindCoordinator ${group}: error ${found.errorCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (;;) {
    try {
      return await commitOnce(c, group, offsets);
    } catch (err) {
      if (!(err instanceof RetriableError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

class RetriableError extends Error {}

async function commitOnce(
  c: RawConnection,
  group: string,
  offsets: Array<{ topic: string; partition: number; offset: number }>,
): Promise<void> {
  const byTopic = new Map<string, Array<{ partition: number; offset: number }>>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  const res = await withTimeout(
    c.request(OffsetCommit, 8, {
      groupId: group,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [...byTopic].map(([name, ps]) => ({
        name,
        partitions: ps.map((p) => ({
          partitionIndex: p.partition,
          committedOffset: p.offset,
          committedLeaderEpoch: -1,
          committedMetadata: `${name}@${p.offset}`,
        })),
      })),
    }),
    'OffsetCommit',
  );
  for (const t of res.topics) {
    for (const p of t.partitions) {
      if (p.errorCode === ErrorCode.NONE) continue;
      const message = `commit ${group} ${t.name}-${p.partitionIndex}: error ${p.errorCode}`;
      throw RETRIABLE_COORDINATOR_ERRORS.includes(p.errorCode) ? new RetriableError(message) : new Error(message);
    }
  }
}

function records(topic: string, partition: number, batch: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    key: `${topic}/${partition}/${batch}/${i}`,
    value: `value ${i} of batch ${batch} ${'v'.repeat(i * 13)}`,
    headers: [{ key: 'seeded', value: 'yes' }],
    timestampMs: 1_700_000_000_000 + batch * 100 + i,
  }));
}

/** Creates and fills the kept topics and group and the fuzz topics; returns the fuzz topic ids. */
export async function seedBroker(port: number): Promise<Record<string, string>> {
  const c = await RawConnection.open(port);
  try {
    await createTopics(c, KEPT.topics);
    await createTopics(c, FUZZ.topics);
    const committed: Array<{ topic: string; partition: number; offset: number }> = [];
    for (const t of KEPT.topics) {
      for (let p = 0; p < t.partitions; p++) {
        await produce(c, t.name, p, buildRecordBatch({ records: records(t.name, p, 0, 4) }));
        await produce(
          c,
          t.name,
          p,
          await buildCompressedBatch({ records: records(t.name, p, 1, 3), compression: 'gzip' }),
        );
        await produce(c, t.name, p, buildRecordBatch({ records: records(t.name, p, 2, 2) }));
        committed.push({ topic: t.name, partition: p, offset: 3 + p });
      }
    }
    await commit(c, KEPT.group, committed);
    for (const t of FUZZ.topics) {
      for (let p = 0; p < t.partitions; p++)
        await produce(c, t.name, p, buildRecordBatch({ records: records(t.name, p, 0, 5) }));
    }
    await commit(c, FUZZ.group, [{ topic: 'fz-a', partition: 0, offset: 2 }]);
    await commit(c, FUZZ.doomedGroup, [{ topic: 'fz-a', partition: 0, offset: 1 }]);
    const meta = await withTimeout(
      c.request(Metadata, 12, {
        topics: FUZZ.topics.map((t) => ({ name: t.name })),
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      }),
      'Metadata',
    );
    return Object.fromEntries(meta.topics.map((t) => [t.name ?? '', t.topicId]));
  } finally {
    c.close();
  }
}

/** Reads the kept partitions and the kept group's committed offsets. */
export async function takeSnapshot(port: number): Promise<Snapshot> {
  const c = await RawConnection.open(port);
  try {
    const partitions: Snapshot['partitions'] = [];
    for (const t of KEPT.topics) {
      for (let p = 0; p < t.partitions; p++) {
        const res = await withTimeout(
          c.request(Fetch, 12, {
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 8 << 20,
            isolationLevel: 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [{ topic: t.name, partitions: [{ partition: p, fetchOffset: 0, partitionMaxBytes: 8 << 20 }] }],
            forgottenTopicsData: [],
            rackId: '',
          }),
          'Fetch',
        );
        const part = res.responses[0]?.partitions[0];
        if (!part) throw new Error(`Fetch ${t.name}-${p}: no partition in the response`);
        partitions.push({
          topic: t.name,
          partition: p,
          logStartOffset: part.logStartOffset,
          highWatermark: part.highWatermark,
          records:
            part.errorCode === ErrorCode.NONE
              ? (part.records ?? Buffer.alloc(0)).toString('hex')
              : `error ${part.errorCode}`,
        });
      }
    }
    const res = await withTimeout(
      c.request(OffsetFetch, 8, { groups: [{ groupId: KEPT.group, topics: null }], requireStable: false }),
      'OffsetFetch',
    );
    const committed: Snapshot['committed'] = [];
    for (const g of res.groups) {
      for (const t of g.topics)
        for (const p of t.partitions)
          committed.push({
            topic: t.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            metadata: p.metadata,
          });
      if (g.errorCode !== ErrorCode.NONE)
        committed.push({ topic: `(group error ${g.errorCode})`, partition: -1, offset: -1, metadata: null });
    }
    committed.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { partitions, committed };
  } finally {
    c.close();
  }
}

/**
 * How `after` differs from `before`, in words; empty when nothing stored before changed.
 * Records appended after the seeded ones are not a change (no fuzz input names these topics,
 * but appending would not alter what was stored).
 */
export function snapshotChanges(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const b of before.partitions) {
    const a = after.partitions.find((p) => p.topic === b.topic && p.partition === b.partition);
    const where = `${b.topic}-${b.partition}`;
    if (!a) {
      out.push(`${where}: missing`);
      continue;
    }
    if (a.logStartOffset !== b.logStartOffset)
      out.push(`${where}: log start offset ${b.logStartOffset} -> ${a.logStartOffset}`);
    if (a.highWatermark < b.highWatermark)
      out.push(`${where}: high watermark ${b.highWatermark} -> ${a.highWatermark}`);
    if (!a.records.startsWith(b.records)) {
      let i = 0;
      while (i < b.records.length && a.records[i] === b.records[i]) i++;
      out.push(
        `${where}: stored bytes differ from byte ${i / 2} (${b.records.length / 2} bytes before, ${a.records.length / 2} after): ${a.records.slice(i, i + 64) || '(nothing)'}`,
      );
    }
  }
  const key = (c: Snapshot['committed'][number]) => `${c.topic}-${c.partition}`;
  const afterByKey = new Map(after.committed.map((c) => [key(c), c]));
  for (const b of before.committed) {
    const a = afterByKey.get(key(b));
    if (!a) out.push(`committed offset of ${KEPT.group} ${key(b)} (${b.offset}) is gone`);
    else if (a.offset !== b.offset || a.metadata !== b.metadata)
      out.push(`committed offset of ${KEPT.group} ${key(b)}: ${b.offset}/${b.metadata} -> ${a.offset}/${a.metadata}`);
    afterByKey.delete(key(b));
  }
  for (const extra of afterByKey.values())
    out.push(`${KEPT.group} gained a committed offset: ${key(extra)} = ${extra.offset}`);
  return out;
}
