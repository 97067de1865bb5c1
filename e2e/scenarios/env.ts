// What every scenario needs: a control plane, the node agent, the operator installed by helm, and
// the examples applied by kubectl, each the way a user does it. Logs of every component stay in the
// run dir: logs/<control-plane component>.log, logs/node-agent.log, logs/pods/<ns>_<pod>_<uid>_<container>.log,
// and logs/cluster-state.txt (objects and events, written at teardown).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ensureBuilt, repoRoot, startCluster, type Cluster, type ExecResult } from '../control-plane/cluster.js';
import { NODE_IP, startNode, type Node } from '../node-agent/harness.js';

export const REPO = repoRoot();
export const OPERATOR_NAMESPACE = 'runnel-system';

export interface Env {
  cluster: Cluster;
  node: Node;
  /** kubectl that throws on failure. */
  k(args: string[], input?: string): Promise<string>;
  json<T = any>(args: string[]): Promise<T | undefined>;
  /** kcat on the host, with the cluster's DNS names resolvable. */
  kcat(args: string[], input?: string): Promise<ExecResult>;
  stop(): Promise<void>;
}

export async function startEnv(): Promise<Env> {
  const binDir = ensureBuilt({ log: (l) => console.log(l) });
  const cluster = await startCluster({ binDir, advertiseAddress: NODE_IP, log: (l) => console.log(`[control-plane] ${l}`) });
  let node: Node;
  try {
    node = await startNode(cluster);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  console.log(`[e2e] run dir ${cluster.runDir}`);
  const env: Env = {
    cluster,
    node,
    k: (args, input) => cluster.kubectlOk(args, { input }),
    async json(args) {
      const r = await cluster.kubectl(['get', ...args, '-o', 'json']);
      if (r.code !== 0) {
        if (/NotFound|not found/.test(r.stderr)) return undefined;
        throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr.trim()}`);
      }
      return JSON.parse(r.stdout);
    },
    kcat: (args, input) => node.hostExec('kcat', args, { input, timeoutMs: 60_000 }),
    async stop() {
      try {
        const state = await cluster.kubectl(['get', 'all,kafkaclusters,kafkatopics,pvc,pv,endpoints,events', '-A', '-o', 'wide'], { timeoutMs: 20_000 });
        fs.writeFileSync(path.join(cluster.logDir, 'cluster-state.txt'), state.stdout + state.stderr);
      } catch {
        /* the API server may be gone already */
      }
      await node.stop();
      await cluster.stop();
      console.log(`[e2e] logs in ${cluster.logDir}`);
    },
  };
  return env;
}

/** `helm install` of charts/runnel-operator, waiting for the operator Deployment to be available. */
export async function installOperator(env: Env): Promise<void> {
  const r = await env.cluster.helm(
    ['install', 'runnel-operator', path.join(REPO, 'charts', 'runnel-operator'), '--namespace', OPERATOR_NAMESPACE, '--create-namespace', '--wait', '--timeout', '120s'],
    { timeoutMs: 150_000 },
  );
  if (r.code !== 0) throw new Error(`helm install failed (${r.code}): ${r.stderr}\n${r.stdout}`);
}

/**
 * An example manifest with single-broker settings (brokers do not replicate yet). Written so that
 * the three-broker examples slot in unchanged once they do: set BROKERS=3.
 */
export function example(file: string, brokers = Number(process.env.RUNNEL_E2E_BROKERS ?? 1)): string {
  const docs = parseAllDocuments(fs.readFileSync(path.join(REPO, 'examples', file), 'utf8')).map((d) => d.toJSON());
  for (const d of docs) {
    if (brokers >= 3) continue;
    if (d.kind === 'KafkaCluster') {
      d.spec.replicas = brokers;
      d.spec.controllerVoters = Math.min(d.spec.controllerVoters ?? brokers, brokers);
      d.spec.storage = { ...d.spec.storage, size: '1Gi' };
      // The example asks for 1Gi/500m per broker; the node has room, but keep it modest.
      for (const k of ['default.replication.factor', 'min.insync.replicas']) if (d.spec.config?.[k] !== undefined) d.spec.config[k] = Math.min(Number(d.spec.config[k]), brokers);
    }
    if (d.kind === 'KafkaTopic') {
      d.spec.replicationFactor = Math.min(d.spec.replicationFactor ?? brokers, brokers);
      if (d.spec.config?.['min.insync.replicas'] !== undefined) d.spec.config['min.insync.replicas'] = Math.min(Number(d.spec.config['min.insync.replicas']), brokers);
    }
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Polls `fn` until it returns a truthy value or `ms` passes. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ms = 90_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
