// What the compatibility matrix runs against: a set of brokers reached through a bootstrap
// list. Scenarios only use `bootstrap`, `nodes` and `restart()`, so a three-broker cluster is
// another implementation of `Target` (start each broker with its own node.id and port, restart
// them one by one) and nothing in the scenarios or drivers changes.

import { startBroker, type BrokerProcess } from '../broker-process.js';

export interface TargetNode {
  id: number;
  host: string;
  port: number;
}

export interface Target {
  /** What it is, for the report ("Runnel, 1 broker"). */
  readonly description: string;
  /** host:port,host:port,… as every client takes it. */
  readonly bootstrap: string;
  readonly nodes: readonly TargetNode[];
  /** Broker keys set explicitly on every broker (describeConfigs reports them as STATIC_BROKER_CONFIG). */
  readonly staticConfig: Readonly<Record<string, string>>;
  /** Stops every broker cleanly (SIGTERM) and starts it again on the same address and data. */
  restart(): Promise<void>;
  /** Stops every broker; resolves with the problems seen (non-zero exits, error log lines). */
  stop(): Promise<string[]>;
  /** Everything the brokers printed, for a failure's details. */
  output(): string;
}

/** Log lines at error level or above (pino: 50 error, 60 fatal) in a broker's JSON output. */
export function errorLines(output: string): string[] {
  return output.split('\n').filter((l) => /^\{.*"level":(5\d|6\d)[,}]/.test(l));
}

/** One Runnel broker process on loopback, with a fresh data directory. */
export async function startSingleBroker(overrides: Record<string, string> = {}): Promise<Target> {
  let broker: BrokerProcess = await startBroker({ overrides });
  let earlier = '';
  const problems: string[] = [];
  const nodeId = Number(overrides['node.id'] ?? 1);
  const node = { id: nodeId, host: '127.0.0.1', port: broker.port };
  const checkExit = (code: number | null) => {
    if (code !== 0) problems.push(`broker ${nodeId} exited with ${code} on SIGTERM`);
  };
  return {
    description: 'Runnel, 1 broker',
    bootstrap: broker.bootstrap,
    nodes: [node],
    // What startBroker sets, plus the caller's overrides.
    staticConfig: { 'offsets.topic.replication.factor': '1', 'group.initial.rebalance.delay.ms': '0', ...overrides },
    async restart() {
      checkExit(await broker.stop());
      earlier += broker.output();
      broker = await startBroker({ dataDir: broker.dataDir, port: node.port, overrides });
    },
    async stop() {
      checkExit(await broker.stop());
      const errors = errorLines(earlier + broker.output());
      if (errors.length > 0)
        problems.push(`broker ${nodeId} logged ${errors.length} error line(s), first: ${errors[0].slice(0, 400)}`);
      return problems;
    },
    output: () => earlier + broker.output(),
  };
}
