// Storage for the e2e node: a default StorageClass `runnel-local` and its provisioner. The class
// binds at WaitForFirstConsumer, like most local-volume classes (kind's among them): the scheduler
// picks the node and names it on the claim (`volume.kubernetes.io/selected-node`), and only then
// does the claim get a hostPath PersistentVolume backed by <run>/volumes/pvc-<uid>, created
// pre-bound to the claim (claimRef) and pinned to the node, which the PV controller of
// kube-controller-manager then binds while the scheduler waits for it. (With Immediate binding the
// scheduler rejects a pod whose claim is not bound yet and relies on a later claim event to try
// again; a pod was seen Pending for minutes that way.) The directory outlives pods, so a StatefulSet pod that is deleted comes back to the
// same data. When a claim is deleted its PV is Released: with reclaim policy Delete the provisioner
// removes the directory and the PV; with Retain both stay (as with any external provisioner).
// The class allows volume expansion, and the provisioner also plays external-resizer and the
// kubelet for a filesystem that needs no resize: when a bound claim asks for more than its PV
// holds, the PV's spec.capacity and the claim's status.capacity become the request (a hostPath
// directory has no size of its own).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantityBytes } from '../../operator/api/quantity.js';
import {
  isConflict,
  isNotFound,
  type Kube,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type StorageClass,
} from './kube.js';

export const STORAGE_CLASS = 'runnel-local';
export const PROVISIONER = 'runnel.dev/local-dir';
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';

export class Provisioner {
  constructor(
    private readonly kube: Kube,
    private readonly volumeDir: string,
    private readonly nodeName: string,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  async ensureStorageClass(): Promise<void> {
    try {
      await this.kube.request('POST', '/apis/storage.k8s.io/v1/storageclasses', {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: PROVISIONER,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'WaitForFirstConsumer',
        allowVolumeExpansion: true,
      });
      this.log('storage class created', { name: STORAGE_CLASS });
    } catch (e) {
      if (!isConflict(e)) throw e;
      // A class from before expansion was supported: allowVolumeExpansion is its one mutable field.
      await this.kube.mergePatch(`/apis/storage.k8s.io/v1/storageclasses/${STORAGE_CLASS}`, {
        allowVolumeExpansion: true,
      });
    }
  }

  async sync(): Promise<void> {
    const [classes, claims, volumes] = await Promise.all([
      this.kube.list<StorageClass>('/apis/storage.k8s.io/v1/storageclasses'),
      this.kube.list<PersistentVolumeClaim>('/api/v1/persistentvolumeclaims'),
      this.kube.list<PersistentVolume>('/api/v1/persistentvolumes'),
    ]);
    const ours = new Map(classes.filter((c) => c.provisioner === PROVISIONER).map((c) => [c.metadata.name, c]));
    const claimed = new Set(volumes.map((v) => v.spec.claimRef?.uid).filter(Boolean));
    for (const pvc of claims) {
      const cls = ours.get(pvc.spec.storageClassName ?? '');
      if (!cls || pvc.status?.phase !== 'Pending' || pvc.spec.volumeName || pvc.metadata.deletionTimestamp) continue;
      if (claimed.has(pvc.metadata.uid)) continue;
      const waitsForPod = cls.volumeBindingMode === 'WaitForFirstConsumer';
      if (waitsForPod && pvc.metadata.annotations?.[SELECTED_NODE] !== this.nodeName) continue;
      await this.provision(pvc, cls);
    }
    const volumeByName = new Map(volumes.map((v) => [v.metadata.name, v]));
    for (const pvc of claims) {
      const pv = volumeByName.get(pvc.spec.volumeName ?? '');
      if (pvc.status?.phase !== 'Bound' || !pv || pv.spec.claimRef?.uid !== pvc.metadata.uid) continue;
      if (pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) continue;
      await this.resize(pvc, pv);
    }
    for (const pv of volumes) {
      if (pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) continue;
      if (pv.status?.phase !== 'Released' || pv.spec.persistentVolumeReclaimPolicy !== 'Delete') continue;
      const dir = pv.spec.hostPath?.path;
      if (dir && dir.startsWith(this.volumeDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
      try {
        await this.kube.request('DELETE', `/api/v1/persistentvolumes/${pv.metadata.name}`);
        this.log('volume deleted (reclaim policy Delete)', { pv: pv.metadata.name, dir });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }

  /** What external-resizer and the kubelet do once a claim asks for more (the directory needs nothing). */
  private async resize(pvc: PersistentVolumeClaim, pv: PersistentVolume): Promise<void> {
    const want = pvc.spec.resources?.requests?.storage;
    if (want === undefined) return;
    const pvSize = pv.spec.capacity?.storage;
    const claimSize = pvc.status?.capacity?.storage;
    const grow = (have: string | number | undefined) => have === undefined || quantityBytes(want) > quantityBytes(have);
    if (!grow(pvSize) && !grow(claimSize)) return;
    try {
      if (grow(pvSize)) {
        await this.kube.mergePatch(`/api/v1/persistentvolumes/${pv.metadata.name}`, {
          spec: { capacity: { storage: want } },
        });
      }
      await this.kube.mergePatch(
        `/api/v1/namespaces/${pvc.metadata.namespace}/persistentvolumeclaims/${pvc.metadata.name}/status`,
        { status: { capacity: { storage: want } } },
      );
      this.log('volume expanded', {
        pvc: `${pvc.metadata.namespace}/${pvc.metadata.name}`,
        pv: pv.metadata.name,
        from: claimSize,
        to: want,
      });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }

  private async provision(pvc: PersistentVolumeClaim, cls: StorageClass): Promise<void> {
    const name = `pvc-${pvc.metadata.uid}`;
    const dir = path.join(this.volumeDir, name);
    fs.mkdirSync(dir, { recursive: true });
    try {
      await this.kube.request('POST', '/api/v1/persistentvolumes', {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: {
          name,
          annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER },
          labels: { 'kubernetes.io/hostname': this.nodeName },
        },
        spec: {
          capacity: { storage: pvc.spec.resources?.requests?.storage ?? '1Gi' },
          accessModes: pvc.spec.accessModes ?? ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
          storageClassName: cls.metadata.name,
          volumeMode: pvc.spec.volumeMode ?? 'Filesystem',
          hostPath: { path: dir, type: 'DirectoryOrCreate' },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [this.nodeName] }] },
              ],
            },
          },
          claimRef: {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            namespace: pvc.metadata.namespace,
            name: pvc.metadata.name,
            uid: pvc.metadata.uid,
          },
        },
      });
      this.log('volume provisioned', { pvc: `${pvc.metadata.namespace}/${pvc.metadata.name}`, pv: name, dir });
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
}
