import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { kcat } from '../kcat.js';

const MEMBER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/broker/test/group-member.js');
const WAIT_MS = 45_000;

interface MemberProcess {
  child: ChildProcess;
  /** Latest assignment reported, and every record seen. */
  assigned: number[] | undefined;
  records: Array<{ partition: number; offset: number; key: string }>;
}

/** A line group-member.ts prints. */
type MemberEvent =
  { event: 'assigned'; partitions: number[] } | { event: 'record'; partition: number; offset: number; key: string };

function startMember(bootstrap: string, groupId: string, topic: string): MemberProcess {
  const child = spawn(process.execPath, [MEMBER, bootstrap, groupId, topic], { stdio: ['ignore', 'pipe', 'inherit'] });
  const member: MemberProcess = { child, assigned: undefined, records: [] };
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const e = JSON.parse(line) as MemberEvent;
      if (e.event === 'assigned') member.assigned = e.partitions;
      else member.records.push(e);
    }
  });
  return member;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ownsEachPartitionOnce(members: MemberProcess[], partitions: number): boolean {
  const owned = members.flatMap((m) => m.assigned ?? []).sort((a, b) => a - b);
  return owned.length === partitions && owned.every((p, i) => p === i);
}

describe('consumer groups with real clients', () => {
  let broker: BrokerProcess;
  const members: MemberProcess[] = [];

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'num.partitions': '6' } });
  });
  afterAll(async () => {
    for (const m of members) m.child.kill('SIGKILL');
    await broker?.stop();
  });

  it("kafkajs: three members share six partitions; a killed member's partitions move after its session times out", async () => {
    const topic = 'group-orders';
    const kafka = new Kafka({ clientId: 'group-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
    await admin.disconnect();

    for (let i = 0; i < 3; i++) members.push(startMember(broker.bootstrap, 'orders-app', topic));
    await until(
      'three members own every partition exactly once',
      () => members.every((m) => (m.assigned?.length ?? 0) > 0) && ownsEachPartitionOnce(members, 6),
    );

    const producer = kafka.producer();
    await producer.connect();
    const send = async (from: number, count: number) => {
      const messages = Array.from({ length: count }, (_, i) => ({
        key: `k${from + i}`,
        value: `v${from + i}`,
        partition: (from + i) % 6,
      }));
      await producer.send({ topic, acks: -1, messages });
    };
    await send(0, 300);
    const seen = () => new Set(members.flatMap((m) => m.records.map((r) => r.key)));
    await until('the first 300 records are consumed', () => seen().size === 300);

    const victim = members[0];
    const victimPartitions = new Set(victim.assigned);
    victim.child.kill('SIGKILL');
    const survivors = members.slice(1);
    await until('the two survivors own every partition exactly once', () => ownsEachPartitionOnce(survivors, 6));
    await send(300, 300);
    await until('all 600 records are consumed', () => seen().size === 600);
    await producer.disconnect();

    // Duplicates come only from partitions the killed member owned (offsets it had not committed).
    const counts = new Map<string, { partition: number; n: number }>();
    for (const r of members.flatMap((m) => m.records)) {
      const c = counts.get(r.key) ?? { partition: r.partition, n: 0 };
      c.n++;
      counts.set(r.key, c);
    }
    for (const { partition, n } of counts.values()) if (n > 1) expect(victimPartitions).toContain(partition);
    // Each survivor saw its partitions' records in offset order.
    for (const m of survivors) {
      const byPartition = new Map<number, number[]>();
      for (const r of m.records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset]);
      for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  });

  it('kcat balanced consumer (-G) resumes from its committed offsets after the broker restarts', async () => {
    const topic = 'kcat-group';
    const produce = async (from: number, count: number) => {
      const lines = Array.from({ length: count }, (_, i) => `k${from + i}:v${from + i}`).join('\n') + '\n';
      const r = await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-K:', '-X', 'acks=all'], lines);
      expect(r.code, r.stderr).toBe(0);
    };
    const consume = async () => {
      const r = await kcat([
        '-b',
        broker.bootstrap,
        '-G',
        'kcat-readers',
        topic,
        '-e',
        '-f',
        '%k\\n',
        '-X',
        'auto.offset.reset=earliest',
      ]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    await produce(0, 30);
    expect(await consume()).toHaveLength(30);

    const port = broker.port;
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir: broker.dataDir, port, overrides: { 'num.partitions': '6' } });
    await produce(30, 10);
    expect(await consume()).toEqual(Array.from({ length: 10 }, (_, i) => `k${30 + i}`).sort());
  });
});
