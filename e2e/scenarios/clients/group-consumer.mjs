// A consumer group member that keeps reading while partitions move between brokers, and says
// exactly what it was given.
//
//   node --input-type=module -e "$(cat group-consumer.mjs)" <bootstrap> <topic> <group>
//
// Reads from the group's committed offsets (the earliest when none), commits each record after it
// is printed (`rec <key> <partition> <offset>`), until stdin ends or says "stop"; then prints
// `done <records>`. A failed stream is reported (`error <message>`) and the member joins again from
// the committed offsets: records after the last commit come again (at-least-once), none is skipped.
// Uses @platformatic/kafka, which the images carry (kafkajs is a dev dependency).

import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka';

const [bootstrap, topic, groupId] = process.argv.slice(1);
if (!bootstrap || !topic || !groupId) {
  process.stderr.write('usage: group-consumer <bootstrap> <topic> <group>\n');
  process.exit(2);
}

const out = (line) => process.stdout.write(line.replace(/\s+/g, ' ') + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A client that failed may never finish closing: give it a few seconds. */
const closeWithin = (closing) => Promise.race([Promise.resolve(closing).catch(() => undefined), sleep(5_000)]);

let stopping = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (d.includes('stop')) stopping = true;
});
process.stdin.on('end', () => (stopping = true));

// @platformatic/kafka 1.35 can throw from inside its connection pool when metadata names a broker
// that has left the cluster (`Cannot read properties of undefined (reading 'host')`, seen after a
// scale-down): nothing of ours can catch it, so it counts as a failed stream and the member joins
// again from the committed offsets.
let crashed;
process.on('uncaughtException', (e) => (crashed = e));
const untilCrashed = async () => {
  while (!crashed && !stopping) await sleep(100);
  if (crashed) throw crashed;
  return new Promise(() => undefined);
};

let records = 0;
while (!stopping) {
  crashed = undefined;
  const consumer = new Consumer({
    clientId: 'e2e-group-consumer',
    groupId,
    bootstrapBrokers: [bootstrap],
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10_000,
    // Few retries: this client retries a fetch on the broker it had, also one that has left the
    // cluster, without asking for metadata again; failing soon and joining again finds the leaders.
    retries: 3,
    retryDelay: 250,
    connectTimeout: 3_000,
  });
  let failure;
  try {
    const stream = await Promise.race([
      consumer.consume({
        topics: [topic],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
        autocommit: false,
        maxWaitTime: 500,
      }),
      untilCrashed(),
    ]);
    stream.on('data', (m) => {
      out(`rec ${m.key?.toString()} ${m.partition} ${m.offset}`);
      records++;
      stream.pause();
      Promise.resolve(m.commit()).then(
        () => stream.resume(),
        (e) => {
          failure = e;
          stream.resume();
        },
      );
    });
    stream.on('error', (e) => (failure = e));
    while (!stopping && !failure && !crashed) await sleep(100);
    failure ??= crashed;
    await closeWithin(stream.close());
  } catch (e) {
    failure = e;
  }
  await closeWithin(consumer.close());
  if (failure) {
    out(`error ${failure?.code ?? ''} ${failure?.message ?? failure}`);
    await sleep(1000);
  }
}
// A client that crashed may still hold sockets open: leave once the last line is written.
process.stdout.write(`done ${records}\n`, () => process.exit(0));
