// Entry point: `node dist/broker/main.js --config server.properties [--override key=value]...`
// Logs are JSON lines (pino) on stdout. SIGTERM/SIGINT: stop accepting, finish in-flight
// requests, flush, exit 0.

import { pino } from 'pino';
import { ConfigError, loadBrokerConfig } from './config/broker-config.js';
import { BrokerNode } from './node.js';

const EXIT_BAD_CONFIG = 2;

async function main(): Promise<void> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid } });
  let loaded;
  try {
    loaded = loadBrokerConfig({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`runnel: ${err.message}\n`);
      process.exit(EXIT_BAD_CONFIG);
    }
    throw err;
  }
  for (const key of loaded.ignoredKeys) logger.warn({ key }, 'config key has no effect in Runnel');
  for (const warning of loaded.warnings) logger.warn(warning);

  // Handlers go in before start-up so that a SIGTERM during recovery still ends cleanly.
  let broker: BrokerNode | undefined;
  let stopRequested: string | undefined;
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'signal received');
    stopRequested = signal;
    broker?.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  // The broker's timers never hold the process (it lives as long as its listeners), but a
  // broker-only node opens no listener until it has reached the quorum: without this, one started
  // before the controllers answer would find nothing left to wait for and exit with 0.
  const startingUp = setInterval(() => undefined, 60_000);
  try {
    broker = await BrokerNode.start(loaded.config, logger);
  } finally {
    clearInterval(startingUp);
  }
  if (stopRequested) shutdown(stopRequested);
}

main().catch((err: unknown) => {
  process.stderr.write(`runnel: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
