// Cluster benchmark (`npm run bench:cluster`): on a local cluster of three combined nodes,
//  - metadata propagation: CreateTopics acknowledged by one broker → the topic (with a leader for
//    every partition) in the Metadata answer of every broker;
//  - active-controller failover: kill -9 of the quorum leader → the first CreateTopics another
//    broker answers successfully; the killed node then restarts and rejoins before the next round;
//    the same for SIGTERM (a controlled shutdown: the leader resigns and hands over).
// Prints the medians and ranges; CLUSTER_BENCH_ROUNDS sets the number of rounds (default 10 / 5).

import { ErrorCode } from '../protocol/errors.js';
import { CreateTopics, DescribeQuorum, Metadata } from '../protocol/messages/index.js';
import { RawConnection } from '../test/raw-client.js';
import { startCluster, type TestCluster } from '../test/cluster-processes.js';
import { summarize } from './stats.js';

const PROPAGATION_ROUNDS = Number(process.env.CLUSTER_BENCH_ROUNDS ?? 10);
const FAILOVER_ROUNDS = Math.max(1, Math.round(PROPAGATION_ROUNDS / 2));
const POLL_MS = 2;
const GIVE_UP_MS = 60_000;

async function createTopic(c: RawConnection, name: string, partitions: number): Promise<number> {
  const res = await c.request(CreateTopics, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  return res.topics[0].errorCode;
}

async function hasTopicWithLeaders(c: RawConnection, name: string, partitions: number): Promise<boolean> {
  const res = await c.request(Metadata, 12, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  const t = res.topics[0];
  return (
    t?.errorCode === ErrorCode.NONE && t.partitions.length === partitions && t.partitions.every((p) => p.leaderId >= 0)
  );
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + GIVE_UP_MS;
  for (;;) {
    const result = await attempt().catch(() => undefined);
    if (result !== undefined) return result;
    if (performance.now() > deadline) throw new Error(`gave up after ${GIVE_UP_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function quorumLeader(c: RawConnection): Promise<number | undefined> {
  const res = await c.request(DescribeQuorum, 2, {
    topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
  });
  const leader = res.topics[0]?.partitions[0]?.leaderId ?? -1;
  return leader >= 0 ? leader : undefined;
}

async function propagation(cluster: TestCluster): Promise<number[]> {
  const conns = await Promise.all(cluster.nodes.map((n) => RawConnection.open(n.clientPort!)));
  const samples: number[] = [];
  try {
    for (let round = 0; round < PROPAGATION_ROUNDS; round++) {
      const name = `propagation-${round}`;
      const via = conns[round % conns.length];
      if ((await createTopic(via, name, 6)) !== ErrorCode.NONE) throw new Error(`could not create ${name}`);
      const acknowledged = performance.now();
      await Promise.all(
        conns.map((c) =>
          until(`${name} on every broker`, async () => ((await hasTopicWithLeaders(c, name, 6)) ? true : undefined)),
        ),
      );
      samples.push(performance.now() - acknowledged);
    }
  } finally {
    for (const c of conns) c.close();
  }
  return samples;
}

/** Stops the quorum leader (SIGKILL, or SIGTERM: a controlled shutdown that resigns) and times the first CreateTopics after. */
async function failover(cluster: TestCluster, how: 'kill' | 'stop'): Promise<number[]> {
  const samples: number[] = [];
  for (let round = 0; round < FAILOVER_ROUNDS; round++) {
    const probe = await RawConnection.open(cluster.nodes[0].clientPort!);
    const leader = await until('a quorum leader', () => quorumLeader(probe));
    probe.close();
    const survivor = cluster.nodes.find((n) => n.nodeId !== leader)!;
    let c = await RawConnection.open(survivor.clientPort!);
    const killed = performance.now();
    // A clean stop is timed from SIGTERM, while the node still shuts down.
    const stopping = how === 'kill' ? cluster.kill(leader) : cluster.stop(leader);
    if (how === 'kill') await stopping;
    // As a client would: a closed connection is opened again, a retriable error retried.
    await until('CreateTopics after the failover', async () => {
      if (!c.open) c = await RawConnection.open(survivor.clientPort!);
      return (await createTopic(c, `failover-${how}-${round}`, 1)) === ErrorCode.NONE ? true : undefined;
    });
    samples.push(performance.now() - killed);
    await stopping;
    c.close();
    await cluster.restart(leader);
  }
  return samples;
}

function line(what: string, samples: number[]): string {
  const s = summarize(samples)!;
  return `${what}: median ${s.p50.toFixed(1)} ms, min ${Math.min(...samples).toFixed(1)} ms, max ${s.max.toFixed(1)} ms (${s.count} rounds)`;
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 3 });
  try {
    console.log(
      line(
        'metadata propagation (CreateTopics ack → visible with leaders on all 3 brokers)',
        await propagation(cluster),
      ),
    );
    console.log(
      line('active controller failover (kill -9 → first successful CreateTopics)', await failover(cluster, 'kill')),
    );
    console.log(
      line('active controller handover (SIGTERM → first successful CreateTopics)', await failover(cluster, 'stop')),
    );
  } finally {
    await cluster.stopAll();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
