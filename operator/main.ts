// The operator image's entry point. Without arguments: the operator process (configuration from
// the environment, leader election, the controllers, an HTTP endpoint for probes and metrics, a
// graceful exit on SIGTERM). `rack-init ...`: the brokers' rack init container (build/rack.ts), from
// the same image so that it always matches the operator that configured it.

import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { RACK_INIT_COMMAND } from './build/rack.js';
import { runRackInit } from './rack/init.js';
import { ConfigError, loadConfig, type OperatorConfig } from './runtime/config.js';
import { startHttpServer } from './runtime/http.js';
import { LeaderElector } from './runtime/leader.js';
import { OperatorMetrics } from './runtime/metrics.js';
import { startControllers, type RunningControllers } from './runtime/operator.js';

const LEASE_NAME = 'runnel-operator';
const LEASE_DURATION_SECONDS = 15;
const LEASE_RENEW_INTERVAL_MS = 5_000;

const [command, ...args] = process.argv.slice(2);
if (command === RACK_INIT_COMMAND) {
  process.exitCode = await runRackInit(args, process.env, pino({ base: { component: 'runnel-rack-init' } }));
} else if (command !== undefined) {
  process.stderr.write(`unknown command "${command}": run without arguments for the operator, or ${RACK_INIT_COMMAND} for the brokers' rack init container\n`);
  process.exitCode = 2;
} else {
  await runOperator();
}

async function runOperator(): Promise<void> {
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
}
