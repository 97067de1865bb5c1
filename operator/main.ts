// The operator process: configuration from the environment, leader election, the controllers,
// an HTTP endpoint for probes and metrics, and a graceful exit on SIGTERM.

import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { ConfigError, loadConfig, type OperatorConfig } from './runtime/config.js';
import { startHttpServer } from './runtime/http.js';
import { LeaderElector } from './runtime/leader.js';
import { OperatorMetrics } from './runtime/metrics.js';
import { startControllers, type RunningControllers } from './runtime/operator.js';

const LEASE_NAME = 'runnel-operator';
const LEASE_DURATION_SECONDS = 15;
const LEASE_RENEW_INTERVAL_MS = 5_000;

let config: OperatorConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}

const log = pino({ level: config.logLevel, base: { component: 'runnel-operator', identity: config.identity } });
const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();
const metrics = new OperatorMetrics();
let controllers: RunningControllers | undefined;
// A standby replica is healthy: ready means "caches synced" only once it leads.
const server = await startHttpServer(config.httpPort, metrics, () => controllers?.synced() ?? true, log);
const elector = config.leaderElection
  ? new LeaderElector(kubeConfig, { namespace: config.namespace, name: LEASE_NAME, identity: config.identity, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewIntervalMs: LEASE_RENEW_INTERVAL_MS, log })
  : undefined;

let stopping = false;
async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ reason }, 'shutting down');
  await controllers?.stop();
  await elector?.release();
  server.close();
  log.info('stopped');
  process.exit(exitCode);
}
process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
process.once('SIGINT', () => void shutdown('SIGINT', 0));

metrics.leader.set(0);
const leading = elector ? await elector.acquire(() => void shutdown('leadership lost', 1)) : true;
if (leading && !stopping) {
  metrics.leader.set(1);
  log.info({ watchNamespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces : 'all' }, 'starting controllers');
  controllers = startControllers({ config, kubeConfig, log, metrics });
}
