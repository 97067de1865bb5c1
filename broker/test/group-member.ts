// A kafkajs consumer-group member run as its own process by the group tests, so a test can
// kill it without a LeaveGroup. Prints one JSON line per event on stdout:
//   {"event":"assigned","partitions":[..]}   {"event":"record","partition":p,"offset":o,"key":k}
// Usage: node group-member.js <bootstrap> <groupId> <topic>

import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, groupId, topic] = process.argv.slice(2) as [string, string, string];
const SESSION_TIMEOUT_MS = 6000;

const kafka = new Kafka({ clientId: `member-${process.pid}`, brokers: [bootstrap], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({
  groupId,
  sessionTimeout: SESSION_TIMEOUT_MS,
  heartbeatInterval: 500,
  rebalanceTimeout: 10_000,
});
const emit = (event: object) => process.stdout.write(JSON.stringify(event) + '\n');

consumer.on(consumer.events.GROUP_JOIN, (e) => {
  emit({ event: 'assigned', partitions: e.payload.memberAssignment[topic] ?? [] });
});

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  autoCommitInterval: 200,
  eachMessage: ({ partition, message }) => {
    emit({ event: 'record', partition, offset: Number(message.offset), key: message.key?.toString() });
    return Promise.resolve();
  },
});
process.on('SIGTERM', () => {
  consumer.disconnect().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`group member: disconnect failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
});
