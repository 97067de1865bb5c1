// Broker configuration: a server.properties file, then `--override key=value` flags, then
// KAFKA_CFG_* environment variables (KAFKA_CFG_LOG_DIRS → log.dirs; `__` stands for `_`).
// Every key and value is checked up front; all problems are reported together.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  BROKER_KEYS_BY_NAME,
  TOPIC_KEYS,
  checkValue,
  parseConnectionOverrides,
  parseListenerNames,
  parseQuorumVoters,
  suggestKey,
  type QuorumVoterAddress,
} from './keys.js';
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

/** process.roles. At least one is true. */
export interface ProcessRoles {
  readonly broker: boolean;
  readonly controller: boolean;
}

/** The metadata quorum (Kafka's QuorumConfig: controller.quorum.* keys), timings in ms. */
export interface QuorumConfig {
  /**
   * controller.quorum.voters: voter node id → the address the other nodes reach its controller
   * listener on. When the key is unset on a node with the controller role, the node is the only
   * voter (a one-node cluster), at its controller listener if it has one, else at its first
   * advertised listener.
   */
  readonly voters: ReadonlyMap<number, QuorumVoterAddress>;
  /** controller.quorum.election.timeout.ms */
  readonly electionTimeoutMs: number;
  /** controller.quorum.fetch.timeout.ms */
  readonly fetchTimeoutMs: number;
  /** controller.quorum.election.backoff.max.ms */
  readonly electionBackoffMaxMs: number;
  /** controller.quorum.request.timeout.ms */
  readonly requestTimeoutMs: number;
  /** controller.quorum.retry.backoff.ms */
  readonly retryBackoffMs: number;
}

/** The active controller's own leader elections. */
export interface LeaderElectionConfig {
  /** auto.leader.rebalance.enable: move leaderships back to preferred replicas. */
  readonly autoRebalanceEnable: boolean;
  /** leader.imbalance.check.interval.seconds, in ms. */
  readonly imbalanceCheckIntervalMs: number;
  /** unclean.leader.election.interval.ms */
  readonly uncleanCheckIntervalMs: number;
}

/** The metadata log, __cluster_metadata-0 (Kafka's metadata.log.* keys). */
export interface MetadataLogConfig {
  /** metadata.log.segment.bytes */
  readonly segmentBytes: number;
  /** metadata.log.segment.ms */
  readonly segmentMs: number;
  /** metadata.log.max.record.bytes.between.snapshots */
  readonly maxRecordBytesBetweenSnapshots: number;
  /** metadata.log.max.snapshot.interval.ms; 0 turns time-based snapshots off. */
  readonly maxSnapshotIntervalMs: number;
}

export type { QuorumVoterAddress };

export interface BrokerConfig {
  /** Keys set explicitly, as given (DescribeConfigs reports them as STATIC_BROKER_CONFIG). */
  readonly explicit: ReadonlyMap<string, string>;
  /** Effective value of a broker key: explicit, else Kafka's default. */
  get(name: string): string | null;
  readonly nodeId: number;
  /** process.roles */
  readonly roles: ProcessRoles;
  readonly quorum: QuorumConfig;
  /** controller.listener.names, upper-cased; empty when unset. */
  readonly controllerListenerNames: string[];
  /** broker.session.timeout.ms: a broker without a heartbeat for this long is fenced. */
  readonly brokerSessionTimeoutMs: number;
  /** broker.heartbeat.interval.ms */
  readonly brokerHeartbeatIntervalMs: number;
  readonly replication: ReplicationConfig;
  /** Every listener this node binds, controller listeners included. */
  readonly listeners: Listener[];
  /** The listeners advertised to clients (never a controller listener); empty on a controller-only node. */
  readonly advertisedListeners: Listener[];
  readonly logDirs: string[];
  /** metadata.log.dir, else the first of log.dirs. */
  readonly metadataLogDir: string;
  readonly metadataLog: MetadataLogConfig;
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
  readonly leaderElection: LeaderElectionConfig;
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
  /** Settings that are accepted but likely wrong (Kafka logs these too), to be logged as warnings. */
  warnings: string[];
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

  const nodeId = explicit.has('node.id')
    ? num('node.id')
    : explicit.has('broker.id')
      ? num('broker.id')
      : num('node.id');
  const roleList = get('process.roles')!
    .split(',')
    .map((r) => r.trim());
  const roles: ProcessRoles = { broker: roleList.includes('broker'), controller: roleList.includes('controller') };
  const controllerListenerNames = parseListenerNames(get('controller.listener.names') ?? '').names;
  const protocolMap = get('listener.security.protocol.map')!;

  const listeners = parseListeners('listeners', get('listeners')!, problems);
  const advertised = get('advertised.listeners');
  const explicitAdvertised = advertised === null ? null : parseListeners('advertised.listeners', advertised, problems);
  const advertisedListeners = (explicitAdvertised ?? listeners.map(defaultAdvertised)).filter(
    (l) => !controllerListenerNames.includes(l.name),
  );
  const protocolNames = new Set([...listeners.map((l) => l.name), ...(roles.broker ? controllerListenerNames : [])]);
  for (const name of protocolNames) {
    const protocol = securityProtocol(name, protocolMap);
    if (protocol === 'PLAINTEXT') continue;
    problems.push(
      SECURITY_PROTOCOLS.includes(protocol)
        ? `listener ${name} uses security protocol ${protocol}; Runnel supports PLAINTEXT only for now`
        : `listener ${name} has no entry in listener.security.protocol.map=${protocolMap}; add ${name}:PLAINTEXT to it`,
    );
  }

  const configuredVoters = get('controller.quorum.voters');
  const voters = parseQuorumVoters(configuredVoters ?? '').voters;
  const kraft = kraftProblems({
    nodeId,
    roles,
    voters: configuredVoters === null || configuredVoters.trim() === '' ? null : voters,
    bootstrapServers: get('controller.quorum.bootstrap.servers'),
    controllerListenerNames,
    listeners,
    explicitAdvertised,
    advertisedListeners,
    interBrokerListenerName: get('inter.broker.listener.name')!.toUpperCase(),
  });
  problems.push(...kraft.problems);
  const warnings = kraft.warnings;
  if (num('broker.heartbeat.interval.ms') * 2 > num('broker.session.timeout.ms')) {
    warnings.push(
      `broker.heartbeat.interval.ms (${num('broker.heartbeat.interval.ms')} ms) should be at most half of broker.session.timeout.ms (${num('broker.session.timeout.ms')} ms): a broker that misses one heartbeat may lose its session and be fenced; lower broker.heartbeat.interval.ms or raise broker.session.timeout.ms`,
    );
  }

  const logDirs = (get('log.dirs') ?? get('log.dir')!)
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => path.resolve(cwd, d));
  const metadataLogDir = get('metadata.log.dir') !== null ? path.resolve(cwd, get('metadata.log.dir')!) : logDirs[0];

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
  for (const tk of TOPIC_KEYS)
    topicDefaults.set(
      tk.name,
      (tk.brokerSynonym === null ? null : brokerDefaultFor(tk.brokerSynonym, get)) ?? tk.default!,
    );

  const config: BrokerConfig = {
    explicit,
    get,
    nodeId,
    roles,
    quorum: {
      voters:
        configuredVoters === null && roles.controller
          ? new Map([[nodeId, soleVoterAddress(listeners, advertisedListeners, controllerListenerNames)]])
          : voters,
      electionTimeoutMs: num('controller.quorum.election.timeout.ms'),
      fetchTimeoutMs: num('controller.quorum.fetch.timeout.ms'),
      electionBackoffMaxMs: num('controller.quorum.election.backoff.max.ms'),
      requestTimeoutMs: num('controller.quorum.request.timeout.ms'),
      retryBackoffMs: num('controller.quorum.retry.backoff.ms'),
    },
    controllerListenerNames,
    brokerSessionTimeoutMs: num('broker.session.timeout.ms'),
    brokerHeartbeatIntervalMs: num('broker.heartbeat.interval.ms'),
    listeners,
    advertisedListeners,
    logDirs,
    metadataLogDir,
    metadataLog: {
      segmentBytes: num('metadata.log.segment.bytes'),
      segmentMs: Math.min(num('metadata.log.segment.ms'), LONG_MAX),
      maxRecordBytesBetweenSnapshots: Math.min(num('metadata.log.max.record.bytes.between.snapshots'), LONG_MAX),
      maxSnapshotIntervalMs: Math.min(num('metadata.log.max.snapshot.interval.ms'), LONG_MAX),
    },
    rack: get('broker.rack'),
    numPartitions: num('num.partitions'),
    defaultReplicationFactor: num('default.replication.factor'),
    autoCreateTopics: get('auto.create.topics.enable') === 'true',
    deleteTopicEnable: get('delete.topic.enable') === 'true',
    leaderElection: {
      autoRebalanceEnable: get('auto.leader.rebalance.enable') === 'true',
      imbalanceCheckIntervalMs: num('leader.imbalance.check.interval.seconds') * 1000,
      uncleanCheckIntervalMs: num('unclean.leader.election.interval.ms'),
    },
    socketRequestMaxBytes: num('socket.request.max.bytes'),
    fetchMaxBytes: num('fetch.max.bytes'),
    maxConnections: num('max.connections'),
    maxConnectionsPerIp: num('max.connections.per.ip'),
    maxConnectionsPerIpOverrides,
    connectionsMaxIdleMs: num('connections.max.idle.ms') < 0 ? null : num('connections.max.idle.ms'),
    retentionCheckIntervalMs: num('log.retention.check.interval.ms'),
    cleanerBackoffMs: get('log.cleaner.enable') === 'true' ? num('log.cleaner.backoff.ms') : null,
    shutdownTimeoutMs: num('shutdown.timeout.ms'),
    replication: {
      fetchMaxBytes: num('replica.fetch.max.bytes'),
      fetchResponseMaxBytes: num('replica.fetch.response.max.bytes'),
      fetchWaitMaxMs: num('replica.fetch.wait.max.ms'),
      fetchMinBytes: num('replica.fetch.min.bytes'),
      fetchBackoffMs: num('replica.fetch.backoff.ms'),
      lagTimeMaxMs: num('replica.lag.time.max.ms'),
      highWatermarkCheckpointIntervalMs: num('replica.high.watermark.checkpoint.interval.ms'),
      socketTimeoutMs: num('replica.socket.timeout.ms'),
    },
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
  return { config, ignoredKeys, warnings };
}

/** replica.* keys: how followers fetch and when the leader counts them out of sync. */
export interface ReplicationConfig {
  fetchMaxBytes: number;
  fetchResponseMaxBytes: number;
  fetchWaitMaxMs: number;
  fetchMinBytes: number;
  fetchBackoffMs: number;
  lagTimeMaxMs: number;
  highWatermarkCheckpointIntervalMs: number;
  socketTimeoutMs: number;
}

interface KraftSettings {
  nodeId: number;
  roles: ProcessRoles;
  /** controller.quorum.voters as parsed; null when unset. */
  voters: ReadonlyMap<number, QuorumVoterAddress> | null;
  bootstrapServers: string | null;
  controllerListenerNames: string[];
  listeners: Listener[];
  /** advertised.listeners as given; null when unset. */
  explicitAdvertised: Listener[] | null;
  /** The advertised broker listeners (controller listeners left out). */
  advertisedListeners: Listener[];
  interBrokerListenerName: string;
}

/**
 * KRaft's rules, as Kafka's KafkaConfig.validateValues applies them: a controller is one of the
 * voters and listens on a controller listener; a broker-only node is not a voter, knows the
 * controller listener's name (to reach the voters) but does not listen on it; clients are never
 * advertised a controller listener. One Runnel exception keeps a lone node simple: a controller
 * with controller.quorum.voters unset is the only voter and needs no controller listener.
 */
function kraftProblems(s: KraftSettings): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { nodeId, roles, voters, controllerListenerNames: names } = s;
  const listenerNames = s.listeners.map((l) => l.name);
  const controllerListeners = s.listeners.filter((l) => names.includes(l.name));
  const voterIds = voters ? [...voters.keys()].sort((a, b) => a - b).join(',') : '';
  const votersSetting = `controller.quorum.voters=${voters ? [...voters].map(([id, a]) => `${id}@${hostPort(a)}`).join(',') : ''}`;
  const ownPort = voters?.get(nodeId)?.port ?? 9093;
  const suggestedName = names[0] ?? 'CONTROLLER';

  if (roles.controller) {
    if (voters && !voters.has(nodeId)) {
      problems.push(
        `node.id=${nodeId} has the controller role (process.roles=${rolesText(roles)}) but is not one of the voters in ${votersSetting} (ids ${voterIds}): add ${nodeId}@host:port for this node to controller.quorum.voters (the same list on every node), or set process.roles=broker`,
      );
    }
    if (voters && names.length === 0) {
      problems.push(
        `controller.listener.names is not set: a controller voter needs a listener for the other nodes' quorum traffic; set controller.listener.names=CONTROLLER and add CONTROLLER://:${ownPort} to listeners`,
      );
    } else if (names.length > 0 && controllerListeners.length === 0) {
      problems.push(
        `controller.listener.names=${names.join(',')} must contain at least one value appearing in listeners=${listenersText(s.listeners)} when running the KRaft controller role: add ${suggestedName}://:${ownPort} to listeners`,
      );
    } else {
      const missing = names.filter((n) => !listenerNames.includes(n));
      if (missing.length > 0) {
        problems.push(
          `controller.listener.names=${names.join(',')} must only contain values appearing in listeners=${listenersText(s.listeners)} when running the KRaft controller role: add ${missing.map((n) => `${n}://host:port`).join(',')} to listeners or remove ${missing.join(',')} from controller.listener.names`,
        );
      }
    }
    if (!roles.broker) {
      const others = s.listeners.filter((l) => !names.includes(l.name));
      if (others.length > 0) {
        problems.push(
          `process.roles=controller: listeners must only contain the controller listeners named in controller.listener.names=${names.join(',')}; remove ${listenersText(others)} from listeners, or add broker to process.roles`,
        );
      }
    }
    const own = voters?.get(nodeId);
    const listening = controllerListeners[0];
    if (own && listening && listening.port !== 0 && listening.port !== own.port) {
      warnings.push(
        `controller.quorum.voters gives this node (${nodeId}) port ${own.port} but its ${listening.name} listener is on port ${listening.port}: the other voters will not reach it unless a proxy forwards ${own.port} to ${listening.port}`,
      );
    }
  } else {
    if (!voters) {
      problems.push(
        s.bootstrapServers
          ? `process.roles=broker: Runnel's metadata quorum has a fixed set of voters, so a broker finds the controllers through controller.quorum.voters, not controller.quorum.bootstrap.servers; set controller.quorum.voters=id@host:port,... (the same list on every node)`
          : `process.roles=broker: controller.quorum.voters is not set, so this broker cannot find the controllers; set controller.quorum.voters=id@host:port,... to the controller voters (the same list on every node), or add controller to process.roles to run a one-node cluster`,
      );
    } else if (voters.has(nodeId)) {
      problems.push(
        `node.id=${nodeId} has just the broker role but is one of the voters in ${votersSetting}: give this broker a node.id no voter uses, or set process.roles=broker,controller to make it a voter`,
      );
    }
    if (names.length === 0) {
      problems.push(
        'controller.listener.names must contain at least one value when running KRaft with just the broker role: set it to the name of the listener the controllers serve the quorum on (controller.listener.names=CONTROLLER)',
      );
    }
    if (controllerListeners.length > 0) {
      problems.push(
        `controller.listener.names must not contain a value appearing in listeners when running KRaft with just the broker role: remove ${listenersText(controllerListeners)} from listeners, or set process.roles=broker,controller and add this node to controller.quorum.voters`,
      );
    }
  }

  if (roles.broker && s.listeners.length > 0) {
    const advertisedControllers = (s.explicitAdvertised ?? []).filter((l) => names.includes(l.name));
    if (advertisedControllers.length > 0) {
      problems.push(
        `advertised.listeners must not contain the controller listener ${advertisedControllers.map((l) => l.name).join(',')} (named in controller.listener.names) when process.roles contains the broker role, because clients only send requests to brokers: remove it from advertised.listeners`,
      );
    }
    if (s.advertisedListeners.length === 0) {
      problems.push(
        `there must be at least one broker advertised listener; perhaps all listeners appear in controller.listener.names=${names.join(',')}? Add a client listener such as PLAINTEXT://:9092 to listeners`,
      );
    } else {
      const advertisedNames = [...new Set(s.advertisedListeners.map((l) => l.name))];
      const unbound = advertisedNames.filter((n) => !listenerNames.includes(n));
      if (unbound.length > 0) {
        problems.push(
          `advertised.listeners names ${unbound.join(',')}, which is not in listeners=${listenersText(s.listeners)}: advertised listener names must be among the listeners' names (valid: ${listenerNames.join(',')})`,
        );
      }
      if (!advertisedNames.includes(s.interBrokerListenerName)) {
        problems.push(
          `inter.broker.listener.name=${s.interBrokerListenerName} must be a listener name defined in advertised.listeners: set it to one of ${advertisedNames.join(',')}`,
        );
      }
    }
    if (s.explicitAdvertised?.some((l) => l.host === '0.0.0.0' || l.host === '::')) {
      problems.push(
        'advertised.listeners cannot use a wildcard address (0.0.0.0 or ::): advertise a host name or address clients can reach',
      );
    }
  }
  return { problems, warnings };
}

/** Where the only voter of a one-node quorum is: its controller listener, else its first advertised listener. */
function soleVoterAddress(
  listeners: Listener[],
  advertised: Listener[],
  controllerNames: string[],
): QuorumVoterAddress {
  const controller = listeners.find((l) => controllerNames.includes(l.name));
  const l = controller ? defaultAdvertised(controller) : (advertised[0] ?? defaultAdvertised(listeners[0]));
  return { host: l.host, port: l.port };
}

function rolesText(roles: ProcessRoles): string {
  return [roles.broker ? 'broker' : '', roles.controller ? 'controller' : ''].filter(Boolean).join(',');
}

function listenersText(listeners: Listener[]): string {
  return listeners.map((l) => `${l.name}://${hostPort(l)}`).join(',');
}

function hostPort(a: { host: string; port: number }): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
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

const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/** The listener's protocol from listener.security.protocol.map, else its own name (PLAINTEXT://… is PLAINTEXT). */
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
