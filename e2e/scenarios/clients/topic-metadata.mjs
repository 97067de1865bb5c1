// A topic's partitions as the cluster reports them to an admin client (Metadata): each one's
// leader, replicas and in-sync replicas.
//
//   node --input-type=module -e "$(cat topic-metadata.mjs)" <bootstrap> <topic>
//
// Prints one JSON object: { "brokers": [<id>...], "controller": <id>,
// "partitions": [{ "partition", "leader", "leaderEpoch", "replicas", "isr" }, ...] } in partition
// order. Exits 1 (with the error on stderr) if the topic is not in the answer.

import { Admin } from '@platformatic/kafka';

const [bootstrap, topic] = process.argv.slice(1);
if (!bootstrap || !topic) {
  process.stderr.write('usage: topic-metadata <bootstrap> <topic>\n');
  process.exit(2);
}
const admin = new Admin({ clientId: 'e2e-topic-metadata', bootstrapBrokers: [bootstrap], retries: 5, retryDelay: 500 });
try {
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const t = metadata.topics.get(topic);
  if (!t) throw new Error(`topic ${topic} is not in the metadata`);
  const result = {
    brokers: [...metadata.brokers.keys()].sort((a, b) => a - b),
    controller: metadata.controllerId,
    partitions: t.partitions.map((p, partition) => ({
      partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
    })),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (e) {
  process.stderr.write(`${e?.message ?? e}\n`);
  process.exitCode = 1;
} finally {
  await admin.close();
}
