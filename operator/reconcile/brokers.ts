// Broker pods as the cluster reconcile sees them.

import type { V1Pod } from '@kubernetes/client-node';
import type { BrokerState } from '../api/types.js';
import { POD_INDEX_LABEL, RACK_ANNOTATION } from '../desired/names.js';

export interface BrokerPod {
  name: string;
  ordinal: number;
  /** StatefulSet revision the pod was created from (`controller-revision-hash`). */
  revision: string | undefined;
  state: BrokerState;
  /** The node it is scheduled to, once it is. */
  node: string | undefined;
  /** Its `broker.rack`, once the operator has copied it from the node (spec.rack). */
  rack: string | undefined;
}

export function brokerPod(pod: V1Pod): BrokerPod {
  const name = pod.metadata?.name ?? '';
  const index = pod.metadata?.labels?.[POD_INDEX_LABEL] ?? /-(\d+)$/.exec(name)?.[1];
  return {
    name,
    ordinal: Number(index),
    revision: pod.metadata?.labels?.['controller-revision-hash'],
    state: brokerState(pod),
    node: pod.spec?.nodeName,
    rack: pod.metadata?.annotations?.[RACK_ANNOTATION],
  };
}

function brokerState(pod: V1Pod): BrokerState {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return 'Ready';
  if (!pod.status?.phase || pod.status.phase === 'Pending') return 'Pending';
  return 'NotReady';
}

export function byOrdinal(a: BrokerPod, b: BrokerPod): number {
  return a.ordinal - b.ordinal;
}
