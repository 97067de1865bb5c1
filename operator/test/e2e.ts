// Helpers for the operator's tests against a real control plane (e2e/control-plane).

import { KubeConfig } from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../../e2e/control-plane/cluster.js';
import { ensureBuilt } from '../../e2e/control-plane/paths.js';
import type { OperatorConfig } from '../runtime/config.js';

export async function startControlPlane(): Promise<Cluster> {
  const binDir = ensureBuilt({ log: (l) => console.log(l) });
  return startCluster({ binDir, log: (l) => console.log(`[control-plane] ${l}`) });
}

/** A client configuration that authenticates with `token` (e.g. a ServiceAccount's). */
export function kubeConfigFor(cluster: Cluster, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'e2e', server: cluster.server, caFile: cluster.caFile, skipTLSVerify: false }],
    users: [{ name: 'e2e', token }],
    contexts: [{ name: 'e2e', cluster: 'e2e', user: 'e2e' }],
    currentContext: 'e2e',
  });
  return kc;
}

export function operatorConfig(overrides: Partial<OperatorConfig> = {}): OperatorConfig {
  return {
    watchNamespaces: [],
    namespace: 'runnel-system',
    identity: 'e2e-test',
    leaderElection: false,
    brokerImage: 'runnel/broker:e2e',
    operatorImage: 'runnel/operator:e2e',
    clusterDomain: 'cluster.local',
    logLevel: 'info',
    httpPort: 0,
    resyncSeconds: 300,
    workers: 4,
    ...overrides,
  };
}

/** Polls `fn` until it returns a truthy value (returned) or `ms` passes (throws with the last error). */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  ms = 60_000,
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

/** `kubectl get -o json`, or undefined when the object does not exist. `T` is what the caller asked kubectl for. */
export async function getJson<T>(cluster: Cluster, args: string[]): Promise<T | undefined> {
  const r = await cluster.kubectl(['get', ...args, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout) as T;
}
