// Operator configuration, from environment variables (the chart sets them).

import { hostname } from 'node:os';

export interface OperatorConfig {
  /** Namespaces to watch; empty means all. */
  watchNamespaces: string[];
  /** Namespace and name of this pod: where the leader Lease lives, and who holds it. */
  namespace: string;
  identity: string;
  leaderElection: boolean;
  brokerImage: string;
  /** This operator's own image: the brokers' rack init container runs it. */
  operatorImage: string;
  clusterDomain: string;
  logLevel: string;
  httpPort: number;
  resyncSeconds: number;
  workers: number;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export function loadConfig(env: NodeJS.ProcessEnv): OperatorConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) problems.push(`${name}=${raw}: expected an integer of at least ${min}`);
    return n;
  };
  const bool = (name: string, fallback: boolean) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw !== 'true' && raw !== 'false') problems.push(`${name}=${raw}: expected true or false`);
    return raw === 'true';
  };
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: expected one of ${LOG_LEVELS.join(', ')}`);
  const brokerImage = env.RUNNEL_BROKER_IMAGE ?? '';
  if (brokerImage === '')
    problems.push(
      'RUNNEL_BROKER_IMAGE is not set: it names the broker image that KafkaClusters without spec.image run',
    );
  const operatorImage = env.RUNNEL_OPERATOR_IMAGE ?? '';
  if (operatorImage === '')
    problems.push(
      "RUNNEL_OPERATOR_IMAGE is not set: it names the operator's own image, which brokers of clusters with spec.rack run as their init container",
    );
  const config: OperatorConfig = {
    watchNamespaces: (env.WATCH_NAMESPACES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    namespace: env.POD_NAMESPACE || 'default',
    identity: env.POD_NAME || hostname(),
    leaderElection: bool('LEADER_ELECTION', true),
    brokerImage,
    operatorImage,
    clusterDomain: env.CLUSTER_DOMAIN || 'cluster.local',
    logLevel,
    httpPort: int('HTTP_PORT', 8080, 0),
    resyncSeconds: int('RESYNC_SECONDS', 300, 1),
    workers: int('WORKERS', 4, 1),
  };
  if (problems.length > 0) throw new ConfigError(`invalid operator configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}
