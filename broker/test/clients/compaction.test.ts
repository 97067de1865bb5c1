// Log compaction in the broker process: a compacted topic with repeated keys and tombstones
// ends with each key's latest value (tombstones gone after delete.retention.ms), read from
// offset 0 by real clients, with the original offsets; `__consumer_offsets` is cleaned the
// same way and the group's offsets survive it and a restart.

import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { kcatConsumeAll } from '../kcat.js';
import { readAll } from '../read-all.js';
import { ErrorCode } from '../../protocol/errors.js';
import { OffsetCommit } from '../../protocol/messages/index.js';
import { RawConnection, waitFor } from '../raw-client.js';

const KEYS = 10;
const ROUNDS = 8;
/** Keys deleted (tombstone) in round 5; key 7 is written again in round 7. */
const DELETED_IN_ROUND_5 = [2, 7];
const BROKER_OVERRIDES = {
  'auto.create.topics.enable': 'false',
  'log.cleaner.backoff.ms': '100',
  'offsets.topic.num.partitions': '1',
};
const COMPACTED_CONFIGS = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'segment.bytes', value: '1024' },
  { name: 'min.cleanable.dirty.ratio', value: '0.01' },
  { name: 'delete.retention.ms', value: '300' },
];

interface Seen {
  offset: number;
  key: string;
  value: string | null;
}

let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker({ overrides: BROKER_OVERRIDES });
  kafka = new Kafka({ clientId: 'compaction', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

/** Every record from offset 0, tombstones as null values (kcat -Z). */
async function consumeAll(topic: string): Promise<Seen[]> {
  return (await kcatConsumeAll(broker.bootstrap, topic, ['-Z'])).map((r) => ({
    offset: r.offset,
    key: r.key!,
    value: r.payload,
  }));
}

describe('a compacted topic', () => {
  const topic = 'compacted-accounts';
  const written: Seen[] = [];

  it('is written with repeated keys and tombstones, one batch per record, over many segments', async () => {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: COMPACTED_CONFIGS }] })).toBe(
      true,
    );
    const producer = kafka.producer();
    await producer.connect();
    try {
      const send = async (key: string, value: string | null) => {
        const [meta] = await producer.send({ topic, acks: -1, messages: [{ partition: 0, key, value }] });
        written.push({ offset: Number(meta.baseOffset), key, value });
      };
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < KEYS; k++) {
          const deleted = round === 5 && DELETED_IN_ROUND_5.includes(k);
          const skipped = round === 6 && DELETED_IN_ROUND_5.includes(k);
          const stayDeleted = round === 7 && k === 2;
          if (skipped || stayDeleted) continue;
          await send(`key-${k}`, deleted ? null : `key-${k}@${round} ${'.'.repeat(20)}`);
        }
      }
      // Unique keys after the data push it out of the active segment, which is never cleaned.
      for (let i = 0; i < 20; i++) await send(`filler-${i}`, `filler ${i}`);
    } finally {
      await producer.disconnect();
    }
    expect(written.map((w) => w.offset)).toEqual(written.map((_, i) => i));
  });

  it('ends with the latest value of each key at its original offset, and the tombstones removed', async () => {
    const latest = new Map<string, Seen>();
    for (const w of written) latest.set(w.key, w);
    const expected = [...latest.values()].filter((w) => w.value !== null).sort((a, b) => a.offset - b.offset);
    expect(expected.map((e) => e.key)).not.toContain('key-2');
    expect(expected.find((e) => e.key === 'key-7')?.value).toMatch(/^key-7@7/);

    // Poll until the cleaner has compacted the topic and dropped the tombstones.
    let view: Seen[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      view = await consumeAll(topic);
      // Every read from offset 0 is consistent: offsets increase, and the last value of each
      // key is its latest one (older values and tombstones may still be there).
      for (let i = 1; i < view.length; i++) expect(view[i].offset).toBeGreaterThan(view[i - 1].offset);
      const lastSeen = new Map(view.map((r) => [r.key, r]));
      for (const e of expected) expect(lastSeen.get(e.key)).toEqual(e);
      if (JSON.stringify(view) === JSON.stringify(expected) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(view).toEqual(expected);
    // Other clients read the same compacted log from offset 0 (gaps in offsets included).
    expect(
      (await readAll(broker.bootstrap, topic, 1)).map((r) => ({ offset: r.offset, key: r.key, value: r.value })),
    ).toEqual(expected);
    expect(broker.output()).toMatch(/"partitionDir":"compacted-accounts-0".*"msg":"cleaned log"/);
  });

  it('keeps the compacted log across a restart', async () => {
    const before = await consumeAll(topic);
    const { dataDir, port } = broker;
    await admin.disconnect();
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir, port, overrides: BROKER_OVERRIDES });
    await admin.connect();
    expect(await consumeAll(topic)).toEqual(before);
  });
});

describe('__consumer_offsets', () => {
  it('is cleaned like any compacted topic, and the group resumes from its latest offsets after a restart', async () => {
    const topic = 'offsets-source';
    const group = 'compaction-group';
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).toBe(true);
    // Finding the coordinator creates __consumer_offsets; small segments make it roll and get cleaned.
    await admin.fetchOffsets({ groupId: group, topics: [topic] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2 /* TOPIC */,
          name: '__consumer_offsets',
          // AlterConfigs replaces every topic config: cleanup.policy must be restated.
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: '1024' },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          ],
        },
      ],
    });
    // Commits of a group without members (generation -1), as admin tools make them.
    const c = await RawConnection.open(broker.port);
    try {
      for (let offset = 1; offset <= 60; offset++) {
        const res = await c.request(OffsetCommit, 7, {
          groupId: group,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [
            {
              name: topic,
              partitions: [
                {
                  partitionIndex: 0,
                  committedOffset: offset,
                  committedLeaderEpoch: -1,
                  committedMetadata: `m${offset}`,
                },
              ],
            },
          ],
        });
        expect(res.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
      }
    } finally {
      c.close();
    }

    await waitFor(
      () => /"partitionDir":"__consumer_offsets-0".*"msg":"cleaned log"/.test(broker.output()),
      'the cleaner to clean __consumer_offsets-0',
      30_000,
    );
    const committed = async () =>
      (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions[0].offset;
    expect(await committed()).toBe('60');

    const { dataDir, port } = broker;
    await admin.disconnect();
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir, port, overrides: BROKER_OVERRIDES });
    await admin.connect();
    expect(await committed()).toBe('60');
  });
});
