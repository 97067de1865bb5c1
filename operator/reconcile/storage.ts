// Growing spec.storage.size. A StatefulSet's volumeClaimTemplates cannot change in place (the API
// server answers 422), so, as Kubernetes documents and Strimzi does: when the claims' StorageClass
// allows expansion, each existing broker claim is asked for the new size, then the StatefulSet is
// deleted with propagationPolicy Orphan (its pods keep running, its claims stay) and the next
// apply re-creates it with the new template. It adopts the running pods: the revision hash covers
// the pod template only, so no broker restarts. A volume never shrinks: the CRD refuses a smaller
// spec.storage.size on update, and this step refuses a template larger than the spec.

import type { V1PersistentVolumeClaim, V1StatefulSet, V1StorageClass } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { quantityBytes } from '../api/quantity.js';
import type { KafkaCluster } from '../api/types.js';
import { labelSelector, names } from '../desired/names.js';
import type { Kube } from '../runtime/kube.js';
import { done, requeue, type StepResult } from './steps.js';

const STATEFULSET_GONE_RECHECK_MS = 1_000;
const EXPANSION_RECHECK_MS = 5_000;
const REFUSED_RECHECK_MS = 60_000;
const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
const CLAIM_TEMPLATE = 'data';

export interface StorageContext {
  readonly cluster: KafkaCluster;
  readonly deps: { kube: Kube; log: Logger };
  /** Set by expandStorage: the size the StatefulSet's claim template must carry. */
  claimSize?: string;
}

const claimTemplateOf = (sts: V1StatefulSet) =>
  sts.spec?.volumeClaimTemplates?.find((t) => t.metadata?.name === CLAIM_TEMPLATE) ??
  sts.spec?.volumeClaimTemplates?.[0];

const requested = (c: V1PersistentVolumeClaim) => c.spec?.resources?.requests?.storage;
const capacity = (c: V1PersistentVolumeClaim) => c.status?.capacity?.storage;
const isBound = (c: V1PersistentVolumeClaim) => c.status?.phase === 'Bound';
const below = (q: string | undefined, size: string) => q === undefined || quantityBytes(q) < quantityBytes(size);

export async function expandStorage(ctx: StorageContext): Promise<StepResult> {
  const { cluster, deps } = ctx;
  const want = cluster.spec.storage.size;
  const n = names(cluster);
  const stsRef = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    namespace: cluster.metadata.namespace,
    name: n.statefulSet,
  };
  const sts = await deps.kube.get<V1StatefulSet>(stsRef);
  ctx.claimSize = want;
  if (sts?.metadata?.deletionTimestamp) {
    // Deleted (orphaning its pods) to change its claim template; applied again once it is gone.
    return requeue(
      STATEFULSET_GONE_RECHECK_MS,
      'ExpandingStorage',
      `expanding broker volumes to ${want}: waiting for StatefulSet ${n.statefulSet} to go, to create it again with the new claim size (the brokers keep running)`,
    );
  }
  const template = sts && claimTemplateOf(sts);
  const templateSize = template?.spec?.resources?.requests?.storage;
  if (templateSize !== undefined) ctx.claimSize = templateSize;
  if (templateSize !== undefined && quantityBytes(want) < quantityBytes(templateSize)) {
    return requeue(
      REFUSED_RECHECK_MS,
      'StorageShrinkRefused',
      `spec.storage.size ${want} is smaller than the brokers' volumes (${templateSize}); a volume cannot be made smaller: set spec.storage.size back to at least ${templateSize}`,
    );
  }
  const growing = templateSize !== undefined && quantityBytes(want) > quantityBytes(templateSize);

  const prefix = `${template?.metadata?.name ?? CLAIM_TEMPLATE}-${n.statefulSet}-`;
  const claims = (
    await deps.kube.list<V1PersistentVolumeClaim>(
      'v1',
      'PersistentVolumeClaim',
      cluster.metadata.namespace,
      labelSelector(cluster),
    )
  )
    .filter((c) => {
      const name = c.metadata?.name ?? '';
      return name.startsWith(prefix) && /^[0-9]+$/.test(name.slice(prefix.length)) && !c.metadata?.deletionTimestamp;
    })
    .sort((a, b) => ordinal(a, prefix) - ordinal(b, prefix));
  // A claim not bound yet cannot be resized (the API server allows it only for bound claims); it
  // is asked again on a later pass, once bound.
  const toResize = claims.filter((c) => isBound(c) && below(requested(c), want));
  if (!growing && toResize.length === 0) return progress(ctx, want, claims, sts !== undefined);

  const className =
    claims.find((c) => c.spec?.storageClassName)?.spec?.storageClassName ??
    template?.spec?.storageClassName ??
    cluster.spec.storage.storageClassName;
  const cls = await storageClass(deps.kube, className);
  if (cls?.allowVolumeExpansion !== true) {
    const why =
      className === undefined && cls === undefined
        ? 'the claims have no StorageClass (spec.storage.storageClassName is unset and the cluster has no default class)'
        : cls === undefined
          ? `StorageClass ${className} does not exist`
          : `StorageClass ${cls.metadata?.name} does not allow volume expansion (allowVolumeExpansion is not true)`;
    if (!growing) {
      // The template already asks for `want` (e.g. claims kept from a smaller predecessor): they
      // stay as they are, and the brokers run on them.
      deps.log.warn(
        { claims: toResize.map((c) => c.metadata?.name), size: want },
        `broker volumes smaller than spec.storage.size cannot be expanded: ${why}`,
      );
      return done;
    }
    return requeue(
      REFUSED_RECHECK_MS,
      'StorageNotExpandable',
      `cannot expand the broker volumes from ${templateSize} to ${want}: ${why}; use a StorageClass with allowVolumeExpansion: true, or set spec.storage.size back to ${templateSize}`,
    );
  }

  for (const claim of toResize) {
    await deps.kube.mergePatch(
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: cluster.metadata.namespace,
        name: claim.metadata!.name!,
      },
      { spec: { resources: { requests: { storage: want } } } },
    );
    deps.log.info({ claim: claim.metadata?.name, from: requested(claim), to: want }, 'broker volume claim expanded');
  }
  ctx.claimSize = want;
  if (!growing) return progress(ctx, want, claims, sts !== undefined);

  await deps.kube.delete(stsRef, { propagationPolicy: 'Orphan' });
  const message = `expanding broker volumes from ${templateSize} to ${want}: claims resized, StatefulSet ${n.statefulSet} deleted (orphaning its pods, which keep running) to create it again with the new claim size`;
  deps.log.info({ statefulSet: n.statefulSet, from: templateSize, to: want }, message);
  await deps.kube.event(cluster, 'Normal', 'ExpandingStorage', message);
  return requeue(STATEFULSET_GONE_RECHECK_MS, 'ExpandingStorage', message);
}

/**
 * Done once every bound claim has the size (status.capacity) asked for. Without a StatefulSet
 * (being created again) it never holds the pass up: the StatefulSet comes first.
 */
function progress(ctx: StorageContext, want: string, claims: V1PersistentVolumeClaim[], hasStatefulSet: boolean) {
  const bound = claims.filter(isBound);
  const waiting = bound.filter((c) => below(capacity(c), want));
  if (waiting.length === 0 || !hasStatefulSet) return done;
  const restartPending = waiting
    .filter((c) => c.status?.conditions?.some((k) => k.type === 'FileSystemResizePending' && k.status === 'True'))
    .map((c) => c.metadata!.name!);
  const note =
    restartPending.length > 0
      ? ` (${restartPending.join(', ')}: the volume was resized, its filesystem waits for the broker's pod to start again)`
      : '';
  return requeue(
    EXPANSION_RECHECK_MS,
    'ExpandingStorage',
    `expanding broker volumes to ${want}: ${bound.length - waiting.length}/${bound.length} done${note}`,
  );
}

async function storageClass(kube: Kube, name: string | undefined): Promise<V1StorageClass | undefined> {
  if (name !== undefined) {
    return kube.get<V1StorageClass>({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', namespace: '', name });
  }
  const classes = await kube.list<V1StorageClass>('storage.k8s.io/v1', 'StorageClass', '', '');
  return classes.find((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
}

function ordinal(claim: V1PersistentVolumeClaim, prefix: string): number {
  return Number(claim.metadata!.name!.slice(prefix.length));
}
