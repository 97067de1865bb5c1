// The scenarios of the compatibility matrix. Each one runs the client's driver (a child
// process) for the client-side steps and checks what it reports, and what the broker stored,
// exactly. A scenario throws a CheckFailed (or any error) with the reason shown in the table.

import type { Client } from './clients.js';
import { clusterInfo, committedOffsets, createTopic, seed, stored, type StoredBatch } from './inspect.js';
import {
  compareRecords,
  orderProblem,
  endOffsets,
  PARTITIONS,
  recordSet,
  specs,
  type ExpectedRecord,
  type ReadRecord,
} from './records.js';
import { writeFile } from 'node:fs/promises';
import type {
  AdminResult,
  AdminTask,
  Codec,
  GroupResult,
  GroupTask,
  MemberResult,
  MemberTask,
  ProduceResult,
  ProduceTask,
  ReadResult,
  ReadTask,
} from './tasks.js';
import type { Target } from './target.js';

export type ScenarioId = 'produce' | 'idempotent' | 'gzip' | 'snappy' | 'lz4' | 'zstd' | 'group' | 'balanced' | 'admin';

export class CheckFailed extends Error {}

export interface ScenarioContext {
  client: Client;
  target: Target;
  /**
   * Runs one driver operation in a child process; throws with the driver's error. `onEvent`
   * sees the {"event":…} lines it prints while it runs.
   */
  drive<R>(op: string, task: object, onEvent?: (event: Record<string, unknown>) => void): Promise<R>;
  /** A path in the run's log directory (stop files). */
  tempFile(name: string): string;
  /** Progress for the log. */
  step(what: string): void;
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** What the scenario does and checks, for the report. */
  description: string;
  run(ctx: ScenarioContext): Promise<void>;
}

const READ_DEADLINE_MS = 30_000;
const RECORDS_PER_PARTITION = 20;

function check(condition: boolean, reason: () => string): void {
  if (!condition) throw new CheckFailed(reason());
}

function topicName(ctx: ScenarioContext, scenario: string): string {
  return `compat-${ctx.client.id}-${scenario}`;
}

/** Timestamps a little in the past, whole seconds, so they are recognisable and never "in the future". */
function baseTimestamp(): number {
  return Math.floor((Date.now() - 60_000) / 1000) * 1000;
}

function records(ctx: ScenarioContext, tag: string, first = 0, count = RECORDS_PER_PARTITION): ExpectedRecord[] {
  const own = ctx.client.perRecordHeadersAndTimestamps;
  return recordSet({ tag, first, count, baseTimestamp: own ? baseTimestamp() : null, perRecordHeaders: own });
}

function checkIdempotentBatches(batches: StoredBatch[], what: string): void {
  for (let p = 0; p < PARTITIONS; p++) {
    const mine = batches.filter((b) => b.partition === p).sort((a, b) => a.baseOffset - b.baseOffset);
    let expectedSequence = 0;
    let producer: number | undefined;
    for (const b of mine) {
      check(
        b.producerId >= 0 && b.producerEpoch >= 0,
        () =>
          `${what}: partition ${p} batch at offset ${b.baseOffset} has no producer id (${b.producerId}/${b.producerEpoch}): the producer is not idempotent`,
      );
      if (producer !== undefined && b.producerId !== producer) expectedSequence = 0;
      producer = b.producerId;
      check(
        b.baseSequence === expectedSequence,
        () =>
          `${what}: partition ${p} batch at offset ${b.baseOffset} has base sequence ${b.baseSequence}, expected ${expectedSequence}`,
      );
      expectedSequence += b.recordCount;
    }
  }
}

function produceScenario(
  id: ScenarioId,
  codec: Codec,
  idempotence: 'default' | 'on',
  title: string,
  description: string,
): Scenario {
  return {
    id,
    title,
    description,
    async run(ctx) {
      const topic = topicName(ctx, id);
      await createTopic(ctx.target, topic, PARTITIONS);
      const expected = records(ctx, `${ctx.client.id}-${id}`);
      const from = Date.now();
      ctx.step(`producing ${expected.length} records (${codec}, idempotence ${idempotence})`);
      const produced = await ctx.drive<ProduceResult>('produce', {
        bootstrap: ctx.target.bootstrap,
        topic,
        records: specs(expected),
        compression: codec,
        idempotence,
      } satisfies ProduceTask);
      const window = { from: from - 1000, to: Date.now() + 1000 };
      for (const d of produced.delivered ?? []) {
        if (d === null) continue;
        const want = expected[d.index];
        check(
          d.partition === want.partition && d.offset === want.offset,
          () =>
            `the producer reported record ${d.index} at ${d.partition}@${d.offset}, expected ${want.partition}@${want.offset}`,
        );
      }

      const s = await stored(ctx.target, topic);
      const diff = compareRecords(s.records, expected, window);
      check(diff === null, () => `stored records differ: ${diff}`);
      const codecs = new Set(s.batches.map((b) => b.codec ?? 'none'));
      check(
        codecs.size === 1 && codecs.has(codec),
        () => `stored batches use ${[...codecs].join(', ')}, expected ${codec}`,
      );
      if (codec !== 'none')
        check(
          s.batches.some((b) => b.recordCount > 1),
          () => `every stored batch holds one record: nothing shows ${codec} batches of several records work`,
        );
      if (idempotence === 'on' || ctx.client.idempotentByDefault)
        checkIdempotentBatches(
          s.batches,
          idempotence === 'on' ? 'idempotent producer' : 'default producer (idempotent by default)',
        );

      ctx.step('reading them back with the same client');
      const read = await ctx.drive<ReadResult>('read', {
        bootstrap: ctx.target.bootstrap,
        topic,
        endOffsets: endOffsets(expected),
        deadlineMs: READ_DEADLINE_MS,
      } satisfies ReadTask);
      const readDiff = compareRecords(read.records ?? [], expected, window);
      check(readDiff === null, () => `read back by the client: ${readDiff}`);
    },
  };
}

const group: Scenario = {
  id: 'group',
  title: 'group',
  description:
    'A topic of 3 × 20 records is seeded; a member subscribes in a new group (earliest), reads all 60 committing as it goes, and leaves; ' +
    '5 more records per partition are seeded and a second member of the same group must read exactly those (offsets 20–24); the broker is ' +
    'restarted (SIGTERM, same data) and 5 more per partition are seeded: a third member must read exactly offsets 25–29. The committed ' +
    'offsets (OffsetFetch) must be 20, 25 and 30 after each member.',
  async run(ctx) {
    const topic = topicName(ctx, 'group');
    const groupId = `compat-${ctx.client.id}-readers`;
    await createTopic(ctx.target, topic, PARTITIONS);
    const tag = `${ctx.client.id}-group`;
    const ts = baseTimestamp();
    const phases = [
      {
        first: 0,
        count: RECORDS_PER_PARTITION,
        what: 'first member (new group, from the earliest offset)',
        restartBefore: false,
      },
      {
        first: RECORDS_PER_PARTITION,
        count: 5,
        what: 'second member (resumes from the committed offsets)',
        restartBefore: false,
      },
      { first: RECORDS_PER_PARTITION + 5, count: 5, what: 'third member, after a broker restart', restartBefore: true },
    ];
    for (const phase of phases) {
      if (phase.restartBefore) {
        ctx.step('restarting the broker');
        await ctx.target.restart();
      }
      const expected = recordSet({
        tag,
        first: phase.first,
        count: phase.count,
        baseTimestamp: ts,
        perRecordHeaders: true,
      });
      await seed(ctx.target, topic, specs(expected));
      ctx.step(`${phase.what}: reading ${expected.length} records`);
      const got = await ctx.drive<GroupResult>('group', {
        bootstrap: ctx.target.bootstrap,
        topic,
        groupId,
        count: expected.length,
        deadlineMs: READ_DEADLINE_MS,
      } satisfies GroupTask);
      const diff = compareRecords(got.records ?? [], expected);
      check(diff === null, () => `${phase.what}: ${diff}`);
      const end = phase.first + phase.count;
      if (got.committed) {
        const own = [...Array(PARTITIONS).keys()].map((p) => got.committed![String(p)] ?? null);
        check(
          own.every((o) => o === end),
          () =>
            `${phase.what}: the client sees committed offsets ${JSON.stringify(own)}, expected ${end} for each partition`,
        );
      }
      const committed = await committedOffsets(ctx.target, groupId, topic, PARTITIONS);
      check(
        committed.every((o) => o === end),
        () =>
          `${phase.what}: committed offsets ${JSON.stringify(committed)} after it left, expected ${end} for each partition`,
      );
    }
  },
};

async function until(
  what: string,
  timeoutMs: number,
  condition: () => Promise<boolean> | boolean,
  describeState: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end)
      throw new CheckFailed(`timed out after ${timeoutMs / 1000} s waiting until ${what}: ${describeState()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const balanced: Scenario = {
  id: 'balanced',
  title: 'balanced group',
  description:
    'Two members of one group, each its own process, subscribe to a topic of 3 × 20 seeded records. Once their assignments are disjoint, ' +
    'cover the 3 partitions and everything read is committed (20 per partition), 5 more records per partition are seeded; when those are ' +
    'committed too, both are told to leave. Together they must have read offsets 0–19 of every partition at least once (a rebalance while the ' +
    'group forms may redeliver what was not committed yet, as Kafka allows), identical each time, and offsets 20–24 exactly once, in order, ' +
    'each from the member that owns the partition.',
  async run(ctx) {
    const topic = topicName(ctx, 'balanced');
    const groupId = `compat-${ctx.client.id}-balanced`;
    await createTopic(ctx.target, topic, PARTITIONS);
    const tag = `${ctx.client.id}-balanced`;
    const ts = baseTimestamp();
    const first = recordSet({ tag, first: 0, count: RECORDS_PER_PARTITION, baseTimestamp: ts, perRecordHeaders: true });
    const more = recordSet({ tag, first: RECORDS_PER_PARTITION, count: 5, baseTimestamp: ts, perRecordHeaders: true });
    await seed(ctx.target, topic, specs(first));

    const stopFile = ctx.tempFile('stop');
    const assigned: number[][] = [[], []];
    const assignedAfterStop: number[][][] = [[], []];
    let stopWritten = false;
    const task = (): MemberTask => ({ bootstrap: ctx.target.bootstrap, topic, groupId, stopFile, deadlineMs: 60_000 });
    ctx.step('starting two members');
    const members = [0, 1].map((i) =>
      ctx.drive<MemberResult>('member', task(), (e) => {
        if (e.event !== 'assigned') return;
        assigned[i] = e.partitions as number[];
        if (stopWritten) assignedAfterStop[i].push(assigned[i]);
      }),
    );
    // A member failing early ends the wait with its error.
    let failed: Error | undefined;
    for (const m of members) {
      m.catch((e: Error) => (failed ??= e));
    }
    let committed: number[] = [];
    const state = () => `assignments ${JSON.stringify(assigned)}, committed ${JSON.stringify(committed)}`;
    const isBalanced = () => {
      const all = assigned.flat().sort((a, b) => a - b);
      return (
        assigned.every((a) => a.length > 0) && JSON.stringify(all) === JSON.stringify([...Array(PARTITIONS).keys()])
      );
    };
    const committedAll = (end: number) => async () => {
      if (failed) throw failed;
      if (!isBalanced()) return false;
      committed = await committedOffsets(ctx.target, groupId, topic, PARTITIONS);
      return committed.every((o) => o === end);
    };
    let owners: number[][] = [];
    let atStop: number[][] = [];
    try {
      await until(
        'both members share the partitions and have committed what they read',
        45_000,
        committedAll(RECORDS_PER_PARTITION),
        state,
      );
      owners = assigned.map((a) => [...a]);
      ctx.step(`balanced: ${JSON.stringify(owners)}; seeding 5 more records per partition`);
      await seed(ctx.target, topic, specs(more));
      await until('the new records are committed', 30_000, committedAll(RECORDS_PER_PARTITION + 5), state);
      atStop = assigned.map((a) => [...a]);
    } finally {
      stopWritten = true;
      await writeFile(stopFile, 'stop\n');
    }
    const results = await Promise.all(members);
    check(
      JSON.stringify(atStop) === JSON.stringify(owners),
      () =>
        `the assignments changed from ${JSON.stringify(owners)} to ${JSON.stringify(atStop)} with no member joining or leaving`,
    );
    // The member that sees the stop file first leaves, and the other may be rebalanced onto every
    // partition before it sees the file too: that later assignment is a right answer as well.
    const finals = results.map((r) => r.assignment ?? []);
    finals.forEach((final, i) => {
      const said = [owners[i], ...assignedAfterStop[i]].map((a) => JSON.stringify(a));
      check(
        said.includes(JSON.stringify(final)),
        () =>
          `member ${i + 1} reports assignment ${JSON.stringify(final)} when told to stop, its rebalance callbacks said ${said.join(', then ')}`,
      );
    });
    // The first records are read while the group forms: a rebalance may hand a partition over
    // before the commits of what was delivered, and Kafka then redelivers (at least once). The
    // records seeded after the group settled must be read exactly once, in order, by their owner.
    const firstRead = new Map<string, { member: number; record: ReadRecord }>();
    results.forEach((r, i) => {
      const settled = (r.records ?? []).filter((x) => x.offset >= RECORDS_PER_PARTITION);
      const order = orderProblem(settled);
      check(order === null, () => `member ${i + 1}: ${order}`);
      for (const x of r.records ?? []) {
        const at = `${x.partition}@${x.offset}`;
        const earlier = firstRead.get(at);
        if (earlier === undefined) firstRead.set(at, { member: i, record: x });
        else if (x.offset >= RECORDS_PER_PARTITION)
          check(false, () => `record ${at} was read by member ${earlier.member + 1} and again by member ${i + 1}`);
        else
          check(
            JSON.stringify(x) === JSON.stringify(earlier.record),
            () =>
              `record ${at} was redelivered with different content: ${JSON.stringify(x)} after ${JSON.stringify(earlier.record)}`,
          );
        if (x.offset >= RECORDS_PER_PARTITION)
          check(
            finals[i].includes(x.partition),
            () => `member ${i + 1} read ${at} but partition ${x.partition} is assigned to the other member`,
          );
      }
    });
    const all = [...firstRead.values()]
      .map((f) => f.record)
      .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    const diff = compareRecords(
      all,
      [...first, ...more].sort((a, b) => a.partition - b.partition || a.offset - b.offset),
    );
    check(diff === null, () => `together: ${diff}`);
  },
};

const TOPIC_KEYS = ['cleanup.policy', 'retention.bytes', 'retention.ms'];
const BROKER_KEYS = ['num.partitions', 'offsets.topic.replication.factor'];

const admin: Scenario = {
  id: 'admin',
  title: 'admin',
  description:
    'Create a topic (3 partitions, retention.ms=86400000), create it again (TOPIC_ALREADY_EXISTS), list and describe it (leader, replicas, ISR), ' +
    'describe the cluster (id, controller, nodes), describe its configs (values and sources), set retention.bytes and remove the retention.ms override ' +
    '(IncrementalAlterConfigs; AlterConfigs for kafkajs, which has no incremental form), describe again, an invalid value (INVALID_CONFIG), ' +
    'describe broker configs, delete the topic and list again.',
  async run(ctx) {
    const topic = topicName(ctx, 'admin');
    const rf = Math.min(3, ctx.target.nodes.length);
    const cluster = await clusterInfo(ctx.target);
    ctx.step('running the admin steps');
    const got = await ctx.drive<AdminResult>('admin', {
      bootstrap: ctx.target.bootstrap,
      topic,
      partitions: PARTITIONS,
      replicationFactor: rf,
      topicConfigKeys: TOPIC_KEYS,
      brokerConfigKeys: BROKER_KEYS,
    } satisfies AdminTask);
    const nodeIds = ctx.target.nodes.map((n) => n.id);
    const expected: Record<string, unknown> = {
      create: 'ok',
      createdPartitions: PARTITIONS,
      createAgain: 'TOPIC_ALREADY_EXISTS',
      listed: true,
      cluster: {
        clusterId: cluster.clusterId,
        controller: cluster.controllerId,
        nodes: [...ctx.target.nodes].sort((a, b) => a.id - b.id).map((n) => ({ id: n.id, host: n.host, port: n.port })),
      },
      topicConfigs: {
        'cleanup.policy': ['delete', 'DEFAULT_CONFIG'],
        'retention.bytes': ['-1', 'DEFAULT_CONFIG'],
        'retention.ms': ['86400000', 'DYNAMIC_TOPIC_CONFIG'],
      },
      topicConfigsAltered: {
        'cleanup.policy': ['delete', 'DEFAULT_CONFIG'],
        'retention.bytes': ['1048576', 'DYNAMIC_TOPIC_CONFIG'],
        'retention.ms': ['604800000', 'DEFAULT_CONFIG'],
      },
      alterInvalid: 'INVALID_CONFIG',
      brokerConfigs: Object.fromEntries(
        BROKER_KEYS.map((k) => [
          k,
          ctx.target.staticConfig[k] !== undefined
            ? [ctx.target.staticConfig[k], 'STATIC_BROKER_CONFIG']
            : [k === 'num.partitions' ? '1' : null, 'DEFAULT_CONFIG'],
        ]),
      ),
      delete: 'ok',
      listedAfterDelete: false,
    };
    const wrong: string[] = [];
    for (const [k, v] of Object.entries(expected)) {
      const have = (got as Record<string, unknown>)[k];
      const sorted = (x: unknown) =>
        x && typeof x === 'object' && !Array.isArray(x)
          ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
          : x;
      if (JSON.stringify(sorted(have)) !== JSON.stringify(sorted(v)))
        wrong.push(`${k}: ${JSON.stringify(have)}, expected ${JSON.stringify(v)}`);
    }
    const partitions = got.partitions ?? [];
    check(partitions.length === PARTITIONS, () => `described ${partitions.length} partitions, expected ${PARTITIONS}`);
    partitions.forEach((p, i) => {
      const ok =
        p.partition === i &&
        p.replicas.length === rf &&
        p.replicas.every((r) => nodeIds.includes(r)) &&
        p.leader !== null &&
        p.replicas.includes(p.leader) &&
        JSON.stringify(p.isr) === JSON.stringify(p.replicas);
      if (!ok)
        wrong.push(
          `partition ${i}: ${JSON.stringify(p)}, expected ${rf} replica(s) among ${JSON.stringify(nodeIds)}, the leader one of them, all in sync`,
        );
    });
    check(wrong.length === 0, () => wrong.join('; '));
  },
};

export const SCENARIOS: readonly Scenario[] = [
  produceScenario(
    'produce',
    'none',
    'default',
    'produce',
    "The client's default producer (acks=all) sends 3 partitions × 20 keyed records with headers and timestamps; the offsets it reports, the " +
      'records stored (read with raw Fetch) and the records it reads back itself (assigned partitions, no group) must match exactly. For the ' +
      'Java client, whose default producer is idempotent, every stored batch must carry a producer id with sequences from 0.',
  ),
  produceScenario(
    'idempotent',
    'none',
    'on',
    'idempotent',
    'As produce, with idempotence turned on explicitly: every stored batch carries a producer id and its sequences run from 0 without gaps.',
  ),
  ...(['gzip', 'snappy', 'lz4', 'zstd'] as const).map((codec) =>
    produceScenario(
      codec,
      codec,
      'default',
      codec,
      `As produce, compressed with ${codec}: every stored batch must be ${codec} (at least one of several records), and read back exactly.`,
    ),
  ),
  group,
  balanced,
  admin,
];
