// The operator image's entry point. Without arguments: the operator process (configuration from
// the environment, leader election, the controllers, an HTTP endpoint for probes and metrics, a
// graceful exit on SIGTERM). `rack-init ...`: the brokers' rack init container (desired/rack.ts), from
// the same image so that it always matches the operator that configured it.

import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { RACK_INIT_COMMAND } from './desired/rack.js';
import { runRackInit } from './rack/init.js';
import { startControllers, type RunningControllers } from './controllers.js';
import { realClock } from './runtime/clock.js';
import { ConfigError, loadConfig, type OperatorConfig } from './runtime/config.js';
import { startHttpServer } from './runtime/http.js';
import { LeaderElector, kubeLeaseApi } from './runtime/leader.js';
import { OperatorMetrics } from './runtime/metrics.js';

// client-go's defaults: a standby takes over at the earliest 15 s after it last saw the lease
// renewed; a leader that could not renew for 10 s has stopped by then.
const LEASE_NAME = 'runnel-operator';
const LEASE_DURATION_SECONDS = 15;
const LEASE_RENEW_DEADLINE_MS = 10_000;
const LEASE_RETRY_PERIOD_MS = 2_000;

const [command, ...args] = process.argv.slice(2);
if (command === RACK_INIT_COMMAND) {
  process.exitCode = await runRackInit(args, process.env, pino({ base: { component: 'runnel-rack-init' } }));
} else if (command !== undefined) {
  process.stderr.write(
    `unknown command "${command}": run without arguments for the operator, or ${RACK_INIT_COMMAND} for the brokers' rack init container\n`,
  );
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
  const clock = realClock;
  const elector = config.leaderElection
    ? new LeaderElector(kubeLeaseApi(kubeConfig, config.namespace, LEASE_NAME), {
        lease: `${config.namespace}/${LEASE_NAME}`,
        identity: config.identity,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
        renewDeadlineMs: LEASE_RENEW_DEADLINE_MS,
        retryPeriodMs: LEASE_RETRY_PERIOD_MS,
        clock,
        log,
      })
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
  // A replica that lost the lease must not write another thing: a standby may lead already. So it
  // exits at once, abandoning the reconciles under way (each is idempotent; the new leader redoes them).
  function leadershipLost(): void {
    metrics.leader.set(0);
    log.error('exiting: leadership lost');
    process.exit(1);
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  metrics.leader.set(0);
  const leading = elector ? await elector.acquire(leadershipLost) : true;
  if (leading && !stopping) {
    metrics.leader.set(1);
    log.info(
      { watchNamespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces : 'all' },
      'starting controllers',
    );
    controllers = startControllers({ config, kubeConfig, log, metrics, clock });
  }
}
