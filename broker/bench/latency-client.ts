// Produce latency at a fixed rate, run as its own process:
//   node dist/broker/bench/latency-client.js '<LatencyJob as JSON>'
// One @platformatic/kafka Producer sends one record per send() call on a fixed schedule
// (open loop: a slow ack does not delay later sends) and times each send → ack with hrtime.
// Prints one JSON line (LatencyResult) on stdout.

import { Producer, ProduceAcks } from '@platformatic/kafka';
import { summarize, type LatencySummary } from './stats.js';

export interface LatencyJob {
  bootstrap: string;
  topic: string;
  recordsPerSecond: number;
  recordBytes: number;
  acks: number;
  warmupMs: number;
  durationMs: number;
  /** Requests the client lets wait for a response at once (its maxInflights). */
  maxInflights: number;
}

export interface LatencyResult {
  job: LatencyJob;
  sent: number;
  acked: number;
  errors: number;
  firstError: string | null;
  /** Records per second actually sent during the measured window. */
  achievedRate: number;
  /** send() → ack, ms, over the measured window. */
  latencyMs: LatencySummary | null;
  /** How late send() calls started against their schedule (timer granularity, a busy loop), ms. */
  scheduleLagMs: LatencySummary | null;
}

const ACKS: Record<number, number> = { 0: ProduceAcks.NO_RESPONSE, 1: ProduceAcks.LEADER, [-1]: ProduceAcks.ALL };

async function main(job: LatencyJob): Promise<LatencyResult> {
  const producer = new Producer({
    clientId: 'runnel-bench-latency',
    bootstrapBrokers: [job.bootstrap],
    acks: ACKS[job.acks],
    idempotent: false,
    retries: 0,
    maxInflights: job.maxInflights,
  });
  const value = Buffer.alloc(job.recordBytes, 'v');
  const intervalNs = 1e9 / job.recordsPerSecond;
  const total = Math.round(((job.warmupMs + job.durationMs) / 1000) * job.recordsPerSecond);
  const warmupCount = Math.round((job.warmupMs / 1000) * job.recordsPerSecond);
  const latencies = new Float64Array(total - warmupCount);
  const lags = new Float64Array(total - warmupCount);
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  let measuredStart = 0n;
  let measuredEnd = 0n;

  // Metadata and connection set-up happen on the first send, outside the schedule.
  await producer.send({ messages: [{ topic: job.topic, partition: 0, value }] });

  const start = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    let outstanding = 0;
    let scheduled = 0;
    const maybeDone = () => {
      if (scheduled === total && outstanding === 0) resolve();
    };
    const tick = () => {
      const now = process.hrtime.bigint();
      const elapsedNs = Number(now - start);
      while (scheduled < total && scheduled * intervalNs <= elapsedNs) {
        const i = scheduled++;
        const measured = i >= warmupCount;
        if (i === warmupCount) measuredStart = process.hrtime.bigint();
        const sentAt = process.hrtime.bigint();
        if (measured) lags[i - warmupCount] = (Number(sentAt - start) - i * intervalNs) / 1e6;
        outstanding++;
        sent++;
        producer.send({ messages: [{ topic: job.topic, partition: 0, value }] }).then(
          () => {
            const ackAt = process.hrtime.bigint();
            acked++;
            if (measured) latencies[i - warmupCount] = Number(ackAt - sentAt) / 1e6;
            outstanding--;
            maybeDone();
          },
          (err: unknown) => {
            errors++;
            if (measured) latencies[i - warmupCount] = Number.NaN;
            firstError ??=
              err instanceof Error ? `${err.message}${err.cause ? `: ${describeCause(err.cause)}` : ''}` : String(err);
            outstanding--;
            maybeDone();
          },
        );
      }
      if (scheduled === total) {
        measuredEnd = process.hrtime.bigint();
        maybeDone();
        return;
      }
      const nextDueMs = (scheduled * intervalNs - Number(process.hrtime.bigint() - start)) / 1e6;
      setTimeout(tick, Math.max(0, Math.floor(nextDueMs)));
    };
    tick();
  });
  await producer.close();

  const ok = Array.from(latencies).filter((v) => !Number.isNaN(v));
  const windowS = Number(measuredEnd - measuredStart) / 1e9;
  return {
    job,
    sent,
    acked,
    errors,
    firstError,
    achievedRate: windowS > 0 ? latencies.length / windowS : 0,
    latencyMs: summarize(ok),
    scheduleLagMs: summarize(Array.from(lags)),
  };
}

/** An error's cause for the report: an Error or a primitive as String() has it, any other object as JSON. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error || typeof cause !== 'object' || cause === null) return String(cause);
  try {
    return JSON.stringify(cause);
  } catch {
    return Object.prototype.toString.call(cause);
  }
}

const job = JSON.parse(process.argv[2] ?? '') as LatencyJob;
main(job).then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`latency client failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
