import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envToKey, loadBrokerConfig, parseProperties } from './broker-config.js';

async function propertiesFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-config-'));
  const file = path.join(dir, 'server.properties');
  await writeFile(file, text);
  return file;
}

describe('broker configuration', () => {
  it('parses Java properties with comments, separators and continuations', () => {
    const props = parseProperties('# comment\n! also\nnode.id=3\nlog.dirs : /a,\\\n  /b\nnum.partitions 4\n');
    expect(Object.fromEntries(props)).toEqual({ 'node.id': '3', 'log.dirs': '/a,/b', 'num.partitions': '4' });
  });

  it('layers file, overrides and environment, in that order', async () => {
    const file = await propertiesFile('node.id=1\nnum.partitions=2\nlog.dirs=/tmp/a\n');
    const { config } = loadBrokerConfig({
      argv: ['--config', file, '--override', 'num.partitions=3', '--override', 'log.retention.hours=1'],
      env: { KAFKA_CFG_NODE_ID: '7', KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE: 'false' },
      cwd: '/',
    });
    expect(config.nodeId).toBe(7);
    expect(config.numPartitions).toBe(3);
    expect(config.autoCreateTopics).toBe(false);
    expect(config.logDirs).toEqual(['/tmp/a']);
    expect(config.topicDefaults.get('retention.ms')).toBe('3600000');
    expect(config.explicit.has('num.partitions')).toBe(true);
  });

  it('maps environment variable names to keys', () => {
    expect(envToKey('KAFKA_CFG_LOG_RETENTION_MS')).toBe('log.retention.ms');
    expect(envToKey('KAFKA_CFG_SOME__UNDERSCORE_KEY')).toBe('some_underscore.key');
  });

  it('refuses an unknown key, naming it and the closest known key', () => {
    expect(() => loadBrokerConfig({ argv: ['--override', 'log.retension.ms=5'], env: {}, cwd: '/' })).toThrow(
      /unknown config key "log.retension.ms" \(from --override\); did you mean "log.retention.ms"\?/,
    );
  });

  it('refuses a bad value, saying what is accepted', () => {
    const attempt = () =>
      loadBrokerConfig({
        argv: ['--override', 'num.partitions=zero', '--override', 'log.message.timestamp.type=Now'],
        env: {},
        cwd: '/',
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/num.partitions=zero .*expected an integer/);
    expect(attempt).toThrow(/log.message.timestamp.type=Now .*must be one of CreateTime, LogAppendTime/);
  });

  it('refuses listeners that are not NAME://host:port and security protocols other than PLAINTEXT', () => {
    expect(() => loadBrokerConfig({ argv: ['--override', 'listeners=localhost:9092'], env: {}, cwd: '/' })).toThrow(
      /not NAME:\/\/host:port/,
    );
    expect(() =>
      loadBrokerConfig({
        argv: ['--override', 'listeners=SSL://:9093', '--override', 'listener.security.protocol.map=SSL:SSL'],
        env: {},
        cwd: '/',
      }),
    ).toThrow(/PLAINTEXT only/);
  });

  it('advertises localhost for a wildcard listener when advertised.listeners is unset', () => {
    const { config } = loadBrokerConfig({ argv: [], env: {}, cwd: '/' });
    expect(config.listeners).toEqual([{ name: 'PLAINTEXT', host: '', port: 9092 }]);
    expect(config.advertisedListeners).toEqual([{ name: 'PLAINTEXT', host: 'localhost', port: 9092 }]);
  });

  it('runs `npm start`s server.properties as a one-node cluster: the only voter, no controller listener needed', () => {
    const { config, ignoredKeys, warnings } = loadBrokerConfig({
      argv: ['--config', path.resolve('broker/config/server.properties')],
      env: {},
      cwd: '/srv',
    });
    expect(config.roles).toEqual({ broker: true, controller: true });
    expect(config.quorum.voters).toEqual(new Map([[1, { host: 'localhost', port: 9092 }]]));
    expect(config.controllerListenerNames).toEqual([]);
    expect(config.metadataLogDir).toBe('/srv/data');
    expect(ignoredKeys).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("takes Kafka's defaults for the quorum, broker sessions and the metadata log", () => {
    const { config } = load();
    expect(config.quorum).toMatchObject({
      electionTimeoutMs: 1000,
      fetchTimeoutMs: 2000,
      electionBackoffMaxMs: 1000,
      requestTimeoutMs: 2000,
      retryBackoffMs: 20,
    });
    expect(config.brokerSessionTimeoutMs).toBe(9000);
    expect(config.brokerHeartbeatIntervalMs).toBe(2000);
    expect(config.metadataLog).toEqual({
      segmentBytes: 1073741824,
      segmentMs: 604800000,
      maxRecordBytesBetweenSnapshots: 20971520,
      maxSnapshotIntervalMs: 3600000,
    });
  });

  it('parses a combined voter of a three-node quorum, and never advertises its controller listener', () => {
    const { config, warnings } = load(...combined(2));
    expect(config.nodeId).toBe(2);
    expect(config.roles).toEqual({ broker: true, controller: true });
    expect(config.quorum.voters).toEqual(
      new Map([
        [1, { host: 'node-1', port: 9093 }],
        [2, { host: 'node-2', port: 9093 }],
        [3, { host: 'node-3', port: 9093 }],
      ]),
    );
    expect(config.controllerListenerNames).toEqual(['CONTROLLER']);
    expect(config.listeners.map((l) => l.name)).toEqual(['PLAINTEXT', 'CONTROLLER']);
    expect(config.advertisedListeners).toEqual([{ name: 'PLAINTEXT', host: 'localhost', port: 9092 }]);
    expect(warnings).toEqual([]);
  });

  it('parses a broker-only node that reaches the voters through the controller listener name', () => {
    const { config } = load('node.id=4', 'process.roles=broker', VOTERS, 'controller.listener.names=controller');
    expect(config.roles).toEqual({ broker: true, controller: false });
    expect(config.controllerListenerNames).toEqual(['CONTROLLER']);
    expect([...config.quorum.voters.keys()]).toEqual([1, 2, 3]);
    expect(config.advertisedListeners.map((l) => l.name)).toEqual(['PLAINTEXT']);
  });

  it('refuses a controller that is not one of the voters, saying how to add it', () => {
    expect(() => load(...combined(4).filter((o) => !o.startsWith('node.id')), 'node.id=4')).toThrow(
      /node.id=4 has the controller role .* not one of the voters .* \(ids 1,2,3\): add 4@host:port .* or set process.roles=broker/,
    );
  });

  it('refuses a voter without a controller listener', () => {
    expect(() => load('node.id=1', VOTERS)).toThrow(
      /controller.listener.names is not set: .* set controller.listener.names=CONTROLLER and add CONTROLLER:\/\/:9093 to listeners/,
    );
    expect(() => load('node.id=1', VOTERS, 'controller.listener.names=CONTROLLER')).toThrow(
      /controller.listener.names=CONTROLLER must contain at least one value appearing in listeners=PLAINTEXT:\/\/:9092 when running the KRaft controller role: add CONTROLLER:\/\/:9093 to listeners/,
    );
    expect(() =>
      load(
        ...combined(1),
        'controller.listener.names=CONTROLLER,RAFT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,RAFT:PLAINTEXT',
      ),
    ).toThrow(/must only contain values appearing in listeners=.*: add RAFT:\/\/host:port to listeners or remove RAFT/);
  });

  it('refuses a broker-only node that is a voter, lacks the voters or the controller listener name, or listens as a controller', () => {
    expect(() => load('node.id=1', 'process.roles=broker', VOTERS, 'controller.listener.names=CONTROLLER')).toThrow(
      /node.id=1 has just the broker role but is one of the voters in controller.quorum.voters=1@node-1:9093,.*: give this broker a node.id no voter uses/,
    );
    expect(() => load('node.id=4', 'process.roles=broker', 'controller.listener.names=CONTROLLER')).toThrow(
      /process.roles=broker: controller.quorum.voters is not set, so this broker cannot find the controllers; set controller.quorum.voters=/,
    );
    expect(() =>
      load(
        'node.id=4',
        'process.roles=broker',
        'controller.listener.names=CONTROLLER',
        'controller.quorum.bootstrap.servers=node-1:9093',
      ),
    ).toThrow(/through controller.quorum.voters, not controller.quorum.bootstrap.servers/);
    expect(() => load('node.id=4', 'process.roles=broker', VOTERS)).toThrow(
      /controller.listener.names must contain at least one value when running KRaft with just the broker role: set it/,
    );
    expect(() =>
      load(
        'node.id=4',
        'process.roles=broker',
        VOTERS,
        'controller.listener.names=CONTROLLER',
        'listeners=PLAINTEXT://:9092,CONTROLLER://:9093',
      ),
    ).toThrow(/must not contain a value appearing in listeners .* remove CONTROLLER:\/\/:9093 from listeners/);
  });

  it('refuses to advertise the controller listener to clients', () => {
    expect(() => load(...combined(1), 'advertised.listeners=PLAINTEXT://node-1:9092,CONTROLLER://node-1:9093')).toThrow(
      /advertised.listeners must not contain the controller listener CONTROLLER .* remove it from advertised.listeners/,
    );
    expect(() => load(...combined(1), 'listeners=CONTROLLER://:9093')).toThrow(
      /there must be at least one broker advertised listener; perhaps all listeners appear in controller.listener.names=CONTROLLER\?/,
    );
  });

  it('refuses an inter-broker listener that is not advertised, and advertised names that are not listeners', () => {
    expect(() => load('inter.broker.listener.name=INTERNAL')).toThrow(
      /inter.broker.listener.name=INTERNAL must be a listener name defined in advertised.listeners: set it to one of PLAINTEXT/,
    );
    expect(() => load('advertised.listeners=PLAINTEXT://a:9092,EXTERNAL://b:9094')).toThrow(
      /advertised.listeners names EXTERNAL, which is not in listeners=PLAINTEXT:\/\/:9092/,
    );
    expect(() => load('advertised.listeners=PLAINTEXT://0.0.0.0:9092')).toThrow(/cannot use a wildcard address/);
  });

  it('checks a controller-only node listens on controller listeners only', () => {
    expect(() => load(...combined(1), 'process.roles=controller')).toThrow(
      /process.roles=controller: listeners must only contain the controller listeners .* remove PLAINTEXT:\/\/:9092 from listeners/,
    );
    const { config } = load(...combined(1), 'process.roles=controller', 'listeners=CONTROLLER://:9093');
    expect(config.roles).toEqual({ broker: false, controller: true });
    expect(config.advertisedListeners).toEqual([]);
  });

  it('refuses voters that are not id@host:port, ids used twice and roles that are not broker or controller', () => {
    expect(() => load('controller.quorum.voters=1@a:9093,b:9093,2@c')).toThrow(
      /controller.quorum.voters=.*each entry must be \{id\}@\{host\}:\{port\}.*\(bad: "b:9093", "2@c"\)/,
    );
    expect(() => load('controller.quorum.voters=1@a:9093,1@b:9093')).toThrow(
      /voter id 1 appears 2 times \(1@a:9093, 1@b:9093\): each voter needs its own id/,
    );
    expect(() => load('process.roles=')).toThrow(/process.roles= .*must name at least one role/);
    expect(() => load('process.roles=broker,broker')).toThrow(/names a role twice/);
    expect(() => load('controller.listener.names=CONTROLLER,controller')).toThrow(/names CONTROLLER more than once/);
  });

  it('needs a security protocol for every listener, controller listeners included', () => {
    expect(() => load(...combined(1), 'listener.security.protocol.map=PLAINTEXT:PLAINTEXT')).toThrow(
      /listener CONTROLLER has no entry in listener.security.protocol.map=PLAINTEXT:PLAINTEXT; add CONTROLLER:PLAINTEXT to it/,
    );
    expect(() =>
      load(
        'node.id=4',
        'process.roles=broker',
        VOTERS,
        'controller.listener.names=RAFT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT',
      ),
    ).toThrow(/listener RAFT has no entry in listener.security.protocol.map/);
  });

  it('reads the metadata log settings and puts the metadata log where metadata.log.dir says', () => {
    const { config, ignoredKeys } = load(
      'log.dirs=/data/a,/data/b',
      'metadata.log.dir=meta',
      'metadata.log.segment.bytes=8388608',
      'metadata.log.segment.ms=60000',
      'metadata.log.max.record.bytes.between.snapshots=1024',
      'metadata.log.max.snapshot.interval.ms=0',
      'broker.session.timeout.ms=18000',
      'broker.heartbeat.interval.ms=3000',
      'controller.quorum.election.timeout.ms=1500',
      'controller.quorum.fetch.timeout.ms=3000',
      'controller.quorum.election.backoff.max.ms=500',
      'controller.quorum.request.timeout.ms=2500',
      'controller.quorum.retry.backoff.ms=50',
      'metadata.max.retention.bytes=1000',
    );
    expect(config.metadataLogDir).toBe('/meta');
    expect(config.logDirs).toEqual(['/data/a', '/data/b']);
    expect(config.metadataLog).toEqual({
      segmentBytes: 8388608,
      segmentMs: 60000,
      maxRecordBytesBetweenSnapshots: 1024,
      maxSnapshotIntervalMs: 0,
    });
    expect(config.brokerSessionTimeoutMs).toBe(18000);
    expect(config.brokerHeartbeatIntervalMs).toBe(3000);
    expect(config.quorum).toMatchObject({
      electionTimeoutMs: 1500,
      fetchTimeoutMs: 3000,
      electionBackoffMaxMs: 500,
      requestTimeoutMs: 2500,
      retryBackoffMs: 50,
    });
    // Keys that now apply are not reported as having no effect; the retention of the metadata log is not yet.
    expect(ignoredKeys).toEqual(['metadata.max.retention.bytes']);
    expect(load('log.dirs=/data/a,/data/b').config.metadataLogDir).toBe('/data/a');
    expect(() => load('metadata.log.segment.bytes=1048576')).toThrow(
      /metadata.log.segment.bytes=1048576 .*at least 8388608/,
    );
  });

  it('reads the controller’s leader-election settings; leader.imbalance.per.broker.percentage, gone from Kafka 4, is accepted and has no effect', () => {
    expect(load().config.leaderElection).toEqual({
      autoRebalanceEnable: true,
      imbalanceCheckIntervalMs: 300_000,
      uncleanCheckIntervalMs: 300_000,
    });
    const { config, ignoredKeys } = load(
      'auto.leader.rebalance.enable=false',
      'leader.imbalance.check.interval.seconds=5',
      'unclean.leader.election.interval.ms=1000',
      'leader.imbalance.per.broker.percentage=20',
    );
    expect(config.leaderElection).toEqual({
      autoRebalanceEnable: false,
      imbalanceCheckIntervalMs: 5000,
      uncleanCheckIntervalMs: 1000,
    });
    expect(ignoredKeys).toEqual(['leader.imbalance.per.broker.percentage']);
    expect(() => load('leader.imbalance.check.interval.seconds=0')).toThrow(/at least 1/);
    expect(() => load('leader.imbalance.per.broker.percentage=101')).toThrow(/between 0 and 100/);
  });

  it('warns when heartbeats are too sparse for the session timeout, or the controller port differs from the voter entry', () => {
    expect(load('broker.heartbeat.interval.ms=5000').warnings).toEqual([
      expect.stringMatching(
        /broker.heartbeat.interval.ms \(5000 ms\) should be at most half of broker.session.timeout.ms \(9000 ms\)/,
      ),
    ]);
    expect(load(...combined(1), 'listeners=PLAINTEXT://:9092,CONTROLLER://:9193').warnings).toEqual([
      expect.stringMatching(/gives this node \(1\) port 9093 but its CONTROLLER listener is on port 9193/),
    ]);
  });
});

const VOTERS = 'controller.quorum.voters=1@node-1:9093,2@node-2:9093,3@node-3:9093';

/** A combined node of a three-voter quorum, as the operator and `npm run cluster` configure one. */
function combined(nodeId: number): string[] {
  return [
    `node.id=${nodeId}`,
    'process.roles=broker,controller',
    VOTERS,
    'controller.listener.names=CONTROLLER',
    'listeners=PLAINTEXT://:9092,CONTROLLER://:9093',
  ];
}

function load(...overrides: string[]) {
  return loadBrokerConfig({ argv: overrides.flatMap((o) => ['--override', o]), env: {}, cwd: '/' });
}
