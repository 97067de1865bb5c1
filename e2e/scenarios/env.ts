// What every scenario needs, in one of two modes:
//
// - local (default): a control plane and the node agent started here for each test file (root
//   needed); clients run on the host, where the node agent makes pod and Service addresses
//   reachable and the cluster's DNS names resolvable;
// - existing cluster: RUNNEL_E2E_KUBECONFIG names a cluster that already runs the operator's chart
//   (e2e/kind.sh makes one with kind). Nothing is started here; kubectl and helm come from PATH
//   (or RUNNEL_K8S_BIN), and clients run in a pod `e2e-client` of the test file's namespace
//   (kcat from RUNNEL_E2E_KCAT_IMAGE, Node.js from the broker image), through `kubectl exec`.
//
// Each test file gets its own namespace, so that on a shared cluster files do not meet. Logs of
// every component stay in the run dir: logs/<control-plane component>.log, logs/node-agent.log and
// logs/pods/<ns>_<pod>_<uid>_<container>.log (in existing-cluster mode, followed with
// `kubectl logs -f`), and logs/cluster-state.txt (objects and events, written at teardown).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { V1StatefulSet, V1StatefulSetSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import type { KafkaCluster } from '../../operator/api/types.js';
import { startCluster } from '../control-plane/cluster.js';
import { ensureBuilt, newRunDir, repoRoot } from '../control-plane/paths.js';
import {
  runProcess,
  spawnProcess,
  type ExecOptions,
  type ExecResult,
  type RunningProcess,
} from '../control-plane/processes.js';
import { NODE_IP, startNode, type Node } from '../node-agent/harness.js';
import type { Namespaced, Pod, Wire } from '../node-agent/kube.js';

// What `env.json` returns, typed: the objects as the API server sends them (node-agent/kube.ts),
// and the operator's own resources as the operator declares them.
export type {
  ConfigMap,
  Node as NodeObject,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  Service,
} from '../node-agent/kube.js';
export type { KafkaCluster, KafkaTopic } from '../../operator/api/types.js';
export type StatefulSet = Namespaced<V1StatefulSet> & { spec: Wire<V1StatefulSetSpec> };
/** clients/broker-configs.mjs's answer: broker id → config key → value. */
export type BrokerConfigs = Record<string, Record<string, string | null>>;
/** What `kubectl get <kind> -o json` returns for a list. */
export interface List<T> {
  items: T[];
}

export const REPO = repoRoot();
export const OPERATOR_NAMESPACE = 'runnel-system';
export const OPERATOR_RELEASE = 'runnel-operator';
const CHART = path.join(REPO, 'charts', 'runnel-operator');

/** Existing-cluster mode: the kubeconfig of a cluster that runs the operator (e2e/kind.sh). */
export const EXISTING_KUBECONFIG = process.env.RUNNEL_E2E_KUBECONFIG || undefined;
export const EXISTING = EXISTING_KUBECONFIG !== undefined;
/** Brokers per KafkaCluster (the examples' 3). Every one is also a controller voter, up to 3. */
export const BROKERS = Number(process.env.RUNNEL_E2E_BROKERS ?? 3);
/**
 * Replicas per partition: 3, as the examples, or every broker of a smaller cluster. The examples'
 * `min.insync.replicas` (2) is capped one below it (see example()), so any one broker can restart
 * while acks=all producers carry on.
 */
export const REPLICATION = Math.min(BROKERS, 3);
const KCAT_IMAGE = process.env.RUNNEL_E2E_KCAT_IMAGE || 'edenhill/kcat:1.7.1';
const CLIENT_POD = 'e2e-client';

/** The images the chart runs by default (its appVersion): what e2e/kind.sh builds and loads. */
export function chartImage(name: 'broker' | 'operator'): string {
  const chart = parseYaml(fs.readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
  return `runnel/${name}:${chart.appVersion}`;
}

export interface Env {
  /** True in existing-cluster mode. */
  existing: boolean;
  /** This test file's namespace (created by startEnv). */
  namespace: string;
  runDir: string;
  logDir: string;
  /** An image with `node` and the project's dependencies, runnable on every node of the cluster. */
  brokerImage: string;
  /** The node agent (local mode only). */
  node?: Node;
  kubectl(args: string[], o?: ExecOptions): Promise<ExecResult>;
  helm(args: string[], o?: ExecOptions): Promise<ExecResult>;
  /** kubectl that runs on (a watch): stdin stays open until `end()`. */
  kubectlSpawn(args: string[], o?: { timeoutMs?: number }): RunningProcess;
  /** kubectl that throws on failure and returns stdout. */
  k(args: string[], input?: string): Promise<string>;
  /** `kubectl get … -o json` as a `T` (the caller's word for what it asked for), or undefined when not found. */
  json<T>(args: string[]): Promise<T | undefined>;
  /** kcat where pod and Service addresses and the cluster's DNS names work. */
  kcat(args: string[], input?: string): Promise<ExecResult>;
  /**
   * A Node.js client from e2e/scenarios/clients/ (`node --input-type=module -e <source> <args>`),
   * where kcat runs; stdin stays open until `end()`.
   */
  nodeClient(script: string, args: string[], o?: { timeoutMs?: number }): RunningProcess;
  /** nodeClient run to its end, with nothing on stdin. */
  nodeRun(script: string, args: string[]): Promise<ExecResult>;
  stop(): Promise<void>;
}

export interface EnvOptions {
  /** Namespace of the test file (created; in existing-cluster mode removed at the end). */
  namespace: string;
  /** Install the operator's chart (or, on an existing cluster, wait for it) in beforeAll. */
  operator?: boolean;
}

/**
 * Registers beforeAll/afterAll hooks that start and stop an Env, and a hook that prints where
 * the logs are when a test fails. The returned object is filled in by beforeAll.
 */
export function useEnv(o: EnvOptions): Env {
  const env = {} as Env;
  beforeAll(async () => {
    Object.assign(env, await startEnv(o));
    if (o.operator) await installOperator(env);
  });
  afterAll(async () => {
    await env.stop?.();
  });
  beforeEach(({ task, onTestFailed }) => {
    onTestFailed(() => {
      if (task.fails) return; // an expected failure (it.fails)
      console.log(
        `[e2e] FAILED "${task.name}": logs of every component in ${env.logDir} (pods/*.log, node-agent.log and the control plane's logs; cluster-state.txt at the end of the file)`,
      );
    });
  });
  return env;
}

interface Kubernetes {
  runDir: string;
  logDir: string;
  kubectl(args: string[], o?: ExecOptions): Promise<ExecResult>;
  helm(args: string[], o?: ExecOptions): Promise<ExecResult>;
  /** kubectl's path and environment, for processes started directly. */
  kubectlCommand(): { bin: string; env: NodeJS.ProcessEnv };
  stop(): Promise<void>;
}

/** The cluster named by a kubeconfig, with kubectl and helm from RUNNEL_K8S_BIN or PATH. */
function existingCluster(kubeconfig: string): Kubernetes {
  const runDir = newRunDir();
  const tool = (name: string) => (process.env.RUNNEL_K8S_BIN ? path.join(process.env.RUNNEL_K8S_BIN, name) : name);
  const env = (extra?: NodeJS.ProcessEnv) => ({ ...process.env, KUBECONFIG: kubeconfig, ...extra });
  return {
    runDir,
    logDir: path.join(runDir, 'logs'),
    kubectl: (args, o = {}) =>
      runProcess(tool('kubectl'), [...(o.token ? [`--token=${o.token}`] : []), ...args], env(o.env), o),
    helm: (args, o = {}) => runProcess(tool('helm'), args, env(o.env), o),
    kubectlCommand: () => ({ bin: tool('kubectl'), env: env() }),
    stop: () => Promise.resolve(),
  };
}

export async function startEnv(o: EnvOptions): Promise<Env> {
  let kube: Kubernetes;
  let node: Node | undefined;
  if (EXISTING_KUBECONFIG) {
    kube = existingCluster(path.resolve(EXISTING_KUBECONFIG));
  } else {
    const binDir = ensureBuilt({ log: (l) => console.log(l) });
    const cluster = await startCluster({
      binDir,
      advertiseAddress: NODE_IP,
      log: (l) => console.log(`[control-plane] ${l}`),
    });
    try {
      node = await startNode(cluster);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    kube = Object.assign(cluster, {
      kubectlCommand: () => ({ bin: path.join(cluster.binDir, 'kubectl'), env: cluster.env() }),
    });
  }
  fs.mkdirSync(path.join(kube.logDir, 'pods'), { recursive: true });
  console.log(`[e2e] run dir ${kube.runDir}${EXISTING ? ` (existing cluster ${EXISTING_KUBECONFIG})` : ''}`);

  const ns = o.namespace;
  const kOk = async (args: string[], input?: string) => {
    const r = await kube.kubectl(args, { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const brokerImage = chartImage('broker');
  let logs: { stop(): Promise<void> } | undefined;
  try {
    // A namespace left by an interrupted run on an existing cluster goes first.
    if ((await kube.kubectl(['get', 'namespace', ns])).code === 0)
      await kOk(['delete', 'namespace', ns, '--timeout=300s']);
    await kOk(['create', 'namespace', ns]);
    // Pods are refused until the ServiceAccount controller has created the namespace's `default`.
    await eventually(
      `ServiceAccount default in namespace ${ns}`,
      async () => (await kube.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0,
      60_000,
    );
    if (EXISTING) {
      logs = followPodLogs(kube, [ns, OPERATOR_NAMESPACE]);
      await startClientPod(kOk, ns, brokerImage);
    }
  } catch (e) {
    await logs?.stop();
    await node?.stop();
    await kube.stop();
    throw e;
  }

  const clientPath = (script: string) => path.join(REPO, 'e2e', 'scenarios', 'clients', script);
  const nodeArgs = (script: string, args: string[]) => [
    '--input-type=module',
    '-e',
    fs.readFileSync(clientPath(script), 'utf8'),
    ...args,
  ];
  const inClientPod = (container: string, argv: string[]) => [
    'exec',
    '-i',
    '-n',
    ns,
    CLIENT_POD,
    '-c',
    container,
    '--',
    ...argv,
  ];

  const env: Env = {
    existing: EXISTING,
    namespace: ns,
    runDir: kube.runDir,
    logDir: kube.logDir,
    brokerImage,
    node,
    kubectl: (args, eo) => kube.kubectl(args, eo),
    helm: (args, eo) => kube.helm(args, eo),
    kubectlSpawn(args, so = {}) {
      const { bin, env: kenv } = kube.kubectlCommand();
      return spawnProcess(bin, args, kenv, { timeoutMs: so.timeoutMs ?? 600_000 });
    },
    k: kOk,
    async json<T>(args: string[]): Promise<T | undefined> {
      const r = await kube.kubectl(['get', ...args, '-o', 'json']);
      if (r.code !== 0) {
        if (/NotFound|not found/.test(r.stderr)) return undefined;
        throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr.trim()}`);
      }
      return JSON.parse(r.stdout) as T;
    },
    kcat: (args, input) =>
      node
        ? node.hostExec('kcat', args, { input, timeoutMs: 60_000 })
        : kube.kubectl(inClientPod('kcat', ['kcat', ...args]), { input, timeoutMs: 60_000 }),
    nodeClient(script, args, co = {}) {
      const timeoutMs = co.timeoutMs ?? 300_000;
      if (node) return node.hostSpawn(process.execPath, nodeArgs(script, args), { cwd: REPO, timeoutMs });
      return env.kubectlSpawn(inClientPod('node', ['node', ...nodeArgs(script, args)]), { timeoutMs });
    },
    nodeRun(script, args) {
      const p = env.nodeClient(script, args, { timeoutMs: 60_000 });
      p.end();
      return p.done;
    },
    async stop() {
      try {
        const state = await kube.kubectl(
          ['get', 'nodes,all,kafkaclusters,kafkatopics,pvc,pv,endpoints,events', '-A', '-o', 'wide'],
          { timeoutMs: 20_000 },
        );
        fs.writeFileSync(path.join(kube.logDir, 'cluster-state.txt'), state.stdout + state.stderr);
      } catch {
        /* the API server may be gone already */
      }
      if (EXISTING) {
        // Topics first, while their cluster still runs (their finalizer deletes them on the
        // brokers), then everything else; the suite does not wait for the namespace to go.
        await kube.kubectl(['delete', 'kafkatopics', '--all', '-n', ns, '--timeout=60s'], { timeoutMs: 90_000 });
        await kube.kubectl(['delete', 'namespace', ns, '--wait=false']);
        await logs?.stop();
      }
      await node?.stop();
      await kube.stop();
      console.log(`[e2e] logs in ${kube.logDir}`);
    },
  };
  return env;
}

/** A pod to run clients in, on an existing cluster: kcat, and Node.js with the project's dependencies. */
async function startClientPod(
  kOk: (args: string[], input?: string) => Promise<string>,
  ns: string,
  brokerImage: string,
): Promise<void> {
  const idle = ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'];
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: CLIENT_POD, namespace: ns, labels: { 'app.kubernetes.io/name': CLIENT_POD } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'kcat', image: KCAT_IMAGE, command: idle },
        { name: 'node', image: brokerImage, imagePullPolicy: 'IfNotPresent', command: idle },
      ],
    },
  };
  await kOk(['apply', '-f', '-'], JSON.stringify(pod));
  await kOk(['wait', '--for=condition=Ready', `pod/${CLIENT_POD}`, '-n', ns, '--timeout=300s']);
}

/**
 * Existing-cluster mode: follows every container of every pod in `namespaces` with
 * `kubectl logs -f` into logs/pods/ (the node agent's file names), so that the logs of pods that
 * are deleted later (a rolling restart, a scale-down) stay too. Polls every 2 s.
 */
function followPodLogs(kube: Kubernetes, namespaces: string[]): { stop(): Promise<void> } {
  const { bin, env } = kube.kubectlCommand();
  const followed = new Set<string>();
  const children = new Set<ChildProcess>();
  let stopped = false;
  const poll = async () => {
    for (const ns of namespaces) {
      const r = await kube.kubectl(['get', 'pods', '-n', ns, '-o', 'json'], { timeoutMs: 20_000 });
      if (r.code !== 0) continue;
      for (const pod of (JSON.parse(r.stdout) as List<Pod>).items) {
        const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
        for (const s of statuses) {
          if (!s.state?.running && !s.state?.terminated) continue;
          const key = `${pod.metadata.uid}/${s.name}/${s.restartCount}`;
          if (followed.has(key) || stopped) continue;
          followed.add(key);
          const file = path.join(
            kube.logDir,
            'pods',
            `${ns}_${pod.metadata.name}_${pod.metadata.uid.slice(0, 8)}_${s.name}.log`,
          );
          fs.appendFileSync(file, `--- ${new Date().toISOString()} kubectl logs -f (restart ${s.restartCount})\n`);
          const fd = fs.openSync(file, 'a');
          const child = spawn(bin, ['logs', '-f', '-n', ns, pod.metadata.name, '-c', s.name], {
            env,
            stdio: ['ignore', fd, fd],
          });
          fs.closeSync(fd);
          children.add(child);
          child.on('exit', () => children.delete(child));
        }
      }
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  })();
  return {
    async stop() {
      await poll().catch(() => undefined);
      stopped = true;
      await loop;
      for (const c of children) c.kill('SIGTERM');
    },
  };
}

/**
 * `helm install` of charts/runnel-operator, waiting for the operator to be available. On an
 * existing cluster whose chart is installed already (by e2e/kind.sh), only waits for it.
 */
export async function installOperator(env: Env): Promise<void> {
  if (env.existing && (await env.helm(['status', OPERATOR_RELEASE, '--namespace', OPERATOR_NAMESPACE])).code === 0) {
    await env.k(['rollout', 'status', `deployment/${OPERATOR_RELEASE}`, '-n', OPERATOR_NAMESPACE, '--timeout=180s']);
    return;
  }
  const r = await env.helm(
    [
      'install',
      OPERATOR_RELEASE,
      CHART,
      '--namespace',
      OPERATOR_NAMESPACE,
      '--create-namespace',
      '--wait',
      '--timeout',
      '120s',
    ],
    { timeoutMs: 150_000 },
  );
  if (r.code !== 0) throw new Error(`helm install failed (${r.code}): ${r.stderr}\n${r.stdout}`);
}

/** A document of examples/: what example() reads of it (`spec` only of a KafkaCluster or KafkaTopic). */
interface ExampleDoc {
  kind?: string;
  spec: {
    // KafkaCluster
    replicas?: number;
    controllerVoters?: number;
    storage?: Record<string, unknown>;
    resources?: { requests?: Record<string, string | number> };
    // KafkaTopic
    replicationFactor?: number;
    // both
    config?: Record<string, string | number>;
  };
}

/**
 * An example manifest for `brokers` brokers (voters: up to 3), 100m CPU requested per broker and
 * 1Gi volumes (the example asks for more than a small kind node has for a few brokers). Replication
 * factors are capped to the brokers, and `min.insync.replicas` one below the replication factor
 * (at least 1), so that a rolling restart can always take a broker out.
 */
export function example(file: string, brokers = BROKERS): string {
  const docs = parseAllDocuments(fs.readFileSync(path.join(REPO, 'examples', file), 'utf8')).map(
    (d) => d.toJSON() as ExampleDoc,
  );
  const replication = Math.min(brokers, REPLICATION);
  const cap = (config: Record<string, string | number> | undefined, key: string, most: number) => {
    if (config?.[key] !== undefined) config[key] = Math.min(Number(config[key]), most);
  };
  const minInsync = Math.max(1, replication - 1);
  for (const d of docs) {
    if (d.kind === 'KafkaCluster') {
      d.spec.replicas = brokers;
      d.spec.controllerVoters = Math.min(d.spec.controllerVoters ?? brokers, brokers);
      d.spec.storage = { ...d.spec.storage, size: '1Gi' };
      if (d.spec.resources?.requests) d.spec.resources.requests = { cpu: '100m', memory: '256Mi' };
      cap(d.spec.config, 'default.replication.factor', replication);
      cap(d.spec.config, 'min.insync.replicas', minInsync);
    }
    if (d.kind === 'KafkaTopic') {
      d.spec.replicationFactor = Math.min(d.spec.replicationFactor ?? replication, replication);
      cap(d.spec.config, 'min.insync.replicas', Math.max(1, d.spec.replicationFactor - 1));
    }
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Polls `fn` until it returns a truthy value (returned) or `ms` passes. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  ms = 90_000,
): Promise<NonNullable<Exclude<T, false>>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<Exclude<T, false>>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * Waits until the operator has finished with the KafkaCluster's current generation: Ready
 * (reason Ready: nothing left to do), and every broker pod ready on the StatefulSet's current
 * revision. Returns the KafkaCluster.
 */
export async function clusterSettled(env: Env, name: string, ms = 240_000): Promise<KafkaCluster> {
  return eventually(
    `KafkaCluster ${name} reconciled and Ready`,
    async () => {
      const kc = await env.json<KafkaCluster>(['kafkacluster', name, '-n', env.namespace]);
      const ready = kc?.status?.conditions?.find((c) => c.type === 'Ready');
      if (
        kc?.status?.observedGeneration !== kc?.metadata.generation ||
        ready?.status !== 'True' ||
        ready.reason !== 'Ready'
      )
        return undefined;
      const pods = await brokerPods(env, name);
      const sts = (await env.json<StatefulSet>(['statefulset', `${name}-broker`, '-n', env.namespace]))!;
      const current = sts.status!.observedGeneration === sts.metadata.generation && pods.length === kc!.spec.replicas;
      return current &&
        pods.every((p) => p.metadata.labels!['controller-revision-hash'] === sts.status!.updateRevision && isReady(p))
        ? kc
        : undefined;
    },
    ms,
  );
}

/**
 * Waits until a Kafka client reaches brokers through `address` (and the names they advertise):
 * a pod that just became ready is in the DNS and Service rules a moment later.
 */
export async function kafkaReachable(env: Env, address: string): Promise<void> {
  await eventually(`brokers answering at ${address}`, async () => {
    const r = await env.kcat(['-b', address, '-L', '-m', '5']);
    if (r.code !== 0) throw new Error(r.stderr.trim());
    return true;
  });
}

/** The cluster as a Kafka client sees it through `address`: Metadata's brokers and controller id. */
export interface KafkaMetadata {
  brokers: number[];
  controller: number;
  /** Partition → leader, of the topic asked for. */
  leaders: Map<number, number>;
}

/**
 * Metadata through `address`, read with kcat (`-L`: "broker <id> at <host:port> (controller)", and
 * "partition <p>, leader <id>, replicas: …" for `topic`).
 */
export async function kafkaMetadata(env: Env, address: string, topic?: string): Promise<KafkaMetadata> {
  const r = await env.kcat(['-b', address, '-L', '-m', '10', ...(topic ? ['-t', topic] : [])]);
  if (r.code !== 0) throw new Error(`kcat -L -b ${address}: ${r.stderr.trim()}`);
  const brokers = [...r.stdout.matchAll(/^\s*broker (\d+) at \S+/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const controller = /^\s*broker (\d+) at \S+ \(controller\)/m.exec(r.stdout);
  const leaders = new Map(
    [...r.stdout.matchAll(/^\s*partition (\d+), leader (-?\d+),/gm)].map((m) => [Number(m[1]), Number(m[2])]),
  );
  return { brokers, controller: controller ? Number(controller[1]) : -1, leaders };
}

/** Waits until Metadata through `address` lists exactly `ids` (brokers register and unfence a moment after start). */
export async function kafkaBrokersAre(env: Env, address: string, ids: number[]): Promise<KafkaMetadata> {
  let last: KafkaMetadata | undefined;
  try {
    return await eventually(`brokers ${ids.join(', ')} in the metadata at ${address}`, async () => {
      last = await kafkaMetadata(env, address);
      return last.brokers.join() === ids.join() && last;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message} (last seen: ${last ? last.brokers.join(', ') : 'nothing'})`);
  }
}

/** The KafkaCluster's broker pods, by ordinal. */
export async function brokerPods(env: Env, cluster: string): Promise<Pod[]> {
  const list = await env.json<List<Pod>>([
    'pods',
    '-n',
    env.namespace,
    '-l',
    `app.kubernetes.io/instance=${cluster},app.kubernetes.io/name=runnel-broker`,
  ]);
  return (list?.items ?? []).sort((a, b) => ordinal(a) - ordinal(b));
}

export const ordinal = (pod: Pod) => Number(pod.metadata.labels!['apps.kubernetes.io/pod-index']);
export const isReady = (pod: Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
