// Broker configuration: a server.properties file, then `--override key=value` flags, then
// KAFKA_CFG_* environment variables (KAFKA_CFG_LOG_DIRS → log.dirs; `__` stands for `_`).
// Every key and value is checked up front; all problems are reported together.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BROKER_KEYS_BY_NAME, TOPIC_KEYS, checkValue, parseConnectionOverrides, suggestKey } from './keys.js';
import type { CompressionType, LogConfig } from '../log/partition-log.js';

export class ConfigError extends Error {}

export const ENV_PREFIX = 'KAFKA_CFG_';
/** Java's Long.MAX_VALUE (2^63 - 1) as the nearest double, 2^63: a config value of Long.MAX_VALUE parses to it. */
const LONG_MAX = 2 ** 63;

export interface Listener {
  name: string;
  host: string;
  port: number;
}

/** The group coordinator's settings (Kafka's GroupCoordinatorConfig keys), parsed once. */
export interface GroupCoordinatorConfig {
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  readonly initialRebalanceDelayMs: number;
  readonly offsetsTopicPartitions: number;
  readonly offsetsTopicReplicationFactor: number;
  /** offsets.retention.minutes, in ms. */
  readonly offsetsRetentionMs: number;
  readonly offsetsRetentionCheckIntervalMs: number;
}

export interface BrokerConfig {
  /** Keys set explicitly, as given (DescribeConfigs reports them as STATIC_BROKER_CONFIG). */
  readonly explicit: ReadonlyMap<string, string>;
  /** Effective value of a broker key: explicit, else Kafka's default. */
  get(name: string): string | null;
  readonly nodeId: number;
  readonly listeners: Listener[];
  readonly advertisedListeners: Listener[];
  readonly logDirs: string[];
  readonly rack: string | null;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly autoCreateTopics: boolean;
  readonly deleteTopicEnable: boolean;
  readonly socketRequestMaxBytes: number;
  /** fetch.max.bytes: the most one Fetch response carries, whatever the client asks. */
  readonly fetchMaxBytes: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides: host name or address → limit. */
  readonly maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** connections.max.idle.ms; null (-1) never closes idle connections. */
  readonly connectionsMaxIdleMs: number | null;
  readonly retentionCheckIntervalMs: number;
  /** log.cleaner.backoff.ms, or null when log.cleaner.enable=false. */
  readonly cleanerBackoffMs: number | null;
  readonly shutdownTimeoutMs: number;
  readonly groups: GroupCoordinatorConfig;
  /** runnel.cluster.id: the id a new cluster takes (the operator sets it), if given. */
  readonly clusterId: string | null;
  /** Where /healthz, /readyz and /metrics are served (runnel.http.listener), if anywhere. */
  readonly httpListener: { host: string; port: number } | null;
  /** Broker defaults for topic-level keys, keyed by the topic key name. */
  readonly topicDefaults: ReadonlyMap<string, string>;
}

/** Parses Java-properties text: `key=value` or `key: value`, `#`/`!` comments, `\` continuations. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].trimStart();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i].trimStart();
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out.set(m[1], m[2].trim());
    else out.set(line.trim(), '');
  }
  return out;
}

export function envToKey(name: string): string {
  return name
    .slice(ENV_PREFIX.length)
    .toLowerCase()
    .split('__')
    .map((part) => part.replaceAll('_', '.'))
    .join('_');
}

export interface ConfigSources {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface StartupOptions {
  config: BrokerConfig;
  /** Keys that Kafka knows but Runnel ignores, to be logged as warnings. */
  ignoredKeys: string[];
}

export function loadBrokerConfig({ argv, env, cwd }: ConfigSources): StartupOptions {
  const problems: string[] = [];
  const raw = new Map<string, { value: string; from: string }>();

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) problems.push(`${arg} needs a value`);
      return v ?? '';
    };
    if (arg === '--config') {
      const file = path.resolve(cwd, next());
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        problems.push(`cannot read config file ${file}: ${(err as Error).message}`);
        continue;
      }
      for (const [k, v] of parseProperties(text)) raw.set(k, { value: v, from: file });
    } else if (arg === '--override') {
      const kv = next();
      const eq = kv.indexOf('=');
      if (eq <= 0) problems.push(`--override expects key=value, got "${kv}"`);
      else raw.set(kv.slice(0, eq).trim(), { value: kv.slice(eq + 1).trim(), from: '--override' });
    } else {
      problems.push(`unknown argument "${arg}": use --config FILE and --override key=value`);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(ENV_PREFIX) && value !== undefined)
      raw.set(envToKey(name), { value, from: `environment variable ${name}` });
  }

  const explicit = new Map<string, string>();
  const ignoredKeys: string[] = [];
  for (const [name, { value, from }] of raw) {
    const k = BROKER_KEYS_BY_NAME.get(name);
    if (!k) {
      const hint = suggestKey(name, BROKER_KEYS_BY_NAME.keys());
      problems.push(`unknown config key "${name}" (from ${from})${hint ? `; did you mean "${hint}"?` : ''}`);
      continue;
    }
    const problem = checkValue(k, value);
    if (problem) {
      problems.push(`${name}=${value} (from ${from}): ${problem}`);
      continue;
    }
    if (k.noEffect) ignoredKeys.push(name);
    explicit.set(name, value);
  }

  const get = (name: string): string | null => explicit.get(name) ?? BROKER_KEYS_BY_NAME.get(name)?.default ?? null;
  const num = (name: string): number => Number(get(name));

  const listeners = parseListeners('listeners', get('listeners')!, problems);
  const advertised = get('advertised.listeners');
  const advertisedListeners =
    advertised === null
      ? listeners.map(defaultAdvertised)
      : parseListeners('advertised.listeners', advertised, problems);
  for (const l of listeners) {
    const protocol = securityProtocol(l.name, get('listener.security.protocol.map')!);
    if (protocol !== 'PLAINTEXT')
      problems.push(`listener ${l.name} uses security protocol ${protocol}; Runnel supports PLAINTEXT only for now`);
  }

  const nodeId = explicit.has('node.id')
    ? num('node.id')
    : explicit.has('broker.id')
      ? num('broker.id')
      : num('node.id');
  problems.push(...singleNodeQuorumProblems(get, nodeId));

  const logDirs = (get('log.dirs') ?? get('log.dir')!)
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => path.resolve(cwd, d));

  const maxConnectionsPerIpOverrides = parseConnectionOverrides(get('max.connections.per.ip.overrides')!).overrides;
  if (num('max.connections.per.ip') === 0 && maxConnectionsPerIpOverrides.size === 0) {
    problems.push(
      'max.connections.per.ip=0 refuses every client: it can be 0 only with max.connections.per.ip.overrides naming the hosts that may connect',
    );
  }

  if (problems.length > 0) {
    throw new ConfigError(`invalid broker configuration:\n  - ${problems.join('\n  - ')}`);
  }

  const topicDefaults = new Map<string, string>();
  for (const tk of TOPIC_KEYS) topicDefaults.set(tk.name, brokerDefaultFor(tk.brokerSynonym, get) ?? tk.default!);

  const config: BrokerConfig = {
    explicit,
    get,
    nodeId,
    listeners,
    advertisedListeners,
    logDirs,
    rack: get('broker.rack'),
    numPartitions: num('num.partitions'),
    defaultReplicationFactor: num('default.replication.factor'),
    autoCreateTopics: get('auto.create.topics.enable') === 'true',
    deleteTopicEnable: get('delete.topic.enable') === 'true',
    socketRequestMaxBytes: num('socket.request.max.bytes'),
    fetchMaxBytes: num('fetch.max.bytes'),
    maxConnections: num('max.connections'),
    maxConnectionsPerIp: num('max.connections.per.ip'),
    maxConnectionsPerIpOverrides,
    connectionsMaxIdleMs: num('connections.max.idle.ms') < 0 ? null : num('connections.max.idle.ms'),
    retentionCheckIntervalMs: num('log.retention.check.interval.ms'),
    cleanerBackoffMs: get('log.cleaner.enable') === 'true' ? num('log.cleaner.backoff.ms') : null,
    shutdownTimeoutMs: num('shutdown.timeout.ms'),
    groups: {
      minSessionTimeoutMs: num('group.min.session.timeout.ms'),
      maxSessionTimeoutMs: num('group.max.session.timeout.ms'),
      initialRebalanceDelayMs: num('group.initial.rebalance.delay.ms'),
      offsetsTopicPartitions: num('offsets.topic.num.partitions'),
      offsetsTopicReplicationFactor: num('offsets.topic.replication.factor'),
      offsetsRetentionMs: num('offsets.retention.minutes') * 60_000,
      offsetsRetentionCheckIntervalMs: num('offsets.retention.check.interval.ms'),
    },
    clusterId: get('runnel.cluster.id'),
    httpListener: parseHostPort(get('runnel.http.listener')),
    topicDefaults,
  };
  return { config, ignoredKeys };
}

/**
 * Runnel does not replicate the metadata log yet: each broker is its own controller and the only
 * voter. A node configured to rely on other voters would otherwise come up as a separate one-node
 * cluster, and clients reaching it through a shared bootstrap address would see two clusters.
 */
function singleNodeQuorumProblems(get: (name: string) => string | null, nodeId: number): string[] {
  const problems: string[] = [];
  const why = 'Runnel cannot join a metadata quorum of several nodes yet (it comes with replication)';
  const roles = get('process.roles')!
    .split(',')
    .map((r) => r.trim());
  if (!roles.includes('controller')) {
    problems.push(
      `process.roles=${roles.join(',')}: a node without the controller role needs other nodes' metadata quorum, and ${why}; run it as broker,controller on its own`,
    );
  }
  const voters = (get('controller.quorum.voters') ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const others = voters.filter((v) => Number(v.slice(0, v.indexOf('@'))) !== nodeId);
  if (others.length > 0) {
    problems.push(
      `controller.quorum.voters=${voters.join(',')}: ${why}, so the only voter can be this node (node.id=${nodeId}); remove the other voters`,
    );
  }
  return problems;
}

/** Broker keys with hour/minute variants resolve the way Kafka does: ms, then minutes, then hours. */
function brokerDefaultFor(synonym: string, get: (name: string) => string | null): string | null {
  switch (synonym) {
    case 'log.retention.ms': {
      const ms =
        get('log.retention.ms') ??
        (get('log.retention.minutes') !== null ? String(Number(get('log.retention.minutes')) * 60_000) : null);
      if (ms !== null) return ms;
      const hours = Number(get('log.retention.hours'));
      return String(hours < 0 ? -1 : hours * 3_600_000);
    }
    case 'log.roll.ms':
      return get('log.roll.ms') ?? String(Number(get('log.roll.hours')) * 3_600_000);
    case 'log.flush.interval.ms':
      return get('log.flush.interval.ms') ?? get('log.flush.scheduler.interval.ms');
    default:
      return get(synonym);
  }
}

function parseListeners(key: string, value: string, problems: string[]): Listener[] {
  const out: Listener[] = [];
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_]+):\/\/(\[[^\]]*\]|[^:]*):(\d+)$/.exec(part);
    if (!m || Number(m[3]) > 65535) {
      problems.push(`${key}: "${part}" is not NAME://host:port (for example PLAINTEXT://:9092)`);
      continue;
    }
    out.push({ name: m[1].toUpperCase(), host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]) });
  }
  if (out.length === 0) problems.push(`${key}: at least one listener is needed, e.g. PLAINTEXT://:9092`);
  return out;
}

function parseHostPort(value: string | null): { host: string; port: number } | null {
  if (value === null || value === '') return null;
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(value.slice(colon + 1)) };
}

function defaultAdvertised(l: Listener): Listener {
  return { ...l, host: l.host === '' || l.host === '0.0.0.0' || l.host === '::' ? 'localhost' : l.host };
}

function securityProtocol(listener: string, map: string): string {
  for (const entry of map.split(',')) {
    const [name, protocol] = entry.split(':').map((s) => s.trim());
    if (name?.toUpperCase() === listener) return (protocol ?? '').toUpperCase();
  }
  return listener;
}

/** Turns effective topic config values into the log's settings. */
export function toLogConfig(values: (name: string) => string): LogConfig {
  const capped = (name: string) => Math.min(Number(values(name)), LONG_MAX);
  const policies = values('cleanup.policy')
    .split(',')
    .map((p) => p.trim());
  return {
    segmentBytes: Number(values('segment.bytes')),
    segmentMs: capped('segment.ms'),
    retentionMs: capped('retention.ms'),
    retentionBytes: capped('retention.bytes'),
    flushMessages: capped('flush.messages'),
    flushMs: capped('flush.ms'),
    indexIntervalBytes: Number(values('index.interval.bytes')),
    maxMessageBytes: Number(values('max.message.bytes')),
    messageTimestampType: values('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
    messageTimestampBeforeMaxMs: capped('message.timestamp.before.max.ms'),
    messageTimestampAfterMaxMs: capped('message.timestamp.after.max.ms'),
    fileDeleteDelayMs: Number(values('file.delete.delay.ms')),
    cleanupPolicy: {
      compact: policies.includes('compact'),
      delete: policies.includes('delete'),
    },
    deleteRetentionMs: capped('delete.retention.ms'),
    minCleanableDirtyRatio: Number(values('min.cleanable.dirty.ratio')),
    minCompactionLagMs: capped('min.compaction.lag.ms'),
    compressionType: values('compression.type') as CompressionType,
  };
}
