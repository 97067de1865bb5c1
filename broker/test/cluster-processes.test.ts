// The local cluster's node configurations (`npm run cluster`, startCluster) are accepted by the
// broker's own config loader, with the roles and voters they are meant to have. Cluster formation
// itself is tested where the quorum is.

import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bootstrapOf,
  clusterNodes,
  defaultControllers,
  parseLauncherArgs,
  readOrCreateClusterId,
  type ClusterNode,
} from '../dev/cluster.js';
import { loadBrokerConfig } from '../config/broker-config.js';
import { freePorts } from './cluster-processes.js';

const CLUSTER_ID = 'MkU3OEVBNTcwNTJENDM2Qg';

function load(node: ClusterNode) {
  return loadBrokerConfig({
    argv: Object.entries(node.overrides).flatMap(([k, v]) => ['--override', `${k}=${v}`]),
    env: {},
    cwd: '/',
  });
}

describe('local cluster configuration', () => {
  it('makes three combined voters on 9092.. and 9192.., each with its own data directory', () => {
    const nodes = clusterNodes({ nodes: 3, dataDir: '/tmp/runnel', clusterId: CLUSTER_ID });
    expect(bootstrapOf(nodes)).toBe('127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094');
    for (const node of nodes) {
      const { config, warnings } = load(node);
      expect(config.nodeId).toBe(node.nodeId);
      expect(config.roles).toEqual({ broker: true, controller: true });
      expect(config.quorum.voters).toEqual(
        new Map([1, 2, 3].map((id) => [id, { host: '127.0.0.1', port: 9192 + id - 1 }])),
      );
      expect(config.listeners).toEqual([
        { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 + node.nodeId - 1 },
        { name: 'CONTROLLER', host: '127.0.0.1', port: 9192 + node.nodeId - 1 },
      ]);
      expect(config.advertisedListeners).toEqual([
        { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 + node.nodeId - 1 },
      ]);
      expect(config.logDirs).toEqual([`/tmp/runnel/node-${node.nodeId}`]);
      expect(config.clusterId).toBe(CLUSTER_ID);
      expect(config.get('offsets.topic.replication.factor')).toBe('3');
      expect(warnings).toEqual([]);
    }
  });

  it('keeps the quorum at three voters in a larger cluster; the other nodes are broker-only', () => {
    expect([1, 3, 5, 6, 9].map(defaultControllers)).toEqual([1, 3, 5, 3, 3]);
    const nodes = clusterNodes({ nodes: 7, dataDir: '/d', clusterId: CLUSTER_ID });
    const configs = nodes.map((n) => load(n).config);
    expect(configs.map((c) => c.roles.controller)).toEqual([true, true, true, false, false, false, false]);
    for (const c of configs) expect([...c.quorum.voters.keys()]).toEqual([1, 2, 3]);
    expect(configs[4].listeners.map((l) => l.name)).toEqual(['PLAINTEXT']);
    expect(configs[4].controllerListenerNames).toEqual(['CONTROLLER']);
    expect(nodes[4].controllerPort).toBeNull();
  });

  it('runs one controller with three brokers when asked, on the ports given', async () => {
    const ports = await freePorts(8);
    expect(new Set(ports).size).toBe(8);
    const nodes = clusterNodes({
      nodes: 4,
      controllers: 1,
      dataDir: '/d',
      clusterId: CLUSTER_ID,
      clientPorts: ports.slice(0, 4),
      controllerPorts: ports.slice(4),
    });
    const configs = nodes.map((n) => load(n).config);
    expect(configs.map((c) => c.roles)).toEqual([
      { broker: true, controller: true },
      ...Array.from({ length: 3 }, () => ({ broker: true, controller: false })),
    ]);
    for (const c of configs) expect(c.quorum.voters).toEqual(new Map([[1, { host: '127.0.0.1', port: ports[4] }]]));
    expect(configs.map((c) => c.advertisedListeners[0].port)).toEqual(ports.slice(0, 4));
    expect(() => clusterNodes({ nodes: 2, controllers: 3, dataDir: '/d', clusterId: CLUSTER_ID })).toThrow(
      /controllers must be between 1 and the number of nodes \(2\), got 3/,
    );
  });

  it('runs the voters as controller-only nodes when asked: no client listener, the other nodes are the brokers', () => {
    const nodes = clusterNodes({
      nodes: 4,
      controllers: 1,
      controllerOnly: true,
      dataDir: '/d',
      clusterId: CLUSTER_ID,
    });
    const configs = nodes.map((n) => load(n).config);
    expect(configs.map((c) => c.roles)).toEqual([
      { broker: false, controller: true },
      ...Array.from({ length: 3 }, () => ({ broker: true, controller: false })),
    ]);
    expect(configs[0].listeners).toEqual([{ name: 'CONTROLLER', host: '127.0.0.1', port: 9192 }]);
    expect(configs[0].advertisedListeners).toEqual([]);
    expect(nodes.map((n) => [n.broker, n.clientPort, n.controllerPort])).toEqual([
      [false, null, 9192],
      [true, 9093, null],
      [true, 9094, null],
      [true, 9095, null],
    ]);
    expect(bootstrapOf(nodes)).toBe('127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095');
    // The offsets topic's replication factor fits the brokers, not the nodes.
    expect(configs.map((c) => c.get('offsets.topic.replication.factor'))).toEqual(['3', '3', '3', '3']);
    expect(() =>
      clusterNodes({ nodes: 1, controllers: 1, controllerOnly: true, dataDir: '/d', clusterId: CLUSTER_ID }),
    ).toThrow(/need at least one broker/);
  });

  it('keeps the cluster id in the data directory, so a restarted cluster is the same cluster', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-cluster-'));
    const id = readOrCreateClusterId(dir);
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(readOrCreateClusterId(dir)).toBe(id);
    expect((await readFile(path.join(dir, 'cluster.id'), 'utf8')).trim()).toBe(id);
  });

  it('reads the launcher arguments and refuses bad ones', () => {
    expect(parseLauncherArgs([])).toEqual({
      nodes: 3,
      controllers: undefined,
      controllerOnly: false,
      dataDir: 'data',
      overrides: [],
    });
    expect(
      parseLauncherArgs(['--nodes', '5', '--controllers', '1', '--data-dir', '/x', '--override', 'num.partitions=6']),
    ).toEqual({ nodes: 5, controllers: 1, controllerOnly: false, dataDir: '/x', overrides: ['num.partitions=6'] });
    expect(parseLauncherArgs(['--nodes', '4', '--controllers', '1', '--controller-only']).controllerOnly).toBe(true);
    expect(() => parseLauncherArgs(['--nodes', '3', '--controller-only'])).toThrow(
      /--controller-only needs more --nodes than --controllers/,
    );
    expect(() => parseLauncherArgs(['--nodes', '0'])).toThrow(/--nodes needs a positive number/);
    expect(() => parseLauncherArgs(['--nodes', '2', '--controllers', '3'])).toThrow(/more than --nodes 2/);
    expect(() => parseLauncherArgs(['--brokers', '3'])).toThrow(/unknown argument "--brokers"/);
  });
});
