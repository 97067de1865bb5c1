// The configuration keys Runnel understands, under Kafka's own names. Values are kept as
// strings (that is how Kafka reports them in DescribeConfigs) and parsed by their type.

export type ConfigType = 'int' | 'long' | 'boolean' | 'string' | 'list' | 'double' | 'password';

export interface ConfigKey {
  name: string;
  type: ConfigType;
  /** Default as Kafka reports it; null when unset. */
  default: string | null;
  /** Returns what is wrong with a value, or undefined when it is accepted. */
  check?: (value: string) => string | undefined;
  /** Accepted for compatibility with Kafka configs, but it changes nothing in Runnel. */
  noEffect?: boolean;
  /** Can be changed at runtime through AlterConfigs (broker keys only). */
  dynamic?: boolean;
}

const LONG_MAX = '9223372036854775807';
const INT_MAX = '2147483647';
/** Kafka's floor for metadata.log.segment.bytes: 8 MiB. */
const METADATA_LOG_SEGMENT_MIN_BYTES = 8 * 1024 * 1024;

function atLeast(min: number) {
  return (v: string) => (Number(v) < min ? `must be at least ${min}` : undefined);
}
function oneOf(...allowed: string[]) {
  return (v: string) => (allowed.includes(v) ? undefined : `must be one of ${allowed.join(', ')}`);
}
function listOf(...allowed: string[]) {
  return (v: string) => {
    const bad = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => !allowed.includes(s));
    return bad.length ? `must be a list of ${allowed.join(', ')} (got ${bad.join(', ')})` : undefined;
  };
}

const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'];
const TIMESTAMP_TYPES = ['CreateTime', 'LogAppendTime'];

function key(name: string, type: ConfigType, def: string | null, extra: Partial<ConfigKey> = {}): ConfigKey {
  return { name, type, default: def, ...extra };
}

/**
 * Kafka's ThrottledReplicaListValidator: `*` (every replica) or `partition:brokerId` pairs. Empty is
 * no throttled replicas.
 */
function checkThrottledReplicas(v: string): string | undefined {
  if (v.trim() === '*' || v.trim() === '') return undefined;
  const bad = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => !/^\d+:\d+$/.test(s));
  return bad.length
    ? `must be * or a list of partitionId:brokerId, e.g. 0:101,0:102,1:101 (bad: ${bad.join(', ')})`
    : undefined;
}

/**
 * Topic-level keys, with the broker key that supplies each one's default (null: the topic key has
 * no broker-wide default, its own default applies).
 */
export const TOPIC_KEYS: ReadonlyArray<ConfigKey & { brokerSynonym: string | null }> = [
  {
    ...key('cleanup.policy', 'list', 'delete', { check: listOf('delete', 'compact') }),
    brokerSynonym: 'log.cleanup.policy',
  },
  {
    ...key('compression.type', 'string', 'producer', { check: oneOf(...COMPRESSION_TYPES) }),
    brokerSynonym: 'compression.type',
  },
  {
    ...key('delete.retention.ms', 'long', '86400000', { check: atLeast(0) }),
    brokerSynonym: 'log.cleaner.delete.retention.ms',
  },
  {
    ...key('file.delete.delay.ms', 'long', '60000', { check: atLeast(0) }),
    brokerSynonym: 'log.segment.delete.delay.ms',
  },
  { ...key('flush.messages', 'long', LONG_MAX, { check: atLeast(1) }), brokerSynonym: 'log.flush.interval.messages' },
  { ...key('flush.ms', 'long', LONG_MAX, { check: atLeast(0) }), brokerSynonym: 'log.flush.interval.ms' },
  { ...key('index.interval.bytes', 'int', '4096', { check: atLeast(0) }), brokerSynonym: 'log.index.interval.bytes' },
  { ...key('max.message.bytes', 'int', '1048588', { check: atLeast(0) }), brokerSynonym: 'message.max.bytes' },
  {
    ...key('message.timestamp.after.max.ms', 'long', '3600000', { check: atLeast(0) }),
    brokerSynonym: 'log.message.timestamp.after.max.ms',
  },
  {
    ...key('message.timestamp.before.max.ms', 'long', LONG_MAX, { check: atLeast(0) }),
    brokerSynonym: 'log.message.timestamp.before.max.ms',
  },
  {
    ...key('message.timestamp.type', 'string', 'CreateTime', { check: oneOf(...TIMESTAMP_TYPES) }),
    brokerSynonym: 'log.message.timestamp.type',
  },
  {
    ...key('min.compaction.lag.ms', 'long', '0', { check: atLeast(0) }),
    brokerSynonym: 'log.cleaner.min.compaction.lag.ms',
  },
  {
    ...key('min.cleanable.dirty.ratio', 'double', '0.5', {
      check: (v) => (Number(v) >= 0 && Number(v) <= 1 ? undefined : 'must be between 0 and 1'),
    }),
    brokerSynonym: 'log.cleaner.min.cleanable.ratio',
  },
  { ...key('min.insync.replicas', 'int', '1', { check: atLeast(1) }), brokerSynonym: 'min.insync.replicas' },
  { ...key('retention.bytes', 'long', '-1'), brokerSynonym: 'log.retention.bytes' },
  { ...key('retention.ms', 'long', '604800000', { check: atLeast(-1) }), brokerSynonym: 'log.retention.ms' },
  { ...key('segment.bytes', 'int', '1073741824', { check: atLeast(14) }), brokerSynonym: 'log.segment.bytes' },
  {
    ...key('segment.index.bytes', 'int', '10485760', { check: atLeast(4) }),
    brokerSynonym: 'log.index.size.max.bytes',
  },
  { ...key('segment.ms', 'long', '604800000', { check: atLeast(1) }), brokerSynonym: 'log.roll.ms' },
  { ...key('unclean.leader.election.enable', 'boolean', 'false'), brokerSynonym: 'unclean.leader.election.enable' },
  // Which replicas the broker throttle rates apply to (reassignment; see replication/quotas.ts).
  {
    ...key('leader.replication.throttled.replicas', 'list', '', { check: checkThrottledReplicas }),
    brokerSynonym: null,
  },
  {
    ...key('follower.replication.throttled.replicas', 'list', '', { check: checkThrottledReplicas }),
    brokerSynonym: null,
  },
];

/** Broker keys. Keys that are topic defaults are dynamic, as in Kafka. */
export const BROKER_KEYS: readonly ConfigKey[] = [
  key('node.id', 'int', '1', { check: atLeast(0) }),
  key('broker.id', 'int', null, { check: atLeast(0) }),
  key('process.roles', 'list', 'broker,controller', { check: checkProcessRoles }),
  key('listeners', 'list', 'PLAINTEXT://:9092'),
  key('advertised.listeners', 'list', null),
  key('listener.security.protocol.map', 'list', 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'),
  key('inter.broker.listener.name', 'string', 'PLAINTEXT'),
  key('controller.listener.names', 'list', null, { check: (v) => parseListenerNames(v).problem }),
  key('controller.quorum.voters', 'list', null, { check: (v) => parseQuorumVoters(v).problem }),
  // Dynamic quorums (KIP-853): Runnel's voter set is fixed, so it needs controller.quorum.voters.
  key('controller.quorum.bootstrap.servers', 'list', null),
  // KRaft timings (Kafka's QuorumConfig), in ms.
  key('controller.quorum.election.timeout.ms', 'int', '1000', { check: atLeast(1) }),
  key('controller.quorum.fetch.timeout.ms', 'int', '2000', { check: atLeast(1) }),
  key('controller.quorum.election.backoff.max.ms', 'int', '1000', { check: atLeast(1) }),
  key('controller.quorum.request.timeout.ms', 'int', '2000', { check: atLeast(1) }),
  key('controller.quorum.retry.backoff.ms', 'int', '20', { check: atLeast(0) }),
  key('controller.quorum.append.linger.ms', 'int', '25', { noEffect: true }),
  // Broker registration with the active controller (Kafka's KRaftConfigs).
  key('broker.session.timeout.ms', 'int', '9000', { check: atLeast(1) }),
  key('broker.heartbeat.interval.ms', 'int', '2000', { check: atLeast(1) }),
  key('initial.broker.registration.timeout.ms', 'int', '60000', { noEffect: true }),
  // The active controller's own elections (Kafka's ReplicationConfigs).
  key('unclean.leader.election.interval.ms', 'long', '300000', { check: atLeast(1) }),
  key('auto.leader.rebalance.enable', 'boolean', 'true'),
  key('leader.imbalance.check.interval.seconds', 'long', '300', { check: atLeast(1) }),
  // Kafka 4 removed it (KAFKA-18743: KRaft's controller balances every imbalanced partition);
  // accepted so that configs written for Kafka 3 still start.
  key('leader.imbalance.per.broker.percentage', 'int', '10', {
    check: (v) => (Number(v) >= 0 && Number(v) <= 100 ? undefined : 'must be between 0 and 100'),
    noEffect: true,
  }),
  // The metadata log, __cluster_metadata-0 (Kafka's MetadataLogConfig).
  key('metadata.log.dir', 'string', null),
  key('metadata.log.segment.bytes', 'int', '1073741824', { check: atLeast(METADATA_LOG_SEGMENT_MIN_BYTES) }),
  key('metadata.log.segment.ms', 'long', '604800000', { check: atLeast(1) }),
  key('metadata.log.max.record.bytes.between.snapshots', 'long', '20971520', { check: atLeast(1) }),
  key('metadata.log.max.snapshot.interval.ms', 'long', '3600000', { check: atLeast(0) }),
  key('metadata.max.retention.bytes', 'long', '104857600', { noEffect: true }),
  key('metadata.max.retention.ms', 'long', '604800000', { noEffect: true }),
  key('metadata.max.idle.interval.ms', 'int', '500', { noEffect: true }),
  key('broker.rack', 'string', null),
  key('log.dirs', 'list', null),
  key('log.dir', 'string', '/tmp/kafka-logs'),
  key('num.partitions', 'int', '1', { check: atLeast(1) }),
  key('default.replication.factor', 'int', '1', { check: atLeast(1) }),
  key('auto.create.topics.enable', 'boolean', 'true'),
  key('delete.topic.enable', 'boolean', 'true'),
  key('log.cleanup.policy', 'list', 'delete', { check: listOf('delete', 'compact'), dynamic: true }),
  key('compression.type', 'string', 'producer', { check: oneOf(...COMPRESSION_TYPES), dynamic: true }),
  key('log.cleaner.delete.retention.ms', 'long', '86400000', { check: atLeast(0), dynamic: true }),
  key('log.cleaner.min.compaction.lag.ms', 'long', '0', { check: atLeast(0), dynamic: true }),
  key('log.cleaner.min.cleanable.ratio', 'double', '0.5', {
    check: (v) => (Number(v) >= 0 && Number(v) <= 1 ? undefined : 'must be between 0 and 1'),
    dynamic: true,
  }),
  key('log.cleaner.enable', 'boolean', 'true'),
  key('log.cleaner.backoff.ms', 'long', '15000', { check: atLeast(0) }),
  key('log.segment.delete.delay.ms', 'long', '60000', { check: atLeast(0), dynamic: true }),
  key('log.flush.interval.messages', 'long', LONG_MAX, { check: atLeast(1), dynamic: true }),
  key('log.flush.interval.ms', 'long', null, { check: atLeast(0), dynamic: true }),
  key('log.flush.scheduler.interval.ms', 'long', LONG_MAX, { check: atLeast(0) }),
  key('log.index.interval.bytes', 'int', '4096', { check: atLeast(0), dynamic: true }),
  key('log.index.size.max.bytes', 'int', '10485760', { check: atLeast(4), dynamic: true }),
  key('message.max.bytes', 'int', '1048588', { check: atLeast(0), dynamic: true }),
  key('log.message.timestamp.after.max.ms', 'long', '3600000', { check: atLeast(0), dynamic: true }),
  key('log.message.timestamp.before.max.ms', 'long', LONG_MAX, { check: atLeast(0), dynamic: true }),
  key('log.message.timestamp.type', 'string', 'CreateTime', { check: oneOf(...TIMESTAMP_TYPES), dynamic: true }),
  key('min.insync.replicas', 'int', '1', { check: atLeast(1), dynamic: true }),
  key('log.retention.bytes', 'long', '-1', { dynamic: true }),
  key('log.retention.ms', 'long', null, { check: atLeast(-1), dynamic: true }),
  key('log.retention.minutes', 'int', null, { check: atLeast(-1) }),
  key('log.retention.hours', 'int', '168', { check: atLeast(-1) }),
  key('log.retention.check.interval.ms', 'long', '300000', { check: atLeast(1) }),
  key('log.segment.bytes', 'int', '1073741824', { check: atLeast(14), dynamic: true }),
  key('log.roll.ms', 'long', null, { check: atLeast(1), dynamic: true }),
  key('log.roll.hours', 'int', '168', { check: atLeast(1) }),
  key('unclean.leader.election.enable', 'boolean', 'false', { dynamic: true }),
  // Replication throttles in bytes/s (Kafka's QuotaConfig), for the replicas topics name in
  // *.replication.throttled.replicas (replication/quotas.ts).
  key('leader.replication.throttled.rate', 'long', LONG_MAX, { check: atLeast(0), dynamic: true }),
  key('follower.replication.throttled.rate', 'long', LONG_MAX, { check: atLeast(0), dynamic: true }),
  // Throttles moves between one broker's log dirs (AlterReplicaLogDirs, which Runnel does not
  // serve); kafka-reassign-partitions.sh sets and clears it with the two above.
  key('replica.alter.log.dirs.io.max.bytes.per.second', 'long', LONG_MAX, {
    check: atLeast(0),
    dynamic: true,
    noEffect: true,
  }),
  key('replica.fetch.max.bytes', 'int', '1048576', { check: atLeast(0) }),
  key('replica.fetch.response.max.bytes', 'int', '10485760', { check: atLeast(0) }),
  key('replica.fetch.wait.max.ms', 'int', '500', { check: atLeast(0) }),
  key('replica.fetch.min.bytes', 'int', '1', { check: atLeast(1) }),
  key('replica.fetch.backoff.ms', 'int', '1000', { check: atLeast(0) }),
  key('replica.lag.time.max.ms', 'long', '30000', { check: atLeast(1) }),
  key('replica.high.watermark.checkpoint.interval.ms', 'long', '5000', { check: atLeast(1) }),
  key('replica.socket.timeout.ms', 'int', '30000', { check: atLeast(1) }),
  key('num.replica.fetchers', 'int', '1', { check: atLeast(1), noEffect: true }),
  key('socket.request.max.bytes', 'int', '104857600', { check: atLeast(1) }),
  key('fetch.max.bytes', 'int', '57671680', { check: atLeast(1024) }),
  key('max.connections', 'int', INT_MAX, { check: atLeast(0) }),
  key('max.connections.per.ip', 'int', INT_MAX, { check: atLeast(0) }),
  key('max.connections.per.ip.overrides', 'string', '', { check: (v) => parseConnectionOverrides(v).problem }),
  key('connections.max.idle.ms', 'long', '600000', {
    check: (v) =>
      v === '-1' || Number(v) >= 1 ? undefined : 'must be at least 1, or -1 to never close idle connections',
  }),
  key('offsets.topic.num.partitions', 'int', '50', { check: atLeast(1) }),
  key('offsets.topic.replication.factor', 'int', '3', { check: atLeast(1) }),
  key('group.initial.rebalance.delay.ms', 'int', '3000', { check: atLeast(0) }),
  key('group.min.session.timeout.ms', 'int', '6000', { check: atLeast(0) }),
  key('group.max.session.timeout.ms', 'int', '1800000', { check: atLeast(0) }),
  key('offsets.retention.minutes', 'int', '10080', { check: atLeast(1) }),
  key('offsets.retention.check.interval.ms', 'long', '600000', { check: atLeast(1) }),
  // Set by the operator: a log dir holding another cluster's data is refused at start-up.
  key('runnel.cluster.id', 'string', null, {
    check: (v) => (/^[A-Za-z0-9_-]{22}$/.test(v) ? undefined : 'must be a 22-character base64url cluster id'),
  }),
  key('runnel.http.listener', 'string', null, {
    check: (v) =>
      v === '' || /^(\[[^\]]*\]|[^:]*):\d+$/.test(v)
        ? undefined
        : 'must be host:port (e.g. :9644 or 127.0.0.1:9644), or empty to turn it off',
  }),
  key('shutdown.timeout.ms', 'long', '30000', { check: atLeast(0) }),
  key('num.network.threads', 'int', '3', { noEffect: true }),
  key('num.io.threads', 'int', '8', { noEffect: true }),
  key('num.recovery.threads.per.data.dir', 'int', '2', { noEffect: true }),
  key('socket.send.buffer.bytes', 'int', '102400', { noEffect: true }),
  key('socket.receive.buffer.bytes', 'int', '102400', { noEffect: true }),
  key('transaction.state.log.replication.factor', 'int', '3', { noEffect: true }),
  key('transaction.state.log.min.isr', 'int', '2', { noEffect: true }),
  key('group.coordinator.rebalance.protocols', 'list', 'classic', { noEffect: true }),
];

/**
 * max.connections.per.ip.overrides, in Kafka's form `host:count,host:count` (the count follows
 * the last colon, so IPv6 addresses work unbracketed). Empty is no overrides.
 */
export function parseConnectionOverrides(value: string): { overrides: Map<string, number>; problem?: string } {
  const overrides = new Map<string, number>();
  const bad: string[] = [];
  for (const entry of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = entry.lastIndexOf(':');
    const host = entry
      .slice(0, colon)
      .trim()
      .replace(/^\[|\]$/g, '');
    const count = entry.slice(colon + 1).trim();
    if (colon <= 0 || host === '' || !/^\d+$/.test(count) || Number(count) > 2 ** 31 - 1) bad.push(`"${entry}"`);
    else overrides.set(host, Number(count));
  }
  if (bad.length === 0) return { overrides };
  return {
    overrides,
    problem: `must be host:count pairs separated by commas, with count a non-negative 32-bit integer, e.g. 10.0.0.5:200,localhost:50 (bad: ${bad.join(', ')})`,
  };
}

const ROLES = ['broker', 'controller'];

function checkProcessRoles(value: string): string | undefined {
  const roles = splitList(value);
  if (roles.length === 0) return 'must name at least one role: broker, controller, or broker,controller';
  const bad = roles.filter((r) => !ROLES.includes(r));
  if (bad.length > 0) return `must be a list of broker, controller (got ${bad.join(', ')})`;
  if (new Set(roles).size !== roles.length) return 'names a role twice: use broker, controller, or broker,controller';
  return undefined;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** controller.quorum.voters: one voter's address. */
export interface QuorumVoterAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * controller.quorum.voters, in Kafka's form `id@host:port,...` (IPv6 hosts in brackets). Every
 * problem is named: entries that are not id@host:port, ids used twice, non-routable hosts.
 */
export function parseQuorumVoters(value: string): { voters: Map<number, QuorumVoterAddress>; problem?: string } {
  const voters = new Map<number, QuorumVoterAddress>();
  const bad: string[] = [];
  const unroutable: string[] = [];
  const entriesById = new Map<number, string[]>();
  for (const entry of splitList(value)) {
    const m = /^(\d+)@(\[[^\]]+\]|[^:@\s[\]]+):(\d+)$/.exec(entry);
    if (!m || Number(m[1]) > 2 ** 31 - 1 || Number(m[3]) < 1 || Number(m[3]) > 65535) {
      bad.push(`"${entry}"`);
      continue;
    }
    const id = Number(m[1]);
    const host = m[2].replace(/^\[|\]$/g, '');
    if (host === '0.0.0.0' || host === '::') unroutable.push(`"${entry}"`);
    entriesById.set(id, [...(entriesById.get(id) ?? []), entry]);
    voters.set(id, { host, port: Number(m[3]) });
  }
  const problems: string[] = [];
  if (bad.length > 0) {
    problems.push(
      `each entry must be {id}@{host}:{port}, with id a node id and port 1-65535, e.g. 1@controller-1:9093,2@controller-2:9093 (bad: ${bad.join(', ')})`,
    );
  }
  for (const [id, entries] of entriesById) {
    if (entries.length > 1)
      problems.push(
        `voter id ${id} appears ${entries.length} times (${entries.join(', ')}): each voter needs its own id`,
      );
  }
  if (unroutable.length > 0) {
    problems.push(
      `a voter's host must be an address the other nodes can reach, not a wildcard (bad: ${unroutable.join(', ')})`,
    );
  }
  return problems.length === 0 ? { voters } : { voters, problem: problems.join('; ') };
}

/** controller.listener.names: listener names (upper-cased, as Kafka normalises them), each once. */
export function parseListenerNames(value: string): { names: string[]; problem?: string } {
  const names = splitList(value).map((n) => n.toUpperCase());
  const bad = names.filter((n) => !/^[A-Z0-9_]+$/.test(n));
  if (bad.length > 0)
    return {
      names,
      problem: `must be listener names such as CONTROLLER (bad: ${bad.map((b) => `"${b}"`).join(', ')})`,
    };
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0) return { names, problem: `names ${twice.join(', ')} more than once` };
  return { names };
}

export const BROKER_KEYS_BY_NAME = new Map(BROKER_KEYS.map((k) => [k.name, k]));
export const TOPIC_KEYS_BY_NAME = new Map(TOPIC_KEYS.map((k) => [k.name, k]));

/** Checks a value against its key's type and constraints; returns the problem, if any. */
export function checkValue(k: ConfigKey, value: string): string | undefined {
  const v = value.trim();
  switch (k.type) {
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(v)) return `expected an integer, got "${value}"`;
      if (k.type === 'int' && Math.abs(Number(v)) > 2 ** 31) return `expected a 32-bit integer, got ${value}`;
      break;
    }
    case 'double':
      if (v === '' || !Number.isFinite(Number(v))) return `expected a number, got "${value}"`;
      break;
    case 'boolean':
      if (v !== 'true' && v !== 'false') return `expected true or false, got "${value}"`;
      break;
    default:
      break;
  }
  return k.check?.(v);
}

/** Closest known key, for "did you mean" hints. */
export function suggestKey(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(name.length / 4)) + 1;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
