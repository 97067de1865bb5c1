// A producer that keeps writing while brokers restart, and says exactly what was acknowledged.
//
//   node --input-type=module -e "$(cat acked-producer.mjs)" <bootstrap> <topic>
//
// Sends one record at a time (key k<n>, value v<n>) with acks=-1, idempotence and generous
// retries, until stdin ends or says "stop". Prints a line per record: `ack <key> <partition>
// <offset>` once acknowledged, `retry <key> <error>` for each failed attempt, `fail <key> <error>`
// if it gave up on the record (after three minutes), and finally `done <acked> <failed>`. The e2e
// suite runs it on the host (local mode) or in its client pod (existing cluster), from a directory
// whose node_modules has @platformatic/kafka.

import { Producer, ProduceAcks } from '@platformatic/kafka';

const [bootstrap, topic] = process.argv.slice(1);
if (!bootstrap || !topic) {
  process.stderr.write('usage: acked-producer <bootstrap> <topic>\n');
  process.exit(2);
}

/** The error with its causes (the client nests them in `errors` and `cause`). */
function describe(e) {
  const inner = [...(e?.errors ?? []), ...(e?.cause ? [e.cause] : [])].map(describe);
  return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? e}${inner.length ? ` [${inner.join('; ')}]` : ''}`;
}

/** How long one record is retried before the producer gives up on it. */
const RECORD_DEADLINE_MS = 180_000;
const out = (line) => process.stdout.write(line.replace(/\s+/g, ' ') + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stopping = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (d.includes('stop')) stopping = true;
});
process.stdin.on('end', () => (stopping = true));

const producer = new Producer({
  clientId: 'e2e-acked-producer',
  bootstrapBrokers: [bootstrap],
  idempotent: true,
  acks: ProduceAcks.ALL,
  // A broker restart takes seconds; give each record minutes before giving up on it.
  retries: 600,
  retryDelay: 250,
  timeout: 10_000,
  autocreateTopics: false,
});

let acked = 0;
let failed = 0;
for (let n = 0; !stopping; n++) {
  const key = `k${n}`;
  const giveUpAt = Date.now() + RECORD_DEADLINE_MS;
  for (;;) {
    try {
      const result = await producer.send({ messages: [{ topic, key: Buffer.from(key), value: Buffer.from(`v${n}`) }] });
      const o = result.offsets?.[0];
      out(`ack ${key} ${o?.partition} ${o?.offset}`);
      acked++;
      break;
    } catch (e) {
      if (Date.now() > giveUpAt) {
        out(`fail ${key} ${describe(e)}`);
        failed++;
        break;
      }
      // The client gives up at once on some errors a restart causes (a connect timeout to the old
      // pod address is not retriable in @platformatic/kafka): send the same record again. The
      // producer's sequence number did not move, so a copy the broker did store is deduplicated.
      out(`retry ${key} ${describe(e)}`);
      await sleep(250);
    }
  }
  // About a hundred records a second at most: enough to span a restart, little to read back.
  await sleep(10);
}
await producer.close();
out(`done ${acked} ${failed}`);
