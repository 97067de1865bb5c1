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

import * as fs from 'node:fs';
import * as path from 'node:path';
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
      });
      this.log('storage class created', { name: STORAGE_CLASS });
    } catch (e) {
      if (!isConflict(e)) throw e;
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
