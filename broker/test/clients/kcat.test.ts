import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { kcat, kcatConsumeAll, type KcatRecord } from '../kcat.js';
import { PARTITIONS, RECORDS_PER_PARTITION, byPartitionAndOffset, expectedRecords } from '../scenario.js';

const TOPIC = 'kcat-orders';

/** kcat prints headers as a flat [k1, v1, k2, v2] list. */
function pairs(flat: string[] | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < (flat ?? []).length; i += 2) out.push([flat![i], flat![i + 1]]);
  return out;
}

function comparable(records: KcatRecord[]) {
  return byPartitionAndOffset(records).map((r) => ({
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    value: r.payload,
    headers: pairs(r.headers),
    timestamp: r.ts,
    tstype: r.tstype,
  }));
}

describe('kcat (librdkafka) against the broker', () => {
  let broker: BrokerProcess;
  let firstRead: ReturnType<typeof comparable>;
  const producedFrom = Date.now();

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'num.partitions': String(PARTITIONS) } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('auto-creates a topic with num.partitions and produces keyed records with headers to each partition', async () => {
    const expected = expectedRecords('kcat');
    for (let p = 0; p < PARTITIONS; p++) {
      // kcat sets the same headers on every record of one invocation: one invocation per partition.
      const lines = expected.filter((r) => r.partition === p).map((r) => `${r.key}\t${r.value}`);
      const { code, stderr } = await kcat(
        [
          '-b',
          broker.bootstrap,
          '-P',
          '-t',
          TOPIC,
          '-p',
          String(p),
          '-K',
          '\t',
          '-H',
          `trace-id=t-${p}`,
          '-H',
          'source=kcat',
          '-X',
          'acks=all',
        ],
        lines.join('\n') + '\n',
      );
      expect(code, stderr).toBe(0);
    }
    const meta = await kcat(['-b', broker.bootstrap, '-L', '-t', TOPIC, '-J']);
    const topic = (JSON.parse(meta.stdout) as { topics: Array<{ partitions: unknown[] }> }).topics[0];
    expect(topic.partitions).toHaveLength(PARTITIONS);
  });

  it('consumes every record back with keys, values, headers, offsets and order intact', async () => {
    const records = await kcatConsumeAll(broker.bootstrap, TOPIC);
    firstRead = comparable(records);
    const expected = expectedRecords('kcat');
    expect(firstRead).toHaveLength(PARTITIONS * RECORDS_PER_PARTITION);
    firstRead.forEach((r, i) => {
      const e = expected[i];
      expect({ partition: r.partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers }).toEqual({
        partition: e.partition,
        offset: e.offset,
        key: e.key,
        value: e.value,
        headers: [
          ['trace-id', `t-${e.partition}`],
          ['source', 'kcat'],
        ],
      });
      expect(r.tstype).toBe('create');
      expect(r.timestamp).toBeGreaterThanOrEqual(producedFrom - 1000);
      expect(r.timestamp).toBeLessThanOrEqual(Date.now());
    });
  });

  it('reads the same records after a clean restart and after kill -9', async () => {
    const port = broker.port;
    expect(await broker.stop()).toBe(0);
    broker = await startBroker({ dataDir: broker.dataDir, port });
    expect(comparable(await kcatConsumeAll(broker.bootstrap, TOPIC))).toEqual(firstRead);

    await broker.kill9();
    broker = await startBroker({ dataDir: broker.dataDir, port });
    expect(comparable(await kcatConsumeAll(broker.bootstrap, TOPIC))).toEqual(firstRead);
  });

  it('reports OFFSET_OUT_OF_RANGE for an offset past the end', async () => {
    const { stdout, stderr } = await kcat([
      '-b',
      broker.bootstrap,
      '-C',
      '-t',
      TOPIC,
      '-p',
      '0',
      '-o',
      '1000',
      '-e',
      '-X',
      'auto.offset.reset=error',
    ]);
    expect(stdout + stderr).toMatch(/Offset out of range/i);
  });
});
