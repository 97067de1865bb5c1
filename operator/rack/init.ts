// The brokers' rack init container (`runnel-operator rack-init`, see desired/rack.ts): waits until the
// operator has copied the topology label of this pod's node onto the pod, then writes
// `broker.rack=<value>` into the file the broker container reads as its last config file.

import * as fs from 'node:fs';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { RACK_ANNOTATION } from '../desired/names.js';
import { realClock, type Clock } from '../runtime/clock.js';
import { apiErrorMessage } from '../runtime/kube.js';

const POLL_INTERVAL_MS = 1_000;
const WAITING_LOG_INTERVAL_MS = 15_000;
/** A Kubernetes label value, which is also safe as a properties value without escaping. */
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export class RackInitError extends Error {}

export interface RackInitOptions {
  topologyKey: string;
  out: string;
  pod: string;
  namespace: string;
}

export function parseRackInitArgs(args: readonly string[], env: NodeJS.ProcessEnv): RackInitOptions {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    const value = i >= 0 ? args[i + 1] : undefined;
    if (!value)
      throw new RackInitError(
        `rack-init: ${name} <value> is required (usage: rack-init --topology-key <node label> --out <file>)`,
      );
    return value;
  };
  const pod = env.POD_NAME;
  const namespace = env.POD_NAMESPACE;
  if (!pod || !namespace)
    throw new RackInitError(
      'rack-init: POD_NAME and POD_NAMESPACE must name this pod (downward API fieldRefs metadata.name and metadata.namespace)',
    );
  return { topologyKey: flag('--topology-key'), out: flag('--out'), pod, namespace };
}

/** Polls the pod until it carries the rack annotation; API errors are logged and retried. */
export async function waitForRack(
  readPod: () => Promise<V1Pod>,
  options: RackInitOptions,
  log: Logger,
  { pollMs = POLL_INTERVAL_MS, clock = realClock }: { pollMs?: number; clock?: Clock } = {},
): Promise<string> {
  let lastLog = -Infinity;
  for (;;) {
    let reason: string;
    try {
      const pod = await readPod();
      const rack = pod.metadata?.annotations?.[RACK_ANNOTATION];
      if (rack !== undefined) {
        if (!LABEL_VALUE.test(rack))
          throw new RackInitError(
            `annotation ${RACK_ANNOTATION}="${rack}" on pod ${options.pod} is not a valid rack name (a Kubernetes label value)`,
          );
        return rack;
      }
      reason = `waiting for the operator to copy label ${options.topologyKey} of node ${pod.spec?.nodeName ?? '(not scheduled)'} to annotation ${RACK_ANNOTATION}; if the node lacks the label, the KafkaCluster status says so`;
    } catch (err) {
      if (err instanceof RackInitError) throw err;
      reason = `cannot read pod ${options.namespace}/${options.pod}: ${apiErrorMessage(err)}`;
    }
    if (clock.now() - lastLog >= WAITING_LOG_INTERVAL_MS) {
      log.info({ pod: options.pod }, reason);
      lastLog = clock.now();
    }
    await clock.sleep(pollMs);
  }
}

export function writeRackProperties(out: string, rack: string): void {
  const tmp = `${out}.tmp`;
  fs.writeFileSync(tmp, `broker.rack=${rack}\n`);
  fs.renameSync(tmp, out);
}

/** The init container's process: exit code 0 once the file is written. */
export async function runRackInit(args: readonly string[], env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  try {
    const options = parseRackInitArgs(args, env);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const rack = await waitForRack(
      () => core.readNamespacedPod({ name: options.pod, namespace: options.namespace }),
      options,
      log,
    );
    writeRackProperties(options.out, rack);
    log.info({ pod: options.pod, rack, file: options.out }, 'broker.rack written');
    return 0;
  } catch (err) {
    if (!(err instanceof RackInitError)) throw err;
    log.error(err.message);
    return 1;
  }
}
